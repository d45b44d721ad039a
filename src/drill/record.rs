//! One line of the drill journal, `journal/drills.jsonl`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which key opened (or was meant to open) the backup in a drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The recipient label from the configuration (`alice-nk3`,
    /// `recovery-key`, `offsite-1`).
    pub label: String,
    /// Its type (`age`, `recovery`, `card-x25519`, `card-openpgp`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// Card ident (`000F:1234ABCD`), for cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ident: Option<String>,
    /// Key fingerprint, for cards; key id, for the recovery key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What a drill's comparison with the live source found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareSummary {
    /// The live path compared against.
    pub path: String,
    /// Entries identical in backup and live tree.
    pub same: u64,
    /// Entries whose content, kind or link target differ.
    pub changed: u64,
    /// Entries in the backup missing from the live tree.
    pub missing: u64,
    /// Files in the live tree that the backup does not hold.
    pub extra: u64,
    /// The first differences, for the report.
    pub examples: Vec<String>,
}

/// A drill journal record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// When the drill started (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// How long it took, in seconds.
    pub duration_s: f64,
    /// `passed` or `failed`.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The backup drilled.
    pub backup_id: String,
    /// Its class.
    pub class: String,
    /// When it was sealed.
    #[serde(with = "time::serde::rfc3339")]
    pub backup_created: OffsetDateTime,
    /// The key used; for a drill of a k-of-n group, the group (type
    /// `group`), with the members that opened it in `members`.
    pub token: TokenInfo,
    /// A group drill: every member whose token or key opened its share.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<TokenInfo>,
    /// Entries verified against the inner manifest.
    pub entries_verified: u64,
    /// File bytes verified.
    pub bytes_verified: u64,
    /// Ciphertext bytes read.
    pub ciphertext_bytes: u64,
    /// Ciphertext throughput, MiB/s.
    pub throughput_mib_s: f64,
    /// Where the data was restored, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_to: Option<String>,
    /// Comparison with the live source, if asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareSummary>,
    /// Host that ran the drill.
    pub host: String,
    /// Tool and version.
    pub tool: String,
    /// The token's signature over [`DrillRecord::statement`], for a passed
    /// drill with a card that has a signature key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<DrillSignature>,
    /// Why a passed drill with a card that has a signature key is not
    /// signed (signing on the card failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<String>,
}

/// A drill record signed on the token (docs/FORMAT.md §8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillSignature {
    /// OpenPGP v4 fingerprint of the signature key, 40 hex digits.
    pub key: String,
    /// Base64 (standard, padded) of one OpenPGP v4 signature packet of
    /// type 0x00 (binary document) over the statement.
    pub openpgp: String,
}

/// The first line of every drill statement.
pub const STATEMENT_MAGIC: &str = "nkbackup drill statement v1";

impl DrillRecord {
    /// The text the token signs: what the drill proves, one `name: value`
    /// line each (value a JSON string), in this order, each line ending in
    /// `\n`. Only fields that are set at signing time and never change:
    /// not `signature` or `unsigned`.
    pub fn statement(&self) -> Vec<u8> {
        let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
        let time = |t: OffsetDateTime| crate::util::rfc3339(t);
        let opt = |s: &Option<String>| q(s.as_deref().unwrap_or(""));
        let lines = [
            ("started", q(&time(self.started))),
            ("outcome", q(self.outcome.as_str())),
            ("backup", q(&self.backup_id)),
            ("class", q(&self.class)),
            ("sealed", q(&time(self.backup_created))),
            ("token", q(&self.token.label)),
            ("token-type", q(&self.token.kind)),
            ("token-ident", opt(&self.token.ident)),
            ("token-fingerprint", opt(&self.token.fingerprint)),
            ("entries", q(&self.entries_verified.to_string())),
            ("bytes", q(&self.bytes_verified.to_string())),
            ("ciphertext-bytes", q(&self.ciphertext_bytes.to_string())),
            ("host", q(&self.host)),
            ("tool", q(&self.tool)),
        ];
        let mut out = format!("{STATEMENT_MAGIC}\n");
        for (name, value) in lines {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(&value);
            out.push('\n');
        }
        out.into_bytes()
    }
}

/// A drill's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// Something failed; see `error`.
    Failed,
}

impl Outcome {
    /// `passed` or `failed`, as in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
        }
    }
}
