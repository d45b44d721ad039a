//! The `nkbackup/openpgp` stanza: an OpenPGP PKESK to a card's RSA or
//! NIST-curve ECDH key.
//!
//! age has no stanza a card can open for these keys (an RSA card decrypts
//! PKCS#1 v1.5 only, age's `ssh-rsa` stanza uses OAEP), so nkbackup wraps
//! the 16-byte age file key exactly as OpenPGP wraps a session key:
//!
//! ```text
//! -> nkbackup/openpgp <40 hex digits: OpenPGP v4 fingerprint of the card's decryption key>
//! base64(one OpenPGP v3 PKESK packet, RFC 4880 §5.1, with its packet header)
//! ```
//!
//! The PKESK's session key is the age file key, announced as AES-128
//! (symmetric algorithm 7, 16 bytes: the file key's size). RSA uses
//! PKCS#1 v1.5 (§13.1); ECDH uses RFC 6637 with the KDF parameters of the
//! key packet in the recipient entry. Building and parsing the packet is
//! sequoia-openpgp's; the card does the private-key operation, and
//! [`CardDecryptor`] is the glue between the two: sequoia hands it the
//! PKESK's ciphertext, it sends the card the RSA ciphertext (padded to the
//! modulus length) or the ephemeral ECDH point, and turns the card's answer
//! (the PKCS#1-unpadded message, or the ECDH shared secret) into the
//! session key.

use super::key::CardKey;
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret as _;
use openpgp::crypto::mem::Protected;
use openpgp::crypto::{Decryptor, SessionKey, mpi};
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::pkesk::PKESK3;
use openpgp::packet::{Key, PKESK, Packet};
use openpgp::parse::Parse as _;
use openpgp::serialize::MarshalInto as _;
use openpgp::types::SymmetricAlgorithm;
use sequoia_openpgp as openpgp;
use std::collections::HashSet;
use zeroize::Zeroizing;

/// The stanza tag.
pub const STANZA_TAG: &str = "nkbackup/openpgp";

/// Seals to a card's RSA or NIST ECDH key (sealing needs no card).
#[derive(Debug, Clone)]
pub struct OpenpgpRecipient {
    key: Key<PublicParts, UnspecifiedRole>,
}

impl OpenpgpRecipient {
    /// A recipient for this card key.
    pub fn new(key: &CardKey) -> Self {
        OpenpgpRecipient {
            key: key.openpgp_key(),
        }
    }
}

impl age::Recipient for OpenpgpRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let sk = SessionKey::from(&file_key.expose_secret()[..]);
        let pkesk = PKESK3::for_recipient(SymmetricAlgorithm::AES128, &sk, &self.key)
            .map_err(|e| age::EncryptError::Io(std::io::Error::other(e.to_string())))?;
        let body = Packet::from(PKESK::from(pkesk))
            .to_vec()
            .map_err(|e| age::EncryptError::Io(std::io::Error::other(e.to_string())))?;
        Ok((
            vec![Stanza {
                tag: STANZA_TAG.into(),
                args: vec![self.key.fingerprint().to_hex()],
                body,
            }],
            HashSet::new(),
        ))
    }
}

/// Why an `nkbackup/openpgp` stanza cannot be used with a key, found
/// before any card operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StanzaProblem {
    /// It is well-formed but for another key (fingerprint or key id): the
    /// wrong stanza was picked.
    OtherKey(String),
    /// It is malformed: the header is damaged.
    Malformed(String),
}

impl std::fmt::Display for StanzaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StanzaProblem::OtherKey(s) | StanzaProblem::Malformed(s) => f.write_str(s),
        }
    }
}

/// An `nkbackup/openpgp` stanza checked for shape and recipient, before any
/// card operation.
#[derive(Debug)]
pub struct OpenpgpStanza {
    pkesk: PKESK3,
}

