//! Evaluation: every backup of a repository against the *current* policy
//! at a given time.
//!
//! Evaluation reads only sidecars and file metadata, never backup content,
//! and needs no key. It is deterministic for a given listing, policy and
//! time, so `retention check`, `prune --dry-run`, `prune` and
//! `retention verify` all agree.
//!
//! Nothing questionable is ever scheduled for deletion: a sidecar whose
//! data file is missing or has the wrong length, a sidecar that lies in
//! another class's directory or names a data file other than `<id>.age`,
//! and a backup of a class the configuration no longer defines are
//! *held* and reported as problems.

use super::policy::{ClassPolicy, Policy};
use crate::manifest::DefectKind;
use crate::repo::{BackupInfo, Listing, Repository};
use crate::storage::ObjectInfo;
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub use super::assessment::*;

/// Default grace period for incomplete writes and partial files: 24 hours.
pub const DEFAULT_GRACE: time::Duration = time::Duration::hours(24);

/// Evaluates `listing` (from [`Repository::list`]) against `policy` at
/// `at`. `restorable` decides whether a backup can be restored; it is
/// asked newest first, only until the newest restorable backup of each
/// class is found (prune passes a SHA-256 check, `check` passes
/// `|_| Ok(())`: the length was already compared).
pub fn evaluate(
    repo: &Repository,
    listing: &Listing,
    policy: &Policy,
    at: OffsetDateTime,
    grace: time::Duration,
    restorable: &mut dyn FnMut(&BackupInfo) -> Result<(), String>,
) -> Evaluation {
    let mut problems = Vec::new();
    for u in &listing.unreadable {
        problems.push(Problem {
            kind: match u.kind {
                DefectKind::Misplaced => ProblemKind::Misplaced,
                DefectKind::Unreadable => ProblemKind::UnreadableSidecar,
            },
            subject: u.id.clone(),
            detail: format!(
                "{}; its data file is not pruned until a person has looked",
                u.error()
            ),
        });
    }
    for o in &listing.unexpected {
        problems.push(Problem {
            kind: ProblemKind::Unexpected,
            subject: repo.storage().describe(&o.key),
            detail: format!(
                "{} is {} where nkbackup keeps its own files; it is never followed, and what it hides is not evaluated: investigate and remove it",
                repo.storage().describe(&o.key),
                o.kind.describe()
            ),
        });
    }
    let mut backups: Vec<Assessment> = Vec::with_capacity(listing.backups.len());
    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, b) in listing.backups.iter().enumerate() {
        let s = &b.sidecar;
        let cp = policy.class(&s.class);
        let (deadline, out_of_range) = match cp.map(|c| c.deadline(s.created)) {
            Some(Err(e)) => (None, Some(e.to_string())),
            Some(Ok(d)) => (d, None),
            None => (None, None),
        };
        let state = match (cp, deadline) {
            _ if out_of_range.is_some() => State::BadDate,
            (None, _) => State::UnknownClass,
            (Some(_), None) => State::NoDeadline,
            (Some(_), Some(d)) if at >= d => State::Overdue,
            (Some(c), Some(d)) if d - at <= c.due_soon_window() => State::DueSoon,
            _ => State::Ok,
        };
        let policy_change = match (s.deadline, deadline) {
            (Some(old), Some(new)) if new < old => Some(PolicyChange::Shortened),
            (Some(old), Some(new)) if new > old => Some(PolicyChange::Lengthened),
            _ => None,
        };
        let mut a = Assessment {
            id: s.id.clone(),
            class: s.class.clone(),
            created: s.created,
            deadline,
            sealed_deadline: s.deadline,
            policy_change,
            state,
            action: Action::Keep,
            reason: String::new(),
            ciphertext_bytes: s.ciphertext_bytes,
            data_path: b.data_path.clone(),
            sidecar_path: b.sidecar_path.clone(),
            data_key: b.data_key.clone(),
            sidecar_key: b.sidecar_key.clone(),
        };
        let hold = match out_of_range {
            Some(detail) => Some(Problem {
                kind: ProblemKind::DateOutOfRange,
                subject: s.id.clone(),
                detail,
            }),
            None => hold_reason(repo.storage().as_ref(), b, cp),
        };
        if let Some(p) = hold {
            a.action = Action::Hold;
            a.reason = p.detail.clone();
            problems.push(p);
        } else if state == State::Overdue {
            a.action = Action::Delete;
            a.reason = "overdue".into();
        }
        backups.push(a);
        by_class.entry(s.class.as_str()).or_default().push(i);
    }
    for (class, idx) in &by_class {
        if let Some(cp) = policy.class(class) {
            apply_keep_rules(
                cp,
                &listing.backups,
                &mut backups,
                idx,
                restorable,
                &mut problems,
            );
        }
    }
    for cp in policy.classes.values().filter(|c| c.keeps_forever()) {
        problems.push(Problem {
            kind: ProblemKind::NoDeadline,
            subject: format!("class {}", cp.class),
            detail: format!(
                "keeps backups forever: no promise can hold; set max_age in [classes.{}] (or max_age = \"forever\" with a reason, if keeping them is on purpose)",
                cp.class
            ),
        });
    }
    let orphans = find_orphans(repo, listing, at, grace, &mut problems);
    let mut classes: Vec<ClassSummary> = policy
        .classes
        .values()
        .map(|cp| summary(cp.class.clone(), Some(cp)))
        .collect();
    for class in by_class.keys() {
        if policy.class(class).is_none() {
            classes.push(summary((*class).to_owned(), None));
        }
    }
    let pos: BTreeMap<String, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.class.clone(), i))
        .collect();
    for a in &backups {
        let c = &mut classes[pos[&a.class]];
        c.backups += 1;
        c.bytes += a.ciphertext_bytes;
        match a.state {
            State::Ok => c.ok += 1,
            State::DueSoon => c.due_soon += 1,
            State::Overdue => c.overdue += 1,
            _ => {}
        }
        match (a.action, a.state) {
            (Action::Delete, s) if s != State::Overdue => c.surplus += 1,
            (Action::Hold, _) => c.held += 1,
            _ => {}
        }
        c.oldest = Some(c.oldest.map_or(a.created, |o| o.min(a.created)));
        c.newest = Some(c.newest.map_or(a.created, |o| o.max(a.created)));
        if let Some(d) = a.deadline.filter(|d| *d > at) {
            c.next_deadline = Some(c.next_deadline.map_or(d, |o| o.min(d)));
        }
    }
    Evaluation {
        at,
        backups,
        classes,
        orphans,
        problems,
    }
}

