//! Crypto-erasure: deleting the period keys of classes with
//! `erasure_period`, which puts every copy of a period's backups beyond
//! use (docs/RETENTION.md, "Crypto-erasure").
//!
//! A period is *due* when its end plus the class's `max_age` has passed:
//! every backup it can hold is then past its deadline, wherever a copy of
//! it lies; and no backup of it is left in the repository (one that prune
//! held, for a damaged sidecar, keeps its key). [`crate::retention::prune`]
//! erases due periods after its deletions; [`erase`] erases chosen
//! periods early, for an erasure request that cannot wait.
//!
//! Order, each step durable before the next:
//! 1. journal `intent` in `journal/erasures.jsonl` (class, period, key
//!    ids, the backups the period covered, the keyring locations);
//! 2. in every keyring location, delete the period's key items (age files
//!    first), then check the location: nothing listed below
//!    `keys/<class>/<period>/`, and a direct lookup of every key item finds
//!    nothing;
//! 3. journal `done` with what each location answered.
//!
//! If a location fails, no `done` is written: the erasure stays pending,
//! and the next prune or erase completes it before anything else.

use super::Clock;
use super::evaluate::{Problem, ProblemKind};
use crate::config::ErasurePeriod;
use crate::error::{Error, Result};
use crate::journal::{Chained, JournalState, JournalWriter};
use crate::keyring::{ERASURES, ErasureEvent, ErasureReason, ErasureRecord, LocationCheck};
use crate::repo::Repository;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// Environment variable of the crash hook used by the tests: with
/// `after-intent` or `after-location`, an erasure aborts the process
/// right after that step (builds with the `test-hooks` feature only).
#[cfg(feature = "test-hooks")]
pub const CRASH_HOOK_ENV: &str = CRASH_HOOK_ENV_NAME;
const CRASH_HOOK_ENV_NAME: &str = "NKBACKUP_TEST_CRASH_ERASE";

fn crash_hook(step: &str) {
    super::crash_hook(CRASH_HOOK_ENV_NAME, step);
}

/// One crypto-erasure, done or (in a dry run, a plan) to be done.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    /// The class.
    pub class: String,
    /// The period's name.
    pub period: String,
    /// Why.
    pub reason: ErasureReason,
    /// The period's key ids.
    pub key_ids: Vec<String>,
    /// The backups sealed to them (ids): deleted ones from the deletion
    /// journal, and present ones, which become unreadable.
    pub backups: Vec<String>,
    /// Backups still in the repository that become unreadable.
    pub unreadable: Vec<String>,
    /// What each keyring location answered (empty in a plan).
    pub locations: Vec<LocationCheck>,
    /// When the intent was journaled.
    #[serde(with = "time::serde::rfc3339::option")]
    pub intent_at: Option<OffsetDateTime>,
    /// When it was complete: every location checked empty.
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
}

/// Which periods [`plan`] selects.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this class (required with `period`).
    pub class: Option<String>,
    /// This period (`20261126T000000Z-7d`).
    pub period: Option<String>,
    /// Every period that started before this time.
    pub before: Option<OffsetDateTime>,
}

/// The erasure journal, read and checked.
pub fn journal(repo: &Repository) -> Result<JournalState<ErasureRecord>> {
    crate::journal::read(repo.storage().as_ref(), ERASURES)
}

/// The key items of every location, by (class, period): their key ids.
fn periods(
    repo: &Repository,
    class: Option<&str>,
) -> Result<BTreeMap<(String, String), BTreeSet<String>>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for s in repo.keyring().items(class)? {
        out.entry((s.item.class.clone(), s.item.period.clone()))
            .or_default()
            .insert(s.item.key_id.clone());
    }
    Ok(out)
}

/// What [`erase`] would do for `sel`: the periods with key items it
/// selects and the backups each makes unreadable. Nothing is changed.
pub fn plan(repo: &Repository, sel: &Selection) -> Result<Vec<Erasure>> {
    if sel.period.is_some() && sel.class.is_none() {
        return Err(Error::InvalidName {
            what: "erasure selection",
            value: sel.period.clone().unwrap_or_default(),
            reason: "a period is erased in one class: add --class".into(),
        });
    }
    if let Some(p) = &sel.period {
        ErasurePeriod::parse(p).map_err(|reason| Error::InvalidName {
            what: "period",
            value: p.clone(),
            reason,
        })?;
    }
    if sel.period.is_none() && sel.before.is_none() {
        return Err(Error::InvalidName {
            what: "erasure selection",
            value: String::new(),
            reason: "say which periods: --period P or --before TIME".into(),
        });
    }
    if let Some(c) = &sel.class {
        repo.class_policy(c)?;
    }
    let listing = repo.list()?;
    let deleted = deleted_backups(repo)?;
    let mut out = Vec::new();
    for ((class, period), keys) in periods(repo, sel.class.as_deref())? {
        let p = ErasurePeriod::parse(&period).map_err(|reason| Error::InvalidName {
            what: "period",
            value: period.clone(),
            reason,
        })?;
        let chosen = sel.period.as_ref().is_none_or(|x| *x == period)
            && sel.before.is_none_or(|t| p.start() < t);
        if !chosen {
            continue;
        }
        out.push(erasure_of(
            &class,
            &period,
            p,
            keys,
            ErasureReason::Requested,
            &listing,
            &deleted,
        ));
    }
    Ok(out)
}

