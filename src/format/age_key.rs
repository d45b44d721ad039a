//! The text of an age X25519 public key (`age1…`, Bech32).

use crate::error::{Error, Result};

/// Parses an `age1…` X25519 public key.
pub fn parse_age(key: &str) -> Result<age::x25519::Recipient> {
    key.trim().parse().map_err(|e: &str| Error::InvalidRecipient {
        input: key.to_owned(),
        reason: format!("{e}; expected an age X25519 public key starting with age1 (as printed by age-keygen)"),
    })
}