impl OpenpgpStanza {
    /// `None` if the stanza is not an `nkbackup/openpgp` stanza;
    /// `Some(Err)` if it is one but for another key or malformed.
    pub fn parse(stanza: &Stanza, key: &CardKey) -> Option<Result<Self, StanzaProblem>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        use StanzaProblem::{Malformed, OtherKey};
        Some((|| {
            let want = key.fingerprint_hex();
            match stanza.args.as_slice() {
                [fp] if fp.eq_ignore_ascii_case(&want) => {}
                [fp] => return Err(OtherKey(format!("the stanza is for key {fp}, not {want}"))),
                _ => {
                    return Err(Malformed(
                        "it is an nkbackup/openpgp stanza without exactly one fingerprint".into(),
                    ));
                }
            }
            let pkesk = match Packet::from_bytes(&stanza.body) {
                Ok(Packet::PKESK(PKESK::V3(p))) => p,
                Ok(other) => {
                    return Err(Malformed(format!(
                        "its body is a {} packet, not a v3 PKESK",
                        other.tag()
                    )));
                }
                Err(e) => {
                    return Err(Malformed(format!(
                        "its body is not an OpenPGP packet ({e})"
                    )));
                }
            };
            let keyid = key.openpgp_key().keyid();
            if pkesk.recipient().is_some_and(|r| *r != keyid) {
                return Err(OtherKey(format!(
                    "the PKESK is for key id {}, not {keyid}",
                    pkesk.recipient().map(|r| r.to_hex()).unwrap_or_default()
                )));
            }
            Ok(OpenpgpStanza { pkesk })
        })())
    }

    /// Decrypts the file key with the card (one PSO:DECIPHER). `Ok(None)`
    /// if the card answered but the result does not authenticate.
    pub fn unwrap<E>(
        &self,
        key: &CardKey,
        decipher: &mut Decipher<'_, E>,
    ) -> Result<Option<FileKey>, E> {
        let mut d = CardDecryptor {
            public: key.openpgp_key(),
            modulus_len: key.public.len(),
            decipher,
            error: None,
        };
        let out = self.pkesk.decrypt(&mut d, Some(SymmetricAlgorithm::AES128));
        if let Some(e) = d.error.take() {
            return Err(e);
        }
        Ok(match out {
            Some((SymmetricAlgorithm::AES128, sk)) if sk.len() == 16 => {
                let mut fk = [0u8; 16];
                fk.copy_from_slice(&sk);
                Some(FileKey::new(Box::new(fk)))
            }
            _ => None,
        })
    }
}

/// The card's PSO:DECIPHER, as a callback: input to the card, its answer.
pub type Decipher<'d, E> = dyn FnMut(CardInput<'_>) -> Result<Zeroizing<Vec<u8>>, E> + 'd;

/// What is sent to the card's PSO:DECIPHER.
#[derive(Debug)]
pub enum CardInput<'a> {
    /// An RSA ciphertext, left-padded to the modulus length.
    Rsa(&'a [u8]),
    /// An ECDH ephemeral public point: 32 raw bytes for Curve25519, the
    /// uncompressed SEC1 point for NIST curves.
    Ecdh(&'a [u8]),
}

/// The glue: sequoia's [`Decryptor`] backed by a card's PSO:DECIPHER.
pub struct CardDecryptor<'d, E> {
    public: Key<PublicParts, UnspecifiedRole>,
    modulus_len: usize,
    decipher: &'d mut Decipher<'d, E>,
    /// The card's error, kept because sequoia's PKESK decryption only
    /// reports success or failure.
    error: Option<E>,
}