fn erasure_of(
    class: &str,
    period: &str,
    p: ErasurePeriod,
    keys: BTreeSet<String>,
    reason: ErasureReason,
    listing: &crate::repo::Listing,
    deleted: &[(String, String, OffsetDateTime)],
) -> Erasure {
    let unreadable: Vec<String> = listing
        .backups
        .iter()
        .filter(|b| {
            b.sidecar.class == class
                && b.sidecar
                    .period_key
                    .as_ref()
                    .is_some_and(|r| r.period == period)
        })
        .map(|b| b.sidecar.id.clone())
        .collect();
    let mut backups: Vec<String> = deleted
        .iter()
        .filter(|(id, c, created)| c == class && p.contains(*created) && !unreadable.contains(id))
        .map(|(id, _, _)| id.clone())
        .collect();
    backups.extend(unreadable.iter().cloned());
    Erasure {
        class: class.to_owned(),
        period: period.to_owned(),
        reason,
        key_ids: keys.into_iter().collect(),
        backups,
        unreadable,
        locations: Vec::new(),
        intent_at: None,
        done_at: None,
    }
}

/// Backups the deletion journal records as deleted: (id, class, created).
fn deleted_backups(repo: &Repository) -> Result<Vec<(String, String, OffsetDateTime)>> {
    let st = super::journal::read(repo.storage().as_ref())?;
    Ok(st
        .records
        .iter()
        .filter(|r| r.event == super::journal::Event::Intent)
        .filter_map(|r| Some((r.id.clone()?, r.class.clone()?, r.created?)))
        .collect())
}

/// The periods prune erases at `at`: due (end + `max_age` passed) with no
/// backup of theirs left in `listing`.
pub(crate) fn due(
    repo: &Repository,
    listing: &crate::repo::Listing,
    at: OffsetDateTime,
    ahead: time::Duration,
) -> Result<(Vec<Erasure>, Vec<Problem>)> {
    let deleted = deleted_backups(repo)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    // A keyring that cannot be listed whole erases nothing, and says why.
    let all = match periods(repo, None) {
        Ok(p) => p,
        Err(e) => {
            problems.push(Problem {
                kind: ProblemKind::KeyNotErased,
                subject: "keyring".into(),
                detail: format!("{e}; no period key was erased or checked for its deadline"),
            });
            return Ok((out, problems));
        }
    };
    for ((class, period), keys) in all {
        let Ok(p) = ErasurePeriod::parse(&period) else {
            continue;
        };
        let Some(cp) = repo.policy().class(&class) else {
            continue;
        };
        let Some(max_age) = cp.max_age else {
            continue;
        };
        let Some(due_at) = p.end().checked_add(max_age.to_duration()) else {
            continue;
        };
        // Due before the next prune (prune's --ahead, capped as for the
        // class's backups): the period's last backup is deleted now too.
        if due_at > at.checked_add(cp.ahead(ahead)).unwrap_or(at) {
            continue;
        }
        let e = erasure_of(
            &class,
            &period,
            p,
            keys,
            ErasureReason::Expired,
            listing,
            &deleted,
        );
        if !e.unreadable.is_empty() {
            problems.push(Problem {
                kind: ProblemKind::KeyOverdue,
                subject: format!("period key {class}/{period}"),
                detail: format!(
                    "every backup of the period was due by {}, but {} is still in the repository (held); its key is kept until it is deleted",
                    crate::util::rfc3339(due_at),
                    e.unreadable.join(", ")
                ),
            });
            continue;
        }
        out.push(e);
    }
    Ok((out, problems))
}

