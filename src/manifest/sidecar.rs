//! The sidecar manifest: `<id>.json` beside `<id>.age`.
//!
//! A sidecar is read without any key, by unattended jobs, from a place
//! anyone with write access to the repository can change. [`Sidecar::parse`]
//! is the one place its bytes become a value, and it checks everything a
//! later step relies on: the format, that it describes the backup its file
//! name says, in the class directory it lies in, with the data file
//! `<id>.age` beside it (the data file's key is never taken from the JSON),
//! a creation time equal to the id's, well-formed digests, labels and
//! recipient types, and short printable host and tool names.

use super::InnerHeader;
use crate::error::{Error, Result};
use crate::id::BackupId;
use serde::{Deserialize, Serialize};
use std::path::Path;
use time::OffsetDateTime;

/// The `format` value of sidecars this version writes and reads.
pub const SIDECAR_FORMAT: &str = "nkbackup-sidecar/1";

/// Most recipients a sidecar may list.
const MAX_RECIPIENTS: usize = 256;
/// Longest host name or tool string accepted.
const MAX_NAME: usize = 255;
/// Longest recipient key accepted (an OpenPGP RSA-4096 key packet in
/// base64 is about 750 bytes).
const MAX_KEY: usize = 8192;
/// Recipient types a sidecar may name.
const KNOWN_KINDS: &[&str] = &["age", "recovery", "card-x25519", "card-openpgp", "period"];

/// A recipient a backup was sealed to, as recorded in its sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientInfo {
    /// The recipient's label from the configuration.
    pub label: String,
    /// Its type (`age`, `recovery`, `card-x25519`, `card-openpgp`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its public key, as configured.
    pub key: String,
    /// For a member of a k-of-n group: the group's name. Its stanza is
    /// then an `nkbackup/share` stanza holding the member's share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For a member of a group: how many members open the backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
}

impl RecipientInfo {
    /// Checks an entry read from a repository: a label nkbackup writes, a
    /// known type, a printable key of bounded length, and a group with a
    /// threshold of 2 or more (both or neither).
    pub fn check(&self) -> Result<(), String> {
        let r = self;
        let label_ok = r.label == crate::config::RECOVERY_LABEL
            || crate::config::check_name("recipient label", &r.label).is_ok();
        if !label_ok {
            return Err(format!(
                "recipient label {:?} is not a label nkbackup writes",
                crate::text::escape(&r.label)
            ));
        }
        if !KNOWN_KINDS.contains(&r.kind.as_str()) {
            return Err(format!(
                "recipient {} has unknown type {:?}",
                r.label,
                crate::text::escape(&r.kind)
            ));
        }
        if r.key.len() > MAX_KEY || !r.key.bytes().all(|c| c.is_ascii_graphic()) {
            return Err(format!(
                "the key of recipient {} is longer than {MAX_KEY} bytes or not printable ASCII",
                r.label
            ));
        }
        match (&r.group, r.threshold) {
            (None, None) => Ok(()),
            (Some(g), Some(t)) if t >= 2 && crate::config::check_name("group name", g).is_ok() => {
                Ok(())
            }
            _ => Err(format!(
                "recipient {} has a malformed group or threshold",
                r.label
            )),
        }
    }
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
    /// File name of the data file, in the same directory: always
    /// `<id>.age`.
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
    /// A rewrap in progress (docs/FORMAT.md §5, "Rewrap"): the data file
    /// is either the one the fields above describe or the new one this
    /// describes. The next rewrap finishes the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrap_pending: Option<PendingRewrap>,
    /// For a class with `erasure_period`: the period key the backup is
    /// sealed to (its only recipient, labelled `period-key`), kept in the
    /// keyring (docs/FORMAT.md §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_key: Option<PeriodKeyRef>,
    /// The `[jobs.NAME]` that sealed it (`nkbackup run`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// Which period key opens a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodKeyRef {
    /// The period's name (`20261126T000000Z-7d`), which the backup's
    /// creation time falls in.
    pub period: String,
    /// The key's id: the first 16 hex digits of the SHA-256 of its public
    /// key (`age1…`).
    pub key_id: String,
}

