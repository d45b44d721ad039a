//! `[recovery]`: the public half of the recovery key, its Matrix key check
//! and, for a passphrase-derived key, the PBKDF2 parameters. Only the
//! types and their shape checks live here; the cryptography that makes
//! and verifies them is in [`crate::recovery`].

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

use crate::error::RecoveryError;

/// `[recovery]`: what the repository knows of its recovery key. Only public
/// data: the key itself is printed once and kept offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryConfig {
    /// Public key id (16 hex digits), printed on the sheet and on shares.
    pub key_id: String,
    /// The X25519 public key every backup is also sealed to (`age1…`).
    pub recipient: String,
    /// When the key was made (RFC 3339).
    pub created: String,
    /// Matrix-style key check, to verify a typed key without storing it.
    pub check: KeyCheck,
    /// Present if the key is derived from a passphrase (Matrix `m.pbkdf2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<PassphraseParams>,
}

/// Standard alphabet, decoding with or without padding.
pub(crate) const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A stored key check: lets a typed recovery key be verified without
/// storing the key.
///
/// Serializes as `{"iv": "…", "mac": "…"}`, the same fields a Matrix
/// `m.secret_storage.key.*` description carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCheck {
    /// Base64 of the 16-byte AES-CTR IV.
    pub iv: String,
    /// Base64 of the 32-byte HMAC-SHA-256 over the encrypted zero block.
    pub mac: String,
}

impl KeyCheck {
    /// Checks that `iv` and `mac` decode to 16 and 32 bytes, without a key.
    pub(crate) fn verify_well_formed(&self) -> Result<(), RecoveryError> {
        decode_exact::<16>(&self.iv, "iv")?;
        decode_exact::<32>(&self.mac, "mac")?;
        Ok(())
    }
}

/// Decodes padded or unpadded standard base64 of exactly `N` bytes.
pub(crate) fn decode_exact<const N: usize>(
    text: &str,
    field: &'static str,
) -> Result<[u8; N], RecoveryError> {
    let malformed = RecoveryError::KeyCheckMalformed { field, expected: N };
    let bytes = LENIENT.decode(text.trim()).map_err(|_| malformed.clone())?;
    bytes.as_slice().try_into().map_err(|_| malformed)
}

/// The only output length a passphrase-derived recovery key may have.
pub const PASSPHRASE_BITS: u32 = 256;

fn default_bits() -> u32 {
    PASSPHRASE_BITS
}

/// Parameters to derive a recovery key from a passphrase (Matrix
/// `passphrase` object of a secret-storage key description).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassphraseParams {
    /// Always `"m.pbkdf2"`.
    pub algorithm: String,
    /// The salt, used as its UTF-8 bytes.
    pub salt: String,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// Output length in bits; Matrix makes it optional with a default of
    /// 256.
    #[serde(default = "default_bits")]
    pub bits: u32,
}
