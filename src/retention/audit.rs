//! Proof of deletion: checks that the repository keeps its promises.
//!
//! A repository passes when
//! * the deletion journal is intact (hash chain and head);
//! * every journaled deletion is complete and its files are really absent;
//! * no backup is past its deadline;
//! * nothing is orphaned or questionable: no incomplete write or partial
//!   file older than the grace period, no unreadable or misplaced sidecar,
//!   no sidecar without its data or disagreeing with its length (with
//!   [`AuditOptions::digests`], its SHA-256), no backup of an undefined
//!   class.
//!
//! Everything found is a [`Problem`] in [`AuditReport::violations`]; the
//! CLI exits non-zero when there is any.

use super::Clock;
use super::evaluate::{Evaluation, Problem, ProblemKind, State, evaluate};
use super::journal::{self, Damage, Event};
use super::prune::Deletion;
use crate::error::Result;
use crate::journal::Head;
use crate::repo::Repository;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

/// How to verify.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The clock deadlines are evaluated at.
    pub clock: Clock,
    /// Leftover files younger than this are not orphans.
    pub grace: time::Duration,
    /// Start of the reporting period for deletions (default: all).
    pub since: Option<OffsetDateTime>,
    /// Also hash every data file against its sidecar's SHA-256 (reads
    /// all backup data; default: compare lengths only).
    pub digests: bool,
    /// Heads an auditor kept from an earlier report, by journal name
    /// (`deletions`, `drills`, `rewraps`, `erasures`): each journal must
    /// extend its head, else it was rewritten (a violation).
    pub expect_heads: BTreeMap<String, Head>,
}

/// The journals a report anchors, by the names `--expect-head` takes.
pub const JOURNALS: [&str; 4] = [
    super::journal::DELETIONS,
    crate::drill::DRILLS,
    crate::rewrap::JOURNAL,
    crate::keyring::ERASURES,
];

/// One journal's head as verified: what an auditor copies into the next
/// verification (`--expect-head NAME=SEQ:SHA256`).
#[derive(Debug, Clone, Serialize)]
pub struct JournalHead {
    /// The journal's name.
    pub journal: String,
    /// The head now: lines and the last line's SHA-256.
    pub head: Head,
    /// The head it was checked against, if one was given.
    pub expected: Option<Head>,
    /// Whether the journal extends the expected head (`None`: none given).
    pub extends_expected: Option<bool>,
    /// The newest head the witness holds, if a witness is configured and
    /// has one.
    pub witnessed: Option<Head>,
    /// Whether the journal extends it (`None`: no witness, or no head
    /// there yet).
    pub extends_witnessed: Option<bool>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            clock: Clock::System,
            grace: super::DEFAULT_GRACE,
            since: None,
            digests: false,
            expect_heads: BTreeMap::new(),
        }
    }
}

/// The journal's condition.
#[derive(Debug, Clone, Serialize)]
pub struct JournalSummary {
    /// The journal file, relative to the repository.
    pub path: String,
    /// Lines in it.
    pub lines: u64,
    /// Whether the hash chain and head check out.
    pub intact: bool,
    /// Where they do not.
    pub damage: Vec<Damage>,
    /// Completed deletions in the whole journal.
    pub deletions: usize,
}

/// The rewrap journal's condition and what it recorded in the period:
/// every change of who can open a backup (a revoked token, a new one, a
/// group), with the old and new ciphertext digests.
#[derive(Debug, Clone, Serialize)]
pub struct RewrapSummary {
    /// The journal file, relative to the repository.
    pub path: String,
    /// Lines in it.
    pub lines: u64,
    /// Whether the hash chain and head check out.
    pub intact: bool,
    /// Where they do not.
    pub damage: Vec<Damage>,
    /// Rewraps in the period, in journal order.
    pub in_period: Vec<crate::journal::Chained<crate::rewrap::RewrapRecord>>,
    /// Backups whose rewrap was interrupted (`rewrap_pending`): run
    /// `nkbackup rewrap` to finish them.
    pub pending: Vec<String>,
}

