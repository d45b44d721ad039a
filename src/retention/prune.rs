//! Prune: delete what is overdue or surplus, and leftovers of interrupted
//! seals, recording every deletion in the journal first.
//!
//! Order for each deletion, each step durable before the next:
//! 1. journal `intent` (fsynced);
//! 2. delete the data file, fsync its directory;
//! 3. delete the sidecar, fsync its directory;
//! 4. journal `done` (fsynced).
//!
//! A prune killed anywhere leaves an intent without `done`; the next prune
//! completes it (deleting whatever of its files still exists) before doing
//! anything else. Before a backup is deleted its data file is checked
//! against the sidecar's SHA-256: a mismatch is reported and the backup is
//! held, never deleted blindly.

use super::Clock;
use super::evaluate::{Action, OrphanKind, Problem, ProblemKind, State, evaluate};
use super::journal::{Event, Reason, Record};
use crate::error::Result;
use crate::repo::{DEFAULT_LOCK_WAIT, Repository};
use crate::storage::ObjectKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Environment variable of the crash hook used by the tests: with
/// `after-intent`, `after-data` or `after-sidecar`, prune aborts the
/// process right after that step of its first deletion. Only in builds
/// with the `test-hooks` feature: a library that services embed never
/// aborts because of its environment.
#[cfg(feature = "test-hooks")]
pub const CRASH_HOOK_ENV: &str = CRASH_HOOK_ENV_NAME;
const CRASH_HOOK_ENV_NAME: &str = "NKBACKUP_TEST_CRASH_PRUNE";

/// How to prune.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// The clock deadlines are evaluated at and journal times come from.
    pub clock: Clock,
    /// Only report what would be deleted.
    pub dry_run: bool,
    /// Incomplete writes and partial files younger than this are left.
    pub grace: time::Duration,
    /// How long to wait for the repository lock.
    pub lock_wait: std::time::Duration,
    /// Also delete backups whose deadline falls within this time from
    /// now, so that a prune run this often never deletes late (default
    /// [`DEFAULT_AHEAD`], for a nightly prune; zero: only what is overdue).
    pub ahead: time::Duration,
}

/// The default of [`PruneOptions::ahead`]: 24 hours, for a nightly prune.
pub const DEFAULT_AHEAD: time::Duration = time::Duration::hours(24);

impl PruneOptions {
    /// Defaults: real clock, not a dry run, 24 h grace, one hour lock wait.
    pub fn new() -> Self {
        PruneOptions {
            clock: Clock::System,
            dry_run: false,
            grace: super::DEFAULT_GRACE,
            lock_wait: DEFAULT_LOCK_WAIT,
            ahead: DEFAULT_AHEAD,
        }
    }
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// One deletion, done or (in a dry run) planned.
#[derive(Debug, Clone, Serialize)]
pub struct Deletion {
    /// Backup id (absent for a partial file).
    pub id: Option<String>,
    /// Class.
    pub class: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    /// Deadline under the policy applied.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    /// Why.
    pub reason: Reason,
    /// Data file (or partial file), relative to the repository.
    pub path: String,
    /// Sidecar, relative to the repository.
    pub sidecar_path: Option<String>,
    /// When the intent was journaled (absent in a dry run).
    #[serde(with = "time::serde::rfc3339::option")]
    pub intent_at: Option<OffsetDateTime>,
    /// When the deletion was complete (absent in a dry run).
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
}

impl Deletion {
    /// How long before its deadline the deletion was complete (negative:
    /// after it); `None` without a deadline or before completion.
    pub fn lead(&self) -> Option<time::Duration> {
        Some(self.deadline? - self.done_at?)
    }

    /// The deletion an intent record describes.
    pub fn from_intent(r: &Record) -> Self {
        Deletion {
            id: r.id.clone(),
            class: r.class.clone(),
            created: r.created,
            deadline: r.deadline,
            reason: r.reason.unwrap_or(Reason::Overdue),
            path: r.path.clone(),
            sidecar_path: r.sidecar_path.clone(),
            intent_at: Some(r.at),
            done_at: None,
        }
    }
}

/// What a prune did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// The time evaluated at.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Deletions an earlier, interrupted prune started and this one finished.
    pub resumed: Vec<Deletion>,
    /// Deletions done (or planned, in a dry run).
    pub deleted: Vec<Deletion>,
    /// Backups kept.
    pub kept: usize,
    /// Overdue backups not deleted because of a problem.
    pub overdue_held: usize,
    /// Problems found; nothing they concern was deleted.
    pub problems: Vec<Problem>,
    /// Crypto-erasures done (or planned, in a dry run): period keys of
    /// periods whose every backup is past its deadline, and pending
    /// erasures of an earlier run completed.
    pub erasures: Vec<super::erasure::Erasure>,
}