fn summary(class: String, cp: Option<&ClassPolicy>) -> ClassSummary {
    ClassSummary {
        class,
        configured: cp.is_some(),
        promise: cp.and_then(|c| c.promise.clone()),
        max_age: cp.and_then(|c| c.max_age).map(|m| m.to_string()),
        forever: cp.and_then(|c| c.forever.clone()),
        keeps_forever: cp.is_some_and(|c| c.keeps_forever()),
        tolerance: cp.and_then(|c| c.tolerance).map(|t| t.to_string()),
        promise_bound: cp.and_then(|c| c.promise_bound().ok().flatten()),
        keep: cp.map(|c| c.keep).unwrap_or_default(),
        backups: 0,
        ok: 0,
        due_soon: 0,
        overdue: 0,
        surplus: 0,
        held: 0,
        bytes: 0,
        oldest: None,
        newest: None,
        next_deadline: None,
    }
}

/// Why a backup must not be touched automatically, if it must not.
fn hold_reason(
    storage: &dyn crate::storage::Storage,
    b: &BackupInfo,
    cp: Option<&ClassPolicy>,
) -> Option<Problem> {
    let s = &b.sidecar;
    let problem = |kind, detail: String| {
        Some(Problem {
            kind,
            subject: s.id.clone(),
            detail,
        })
    };
    if cp.is_none() {
        return problem(
            ProblemKind::UnknownClass,
            format!(
                "backup of class {:?}, which nkbackup.toml does not define, so it has no deadline; add [classes.{}] with its max_age, or remove the backup by hand",
                s.class, s.class
            ),
        );
    }
    // The data object's size as the listing saw it when it saw a plain
    // object (no request per backup: 100 000 in a bucket), else a stat.
    let size = match b
        .data_listed
        .as_ref()
        .filter(|o| o.kind == crate::storage::ObjectKind::Object)
    {
        Some(o) => Ok(Some(o.size)),
        None => storage.stat(&b.data_key).map(|o| o.map(|o| o.size)),
    };
    match size {
        Ok(None) => problem(
            ProblemKind::DataMissing,
            format!(
                "data file {} is missing although the sidecar exists; if a prune was interrupted, `nkbackup prune` completes it, otherwise investigate",
                b.data_path.display()
            ),
        ),
        Err(e) => problem(
            ProblemKind::DataMismatch,
            format!("cannot stat {}: {e}", b.data_path.display()),
        ),
        Ok(Some(n)) if n != s.ciphertext_bytes => problem(
            ProblemKind::DataMismatch,
            format!(
                "data file {} has {} bytes, the sidecar says {}; not deleted blindly: check it with `nkbackup verify {}`",
                b.data_path.display(),
                n,
                s.ciphertext_bytes,
                s.id
            ),
        ),
        Ok(_) => None,
    }
}

