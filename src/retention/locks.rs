//! S3 Object Lock and retention: every live backup of a locked repository
//! must hold a retention, and none may outlive its deadline (docs/STORAGE.md,
//! "Object Lock"). Locks are judged against the store's clock, which is
//! the system's, never an injected `--at`.

use super::assessment::{Assessment, Problem, ProblemKind};
use crate::config::Policy;
use crate::error::Result;
use crate::repo::Repository;
use crate::storage::{ObjectKey, Retention};
use time::OffsetDateTime;

/// What the store says of the locks of the backups assessed, and the
/// problems: an object without a retention, a retention past the deadline
/// (plus tolerance) the current policy gives. `None` without `object_lock`.
pub(crate) fn check(
    repo: &Repository,
    assessed: &[Assessment],
    policy: &Policy,
) -> Result<Option<(String, Vec<Problem>)>> {
    let Some(mode) = repo.object_lock() else {
        return Ok(None);
    };
    let storage = repo.storage();
    let mut problems = Vec::new();
    let mut objects = 0;
    for a in assessed {
        for key in [&a.data_key, &a.sidecar_key] {
            objects += 1;
            let latest = latest(a, policy);
            match storage.retention(key)? {
                None => problems.push(Problem {
                    kind: ProblemKind::NotLocked,
                    subject: a.id.clone(),
                    detail: format!(
                        "{} holds no Object Lock retention although the repository has object_lock = \"{mode}\": it can be deleted or overwritten before its deadline. It was sealed before object_lock was set, or its lock could not be set; set one with the store's tools (docs/STORAGE.md, \"Object Lock\")",
                        storage.describe(key)
                    ),
                }),
                Some(r) if latest.is_some_and(|l| r.until > l) => {
                    problems.push(held(a, key, &r, repo))
                }
                Some(_) => {}
            }
        }
    }
    Ok(Some((
        format!("{mode}: the retention of {objects} object(s) read from the store"),
        problems,
    )))
}

/// The lock that holds `key` now (by the system clock), if any: prune
/// leaves such a backup for a later run instead of meeting the store's
/// refusal halfway through a deletion.
pub(crate) fn holding(repo: &Repository, key: &ObjectKey) -> Result<Option<Retention>> {
    if repo.object_lock().is_none() {
        return Ok(None);
    }
    let now = OffsetDateTime::now_utc();
    Ok(repo.storage().retention(key)?.filter(|r| r.until > now))
}

/// The latest time the current policy lets a backup exist: its deadline
/// plus the class's tolerance.
fn latest(a: &Assessment, policy: &Policy) -> Option<OffsetDateTime> {
    let tol = policy
        .class(&a.class)
        .map_or(time::Duration::ZERO, |c| c.tolerance());
    a.deadline.map(|d| d.checked_add(tol).unwrap_or(d))
}

/// A backup due for deletion that the store holds until `r.until`: a
/// conflict when the lock outlives the deadline (plus tolerance) the
/// current policy gives, else a deletion that comes too early for the
/// store (prune evaluated at a time ahead of the store's clock).
pub(crate) fn held(a: &Assessment, key: &ObjectKey, r: &Retention, repo: &Repository) -> Problem {
    if latest(a, repo.policy()).is_none_or(|l| r.until > l) {
        return conflict(a, key, r, repo);
    }
    Problem {
        kind: ProblemKind::LockConflict,
        subject: a.id.clone(),
        detail: format!(
            "{} is locked until {} ({}): the store refuses to delete it before then, and prune deletes it on its first run after that",
            repo.storage().describe(key),
            super::rfc3339(r.until),
            r.mode
        ),
    }
}

/// A backup whose lock outlives its deadline: the store will not allow
/// deletion before `r.until`.
fn conflict(a: &Assessment, key: &ObjectKey, r: &Retention, repo: &Repository) -> Problem {
    let deadline = a.deadline.map(super::rfc3339).unwrap_or_default();
    let until = super::rfc3339(r.until);
    let who = match r.mode {
        crate::config::LockMode::Compliance => "nobody can delete it earlier",
        crate::config::LockMode::Governance => {
            "only a principal with s3:BypassGovernanceRetention can delete it earlier"
        }
    };
    Problem {
        kind: ProblemKind::LockConflict,
        subject: a.id.clone(),
        detail: format!(
            "{} is locked until {until} ({}), past its deadline {deadline} under the current policy of class {}: the store will allow deletion on {until}, and prune deletes it then; {who}. The policy was shortened after the backup was sealed, or the lock was lengthened outside nkbackup",
            repo.storage().describe(key),
            r.mode,
            a.class
        ),
    }
}
