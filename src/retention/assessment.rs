//! What an evaluation finds: each backup's state and action, the
//! problems, orphans and per-class summaries ([`super::evaluate()`]
//! computes them).

use super::policy::KeepRules;
use crate::storage::ObjectKey;
use serde::Serialize;
use std::path::PathBuf;
use time::OffsetDateTime;

/// Where a backup stands against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Within policy, deadline not near.
    Ok,
    /// Deadline within the class's due-soon window.
    DueSoon,
    /// Past its deadline: the promise is broken while it exists.
    Overdue,
    /// The class has no `max_age`.
    NoDeadline,
    /// The backup's class is not defined in the configuration.
    UnknownClass,
    /// Its deadline cannot be computed: its creation time is implausible
    /// (only a planted sidecar has one); it is held.
    BadDate,
}

impl State {
    /// How `retention check` prints it.
    pub fn label(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::DueSoon => "due soon",
            State::Overdue => "OVERDUE",
            State::NoDeadline => "no deadline",
            State::UnknownClass => "unknown class",
            State::BadDate => "bad date",
        }
    }
}

/// What prune does with a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Kept (within max_age and selected by the keep rules).
    Keep,
    /// Deleted: overdue, or surplus under the keep rules.
    Delete,
    /// Neither: something about it needs a person (see the problems).
    Hold,
}

/// How a current deadline compares with the one recorded at seal time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyChange {
    /// The current policy gives an earlier deadline.
    Shortened,
    /// The current policy gives a later deadline.
    Lengthened,
}

/// One backup, evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Backup id.
    pub id: String,
    /// Class, from the sidecar.
    pub class: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Deadline under the current policy.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    /// Deadline recorded in the sidecar when it was sealed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub sealed_deadline: Option<OffsetDateTime>,
    /// Set when the two deadlines differ.
    pub policy_change: Option<PolicyChange>,
    /// Against the deadline.
    pub state: State,
    /// What prune does.
    pub action: Action,
    /// Why: `overdue`, `surplus`, `newest`, `daily`, `weekly`,
    /// `monthly`, `within max_age`, `no deadline`, or why it is held.
    pub reason: String,
    /// Length of the data file per the sidecar.
    pub ciphertext_bytes: u64,
    /// The data file (a path, or an object URL).
    pub data_path: PathBuf,
    /// The sidecar file (a path, or an object URL).
    pub sidecar_path: PathBuf,
    /// The data object's key in the repository.
    pub data_key: ObjectKey,
    /// The sidecar's key in the repository.
    pub sidecar_key: ObjectKey,
}

/// Kinds of problems evaluation and verification report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A backup is past its deadline.
    Overdue,
    /// A sidecar could not be read.
    UnreadableSidecar,
    /// A backup's class is not configured.
    UnknownClass,
    /// A sidecar lies in another class's directory or names another file.
    Misplaced,
    /// A symlink, special file or directory where nkbackup keeps its own
    /// files.
    Unexpected,
    /// A backup's deadline falls outside the dates nkbackup computes with
    /// (its creation time is implausible).
    DateOutOfRange,
    /// A sidecar's data file is missing.
    DataMissing,
    /// A data file disagrees with its sidecar (length or SHA-256).
    DataMismatch,
    /// A data file without a sidecar, older than the grace period.
    IncompleteWrite,
    /// A `tmp/*.partial` file older than the grace period.
    StalePartial,
    /// The deletion journal fails its checks.
    JournalDamaged,
    /// A journaled deletion was started but never completed.
    DeletionPending,
    /// A journaled deletion's files still exist.
    NotDeleted,
    /// A crypto-erasure was started but never completed.
    ErasurePending,
    /// A journaled crypto-erasure's key item is still in a keyring
    /// location, or a location could not be checked.
    KeyNotErased,
    /// A period key whose every backup is past its deadline is still in
    /// the keyring.
    KeyOverdue,
    /// A class has no deadline and does not say `max_age = "forever"` on
    /// purpose: it keeps backups forever, no promise can hold.
    NoDeadline,
    /// A deletion completed after the backup's deadline (plus the class's
    /// `deletion_tolerance`): the promise was broken for that long.
    DeletedLate,
    /// A journal does not extend the head an auditor kept from an earlier
    /// report (`--expect-head`): its history was rewritten.
    JournalRewritten,
    /// A drill record's signature does not verify with the enrolled
    /// token's signature key: the record was changed after it was signed.
    DrillSignatureInvalid,
    /// In a repository with `object_lock`, a backup's object holds no
    /// Object Lock retention: it can be deleted before its deadline.
    NotLocked,
    /// A backup is locked by the store past its deadline (plus
    /// tolerance): the store refuses to delete it before the date the
    /// problem names.
    LockConflict,
}