impl<E> Decryptor for CardDecryptor<'_, E> {
    fn public(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.public
    }

    fn decrypt(
        &mut self,
        ciphertext: &mpi::Ciphertext,
        plaintext_len: Option<usize>,
    ) -> openpgp::Result<SessionKey> {
        let answer = match ciphertext {
            mpi::Ciphertext::RSA { c } => {
                let v = c.value();
                if v.len() > self.modulus_len {
                    return Err(anyhow::anyhow!("RSA ciphertext longer than the modulus"));
                }
                let mut padded = vec![0u8; self.modulus_len - v.len()];
                padded.extend_from_slice(v);
                (self.decipher)(CardInput::Rsa(&padded))
            }
            mpi::Ciphertext::ECDH { e, .. } => {
                let v = e.value();
                let point = if v.len() == 33 && v[0] == 0x40 {
                    &v[1..]
                } else {
                    v
                };
                (self.decipher)(CardInput::Ecdh(point))
            }
            _ => return Err(anyhow::anyhow!("unsupported PKESK algorithm")),
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                self.error = Some(e);
                return Err(anyhow::anyhow!("card operation failed"));
            }
        };
        match ciphertext {
            mpi::Ciphertext::RSA { .. } => Ok(SessionKey::from(&answer[..])),
            _ => {
                let shared: Protected = Protected::from(&answer[..]);
                openpgp::crypto::ecdh::decrypt_unwrap(
                    &self.public,
                    &shared,
                    ciphertext,
                    plaintext_len,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::key::KeyAlgorithm;
    use age::Recipient as _;

    /// The stanza a NIST P-256 card recipient writes opens through the
    /// card glue, with the card's half (ECDH) done in software here.
    #[test]
    fn p256_stanza_round_trips_through_the_card_glue() {
        let secret = loop {
            let mut b = [0u8; 32];
            crate::util::fill_random(&mut b);
            if let Ok(k) = p256::SecretKey::from_slice(&b) {
                break k;
            }
        };
        let point = p256::EncodedPoint::from(secret.public_key());
        let key = CardKey {
            algorithm: KeyAlgorithm::NistP256,
            public: point.as_bytes().to_vec(),
            exponent: Vec::new(),
            created: 1_760_000_000,
        };
        let fk = FileKey::new(Box::new([9u8; 16]));
        let (stanzas, labels) = OpenpgpRecipient::new(&key).wrap_file_key(&fk).unwrap();
        assert!(labels.is_empty());
        let [stanza] = stanzas.as_slice() else {
            panic!("one stanza")
        };
        assert_eq!(stanza.tag, STANZA_TAG);
        assert_eq!(stanza.args, vec![key.fingerprint_hex()]);

        let parsed = OpenpgpStanza::parse(stanza, &key).unwrap().unwrap();
        let mut calls = 0;
        let mut card = |input: CardInput<'_>| -> Result<Zeroizing<Vec<u8>>, String> {
            calls += 1;
            let CardInput::Ecdh(p) = input else {
                return Err("expected ECDH".into());
            };
            let eph = p256::PublicKey::from_sec1_bytes(p).map_err(|e| e.to_string())?;
            let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), eph.as_affine());
            Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
        };
        let got = parsed.unwrap(&key, &mut card).unwrap().expect("opens");
        assert_eq!(got.expose_secret(), &[9u8; 16]);
        assert_eq!(calls, 1, "one card operation");

        // Another key: refused from the stanza alone.
        let other = CardKey {
            created: key.created + 1,
            ..key.clone()
        };
        let err = OpenpgpStanza::parse(stanza, &other).unwrap().unwrap_err();
        assert!(
            matches!(&err, StanzaProblem::OtherKey(m) if m.contains("is for key")),
            "{err}"
        );
        // A damaged body is told apart from a stanza for another key.
        let mut body = stanza.body.clone();
        body[0] ^= 0x3f; // the packet tag
        let damaged = Stanza {
            tag: stanza.tag.clone(),
            args: stanza.args.clone(),
            body,
        };
        let err = OpenpgpStanza::parse(&damaged, &key).unwrap().unwrap_err();
        assert!(matches!(err, StanzaProblem::Malformed(_)), "{err}");
        // A card error is passed through, not swallowed by sequoia.
        let mut failing =
            |_: CardInput<'_>| -> Result<Zeroizing<Vec<u8>>, String> { Err("pulled".into()) };
        assert!(matches!(parsed.unwrap(&key, &mut failing), Err(e) if e == "pulled"));
    }
}
