//! The deletion journal: `journal/deletions.jsonl`, append-only JSON
//! lines, each fsynced, chained by SHA-256.
//!
//! Every line carries `seq` (1, 2, 3…) and `prev`, the lowercase hex
//! SHA-256 of the previous line's bytes including its `\n` (64 zeros for
//! the first line). Altering, removing, reordering or inserting a line
//! breaks the chain at the next line. `journal/deletions.head`, rewritten
//! atomically after every append, records the last line's `seq` and
//! SHA-256, so that removing or altering lines at the *end* is detected
//! too. The full format is in docs/RETENTION.md.

use crate::error::Result;
pub use crate::journal::{Damage, GENESIS, Head, JOURNAL_DIR};
use crate::storage::Storage;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Name of the deletion journal (`journal/deletions.jsonl`).
pub const DELETIONS: &str = "deletions";
/// File name of the deletion journal.
pub const DELETIONS_FILE: &str = "deletions.jsonl";
/// File name of the deletion journal's head record.
pub const HEAD_FILE: &str = "deletions.head";

/// Why something was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Past its deadline.
    Overdue,
    /// Within max_age but not selected by the keep rules.
    Surplus,
    /// Not yet past its deadline, but it would be before the next prune
    /// (`prune --ahead`, default 24 h): deleted a little early rather
    /// than late.
    Ahead,
    /// Data file without a sidecar, older than the grace period.
    IncompleteWrite,
    /// `tmp/*.partial` older than the grace period.
    StalePartial,
}

/// `intent` or `done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// Written before anything is deleted.
    Intent,
    /// Written after every file of the intent is gone.
    Done,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What happened.
    pub event: Event,
    /// When (UTC, to the second).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `"injected"` when `at` came from `--at` / `NKBACKUP_NOW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// For `done`: the `seq` of its intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<u64>,
    /// Backup id (absent for a partial file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Class (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Creation time (intent only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created: Option<OffsetDateTime>,
    /// Deadline under the policy that deleted it (intent only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deadline: Option<OffsetDateTime>,
    /// Why (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Storage path of the data file, relative to the repository.
    pub path: String,
    /// Storage path of the sidecar, relative to the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_path: Option<String>,
    /// SHA-256 of the sidecar file's bytes (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_sha256: Option<String>,
    /// SHA-256 of the data file per the sidecar (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext_sha256: Option<String>,
}

impl Record {
    /// A new intent or done record (the chain is added on append).
    pub fn new(event: Event, at: OffsetDateTime, injected: bool, path: String) -> Self {
        Record {
            event,
            at,
            clock: injected.then(|| "injected".to_owned()),
            intent: None,
            id: None,
            class: None,
            created: None,
            deadline: None,
            reason: None,
            path,
            sidecar_path: None,
            sidecar_sha256: None,
            ciphertext_sha256: None,
        }
    }
}

/// One line of the deletion journal: a [`Record`] with its chain fields.
pub type Line = crate::journal::Chained<Record>;

/// The deletion journal as read and checked.
pub type JournalState = crate::journal::JournalState<Record>;
/// Appends deletion records.
pub type JournalWriter = crate::journal::JournalWriter<Record>;

impl JournalState {
    /// Intents without a matching `done`.
    pub fn pending(&self) -> Vec<&Line> {
        let done: std::collections::HashSet<u64> =
            self.records.iter().filter_map(|r| r.intent).collect();
        self.records
            .iter()
            .filter(|r| r.event == Event::Intent && !done.contains(&r.seq))
            .collect()
    }
}

/// The deletion journal's key, `journal/deletions.jsonl`.
pub fn key() -> crate::storage::ObjectKey {
    crate::journal::key(DELETIONS)
}

/// Reads and checks the deletion journal of the repository in `storage`.
pub fn read(storage: &dyn Storage) -> Result<JournalState> {
    crate::journal::read(storage, DELETIONS)
}

/// Opens the deletion journal for appending (refuses a damaged one), with
/// the repository's witness.
pub fn writer(repo: &crate::repo::Repository) -> Result<JournalWriter> {
    repo.journal_writer(DELETIONS)
}
