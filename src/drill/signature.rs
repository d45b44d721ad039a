//! Drill records signed by the token: made on the card, checked against
//! the enrolled signature key.
//!
//! A journal line proves little by itself: anyone who can write to the
//! repository can append a well-chained "passed" line. A line signed by
//! the card's signature key (which never leaves the card) proves that the
//! physical token was present when the drill passed. [`check`] tells an
//! auditor which of the drills are so proved.

use super::record::{DrillRecord, DrillSignature, Outcome};
use crate::card::{CardSigner, PinSource, SigningKey};
use crate::config::Config;
use crate::error::Result;
use serde::Serialize;

/// Signs a drill's [`DrillRecord::statement`] on the token.
pub trait RecordSigner {
    /// The signature over `statement`.
    fn sign(&mut self, statement: &[u8]) -> Result<DrillSignature>;
}

impl RecordSigner for CardSigner {
    fn sign(&mut self, statement: &[u8]) -> Result<DrillSignature> {
        let s = CardSigner::sign(self, statement)?;
        Ok(DrillSignature {
            key: s.key,
            openpgp: s.signature,
        })
    }
}

/// The signer for a drill with the enrolled card `token_label`, if that
/// card's entry has a signature key; PINs come from `pin`.
pub fn signer_for(
    config: &Config,
    token_label: &str,
    pin: Box<dyn PinSource>,
) -> Result<Option<CardSigner>> {
    match config
        .recipients
        .iter()
        .find(|r| r.label == token_label && r.kind.is_card())
    {
        Some(r) => CardSigner::from_recipient(r, pin),
        None => Ok(None),
    }
}

/// What a drill record's signature proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SignatureState {
    /// Signed by the enrolled token's signature key, and the signature
    /// verifies: the token was present.
    Signed {
        /// The token's label.
        label: String,
        /// Its ident.
        ident: String,
        /// The signature key's fingerprint.
        key: String,
    },
    /// Not signed; `reason` says why (a token without a signature key, a
    /// failed drill, a key file, or signing failed).
    Unsigned {
        /// Why.
        reason: String,
    },
    /// Signed, by a key that is not (or no longer) enrolled for the token:
    /// not proof of anything, but not shown to be forged either (the
    /// token's signature key may have been regenerated since).
    Unverifiable {
        /// Why.
        reason: String,
    },
    /// The signature does not verify with the enrolled key: the record
    /// was changed after it was signed, or the signature is malformed.
    Invalid {
        /// Why.
        reason: String,
    },
}

impl SignatureState {
    /// One phrase for reports: `signed by token alice-nk3 (000F:…, key …)`,
    /// `unsigned (…)`, `INVALID signature: …`.
    pub fn describe(&self) -> String {
        match self {
            SignatureState::Signed { label, ident, key } => {
                format!("signed by token {label} ({ident}, key {key})")
            }
            SignatureState::Unsigned { reason } => format!("unsigned ({reason})"),
            SignatureState::Unverifiable { reason } => {
                format!("signature not verifiable: {reason}")
            }
            SignatureState::Invalid { reason } => format!("INVALID signature: {reason}"),
        }
    }
}

/// Checks `record`'s signature against the signature key `config` enrolls
/// for its token.
pub fn check(config: &Config, record: &DrillRecord) -> SignatureState {
    let entry = config
        .recipients
        .iter()
        .find(|r| r.label == record.token.label && r.kind.is_card());
    let enrolled = entry.and_then(|r| r.signing_key.as_deref());
    let Some(sig) = &record.signature else {
        let reason = if let Some(why) = &record.unsigned {
            format!("signing on the token failed: {why}")
        } else if record.outcome == Outcome::Failed {
            "failed drills are not signed".into()
        } else if entry.is_none() {
            format!("token type {} does not sign", record.token.kind)
        } else if enrolled.is_some() {
            "the token has a signature key, but the record was written without a signature".into()
        } else {
            "the token has no signature key".into()
        };
        return SignatureState::Unsigned { reason };
    };
    let (Some(entry), Some(enrolled)) = (entry, enrolled) else {
        return SignatureState::Unverifiable {
            reason: format!(
                "signed by key {}, but token {} has no enrolled signature key",
                sig_key(sig),
                record.token.label
            ),
        };
    };
    let key = match SigningKey::from_config(enrolled) {
        Ok(k) => k,
        Err(e) => {
            return SignatureState::Unverifiable {
                reason: format!(
                    "the enrolled signing_key of token {} is unusable: {e}",
                    entry.label
                ),
            };
        }
    };
    if !sig.key.eq_ignore_ascii_case(&key.fingerprint_hex()) {
        return SignatureState::Unverifiable {
            reason: format!(
                "signed by key {}, not by the enrolled key {} of token {}",
                sig_key(sig),
                key.fingerprint_hex(),
                entry.label
            ),
        };
    }
    match key.verify(&record.statement(), &sig.openpgp) {
        Ok(()) => SignatureState::Signed {
            label: entry.label.clone(),
            ident: entry.ident.clone().unwrap_or_default(),
            key: key.fingerprint_hex(),
        },
        Err(reason) => SignatureState::Invalid { reason },
    }
}

/// The key a signature names, safe to show.
fn sig_key(sig: &DrillSignature) -> String {
    crate::text::escape(&sig.key.chars().take(64).collect::<String>())
}