fn crash_hook(step: &str) {
    super::crash_hook(CRASH_HOOK_ENV_NAME, step);
}

/// The key a journaled path names, if it is one prune may delete: a
/// well-formed object key under `backups/` or `tmp/`.
fn deletable(p: &str) -> Option<ObjectKey> {
    let k = ObjectKey::new(p).ok()?;
    (k.is_below(&crate::repo::backups_key()) || k.is_below(&crate::repo::tmp_key())).then_some(k)
}

/// Prunes the repository. See the module documentation for the order of
/// operations; a dry run takes no lock and changes nothing.
pub fn prune(repo: &Repository, opts: &PruneOptions) -> Result<PruneReport> {
    let storage = repo.storage();
    let _lock = if opts.dry_run {
        None
    } else {
        Some(repo.lock(opts.lock_wait)?)
    };
    let mut journal = super::journal::writer(repo)?;
    let at = opts.clock.now();
    let injected = opts.clock.is_injected();
    let mut report = PruneReport {
        at,
        dry_run: opts.dry_run,
        resumed: Vec::new(),
        deleted: Vec::new(),
        kept: 0,
        overdue_held: 0,
        problems: Vec::new(),
        erasures: Vec::new(),
    };

    // 1. Finish what an interrupted prune started.
    let pending: Vec<super::journal::Line> = journal.state.pending().into_iter().cloned().collect();
    for r in pending {
        let mut d = Deletion::from_intent(&r);
        let paths: Vec<&String> = std::iter::once(&r.path)
            .chain(r.sidecar_path.as_ref())
            .collect();
        let keys: Option<Vec<ObjectKey>> = paths.iter().map(|p| deletable(p)).collect();
        let Some(keys) = keys else {
            let bad = paths.iter().find(|p| deletable(p).is_none());
            report.problems.push(Problem {
                kind: ProblemKind::JournalDamaged,
                subject: format!("journal line {}", r.seq),
                detail: format!(
                    "pending deletion names path {:?}, not a file under backups/ or tmp/; not touched: investigate the journal",
                    crate::text::escape(bad.map_or("", |p| p.as_str()))
                ),
            });
            continue;
        };
        if !opts.dry_run {
            for k in &keys {
                storage.delete(k)?;
            }
            let mut done = Record::new(Event::Done, opts.clock.now(), injected, r.path.clone());
            done.intent = Some(r.seq);
            done.id = r.id.clone();
            d.done_at = Some(done.at);
            journal.append(done)?;
        }
        report.resumed.push(d);
    }

    // 2. Evaluate with the SHA-256 check deciding "restorable".
    let listing = repo.list()?;
    let policy = repo.policy();
    let eval = evaluate(repo, &listing, policy, at, opts.grace, &mut |b| {
        repo.verify_shallow(b)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    report.problems.extend(
        eval.problems
            .iter()
            .filter(|p| {
                !matches!(
                    p.kind,
                    ProblemKind::IncompleteWrite
                        | ProblemKind::StalePartial
                        | ProblemKind::NoDeadline
                )
            })
            .cloned(),
    );
    // 3. Delete overdue and surplus backups, and those whose deadline
    // comes before the next prune (assessments are in listing order).
    for (b, a) in listing.backups.iter().zip(&eval.backups) {
        let ahead = policy
            .class(&a.class)
            .map_or(time::Duration::ZERO, |c| c.ahead(opts.ahead));
        let horizon = at.checked_add(ahead).unwrap_or(at);
        let early = a.action == Action::Keep && a.deadline.is_some_and(|d| d <= horizon);
        match a.action {
            Action::Keep if !early => {
                report.kept += 1;
                continue;
            }
            Action::Keep => {}
            Action::Hold => {
                if a.state == State::Overdue {
                    report.overdue_held += 1;
                }
                continue;
            }
            Action::Delete => {}
        }
        // In a locked repository the store keeps a backup until its
        // lock runs out: a surplus or early one stays for a later run, an
        // overdue one is a problem naming the date.
        if let Some(r) = super::locks::holding(repo, &a.data_key)? {
            if a.state == State::Overdue {
                report
                    .problems
                    .push(super::locks::held(a, &a.data_key, &r, repo));
                report.overdue_held += 1;
            } else {
                report.kept += 1;
            }
            continue;
        }
        if let Err(e) = repo.verify_shallow(b) {
            report.problems.push(Problem {
                kind: ProblemKind::DataMismatch,
                subject: a.id.clone(),
                detail: format!("{e}; it was due for deletion ({}) but is held: a sidecar that disagrees with its data is not deleted blindly", a.reason),
            });
            if a.state == State::Overdue {
                report.overdue_held += 1;
            }
            continue;
        }
        let reason = if a.state == State::Overdue {
            Reason::Overdue
        } else if early {
            Reason::Ahead
        } else {
            Reason::Surplus
        };
        let mut d = Deletion {
            id: Some(a.id.clone()),
            class: Some(a.class.clone()),
            created: Some(a.created),
            deadline: a.deadline,
            reason,
            path: a.data_key.to_string(),
            sidecar_path: Some(a.sidecar_key.to_string()),
            intent_at: None,
            done_at: None,
        };
        if !opts.dry_run {
            let sidecar_bytes = storage
                .get(&a.sidecar_key, crate::limits::SIDECAR_BYTES)?
                .unwrap_or_default();
            let mut intent = Record::new(Event::Intent, opts.clock.now(), injected, d.path.clone());
            intent.id = d.id.clone();
            intent.class = d.class.clone();
            intent.created = d.created;
            intent.deadline = d.deadline;
            intent.reason = Some(reason);
            intent.sidecar_path = d.sidecar_path.clone();
            intent.sidecar_sha256 = Some(hex::encode(Sha256::digest(&sidecar_bytes)));
            intent.ciphertext_sha256 = Some(b.sidecar.ciphertext_sha256.clone());
            d.intent_at = Some(intent.at);
            let seq = journal.append(intent)?;
            crash_hook("after-intent");
            storage.delete(&a.data_key)?;
            crash_hook("after-data");
            storage.delete(&a.sidecar_key)?;
            crash_hook("after-sidecar");
            let mut done = Record::new(Event::Done, opts.clock.now(), injected, d.path.clone());
            done.intent = Some(seq);
            done.id = d.id.clone();
            d.done_at = Some(done.at);
            journal.append(done)?;
        }
        report.deleted.push(d);
    }

    // 4. Leftovers of interrupted seals, older than the grace period.
    for o in &eval.orphans {
        if let Some(r) = super::locks::holding(repo, &o.key)? {
            report.problems.push(Problem {
                kind: ProblemKind::LockConflict,
                subject: o.key.to_string(),
                detail: format!(
                    "a leftover of an interrupted seal, locked until {} ({}): the store refuses to delete it before then, and prune deletes it on its first run after that",
                    super::rfc3339(r.until),
                    r.mode
                ),
            });
            continue;
        }
        let reason = match o.kind {
            OrphanKind::IncompleteWrite => Reason::IncompleteWrite,
            OrphanKind::StalePartial => Reason::StalePartial,
        };
        let mut d = Deletion {
            id: o.id.clone(),
            class: o.class.clone(),
            created: None,
            deadline: None,
            reason,
            path: o.key.to_string(),
            sidecar_path: None,
            intent_at: None,
            done_at: None,
        };
        if !opts.dry_run {
            let mut intent = Record::new(Event::Intent, opts.clock.now(), injected, d.path.clone());
            intent.id = d.id.clone();
            intent.class = d.class.clone();
            intent.reason = Some(reason);
            d.intent_at = Some(intent.at);
            let seq = journal.append(intent)?;
            storage.delete(&o.key)?;
            let mut done = Record::new(Event::Done, opts.clock.now(), injected, d.path.clone());
            done.intent = Some(seq);
            done.id = d.id.clone();
            d.done_at = Some(done.at);
            journal.append(done)?;
        }
        report.deleted.push(d);
    }

    // 5. Crypto-erase the periods whose every backup is now gone and past
    // its deadline (docs/RETENTION.md, "Crypto-erasure").
    let mut listing = if report.deleted.is_empty() || opts.dry_run {
        listing
    } else {
        repo.list()?
    };
    if opts.dry_run {
        let planned: std::collections::HashSet<&str> = report
            .deleted
            .iter()
            .filter_map(|d| d.id.as_deref())
            .collect();
        listing
            .backups
            .retain(|b| !planned.contains(b.sidecar.id.as_str()));
    }
    // Keys too leave before their deadline rather than after it.
    let (due, problems) = super::erasure::due(repo, &listing, at, opts.ahead)?;
    report.problems.extend(problems);
    if opts.dry_run {
        report.erasures = due;
    } else {
        let (done, problems) = super::erasure::run(repo, due, &opts.clock)?;
        report.erasures = done;
        report.problems.extend(problems);
    }
    Ok(report)
}