/// The erasure journal's condition and every crypto-erasure, each with
/// its key items checked absent again in every keyring location.
#[derive(Debug, Clone, Serialize)]
pub struct ErasureSummary {
    /// The journal file, relative to the repository.
    pub path: String,
    /// Lines in it.
    pub lines: u64,
    /// Whether the hash chain and head check out.
    pub intact: bool,
    /// Where they do not.
    pub damage: Vec<Damage>,
    /// Completed erasures in the period, in journal order.
    pub in_period: Vec<ErasureProof>,
    /// Completed erasures in the whole journal.
    pub total: usize,
    /// The keyring locations checked (the configured ones; a copy of a
    /// key item kept anywhere else is not nkbackup's to find).
    pub locations: Vec<String>,
}

/// One completed crypto-erasure, proved again.
#[derive(Debug, Clone, Serialize)]
pub struct ErasureProof {
    /// The class.
    pub class: String,
    /// The period.
    pub period: String,
    /// Why.
    pub reason: crate::keyring::ErasureReason,
    /// When it was complete.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The backups it put beyond use.
    pub backups: Vec<String>,
    /// The key ids erased.
    pub key_ids: Vec<String>,
    /// What each keyring location answers now (listing and lookup).
    pub locations: Vec<crate::keyring::LocationCheck>,
}

/// How the absence of every journaled object was established.
#[derive(Debug, Clone, Serialize)]
pub struct AbsenceProof {
    /// Where the repository is (a directory or `s3://bucket/prefix`).
    pub location: String,
    /// Journaled objects (data files and sidecars of completed
    /// deletions) checked.
    pub objects_checked: usize,
    /// How: the repository listing and a direct lookup (a `stat`, or an
    /// S3 `HEAD`) of every object.
    pub method: String,
    /// Versioning: `not versioned: <why>` or `versioned: no noncurrent
    /// version remains`.
    pub versions: String,
}

/// The result of a verification: the facts a compliance report shows.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The repository id.
    pub repository: String,
    /// The tool that verified.
    pub tool: String,
    /// Start of the period.
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Everything about the backups present.
    pub evaluation: Evaluation,
    /// The journal's condition.
    pub journal: JournalSummary,
    /// Completed deletions in the period, in journal order.
    pub deletions: Vec<Deletion>,
    /// How their absence was checked.
    pub absence: AbsenceProof,
    /// Every violation found; empty = the repository keeps its promises.
    pub violations: Vec<Problem>,
    /// Restore-drill status at the time of the report (not a retention
    /// violation, but evidence an auditor asks for).
    pub drills: crate::drill::DrillStatus,
    /// Drills run in the period, in journal order.
    pub drills_in_period: Vec<crate::drill::DrillLine>,
    /// What each of those drills' signature proves, in the same order.
    pub drill_signatures: Vec<crate::drill::SignatureState>,
    /// Rewraps: the journal's condition and its lines in the period.
    pub rewraps: RewrapSummary,
    /// Crypto-erasures: the journal's condition and every erasure proved.
    pub erasures: ErasureSummary,
    /// Every journal's head, checked against the expected ones given and
    /// the witness's.
    pub heads: Vec<JournalHead>,
    /// The witness location (`[witness]`), if one is configured.
    pub witness: Option<String>,
    /// With `object_lock`: the mode, and how many objects' retention was
    /// read from the store (every missing or overlong lock is a
    /// violation).
    pub object_lock: Option<String>,
}

