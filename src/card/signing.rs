//! A card's signature key: read at enrollment, kept in the recipient
//! entry (`signing_key`), used on the card to sign drill records and here
//! to verify them.
//!
//! The card stores raw key material for its signature slot as for its
//! decryption slot ([`super::key`]); nkbackup builds the OpenPGP v4 key
//! packet for it (EdDSA on Ed25519, ECDSA on a NIST curve, or RSA), so a
//! drill record's signature is an ordinary OpenPGP signature that sequoia
//! (or `gpg --verify` with that key) checks. docs/FORMAT.md §8.5.

use super::key::strip_zeros;
use crate::error::CardError;
use base64::Engine as _;
use openpgp::crypto::mpi;
use openpgp::packet::key::{Key4, PublicParts, UnspecifiedRole};
use openpgp::packet::{Key, Packet};
use openpgp::parse::Parse as _;
use openpgp::serialize::MarshalInto as _;
use openpgp::types::{Curve, HashAlgorithm, PublicKeyAlgorithm, SignatureType};
use openpgp_card::ocard::algorithm::{AlgorithmAttributes, Curve as CardCurve};
use openpgp_card::ocard::crypto::PublicKeyMaterial;
use sequoia_openpgp as openpgp;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::limits::{SIGNATURE_CHARS as MAX_SIGNATURE_CHARS, SIGNING_KEY_CHARS as MAX_KEY_CHARS};

/// The signature algorithms nkbackup can use on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignAlgorithm {
    /// EdDSA on Ed25519 (`ed25519`).
    Ed25519,
    /// RSA with a modulus of this many bits.
    Rsa(u16),
    /// ECDSA on NIST P-256.
    NistP256,
    /// ECDSA on NIST P-384.
    NistP384,
    /// ECDSA on NIST P-521.
    NistP521,
}

impl SignAlgorithm {
    /// The algorithm a card's signature-slot attributes describe, if
    /// nkbackup supports it.
    pub fn from_attributes(a: &AlgorithmAttributes) -> Option<Self> {
        match a {
            AlgorithmAttributes::Rsa(r) if matches!(r.len_n(), 2048 | 3072 | 4096) => {
                Some(Self::Rsa(r.len_n()))
            }
            AlgorithmAttributes::Ecc(e) => match e.curve() {
                CardCurve::Ed25519 => Some(Self::Ed25519),
                CardCurve::NistP256r1 => Some(Self::NistP256),
                CardCurve::NistP384r1 => Some(Self::NistP384),
                CardCurve::NistP521r1 => Some(Self::NistP521),
                _ => None,
            },
            _ => None,
        }
    }
}

impl fmt::Display for SignAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ed25519 => f.write_str("ed25519"),
            Self::Rsa(bits) => write!(f, "rsa{bits}"),
            Self::NistP256 => f.write_str("nistp256"),
            Self::NistP384 => f.write_str("nistp384"),
            Self::NistP521 => f.write_str("nistp521"),
        }
    }
}

/// A card's signature public key, as an OpenPGP v4 key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    algorithm: SignAlgorithm,
    key: Key<PublicParts, UnspecifiedRole>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({} {})",
            self.algorithm,
            self.fingerprint_hex()
        )
    }
}

