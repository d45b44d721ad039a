//! The erasure journal, `journal/erasures.jsonl`: every crypto-erasure,
//! chained like the other journals (docs/RETENTION.md, "Crypto-erasure").
//!
//! An erasure is two lines: `intent` before the first key item is
//! deleted, naming the class, period, key ids, the backups the period
//! covered and the keyring locations; `done` once every location was
//! checked and holds none of the period's key items, with what each
//! location answered. An intent without `done` is a pending erasure that
//! the next prune or erase completes first.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Name of the erasure journal.
pub const ERASURES: &str = "erasures";

/// `intent` or `done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErasureEvent {
    /// Written before anything is deleted.
    Intent,
    /// Written after every location was checked empty.
    Done,
}

/// Why a period was erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErasureReason {
    /// The period's last backup passed its deadline (prune).
    Expired,
    /// `nkbackup erase`, before the deadline.
    Requested,
}

impl std::fmt::Display for ErasureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErasureReason::Expired => "its last backup passed its deadline",
            ErasureReason::Requested => "erased on request",
        })
    }
}

/// What one keyring location answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationCheck {
    /// The location (a directory or `s3://…`).
    pub location: String,
    /// Objects of the period deleted there by this erasure.
    pub deleted: u32,
    /// Listing `keys/<class>/<period>/` found nothing, and a direct lookup
    /// of every key item named in the intent found nothing.
    pub absent: bool,
    /// What went wrong, if the location could not be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One line of the erasure journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    /// What happened.
    pub event: ErasureEvent,
    /// When (UTC, to the second).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `"injected"` when `at` came from `--at` / `NKBACKUP_NOW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// For `done`: the `seq` of its intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<u64>,
    /// The class.
    pub class: String,
    /// The period's name.
    pub period: String,
    /// Why.
    pub reason: ErasureReason,
    /// The key ids of the period's key items.
    pub key_ids: Vec<String>,
    /// The backups sealed to them (ids), as far as the repository knows.
    #[serde(default)]
    pub backups: Vec<String>,
    /// Intent: the locations to erase from; done: what each answered.
    pub locations: Vec<LocationCheck>,
}

/// Most key ids, backups or locations a record may list.
const MAX_LIST: usize = 100_000;

impl ErasureRecord {
    /// Checks a record read from a repository: names nkbackup writes and
    /// bounded lists.
    pub fn check(&self) -> Result<(), String> {
        crate::config::check_name("class", &self.class).map_err(|e| e.to_string())?;
        crate::config::ErasurePeriod::parse(&self.period)?;
        if self.key_ids.len() > MAX_LIST
            || self.backups.len() > MAX_LIST
            || self.locations.len() > 16
        {
            return Err("it lists too many key ids, backups or locations".into());
        }
        if !self.key_ids.iter().all(|k| crate::manifest::is_key_id(k)) {
            return Err("a key id is not 16 lowercase hex digits".into());
        }
        if !self
            .backups
            .iter()
            .all(|b| crate::id::BackupId::is_well_formed(b))
        {
            return Err("a backup id is malformed".into());
        }
        if self
            .locations
            .iter()
            .any(|l| l.location.len() > 1024 || l.error.as_ref().is_some_and(|e| e.len() > 4096))
        {
            return Err("a location or its error is too long".into());
        }
        Ok(())
    }
}
