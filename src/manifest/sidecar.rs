//! The sidecar manifest: `<id>.json` beside `<id>.age`.

use super::InnerHeader;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use time::OffsetDateTime;

/// The `format` value of sidecars this version writes and reads.
pub const SIDECAR_FORMAT: &str = "nkbackup-sidecar/1";

/// A recipient a backup was sealed to, as recorded in its sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientInfo {
    /// The recipient's label from the configuration.
    pub label: String,
    /// Its type (`age`, later `recovery`, `card`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its public key, as configured.
    pub key: String,
}

/// Plaintext metadata of one backup, readable without any key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Always [`SIDECAR_FORMAT`].
    pub format: String,
    /// The backup id.
    pub id: String,
    /// Its retention class.
    pub class: String,
    /// When sealing started (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The sealing host.
    pub host: String,
    /// Tool and version that sealed it.
    pub tool: String,
    /// `none` or `zstd:LEVEL`.
    pub compression: String,
    /// File name of the data file, in the same directory.
    pub data: String,
    /// Entry lines in the inner manifest.
    pub entries: u64,
    /// Of which skipped.
    pub skipped: u64,
    /// Sum of file sizes.
    pub file_bytes: u64,
    /// Length of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Length of the age file.
    pub ciphertext_bytes: u64,
    /// SHA-256 of the whole age file, hex.
    pub ciphertext_sha256: String,
    /// SHA-256 of the inner manifest's content, hex.
    pub manifest_sha256: String,
    /// Who can open it.
    pub recipients: Vec<RecipientInfo>,
    /// Retention deadline under the class policy in force when it was
    /// sealed; informational: retention recomputes it from the current
    /// policy and reports both when they differ.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deadline: Option<OffsetDateTime>,
}

impl Sidecar {
    /// Reads and parses a sidecar file.
    pub fn read(path: &Path, id: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::SidecarInvalid {
            id: id.to_owned(),
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::parse(&bytes, path, id)
    }

    /// Parses and checks the sidecar of backup `id` read from `path` (a
    /// file path or object URL, for messages).
    pub fn parse(bytes: &[u8], path: &Path, id: &str) -> Result<Self> {
        let bad = |message: String| Error::SidecarInvalid {
            id: id.to_owned(),
            path: path.to_owned(),
            message,
        };
        let s: Sidecar = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if s.format != SIDECAR_FORMAT {
            return Err(bad(format!(
                "format {:?} is not {SIDECAR_FORMAT:?}; a newer nkbackup may be needed",
                s.format
            )));
        }
        if s.id != id {
            return Err(bad(format!("it describes backup {:?}", s.id)));
        }
        Ok(s)
    }

    /// The recipient labels, comma-separated, for messages.
    pub fn labels(&self) -> String {
        if self.recipients.is_empty() {
            return "(no recipients recorded)".into();
        }
        self.recipients
            .iter()
            .map(|r| format!("{} ({})", r.label, r.kind))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Lists every way the authenticated inner manifest disagrees with this
    /// sidecar. `manifest_sha256` is the digest of the manifest as read.
    pub fn disagreements(&self, inner: &InnerHeader, manifest_sha256: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: &str, side: String, inn: String| {
            if side != inn {
                out.push(format!(
                    "{what}: sidecar says {side}, inner manifest says {inn}"
                ));
            }
        };
        check("id", self.id.clone(), inner.backup_id.clone());
        check("class", self.class.clone(), inner.class.clone());
        check(
            "created",
            self.created.to_string(),
            inner.created.to_string(),
        );
        check("host", self.host.clone(), inner.host.clone());
        check(
            "entries",
            self.entries.to_string(),
            inner.entries.to_string(),
        );
        check(
            "skipped",
            self.skipped.to_string(),
            inner.skipped.to_string(),
        );
        check(
            "file bytes",
            self.file_bytes.to_string(),
            inner.file_bytes.to_string(),
        );
        check(
            "manifest digest",
            self.manifest_sha256.clone(),
            manifest_sha256.to_owned(),
        );
        out
    }
}