impl PeriodKeyRef {
    /// The key id of the period key whose public key is `recipient`.
    pub fn key_id_of(recipient: &str) -> String {
        crate::digest::sha256_hex(recipient.as_bytes())[..16].to_owned()
    }

    /// Checks a reference read from a sidecar of a backup created at
    /// `created`: a period name that contains it and a well-formed key id.
    pub fn check(&self, created: OffsetDateTime) -> Result<crate::config::ErasurePeriod, String> {
        let p = crate::config::ErasurePeriod::parse(&self.period)?;
        if !p.contains(created) {
            return Err(format!(
                "period {} does not contain the backup's creation time",
                self.period
            ));
        }
        if !is_key_id(&self.key_id) {
            return Err("key_id is not 16 lowercase hex digits".into());
        }
        Ok(p)
    }
}

/// The data file a rewrap is putting in place: a new header, the same
/// payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRewrap {
    /// SHA-256 of the new header (everything up to its MAC line's end),
    /// which tells an open which recipient list describes the file.
    pub header_sha256: String,
    /// Length of the new age file.
    pub ciphertext_bytes: u64,
    /// SHA-256 of the new age file.
    pub ciphertext_sha256: String,
    /// Who can open the new file, in stanza order.
    pub recipients: Vec<RecipientInfo>,
    /// Who opened the old header for the rewrap (labels).
    #[serde(default)]
    pub opened_with: Vec<String>,
}

impl PendingRewrap {
    /// Checks a record read from a repository: well-formed digests, at
    /// most 256 recipients (each as [`RecipientInfo::check`]) and labels.
    pub fn check(&self) -> Result<(), String> {
        if !is_sha256_hex(&self.ciphertext_sha256) || !is_sha256_hex(&self.header_sha256) {
            return Err("a digest is not 64 lowercase hex digits".into());
        }
        if self.recipients.len() > MAX_RECIPIENTS || self.opened_with.len() > MAX_RECIPIENTS {
            return Err(format!("it lists more than {MAX_RECIPIENTS} recipients"));
        }
        for r in &self.recipients {
            r.check()?;
        }
        if self
            .opened_with
            .iter()
            .any(|l| l.len() > 64 || l.chars().any(char::is_control))
        {
            return Err("opened_with is malformed".into());
        }
        Ok(())
    }
}

impl Sidecar {
    /// The recipient list (stanza order) of the data file whose header is
    /// `header`: the pending rewrap's if it is the new header, else the
    /// sidecar's own.
    pub fn recipients_for(&self, header: &[u8]) -> &[RecipientInfo] {
        match &self.rewrap_pending {
            Some(p) if crate::digest::sha256_hex(header) == p.header_sha256 => &p.recipients,
            _ => &self.recipients,
        }
    }

    /// Whether a data file of `len` bytes with SHA-256 `hex` is the one
    /// this sidecar describes (or the file of its pending rewrap).
    pub fn accepts(&self, len: u64, hex: &str) -> bool {
        (len == self.ciphertext_bytes && hex == self.ciphertext_sha256)
            || self
                .rewrap_pending
                .as_ref()
                .is_some_and(|p| len == p.ciphertext_bytes && hex == p.ciphertext_sha256)
    }
}

/// Why a sidecar was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefectKind {
    /// It is not a sidecar this nkbackup reads: not JSON, another format,
    /// a field out of range.
    Unreadable,
    /// It is well formed but does not describe the backup its place says:
    /// another id, another class than its directory's, another data file.
    Misplaced,
}

/// A sidecar's defect, found by [`Sidecar::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarDefect {
    /// Which kind.
    pub kind: DefectKind,
    /// What is wrong, for a person (names escaped).
    pub message: String,
}

impl SidecarDefect {
    /// The library error for this defect of the sidecar of `id` at `path`.
    pub fn into_error(self, id: &str, path: &Path) -> Error {
        Error::SidecarInvalid {
            id: id.to_owned(),
            path: path.to_owned(),
            message: self.message,
        }
    }
}

