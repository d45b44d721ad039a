//! The `type` of a configured recipient.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of key a recipient is. Read from any string, so that an
/// unknown type is reported by the resolution step with the list of known
/// ones ([`RecipientKind::Other`]) rather than as a TOML syntax error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum RecipientKind {
    /// A native age X25519 key (`age1…`).
    #[default]
    Age,
    /// The recovery key's public half (also X25519).
    Recovery,
    /// An OpenPGP card with a Curve25519 decryption key: sealing is
    /// ordinary X25519.
    CardX25519,
    /// An OpenPGP card with an RSA or NIST decryption key: the
    /// `nkbackup/openpgp` stanza.
    CardOpenpgp,
    /// A type this nkbackup does not know.
    Other(String),
}

impl RecipientKind {
    /// The `type` string of the configuration and the sidecar.
    pub fn as_str(&self) -> &str {
        match self {
            RecipientKind::Age => "age",
            RecipientKind::Recovery => "recovery",
            RecipientKind::CardX25519 => "card-x25519",
            RecipientKind::CardOpenpgp => "card-openpgp",
            RecipientKind::Other(s) => s,
        }
    }

    /// Whether the key is on an OpenPGP card.
    pub fn is_card(&self) -> bool {
        matches!(self, RecipientKind::CardX25519 | RecipientKind::CardOpenpgp)
    }
}

impl From<&str> for RecipientKind {
    fn from(s: &str) -> Self {
        match s {
            "age" => RecipientKind::Age,
            "recovery" => RecipientKind::Recovery,
            "card-x25519" => RecipientKind::CardX25519,
            "card-openpgp" => RecipientKind::CardOpenpgp,
            other => RecipientKind::Other(other.to_owned()),
        }
    }
}

impl From<String> for RecipientKind {
    fn from(s: String) -> Self {
        RecipientKind::from(s.as_str())
    }
}

impl From<RecipientKind> for String {
    fn from(k: RecipientKind) -> Self {
        k.as_str().to_owned()
    }
}

impl PartialEq<&str> for RecipientKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for RecipientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_string_round_trips() {
        for s in ["age", "recovery", "card-x25519", "card-openpgp", "pgp"] {
            assert_eq!(RecipientKind::from(s).as_str(), s);
        }
        assert_eq!(
            RecipientKind::from("pgp"),
            RecipientKind::Other("pgp".into())
        );
        assert!(RecipientKind::CardOpenpgp.is_card() && !RecipientKind::Age.is_card());
    }
}