impl SigningKey {
    /// Builds the key from what the card returned for its signature slot.
    pub(crate) fn from_card(public: &PublicKeyMaterial, created: u32) -> Result<Self, String> {
        let created_at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(created));
        let (algorithm, pk_algo, mpis) = match public {
            PublicKeyMaterial::R(r) => {
                let n = strip_zeros(r.n());
                (
                    SignAlgorithm::Rsa((n.len() * 8) as u16),
                    PublicKeyAlgorithm::RSAEncryptSign,
                    mpi::PublicKey::RSA {
                        e: mpi::MPI::new(strip_zeros(r.v())),
                        n: mpi::MPI::new(n),
                    },
                )
            }
            PublicKeyMaterial::E(e) => {
                let algorithm = SignAlgorithm::from_attributes(e.algo())
                    .ok_or_else(|| format!("{:?}", e.algo()))?;
                let data = e.data();
                match algorithm {
                    SignAlgorithm::Ed25519 => {
                        // Some cards prefix the raw key with 0x40.
                        let raw = match data.len() {
                            32 => data,
                            33 if data[0] == 0x40 => &data[1..],
                            n => return Err(format!("an Ed25519 key of {n} bytes")),
                        };
                        (
                            algorithm,
                            PublicKeyAlgorithm::EdDSA,
                            mpi::PublicKey::EdDSA {
                                curve: Curve::Ed25519,
                                q: mpi::MPI::new_compressed_point(raw),
                            },
                        )
                    }
                    _ => {
                        let curve = match algorithm {
                            SignAlgorithm::NistP256 => Curve::NistP256,
                            SignAlgorithm::NistP384 => Curve::NistP384,
                            _ => Curve::NistP521,
                        };
                        (
                            algorithm,
                            PublicKeyAlgorithm::ECDSA,
                            mpi::PublicKey::ECDSA {
                                curve,
                                q: mpi::MPI::new(data),
                            },
                        )
                    }
                }
            }
        };
        let key: Key4<PublicParts, UnspecifiedRole> =
            Key4::new(created_at, pk_algo, mpis).map_err(|e| e.to_string())?;
        Ok(SigningKey {
            algorithm,
            key: key.into(),
        })
    }

    /// Parses the `signing_key` of a card recipient entry: base64
    /// (standard, padded) of one OpenPGP public-key packet (tag 6) with an
    /// EdDSA/Ed25519, ECDSA or RSA key.
    pub fn from_config(value: &str) -> Result<Self, String> {
        let key = match decode_packet(value.trim(), MAX_KEY_CHARS, "a signing key")? {
            Packet::PublicKey(k) => k.role_into_unspecified(),
            Packet::PublicSubkey(k) => k.role_into_unspecified(),
            other => {
                return Err(format!("it is a {}, not a public-key packet", other.tag()));
            }
        };
        let algorithm = match key.mpis() {
            mpi::PublicKey::EdDSA {
                curve: Curve::Ed25519,
                ..
            } => SignAlgorithm::Ed25519,
            mpi::PublicKey::ECDSA { curve, .. } => match curve {
                Curve::NistP256 => SignAlgorithm::NistP256,
                Curve::NistP384 => SignAlgorithm::NistP384,
                Curve::NistP521 => SignAlgorithm::NistP521,
                other => return Err(format!("ECDSA on {other} is not supported")),
            },
            mpi::PublicKey::RSA { n, .. } => {
                let bits = (strip_zeros(n.value()).len() * 8) as u16;
                if !matches!(bits, 2048 | 3072 | 4096) {
                    return Err(format!("an RSA key of {bits} bits is not supported"));
                }
                SignAlgorithm::Rsa(bits)
            }
            other => {
                return Err(format!(
                    "a {} key cannot sign drill records",
                    other.algo().map_or("unknown".into(), |a| a.to_string())
                ));
            }
        };
        Ok(SigningKey { algorithm, key })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SignAlgorithm {
        self.algorithm
    }

    /// The OpenPGP key.
    pub fn openpgp_key(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.key
    }

    /// The OpenPGP v4 fingerprint, 40 upper-case hex digits.
    pub fn fingerprint_hex(&self) -> String {
        self.key.fingerprint().to_hex()
    }

    /// The OpenPGP v4 fingerprint as the card stores it.
    pub fn fingerprint_bytes(&self) -> [u8; 20] {
        let fp = self.key.fingerprint();
        let mut out = [0u8; 20];
        out.copy_from_slice(&fp.as_bytes()[..20]);
        out
    }

    /// The `signing_key` value of the recipient entry.
    pub fn config_value(&self) -> String {
        let packet = Packet::from(self.key.clone().role_into_primary());
        let bytes = packet
            .to_vec()
            .expect("serializing a key to memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Whether `other` is the same key material (ignoring creation time).
    pub fn same_material(&self, other: &SigningKey) -> bool {
        self.key.mpis() == other.key.mpis()
    }

    /// Checks `signature` (base64 of one OpenPGP v4 binary-document
    /// signature packet, SHA-256 or stronger) over `message` with this key.
    /// The error says what is wrong, for the report.
    pub fn verify(&self, message: &[u8], signature: &str) -> Result<(), String> {
        let sig = parse_signature(signature)?;
        if sig.typ() != SignatureType::Binary {
            return Err(format!(
                "it is a {} signature, not one over a binary document",
                sig.typ()
            ));
        }
        if !matches!(
            sig.hash_algo(),
            HashAlgorithm::SHA256 | HashAlgorithm::SHA384 | HashAlgorithm::SHA512
        ) {
            return Err(format!(
                "it uses {}; nkbackup accepts SHA-256, SHA-384 or SHA-512",
                sig.hash_algo()
            ));
        }
        sig.verify_message(&self.key, message).map_err(|_| {
            format!(
                "it does not verify with key {}: the record was changed after it was signed, or another key signed it",
                self.fingerprint_hex()
            )
        })
    }
}

/// Parses a drill record's `signature`: bounded base64 of one OpenPGP
/// signature packet.
pub fn parse_signature(value: &str) -> Result<openpgp::packet::Signature, String> {
    match decode_packet(value, MAX_SIGNATURE_CHARS, "a signature")? {
        Packet::Signature(s) => Ok(s),
        other => Err(format!("it is a {}, not a signature packet", other.tag())),
    }
}

/// One OpenPGP packet from at most `max` characters of base64 (`what`
/// names it in the error).
fn decode_packet(value: &str, max: usize, what: &str) -> Result<Packet, String> {
    if value.len() > max {
        return Err(format!(
            "it has {} characters; {what} has at most {max}",
            value.len()
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| format!("it is not base64 ({e})"))?;
    Packet::from_bytes(&bytes).map_err(|e| format!("it is not an OpenPGP packet ({e})"))
}

/// The signature key of a card recipient entry, if it has one.
pub(crate) fn from_recipient(
    r: &crate::config::RecipientConfig,
) -> Result<Option<SigningKey>, CardError> {
    let bad = |reason: String| CardError::InvalidRecipient {
        label: r.label.clone(),
        reason,
    };
    let Some(value) = r.signing_key.as_deref() else {
        return Ok(None);
    };
    let key = SigningKey::from_config(value)
        .map_err(|reason| bad(format!("its signing_key is unusable: {reason}")))?;
    if let Some(fp) = &r.signing_fingerprint
        && !fp.eq_ignore_ascii_case(&key.fingerprint_hex())
    {
        return Err(bad(format!(
            "its signing_fingerprint {} is not the fingerprint {} of its signing_key",
            crate::text::escape(fp),
            key.fingerprint_hex()
        )));
    }
    Ok(Some(key))
}