impl AuditReport {
    /// Whether nothing is wrong.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Verifies the repository; see the module documentation.
pub fn audit(repo: &Repository, opts: &AuditOptions) -> Result<AuditReport> {
    let storage = repo.storage();
    let at = opts.clock.now();
    let st = journal::read(storage.as_ref())?;
    let listed: std::collections::HashSet<String> = storage
        .list(Some(&crate::repo::backups_key()))?
        .into_iter()
        .map(|o| o.key.to_string())
        .collect();
    let mut absence = AbsenceProof {
        location: repo.location().to_owned(),
        objects_checked: 0,
        method: "absent from the listing and from a direct lookup (stat / HEAD) of each object"
            .into(),
        versions: String::new(),
    };
    let mut versioned = None;
    let mut violations = Vec::new();
    for d in &st.damage {
        violations.push(Problem {
            kind: ProblemKind::JournalDamaged,
            subject: format!("journal line {}", d.line),
            detail: d.reason.clone(),
        });
    }
    let intents: HashMap<u64, &journal::Line> = st
        .records
        .iter()
        .filter(|r| r.event == Event::Intent)
        .map(|r| (r.seq, r))
        .collect();
    let mut deletions = Vec::new();
    let mut all_done = 0;
    for r in st.records.iter().filter(|r| r.event == Event::Done) {
        let Some(intent) = r.intent.and_then(|s| intents.get(&s)) else {
            violations.push(Problem {
                kind: ProblemKind::JournalDamaged,
                subject: format!("journal line {}", r.seq),
                detail: "a `done` record whose intent is not in the journal".into(),
            });
            continue;
        };
        all_done += 1;
        let mut d = Deletion::from_intent(intent);
        d.done_at = Some(r.at);
        for p in std::iter::once(&intent.path).chain(intent.sidecar_path.as_ref()) {
            let Ok(key) = crate::storage::ObjectKey::new(p.as_str()) else {
                violations.push(Problem {
                    kind: ProblemKind::JournalDamaged,
                    subject: format!("journal line {}", intent.seq),
                    detail: format!(
                        "the deletion names {:?}, which is not a repository object name: the journal was altered",
                        crate::text::escape(p)
                    ),
                });
                continue;
            };
            absence.objects_checked += 1;
            match storage.versions(&key)? {
                crate::storage::Versions::NotVersioned { why } => {
                    versioned.get_or_insert(format!("not versioned: {why}"));
                }
                crate::storage::Versions::Listed { remaining } => {
                    versioned.get_or_insert_with(String::new);
                    if !remaining.is_empty() {
                        violations.push(Problem {
                            kind: ProblemKind::NotDeleted,
                            subject: p.clone(),
                            detail: format!(
                                "journaled as deleted at {} (journal line {}) but the bucket keeps {} older version(s) of it ({}); delete those versions (or let a lifecycle rule expire noncurrent versions), see docs/STORAGE.md",
                                super::rfc3339(r.at),
                                r.seq,
                                remaining.len(),
                                remaining.join(", ")
                            ),
                        });
                    }
                }
            }
            if listed.contains(p) || storage.stat(&key)?.is_some() {
                violations.push(Problem {
                    kind: ProblemKind::NotDeleted,
                    subject: p.clone(),
                    detail: format!(
                        "journaled as deleted at {} (journal line {}) but still present; it was restored or re-created: find out how, then run `nkbackup prune`",
                        super::rfc3339(r.at),
                        r.seq
                    ),
                });
            }
        }
        if opts.since.is_none_or(|s| r.at >= s) {
            if let Some(p) = late(&d, repo.policy()) {
                violations.push(p);
            }
            deletions.push(d);
        }
    }
    for p in st.pending() {
        violations.push(Problem {
            kind: ProblemKind::DeletionPending,
            subject: p.id.clone().unwrap_or_else(|| p.path.clone()),
            detail: format!(
                "deletion started at {} (journal line {}) was never completed; run `nkbackup prune` to complete it",
                super::rfc3339(p.at),
                p.seq
            ),
        });
    }
    let listing = repo.list()?;
    let policy = repo.policy();
    let evaluation = evaluate(repo, &listing, policy, at, opts.grace, &mut |_| Ok(()));
    for a in evaluation
        .backups
        .iter()
        .filter(|a| a.state == State::Overdue)
    {
        violations.push(Problem {
            kind: ProblemKind::Overdue,
            subject: a.id.clone(),
            detail: format!(
                "class {} backup created {} was due for deletion at {}; run `nkbackup prune`",
                a.class,
                super::rfc3339(a.created),
                a.deadline.map(super::rfc3339).unwrap_or_default()
            ),
        });
    }
    violations.extend(evaluation.problems.iter().cloned());
    if opts.digests {
        for (b, a) in listing.backups.iter().zip(&evaluation.backups) {
            if a.action == super::Action::Hold {
                continue; // already reported
            }
            if let Err(e) = repo.verify_shallow(b) {
                violations.push(Problem {
                    kind: ProblemKind::DataMismatch,
                    subject: a.id.clone(),
                    detail: e.to_string(),
                });
            }
        }
    }
    let object_lock = match super::locks::check(repo, &evaluation.backups, policy)? {
        Some((summary, problems)) => {
            violations.extend(problems);
            Some(summary)
        }
        None => None,
    };
    let drills = crate::drill::status(repo, at)?;
    absence.versions = match versioned {
        Some(v) if !v.is_empty() => v,
        Some(_) => "versioned: no older version of a deleted object remains".into(),
        None => "no deleted objects to check".into(),
    };
    let drill_journal = crate::drill::read_journal(repo)?;
    let mut heads = vec![
        anchor(repo, super::journal::DELETIONS, &st, opts, &mut violations),
        anchor(
            repo,
            crate::drill::DRILLS,
            &drill_journal,
            opts,
            &mut violations,
        ),
    ];
    for d in &drill_journal.damage {
        violations.push(Problem {
            kind: ProblemKind::JournalDamaged,
            subject: format!("drill journal line {}", d.line),
            detail: d.reason.clone(),
        });
    }
    // Every signed record is checked, in the period or not: a forged one
    // is a violation whenever it was written.
    let mut drills_in_period = Vec::new();
    let mut drill_signatures = Vec::new();
    for d in drill_journal.records {
        let state = crate::drill::signature::check(repo.config(), &d);
        if let crate::drill::SignatureState::Invalid { reason } = &state {
            violations.push(Problem {
                kind: ProblemKind::DrillSignatureInvalid,
                subject: format!("{} #{}", crate::drill::DRILLS, d.seq),
                detail: format!(
                    "the drill of backup {} with token {} carries a signature that fails: {reason}. The line was altered after the token signed it, or written without the token",
                    crate::text::escape(&d.backup_id),
                    crate::text::escape(&d.token.label)
                ),
            });
        }
        if opts.since.is_none_or(|s| d.started >= s) && d.started <= at {
            drills_in_period.push(d);
            drill_signatures.push(state);
        }
    }
    let rewraps = rewraps(repo, &listing, opts, at, &mut violations, &mut heads)?;
    let erasures = erasures(repo, &listing, opts, at, &mut violations, &mut heads)?;
    Ok(AuditReport {
        repository: repo.config().repository.id.clone(),
        tool: crate::tool_version(),
        since: opts.since,
        evaluation,
        journal: JournalSummary {
            path: format!("{}/{}", journal::JOURNAL_DIR, journal::DELETIONS_FILE),
            lines: st.lines,
            intact: st.damage.is_empty(),
            damage: st.damage.clone(),
            deletions: all_done,
        },
        deletions,
        absence,
        violations,
        drills,
        drills_in_period,
        drill_signatures,
        rewraps,
        erasures,
        heads,
        witness: repo.witness().map(|w| w.location().to_owned()),
        object_lock,
    })
}

/// A journal's head, checked against the head the auditor expects (if
/// given) and the newest head the witness holds (if one is configured);
/// a journal that does not extend either is a violation.
fn anchor<T>(
    repo: &Repository,
    name: &'static str,
    st: &crate::journal::JournalState<T>,
    opts: &AuditOptions,
    violations: &mut Vec<Problem>,
) -> JournalHead {
    let mut rewritten = |detail: String| {
        violations.push(Problem {
            kind: ProblemKind::JournalRewritten,
            subject: format!("{name} journal"),
            detail,
        })
    };
    let expected = opts.expect_heads.get(name).cloned();
    let extends_expected = expected.as_ref().map(|h| match st.extends(h) {
        Ok(()) => true,
        Err(why) => {
            rewritten(format!(
                "it does not extend the head you expected ({h}): {why}; compare it with your copy of the earlier report"
            ));
            false
        }
    });
    let (mut witnessed, mut extends_witnessed) = (None, None);
    if let Some(w) = repo.witness() {
        match crate::journal::witnessed(w.as_ref(), name) {
            Ok(None) => {}
            Ok(Some((h, place))) => {
                extends_witnessed = Some(match st.extends(&h) {
                    Ok(()) => true,
                    Err(why) => {
                        rewritten(format!(
                            "it does not extend the head the witness recorded ({h}, {place}): {why}; the journal was rewritten after the witness saw it"
                        ));
                        false
                    }
                });
                witnessed = Some(h);
            }
            Err(e) => {
                extends_witnessed = Some(false);
                rewritten(format!(
                    "the witness ({}) cannot be checked: {e}",
                    w.location()
                ));
            }
        }
    }
    JournalHead {
        journal: name.to_owned(),
        head: st.head(),
        expected,
        extends_expected,
        witnessed,
        extends_witnessed,
    }
}

/// A deletion completed after its deadline and the class's tolerance is
/// a broken promise, however complete it is now.
fn late(d: &Deletion, policy: &super::Policy) -> Option<Problem> {
    let lead = d.lead()?;
    let cp = d.class.as_deref().and_then(|c| policy.class(c));
    let tolerance = cp.map_or(time::Duration::ZERO, |c| c.tolerance());
    if lead >= -tolerance {
        return None;
    }
    let class = d.class.as_deref().unwrap_or("?");
    Some(Problem {
        kind: ProblemKind::DeletedLate,
        subject: d.id.clone().unwrap_or_else(|| d.path.clone()),
        detail: format!(
            "class {class} backup was deleted at {}, {} after its deadline {} ({}): the promise was broken for that long; prune at least daily with --ahead (default 24h) so that backups leave before their deadline",
            d.done_at.map(super::rfc3339).unwrap_or_default(),
            crate::config::duration::span(lead),
            d.deadline.map(super::rfc3339).unwrap_or_default(),
            match cp.and_then(|c| c.tolerance) {
                Some(t) => format!("deletion_tolerance {t}"),
                None => "no deletion_tolerance is configured".into(),
            }
        ),
    })
}

/// The erasure journal for the report: every completed erasure's key
/// items are looked for again in every keyring location; a pending
/// erasure, a key item found, or a period key overdue is a violation.
fn erasures(
    repo: &Repository,
    listing: &crate::repo::Listing,
    opts: &AuditOptions,
    at: OffsetDateTime,
    violations: &mut Vec<Problem>,
    heads: &mut Vec<JournalHead>,
) -> Result<ErasureSummary> {
    use crate::keyring::ErasureEvent;
    let st = super::erasure::journal(repo)?;
    heads.push(anchor(
        repo,
        crate::keyring::ERASURES,
        &st,
        opts,
        violations,
    ));
    for d in &st.damage {
        violations.push(Problem {
            kind: ProblemKind::JournalDamaged,
            subject: format!("erasure journal line {}", d.line),
            detail: d.reason.clone(),
        });
    }
    for p in super::erasure::pending(&st) {
        violations.push(Problem {
            kind: ProblemKind::ErasurePending,
            subject: format!("period key {}/{}", p.class, p.period),
            detail: format!(
                "crypto-erasure started at {} (erasure journal line {}) was never completed; run `nkbackup prune` to complete it",
                super::rfc3339(p.at),
                p.seq
            ),
        });
    }
    let keyring = repo.keyring();
    let mut in_period = Vec::new();
    let mut total = 0;
    for r in st.records.iter().filter(|r| r.event == ErasureEvent::Done) {
        if let Err(detail) = r.check() {
            violations.push(Problem {
                kind: ProblemKind::JournalDamaged,
                subject: format!("erasure journal line {}", r.seq),
                detail,
            });
            continue;
        }
        total += 1;
        let now = keyring.check_absent(&r.class, &r.period, &r.key_ids);
        for c in now.iter().filter(|c| !c.absent) {
            violations.push(Problem {
                kind: ProblemKind::KeyNotErased,
                subject: format!("period key {}/{}", r.class, r.period),
                detail: format!(
                    "journaled as crypto-erased at {} (erasure journal line {}) but {} {}; delete it there (or run `nkbackup erase --class {} --period {}`)",
                    super::rfc3339(r.at),
                    r.seq,
                    c.location,
                    c.error.as_deref().map_or("still holds a key item of the period".to_owned(), |e| format!("could not be checked: {e}")),
                    r.class,
                    r.period
                ),
            });
        }
        if opts.since.is_none_or(|s| r.at >= s) && r.at <= at {
            in_period.push(ErasureProof {
                class: r.class.clone(),
                period: r.period.clone(),
                reason: r.reason,
                at: r.at,
                backups: r.backups.clone(),
                key_ids: r.key_ids.clone(),
                locations: now,
            });
        }
    }
    let (due, problems) = super::erasure::due(repo, listing, at, time::Duration::ZERO)?;
    violations.extend(problems);
    for e in due {
        violations.push(Problem {
            kind: ProblemKind::KeyOverdue,
            subject: format!("period key {}/{}", e.class, e.period),
            detail: "every backup of the period is past its deadline but its key is still in the keyring; run `nkbackup prune`".into(),
        });
    }
    Ok(ErasureSummary {
        path: format!(
            "{}/{}.jsonl",
            crate::journal::JOURNAL_DIR,
            crate::keyring::ERASURES
        ),
        lines: st.lines,
        intact: st.damage.is_empty(),
        damage: st.damage,
        in_period,
        total,
        locations: keyring
            .locations()
            .iter()
            .map(|l| l.location().to_owned())
            .collect(),
    })
}

/// The rewrap journal for the report; a damaged one is a violation (it
/// records who can open what).
fn rewraps(
    repo: &Repository,
    listing: &crate::repo::Listing,
    opts: &AuditOptions,
    at: OffsetDateTime,
    violations: &mut Vec<Problem>,
    heads: &mut Vec<JournalHead>,
) -> Result<RewrapSummary> {
    let st = crate::rewrap::journal(repo)?;
    heads.push(anchor(repo, crate::rewrap::JOURNAL, &st, opts, violations));
    for d in &st.damage {
        violations.push(Problem {
            kind: ProblemKind::JournalDamaged,
            subject: format!("rewrap journal line {}", d.line),
            detail: d.reason.clone(),
        });
    }
    Ok(RewrapSummary {
        path: format!(
            "{}/{}.jsonl",
            crate::journal::JOURNAL_DIR,
            crate::rewrap::JOURNAL
        ),
        lines: st.lines,
        intact: st.damage.is_empty(),
        damage: st.damage,
        in_period: st
            .records
            .into_iter()
            .filter(|r| opts.since.is_none_or(|s| r.at >= s) && r.at <= at)
            .collect(),
        pending: listing
            .backups
            .iter()
            .filter(|b| b.sidecar.rewrap_pending.is_some())
            .map(|b| b.sidecar.id.clone())
            .collect(),
    })
}