/// Something a person has to look at.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The backup id or path concerned.
    pub subject: String,
    /// What is wrong and what to do.
    pub detail: String,
}

/// Kinds of leftover files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrphanKind {
    /// `backups/<class>/<id>.age` without a sidecar.
    IncompleteWrite,
    /// `tmp/*.partial`, or `backups/<class>/.<id>.json.*.tmp` (an
    /// interrupted sidecar write).
    StalePartial,
}

/// A leftover file older than the grace period.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    /// What kind.
    pub kind: OrphanKind,
    /// The file (a path, or an object URL).
    pub path: PathBuf,
    /// Its key in the repository.
    pub key: ObjectKey,
    /// Its modification time.
    #[serde(with = "time::serde::rfc3339")]
    pub modified: OffsetDateTime,
    /// The backup id, for an incomplete write.
    pub id: Option<String>,
    /// The class directory, for an incomplete write.
    pub class: Option<String>,
}

/// Per-class summary.
#[derive(Debug, Clone, Serialize)]
pub struct ClassSummary {
    /// Class name.
    pub class: String,
    /// Whether the configuration defines it.
    pub configured: bool,
    /// The promise text.
    pub promise: Option<String>,
    /// `max_age`, canonical (`90d`).
    pub max_age: Option<String>,
    /// Why the class keeps backups forever, when it does so on purpose
    /// (`max_age = "forever"`).
    pub forever: Option<String>,
    /// Whether it keeps backups forever *without* saying so: no promise
    /// can hold (a violation in `retention verify`).
    pub keeps_forever: bool,
    /// `deletion_tolerance`, canonical, if set.
    pub tolerance: Option<String>,
    /// The machine-checked promise (`promise_max`), if stated.
    pub promise_bound: Option<crate::config::PromiseBound>,
    /// Keep rules.
    pub keep: KeepRules,
    /// Backups held (sidecars present).
    pub backups: usize,
    /// Of which within policy.
    pub ok: usize,
    /// Of which due soon.
    pub due_soon: usize,
    /// Of which overdue.
    pub overdue: usize,
    /// Of which surplus under the keep rules.
    pub surplus: usize,
    /// Of which held because of a problem.
    pub held: usize,
    /// Stored bytes.
    pub bytes: u64,
    /// Oldest backup's creation time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub oldest: Option<OffsetDateTime>,
    /// Newest backup's creation time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub newest: Option<OffsetDateTime>,
    /// Earliest deadline not yet passed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_deadline: Option<OffsetDateTime>,
}

/// The result of evaluating a repository.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The time evaluated at.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Every backup, in the order of the listing evaluated (oldest first).
    pub backups: Vec<Assessment>,
    /// Per class, configured classes first in name order, then unknown ones.
    pub classes: Vec<ClassSummary>,
    /// Leftover files older than the grace period.
    pub orphans: Vec<Orphan>,
    /// Problems found (held backups, unreadable sidecars, orphans).
    pub problems: Vec<Problem>,
}

impl Evaluation {
    /// Whether any backup is overdue.
    pub fn any_overdue(&self) -> bool {
        self.backups.iter().any(|b| b.state == State::Overdue)
    }
}
