//! The native age `X25519` stanza, unwrapped by a card.
//!
//! A card with a Curve25519 decryption key is an ordinary age X25519
//! recipient: sealing uses the `age` crate's own recipient, so the stanza
//! is byte-for-byte what `age -r age1…` writes (and what
//! age-plugin-openpgp-card reads). Only unwrapping differs: the X25519
//! scalar multiplication happens on the card (PSO:DECIPHER with the
//! ephemeral share), the rest here, per <https://age-encryption.org/v1>:
//!
//! ```text
//! -> X25519 base64(ephemeral share)
//! base64(ChaCha20-Poly1305(wrap key, nonce 0, file key))   (32 bytes)
//! shared   = X25519(card secret, ephemeral share)              -- on the card
//! wrap key = HKDF-SHA256(ikm = shared, salt = ephemeral share || card public key,
//!                        info = "age-encryption.org/v1/X25519")
//! ```

use age_core::format::{FileKey, Stanza};
use base64::Engine as _;
use zeroize::Zeroizing;

/// The stanza tag.
pub const STANZA_TAG: &str = "X25519";
const INFO: &[u8] = b"age-encryption.org/v1/X25519";

/// An X25519 stanza checked for shape, before any card operation.
#[derive(Debug)]
pub struct X25519Stanza {
    /// The ephemeral share, to be sent to the card.
    pub ephemeral: [u8; 32],
    body: [u8; 32],
}

impl X25519Stanza {
    /// Checks tag, argument and body length. `None` if it is not an X25519
    /// stanza at all; `Some(Err)` if it is a malformed one.
    pub fn parse(stanza: &Stanza) -> Option<crate::Result<Self>> {
        Self::parse_raw(stanza).map(|r| {
            r.map_err(|reason| crate::Error::Malformed {
                what: "X25519 stanza",
                reason,
            })
        })
    }

    /// [`X25519Stanza::parse`] with the reason as text.
    pub(crate) fn parse_raw(stanza: &Stanza) -> Option<Result<Self, String>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        Some((|| {
            let [arg] = stanza.args.as_slice() else {
                return Err(format!(
                    "X25519 stanza with {} arguments",
                    stanza.args.len()
                ));
            };
            let eph = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(arg)
                .map_err(|_| "X25519 stanza argument is not base64".to_owned())?;
            let ephemeral: [u8; 32] = eph
                .try_into()
                .map_err(|_| "X25519 ephemeral share is not 32 bytes".to_owned())?;
            let body: [u8; 32] = stanza
                .body
                .clone()
                .try_into()
                .map_err(|_| "X25519 stanza body is not 32 bytes".to_owned())?;
            Ok(X25519Stanza { ephemeral, body })
        })())
    }

    /// Finishes the unwrap with the shared secret the card computed.
    /// `None` if the stanza was not for this key (authentication failed).
    pub fn unwrap(&self, shared: &[u8], recipient: &[u8]) -> Option<FileKey> {
        if shared.len() != 32 || shared.iter().all(|&b| b == 0) {
            return None; // the all-zero secret of a low-order share (spec: reject)
        }
        let mut salt = Vec::with_capacity(64);
        salt.extend_from_slice(&self.ephemeral);
        salt.extend_from_slice(recipient);
        let wrap_key = Zeroizing::new(age_core::primitives::hkdf(&salt, INFO, shared));
        let plain = Zeroizing::new(
            age_core::primitives::aead_decrypt(&wrap_key, 16, self.body.as_slice()).ok()?,
        );
        let key: [u8; 16] = plain.as_slice().try_into().ok()?;
        Some(FileKey::new(Box::new(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret as _;

    /// A stanza written by the age crate unwraps with our code when the
    /// "card" (here x25519 in software) computes the shared secret.
    #[test]
    fn unwraps_what_age_wraps() {
        use age::Recipient as _;
        let secret = [7u8; 32];
        let public = x25519(&secret, &basepoint());
        let id_str = {
            use bech32::ToBase32 as _;
            bech32::encode("age", public.to_base32(), bech32::Variant::Bech32).unwrap()
        };
        let rcpt: age::x25519::Recipient = id_str.parse().unwrap();
        let fk = FileKey::new(Box::new([42u8; 16]));
        let (stanzas, _) = rcpt.wrap_file_key(&fk).unwrap();
        let s = X25519Stanza::parse(&stanzas[0]).unwrap().unwrap();
        let shared = x25519(&secret, &s.ephemeral);
        let got = s.unwrap(&shared, &public).expect("unwraps");
        assert_eq!(got.expose_secret(), &[42u8; 16]);
        assert!(
            s.unwrap(&[1u8; 32], &public).is_none(),
            "wrong secret fails"
        );
        assert!(
            s.unwrap(&[0u8; 32], &public).is_none(),
            "zero secret refused"
        );
        let other = Stanza {
            tag: "scrypt".into(),
            args: vec![],
            body: vec![],
        };
        assert!(X25519Stanza::parse(&other).is_none());
    }

    fn basepoint() -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0] = 9;
        b
    }

    /// The card's half, in software.
    fn x25519(scalar: &[u8; 32], point: &[u8; 32]) -> [u8; 32] {
        x25519_dalek::x25519(*scalar, *point)
    }
}
