//! A key item's sidecar: `keys/<class>/<period>/<key id>.json`.
//!
//! Like a backup sidecar it is read without any key from a place others
//! can write, so [`KeyItem::parse`] checks everything later steps rely on:
//! the format, that it describes the item its place names (class, period,
//! key id), a key id that is the digest of the public key it records, an
//! `age1…` public key, a bounded recipient list and well-formed digests.

use crate::config::ErasurePeriod;
use crate::manifest::{PendingRewrap, PeriodKeyRef, RecipientInfo, is_sha256_hex};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `format` of key item sidecars.
pub const KEY_ITEM_FORMAT: &str = "nkbackup-period-key/1";

/// Most recipients a key item may list.
const MAX_RECIPIENTS: usize = 256;

/// One period key, as its sidecar describes it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyItem {
    /// Always [`KEY_ITEM_FORMAT`].
    pub format: String,
    /// The class whose backups it seals.
    pub class: String,
    /// The period's name (`20261126T000000Z-7d`).
    pub period: String,
    /// First 16 hex digits of the SHA-256 of `public_key`.
    pub key_id: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The period key's public half (`age1…`): what the period's backups
    /// are sealed to.
    pub public_key: String,
    /// Who can open the key item, in stanza order (the repository's
    /// recipients and groups when it was made or last rewrapped).
    pub recipients: Vec<RecipientInfo>,
    /// SHA-256 of the key item's age file.
    pub ciphertext_sha256: String,
    /// A rewrap in progress (as for backups, docs/FORMAT.md §5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrap_pending: Option<PendingRewrap>,
}

impl KeyItem {
    /// Parses the sidecar found at `keys/<class>/<period>/<key_id>.json`.
    pub fn parse(bytes: &[u8], class: &str, period: &str, key_id: &str) -> Result<Self, String> {
        let k: KeyItem = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if k.format != KEY_ITEM_FORMAT {
            return Err(format!(
                "format {:?} is not {KEY_ITEM_FORMAT:?}",
                crate::text::escape(&k.format)
            ));
        }
        if k.class != class || k.period != period || k.key_id != key_id {
            return Err(format!(
                "it describes {}/{}/{}, not the item of its place; it was moved or edited",
                crate::text::escape(&k.class),
                crate::text::escape(&k.period),
                crate::text::escape(&k.key_id)
            ));
        }
        ErasurePeriod::parse(&k.period)?;
        crate::format::age_key::parse_age(&k.public_key).map_err(|e| format!("public_key: {e}"))?;
        if PeriodKeyRef::key_id_of(&k.public_key) != k.key_id {
            return Err("key_id is not the digest of public_key".into());
        }
        if !is_sha256_hex(&k.ciphertext_sha256) {
            return Err("ciphertext_sha256 is not 64 lowercase hex digits".into());
        }
        if k.recipients.len() > MAX_RECIPIENTS {
            return Err(format!("it lists more than {MAX_RECIPIENTS} recipients"));
        }
        for r in &k.recipients {
            r.check()?;
        }
        if let Some(p) = &k.rewrap_pending {
            p.check().map_err(|e| format!("rewrap_pending: {e}"))?;
        }
        Ok(k)
    }

    /// Where it lies in a keyring: `<class>/<period>/<key id>` (also the
    /// name errors and the key cache use).
    pub fn place(&self) -> String {
        format!("{}/{}/{}", self.class, self.period, self.key_id)
    }

    /// Its recipients, `label (type)`, for messages.
    pub fn labels(&self) -> String {
        self.recipients
            .iter()
            .map(|r| format!("{} ({})", r.label, r.kind))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
