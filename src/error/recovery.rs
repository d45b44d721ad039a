//! Everything that can go wrong with a recovery key, a key check, a
//! passphrase or a set of shares (`crate::recovery`), and the recovery
//! key's public id, which those errors name.
//!
//! Each failure a person can cause (a mistyped character, a share from the
//! wrong envelope, too few custodians) has its own variant, so the CLI can
//! tell them what to do next. No variant carries secret material: positions,
//! counts, share indices and public key ids only. The one exception that
//! looks like one is [`RecoveryError::InvalidCharacter`], which names the
//! offending character — a character that is *not* in the base58 alphabet
//! and therefore cannot be part of the key.

use std::fmt;

/// Why a recovery key, key check, passphrase or share could not be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The typed recovery key contains a character outside the base58
    /// alphabet.
    #[error(
        "the recovery key contains {character:?} at position {position}, which never occurs in a \
         recovery key (base58 has no 0, O, I or l); compare that character with your printout"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position in the text as typed, counting every
        /// character including spaces.
        position: usize,
    },

    /// The text given as a recovery key, share or passphrase is far longer
    /// than any is: refused before decoding it (base58 decoding takes time
    /// quadratic in the length).
    #[error(
        "the {what} given is {len} bytes long, far more than any {what} (at most {limit}); check that the right file or text was given"
    )]
    TooLong {
        /// `recovery key`, `share`, `passphrase`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },

    /// The recovery key decodes to the wrong number of bytes.
    #[error(
        "the recovery key has the wrong length ({actual} bytes instead of 35): a group of \
         characters is probably missing or repeated; a recovery key is 12 groups of 4 characters"
    )]
    WrongLength {
        /// Number of bytes the text decoded to.
        actual: usize,
    },

    /// The recovery key does not start with the Matrix recovery-key prefix.
    #[error(
        "this is not a recovery key: it does not start like one (recovery keys start with \
         \"EsT\" or \"EsU\"); check the first group, or that you are entering the right thing"
    )]
    WrongPrefix,

    /// The recovery key's parity byte does not match.
    #[error(
        "the recovery key's checksum does not match: one character is mistyped; compare it \
         group by group with your printout (watch upper and lower case)"
    )]
    Parity,

    /// A key check (`iv`/`mac`) is not well formed.
    #[error("the stored key check is damaged: its {field} is not valid base64 of {expected} bytes")]
    KeyCheckMalformed {
        /// Which field: `"iv"` or `"mac"`.
        field: &'static str,
        /// Number of bytes the field must decode to.
        expected: usize,
    },

    /// The recovery key does not match the stored key check.
    #[error(
        "this recovery key does not match the repository's key check: it is a valid recovery \
         key, but not the one this repository was sealed to"
    )]
    KeyCheckMismatch,

    /// The passphrase parameters name an algorithm other than `m.pbkdf2`.
    #[error("unsupported passphrase algorithm {algorithm:?}: only \"m.pbkdf2\" is supported")]
    UnsupportedPassphraseAlgorithm {
        /// The algorithm found in the parameters.
        algorithm: String,
    },

    /// The passphrase parameters are unusable.
    #[error("invalid passphrase parameters: {reason}")]
    InvalidPassphraseParams {
        /// What is wrong with them.
        reason: &'static str,
    },

    /// `split` was asked for an impossible threshold/count combination.
    #[error(
        "cannot split into {threshold}-of-{count} shares: the threshold must be at least 2 and \
         at most the number of shares, which is at most 255"
    )]
    InvalidSplit {
        /// Requested threshold K.
        threshold: usize,
        /// Requested number of shares N.
        count: usize,
    },

    /// A share's text does not start with the share prefix.
    #[error(
        "this is not a recovery-key share: shares start with \"nkbs1-k<threshold>-i<index>\"; \
         check the first word"
    )]
    ShareWrongPrefix,

    /// A share's header is not well formed.
    #[error("the share's first word is damaged ({reason}); it reads like \"nkbs1-k2-i1\"")]
    ShareMalformedHeader {
        /// What is wrong with the header.
        reason: &'static str,
    },

    /// A share's body contains a character outside the base58 alphabet.
    #[error(
        "the share contains {character:?} at position {position}, which never occurs in a share \
         (base58 has no 0, O, I or l); compare that character with the printout"
    )]
    ShareInvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position in the share's text as typed.
        position: usize,
    },

    /// A share's body decodes to the wrong number of bytes.
    #[error(
        "the share has the wrong length ({actual} bytes instead of {expected}): a group of \
         characters is probably missing or repeated"
    )]
    ShareWrongLength {
        /// Number of bytes the body decoded to.
        actual: usize,
        /// Number of bytes a share body has.
        expected: usize,
    },

    /// A share's checksum does not match.
    #[error(
        "the share's checksum does not match: a character (or the index or threshold in the \
         first word) is mistyped; compare it group by group with the printout"
    )]
    ShareChecksum,

    /// Wraps an error found in one share of a list, saying which one.
    #[error("share #{number}: {source}")]
    InShare {
        /// 1-based position of the share in the list given.
        number: usize,
        /// What is wrong with it.
        #[source]
        source: Box<RecoveryError>,
    },

    /// `combine` was given no shares at all.
    #[error(
        "no shares were given; enter the shares of at least as many custodians as the threshold"
    )]
    NoShares,

    /// Fewer shares than the threshold.
    #[error(
        "too few shares: this key needs {needed} shares, got {got}; ask one more custodian for \
         theirs"
    )]
    TooFewShares {
        /// The threshold K written in the shares.
        needed: u8,
        /// How many distinct shares were given.
        got: usize,
    },

    /// Shares of different recovery keys were mixed.
    #[error(
        "share #{number} belongs to a different recovery key (key id {found}, the first share's \
         is {expected}); use only shares from the same split"
    )]
    MixedKeys {
        /// 1-based position of the odd share in the list given.
        number: usize,
        /// Key id of the first share.
        expected: KeyId,
        /// Key id of the odd share.
        found: KeyId,
    },

    /// Shares claim different thresholds.
    #[error(
        "share #{number} says {found} shares are needed, the first share says {expected}; they \
         come from different splits of this key: use shares from one split only"
    )]
    MismatchedThresholds {
        /// 1-based position of the odd share in the list given.
        number: usize,
        /// Threshold of the first share.
        expected: u8,
        /// Threshold of the odd share.
        found: u8,
    },

    /// The same share index was given twice.
    #[error(
        "shares #{first} and #{second} both carry index i{index}: the same share was entered \
         twice (or shares of two splits were mixed); enter a different custodian's share instead"
    )]
    DuplicateShare {
        /// The repeated share index.
        index: u8,
        /// 1-based position of its first occurrence in the list given.
        first: usize,
        /// 1-based position of its second occurrence.
        second: usize,
    },

    /// The combined key's id does not match the shares' key id.
    #[error(
        "the shares combined into the wrong key (its key id does not match the one written in \
         the shares): at least one share is wrong although its checksum is fine, e.g. it comes \
         from a different split; try another combination of shares"
    )]
    CombinedKeyMismatch,

    /// A passphrase was given, but it does not derive this repository's key.
    #[error(
        "the passphrase does not give this repository's recovery key (mistyped passphrase?); \
         type it again, or use the printed key"
    )]
    WrongPassphrase,

    /// A passphrase was given, but the key was drawn at random.
    #[error("this repository's recovery key was not made from a passphrase")]
    NotFromPassphrase,

    /// A new passphrase is too short to protect a recovery key.
    #[error("the passphrase is shorter than {min} characters")]
    PassphraseTooShort {
        /// The least number of characters accepted.
        min: usize,
    },

    /// The secret-sharing library refused the operation (should not happen
    /// once the parameters are validated).
    #[error("secret sharing failed: {0}")]
    Sharing(String),
}