/// Erases `plans` (from [`plan`], or prune's due periods) under the
/// repository lock the caller holds, completing pending erasures first.
/// Returns the completed erasures (resumed ones first) and the problems
/// (a location that failed: the erasure stays pending).
pub(crate) fn run(
    repo: &Repository,
    plans: Vec<Erasure>,
    clock: &Clock,
) -> Result<(Vec<Erasure>, Vec<Problem>)> {
    let mut journal = repo.journal_writer::<ErasureRecord>(ERASURES)?;
    let mut done = Vec::new();
    let mut problems = Vec::new();
    let pending: Vec<Chained<ErasureRecord>> =
        pending(&journal.state).into_iter().cloned().collect();
    for intent in pending {
        if let Err(detail) = intent.check() {
            problems.push(Problem {
                kind: ProblemKind::JournalDamaged,
                subject: format!("erasure journal line {}", intent.seq),
                detail: format!("a pending erasure is malformed ({detail}); not touched: investigate the journal"),
            });
            continue;
        }
        let e = Erasure {
            class: intent.class.clone(),
            period: intent.period.clone(),
            reason: intent.reason,
            key_ids: intent.key_ids.clone(),
            backups: intent.backups.clone(),
            unreadable: Vec::new(),
            locations: Vec::new(),
            intent_at: Some(intent.at),
            done_at: None,
        };
        complete(
            repo,
            &mut journal,
            e,
            intent.seq,
            clock,
            &mut done,
            &mut problems,
        )?;
    }
    for mut e in plans {
        if done
            .iter()
            .any(|d: &Erasure| d.class == e.class && d.period == e.period)
        {
            continue;
        }
        let now = clock.now();
        let seq = journal.append(ErasureRecord {
            event: ErasureEvent::Intent,
            at: now,
            clock: clock.is_injected().then(|| "injected".into()),
            intent: None,
            class: e.class.clone(),
            period: e.period.clone(),
            reason: e.reason,
            key_ids: e.key_ids.clone(),
            backups: e.backups.clone(),
            locations: repo
                .keyring()
                .locations()
                .iter()
                .map(|l| LocationCheck {
                    location: l.location().to_owned(),
                    deleted: 0,
                    absent: false,
                    error: None,
                })
                .collect(),
        })?;
        e.intent_at = Some(now);
        crash_hook("after-intent");
        complete(repo, &mut journal, e, seq, clock, &mut done, &mut problems)?;
    }
    Ok((done, problems))
}

/// Steps 2 and 3 of an erasure whose intent is line `seq`.
fn complete(
    repo: &Repository,
    journal: &mut JournalWriter<ErasureRecord>,
    mut e: Erasure,
    seq: u64,
    clock: &Clock,
    done: &mut Vec<Erasure>,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let keyring = repo.keyring();
    let mut checks = Vec::new();
    for (i, c) in keyring
        .erase(&e.class, &e.period, &e.key_ids)
        .into_iter()
        .enumerate()
    {
        if i == 0 {
            crash_hook("after-location");
        }
        checks.push(c);
    }
    e.locations = checks;
    let failed: Vec<&LocationCheck> = e.locations.iter().filter(|c| !c.absent).collect();
    if !failed.is_empty() {
        problems.push(Problem {
            kind: ProblemKind::ErasurePending,
            subject: format!("period key {}/{}", e.class, e.period),
            detail: format!(
                "not erased from {}; the erasure stays pending (erasure journal line {seq}) and the next `nkbackup prune` completes it",
                failed
                    .iter()
                    .map(|c| format!(
                        "{} ({})",
                        c.location,
                        c.error.as_deref().unwrap_or("something of the period is still listed")
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        return Ok(());
    }
    let now = clock.now();
    journal.append(ErasureRecord {
        event: ErasureEvent::Done,
        at: now,
        clock: clock.is_injected().then(|| "injected".into()),
        intent: Some(seq),
        class: e.class.clone(),
        period: e.period.clone(),
        reason: e.reason,
        key_ids: e.key_ids.clone(),
        backups: e.backups.clone(),
        locations: e.locations.clone(),
    })?;
    e.done_at = Some(now);
    done.push(e);
    Ok(())
}

/// Intents without a matching `done`.
pub fn pending(st: &JournalState<ErasureRecord>) -> Vec<&Chained<ErasureRecord>> {
    let done: BTreeSet<u64> = st.records.iter().filter_map(|r| r.intent).collect();
    st.records
        .iter()
        .filter(|r| r.event == ErasureEvent::Intent && !done.contains(&r.seq))
        .collect()
}

/// Erases the periods `sel` selects now, before their deadline (after the
/// caller confirmed [`plan`]'s list), under the repository lock.
pub fn erase(
    repo: &Repository,
    sel: &Selection,
    clock: &Clock,
    lock_wait: std::time::Duration,
) -> Result<(Vec<Erasure>, Vec<Problem>)> {
    let _lock = repo.lock(lock_wait)?;
    let plans = plan(repo, sel)?;
    run(repo, plans, clock)
}