impl Sidecar {
    /// Parses and checks the sidecar of backup `id`, read from the
    /// directory of class `class` (`path`, a file path or object URL, is
    /// only for messages).
    pub fn parse(bytes: &[u8], class: &str, id: &BackupId) -> Result<Self, SidecarDefect> {
        let unreadable = |message: String| SidecarDefect {
            kind: DefectKind::Unreadable,
            message,
        };
        let misplaced = |message: String| SidecarDefect {
            kind: DefectKind::Misplaced,
            message,
        };
        let s: Sidecar = serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?;
        if s.format != SIDECAR_FORMAT {
            return Err(unreadable(format!(
                "format {:?} is not {SIDECAR_FORMAT:?}; a newer nkbackup may be needed",
                crate::text::escape(&s.format)
            )));
        }
        if s.id != id.as_str() {
            return Err(misplaced(format!(
                "it describes backup {:?}, not the {id} of its file name",
                crate::text::escape(&s.id)
            )));
        }
        if s.class != class {
            return Err(misplaced(format!(
                "it says class {:?} but lies in backups/{class}/; it was moved or edited",
                crate::text::escape(&s.class)
            )));
        }
        if s.data != format!("{id}.age") {
            return Err(misplaced(format!(
                "it names data file {:?} instead of {id}.age; it was edited",
                crate::text::escape(&s.data)
            )));
        }
        let created = s.created.to_offset(time::UtcOffset::UTC);
        if created.nanosecond() != 0 || id.created() != Some(created) {
            return Err(unreadable(format!(
                "created {} is not the time of its id {id}",
                crate::util::rfc3339(s.created)
            )));
        }
        if let Some(d) = s.deadline
            && d < s.created
        {
            return Err(unreadable(
                "its deadline lies before its creation time".into(),
            ));
        }
        for (what, v) in [("host", &s.host), ("tool", &s.tool)] {
            if v.len() > MAX_NAME || v.chars().any(char::is_control) {
                return Err(unreadable(format!(
                    "its {what} is longer than {MAX_NAME} bytes or holds control characters"
                )));
            }
        }
        crate::compression::Compression::parse(&s.compression)
            .map_err(|e| unreadable(format!("compression: {e}")))?;
        for (what, v) in [
            ("ciphertext_sha256", &s.ciphertext_sha256),
            ("manifest_sha256", &s.manifest_sha256),
        ] {
            if !is_sha256_hex(v) {
                return Err(unreadable(format!("{what} is not 64 lowercase hex digits")));
            }
        }
        if s.skipped > s.entries {
            return Err(unreadable(
                "it counts more skipped entries than entries".into(),
            ));
        }
        if s.recipients.len() > MAX_RECIPIENTS {
            return Err(unreadable(format!(
                "it lists more than {MAX_RECIPIENTS} recipients"
            )));
        }
        for r in &s.recipients {
            r.check().map_err(unreadable)?;
        }
        if let Some(p) = &s.rewrap_pending {
            p.check()
                .map_err(|e| unreadable(format!("rewrap_pending: {e}")))?;
        }
        if let Some(j) = &s.job
            && crate::config::check_name("job", j).is_err()
        {
            return Err(unreadable(format!(
                "its job {:?} is not a name nkbackup writes",
                crate::text::escape(j)
            )));
        }
        if let Some(k) = &s.period_key {
            k.check(created)
                .map_err(|e| unreadable(format!("period_key: {e}")))?;
            let sole = match s.recipients.as_slice() {
                [r] => r.kind == "period" && PeriodKeyRef::key_id_of(&r.key) == k.key_id,
                _ => false,
            };
            if !sole || s.rewrap_pending.is_some() {
                return Err(unreadable(
                    "period_key: a period backup lists exactly one recipient, its period key, and is never rewrapped".into(),
                ));
            }
        } else if s.recipients.iter().any(|r| r.kind == "period") {
            return Err(unreadable(
                "it lists a period-key recipient but no period_key".into(),
            ));
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
                    "{what}: sidecar says {}, inner manifest says {}",
                    crate::text::escape(&side),
                    crate::text::escape(&inn)
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

/// Whether `s` is a period key id: 16 lowercase hex digits.
pub fn is_key_id(s: &str) -> bool {
    s.len() == 16 && is_lower_hex(s)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Whether `s` is a SHA-256 digest in lowercase hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}