impl RecoveryError {
    /// What the person should do next, if the message does not say it.
    pub fn hint(&self) -> Option<super::Hint> {
        match self {
            RecoveryError::NotFromPassphrase => Some(super::Hint::UseRecoveryKey),
            RecoveryError::PassphraseTooShort { .. } => Some(super::Hint::LongerPassphrase),
            _ => None,
        }
    }

    /// Whether this says "a well-formed key, but not this repository's":
    /// the key check or the combined shares' key id did not match.
    pub fn is_wrong_key(&self) -> bool {
        matches!(
            self,
            RecoveryError::KeyCheckMismatch
                | RecoveryError::CombinedKeyMismatch
                | RecoveryError::WrongPassphrase
        )
    }
}

/// A short public identifier of a recovery key.
///
/// It is the first 8 bytes of SHA-256 over the key's 32-byte X25519 public
/// key ([`crate::recovery::RecoveryKey::public_key_bytes`]), shown as 16 lower-case hex
/// digits. Anyone holding the recipient (`age1…`) can compute it, so it
/// reveals nothing secret; it lets a person, a share or a repository say
/// *which* recovery key is meant. (It is not Matrix's secret-storage key id,
/// which is a random string chosen by the client.)
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub(crate) [u8; KeyId::LEN]);

impl KeyId {
    /// Length of a key id in bytes.
    pub const LEN: usize = 8;

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}