/// Applies the keep rules to one class's backups (indices into both
/// slices, oldest first).
fn apply_keep_rules(
    cp: &ClassPolicy,
    infos: &[BackupInfo],
    out: &mut [Assessment],
    idx: &[usize],
    restorable: &mut dyn FnMut(&BackupInfo) -> Result<(), String>,
    problems: &mut Vec<Problem>,
) {
    let candidates = |out: &[Assessment]| -> Vec<usize> {
        idx.iter()
            .rev()
            .copied()
            .filter(|&i| out[i].action == Action::Keep && out[i].state != State::Overdue)
            .collect()
    };
    // The newest restorable backup is always kept while within max_age.
    for i in candidates(out) {
        match restorable(&infos[i]) {
            Ok(()) => {
                out[i].reason = "newest".into();
                break;
            }
            Err(detail) => {
                out[i].action = Action::Hold;
                out[i].reason = detail.clone();
                problems.push(Problem {
                    kind: ProblemKind::DataMismatch,
                    subject: out[i].id.clone(),
                    detail,
                });
            }
        }
    }
    let cands = candidates(out);
    if cp.keep.is_empty() {
        for i in cands {
            if out[i].reason.is_empty() {
                out[i].reason = if cp.max_age.is_some() {
                    "within max_age".into()
                } else {
                    "no deadline".into()
                };
            }
        }
        return;
    }
    type Key = fn(OffsetDateTime) -> (i32, u32);
    let rules: [(&str, u32, Key); 3] = [
        ("daily", cp.keep.daily, |t| (t.year(), t.ordinal() as u32)),
        ("weekly", cp.keep.weekly, |t| {
            let (y, w, _) = t.to_iso_week_date();
            (y, w as u32)
        }),
        ("monthly", cp.keep.monthly, |t| (t.year(), t.month() as u32)),
    ];
    for (name, n, key) in rules {
        let mut last = None;
        let mut count = 0;
        for &i in &cands {
            if count >= n {
                break;
            }
            let k = key(out[i].created);
            if last != Some(k) {
                last = Some(k);
                count += 1;
                let r = &mut out[i].reason;
                if !r.is_empty() {
                    r.push_str(", ");
                }
                r.push_str(name);
            }
        }
    }
    for i in cands {
        if out[i].reason.is_empty() {
            out[i].action = Action::Delete;
            out[i].reason = "surplus".into();
        }
    }
}

/// An object's modification time, if the store gave one that is a
/// representable date (a planted file can carry any time).
fn mtime(o: &ObjectInfo) -> Option<OffsetDateTime> {
    let secs = o
        .modified?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()
}

/// Incomplete writes and partial files older than `grace`.
fn find_orphans(
    repo: &Repository,
    listing: &Listing,
    at: OffsetDateTime,
    grace: time::Duration,
    problems: &mut Vec<Problem>,
) -> Vec<Orphan> {
    let storage = repo.storage();
    let mut out = Vec::new();
    for o in &listing.incomplete {
        let Some(m) = mtime(o) else { continue };
        if at - m < grace {
            continue;
        }
        let mut parts = o.key.components().skip(1);
        let class = parts.next().map(str::to_owned);
        let id = parts
            .next()
            .and_then(|n| n.strip_suffix(".age"))
            .map(str::to_owned);
        out.push(Orphan {
            kind: OrphanKind::IncompleteWrite,
            path: storage.describe(&o.key).into(),
            key: o.key.clone(),
            modified: m,
            id,
            class,
        });
    }
    // Partial seals in tmp/, and sidecar writes (`.<id>.json.*.tmp`, see
    // `write_atomic`) a crash left in class directories.
    for o in &listing.partials {
        let Some(m) = mtime(o) else { continue };
        if at - m >= grace {
            out.push(Orphan {
                kind: OrphanKind::StalePartial,
                path: storage.describe(&o.key).into(),
                key: o.key.clone(),
                modified: m,
                id: None,
                class: None,
            });
        }
    }
    for o in &out {
        let (kind, what) = match o.kind {
            OrphanKind::IncompleteWrite => (
                ProblemKind::IncompleteWrite,
                "data file without a sidecar (an interrupted seal)",
            ),
            OrphanKind::StalePartial => (ProblemKind::StalePartial, "partial write of a seal"),
        };
        problems.push(Problem {
            kind,
            subject: o.path.display().to_string(),
            detail: format!(
                "{what}, last modified {}, older than the grace period; `nkbackup prune` removes it",
                super::rfc3339(o.modified)
            ),
        });
    }
    out
}
