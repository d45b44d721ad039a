//! The inner manifest's header line.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Version of the inner manifest format described in docs/FORMAT.md.
pub const MANIFEST_VERSION: u32 = 2;
/// The oldest manifest version this nkbackup reads (version 1 has no
/// entry offsets).
pub const MANIFEST_VERSION_MIN: u32 = 1;
/// The reserved directory at the start of every backup's tar stream.
pub const MANIFEST_DIR: &str = ".nkbackup";
/// The tar path of the inner manifest, always the last entry.
pub const MANIFEST_PATH: &str = ".nkbackup/manifest.jsonl";

/// First line of the inner manifest: what the backup is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerHeader {
    /// Manifest format version ([`MANIFEST_VERSION`]).
    pub nkbackup_manifest: u32,
    /// The backup's id.
    pub backup_id: String,
    /// Its retention class.
    pub class: String,
    /// When sealing started (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The sealing host's name.
    pub host: String,
    /// The tool and version that sealed it, e.g. `nkbackup 0.1.0`.
    pub tool: String,
    /// Number of entry lines that follow (stored and skipped).
    pub entries: u64,
    /// How many of those are `skipped`.
    pub skipped: u64,
    /// Sum of the sizes of all file entries.
    pub file_bytes: u64,
    /// The exclusion rules the seal applied: gitignore-style patterns,
    /// `--one-file-system`, `--exclude-caches` (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// How many objects they left out (an excluded directory counts once).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub excluded: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
