//! `object_lock`: what a repository configured with S3 Object Lock checks
//! before it writes, and the retention each new backup is written with
//! (docs/STORAGE.md, "Object Lock").

use super::Repository;
use crate::config::{ClassPolicy, LockMode};
use crate::error::{Error, Result};
use crate::storage::{LockSupport, Retention};
use time::OffsetDateTime;

impl Repository {
    /// The S3 Object Lock mode backups are written with, if configured.
    pub fn object_lock(&self) -> Option<LockMode> {
        self.config.repository.object_lock
    }

    /// With `object_lock` configured: checks that the store keeps
    /// versions and enforces Object Lock on the bucket (asked once per
    /// opened repository). Every writing command calls it before it
    /// writes; without `object_lock` it does nothing.
    pub fn check_object_lock(&self) -> Result<()> {
        let Some(mode) = self.object_lock() else {
            return Ok(());
        };
        if self.lock_checked.get().is_some() {
            return Ok(());
        }
        check_store(self.storage.as_ref(), mode)?;
        let _ = self.lock_checked.set(());
        Ok(())
    }

    /// The retention a new backup of `class` created at `created` is
    /// written with: `None` without `object_lock`; its mode until the
    /// backup's deadline otherwise. A class without a deadline, or
    /// without a `deletion_tolerance` (a locked backup can only be deleted
    /// after its deadline, so prune always deletes it a little late), is
    /// refused before anything is written.
    pub fn seal_retention(
        &self,
        class: &ClassPolicy,
        created: OffsetDateTime,
    ) -> Result<Option<Retention>> {
        let Some(mode) = self.object_lock() else {
            return Ok(None);
        };
        let refuse = |problem: String, hint: &'static str| Error::ObjectLock {
            location: self.location().to_owned(),
            mode: mode.as_str(),
            problem,
            hint,
        };
        let Some(until) = class.deadline(created)? else {
            return Err(refuse(
                format!(
                    "class {} has no deadline, and a backup in a locked repository is retained until its deadline",
                    class.class
                ),
                "give the class a max_age (docs/RETENTION.md), or seal it into a repository without object_lock",
            ));
        };
        if class.tolerance.is_none() {
            return Err(refuse(
                format!(
                    "class {} has no deletion_tolerance: the store refuses to delete a locked backup before its deadline, so prune deletes it after, and without a tolerance every such deletion is late",
                    class.class
                ),
                "set deletion_tolerance to at least the interval prune runs at (\"1d\" for a daily prune; docs/STORAGE.md, \"Object Lock\")",
            ));
        }
        self.check_object_lock()?;
        Ok(Some(Retention { mode, until }))
    }
}

impl Repository {
    /// In a locked repository: gives the current version of a backup
    /// object that was rewritten (rewrap) the lock a seal gives, until
    /// the backup's deadline under the current policy, if that is still
    /// ahead. Without `object_lock` it does nothing.
    pub(crate) fn relock(
        &self,
        key: &crate::storage::ObjectKey,
        class: &str,
        created: OffsetDateTime,
    ) -> Result<()> {
        let Some(mode) = self.object_lock() else {
            return Ok(());
        };
        let Some(until) = self.class_policy(class)?.deadline(created)? else {
            return Ok(());
        };
        if until <= OffsetDateTime::now_utc() {
            return Ok(()); // due: prune's, not a lock's
        }
        self.storage.retain(key, &Retention { mode, until })
    }
}

/// Refuses a store that does not keep versions or enforce Object Lock.
pub(super) fn check_store(storage: &dyn crate::storage::Storage, mode: LockMode) -> Result<()> {
    match storage.lock_support()? {
        LockSupport::Enabled => Ok(()),
        LockSupport::Missing(problem) => Err(Error::ObjectLock {
            location: storage.location().to_owned(),
            mode: mode.as_str(),
            problem,
            hint: "create the bucket with Object Lock enabled (which also enables versioning; docs/STORAGE.md, \"Object Lock\"); Object Lock cannot be added to a bucket that was made without it",
        }),
    }
}
