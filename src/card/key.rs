//! A card's decryption public key, as read from the card or from the
//! repository configuration, and its OpenPGP form.
//!
//! The card stores only raw key material (an RSA modulus and exponent, an
//! EC point) plus a creation time and a 20-byte fingerprint. nkbackup
//! builds the matching OpenPGP v4 encryption-subkey packet (RFC 4880
//! §5.5.2; for ECDH the KDF parameters of RFC 6637 §9, the same defaults
//! gpg uses) so that sequoia-openpgp can compute the fingerprint and build
//! PKESK packets to it.

use crate::config::RecipientConfig;
use crate::error::CardError;
use base64::Engine as _;
use openpgp::crypto::mpi;
use openpgp::packet::key::{Key4, PublicParts, SubordinateRole, UnspecifiedRole};
use openpgp::packet::{Key, Packet};
use openpgp::parse::Parse as _;
use openpgp::serialize::MarshalInto as _;
use openpgp::types::{Curve, HashAlgorithm, PublicKeyAlgorithm, SymmetricAlgorithm};
use openpgp_card::ocard::algorithm::{AlgorithmAttributes, Curve as CardCurve};
use openpgp_card::ocard::crypto::PublicKeyMaterial;
use sequoia_openpgp as openpgp;
use std::fmt;
use std::time::{Duration, SystemTime};

/// Recipient type of a card whose decryption key is Curve25519: a native
/// age `X25519` stanza to the card's key.
pub const KIND_X25519: &str = "card-x25519";
/// Recipient type of a card with an RSA or NIST ECDH key: an
/// `nkbackup/openpgp` stanza holding an OpenPGP PKESK.
pub const KIND_OPENPGP: &str = "card-openpgp";

/// The decryption key algorithms nkbackup can use on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Curve25519 ECDH (`cv25519`).
    Cv25519,
    /// RSA with a modulus of this many bits (2048, 3072, 4096).
    Rsa(u16),
    /// ECDH on NIST P-256.
    NistP256,
    /// ECDH on NIST P-384.
    NistP384,
    /// ECDH on NIST P-521.
    NistP521,
}

impl KeyAlgorithm {
    /// Parses the names `card generate --algo` and `nkbackup.toml` use:
    /// `cv25519`, `rsa2048`, `rsa3072`, `rsa4096`, `nistp256`, `nistp384`,
    /// `nistp521`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cv25519" => Self::Cv25519,
            "rsa2048" => Self::Rsa(2048),
            "rsa3072" => Self::Rsa(3072),
            "rsa4096" => Self::Rsa(4096),
            "nistp256" => Self::NistP256,
            "nistp384" => Self::NistP384,
            "nistp521" => Self::NistP521,
            _ => return None,
        })
    }

    /// The algorithm a card's attributes describe, if nkbackup supports it.
    pub fn from_attributes(a: &AlgorithmAttributes) -> Option<Self> {
        match a {
            AlgorithmAttributes::Rsa(r) if matches!(r.len_n(), 2048 | 3072 | 4096) => {
                Some(Self::Rsa(r.len_n()))
            }
            AlgorithmAttributes::Ecc(e) => match e.curve() {
                CardCurve::Curve25519 => Some(Self::Cv25519),
                CardCurve::NistP256r1 => Some(Self::NistP256),
                CardCurve::NistP384r1 => Some(Self::NistP384),
                CardCurve::NistP521r1 => Some(Self::NistP521),
                _ => None,
            },
            _ => None,
        }
    }

    /// The recipient type cards with this algorithm get.
    pub fn recipient_kind(self) -> &'static str {
        match self {
            Self::Cv25519 => KIND_X25519,
            _ => KIND_OPENPGP,
        }
    }

    fn curve(self) -> Option<(Curve, HashAlgorithm, SymmetricAlgorithm)> {
        // RFC 6637 §9 / gpg defaults for the KDF parameters.
        Some(match self {
            Self::Cv25519 => (
                Curve::Cv25519,
                HashAlgorithm::SHA256,
                SymmetricAlgorithm::AES128,
            ),
            Self::NistP256 => (
                Curve::NistP256,
                HashAlgorithm::SHA256,
                SymmetricAlgorithm::AES128,
            ),
            Self::NistP384 => (
                Curve::NistP384,
                HashAlgorithm::SHA384,
                SymmetricAlgorithm::AES192,
            ),
            Self::NistP521 => (
                Curve::NistP521,
                HashAlgorithm::SHA512,
                SymmetricAlgorithm::AES256,
            ),
            Self::Rsa(_) => return None,
        })
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cv25519 => f.write_str("cv25519"),
            Self::Rsa(bits) => write!(f, "rsa{bits}"),
            Self::NistP256 => f.write_str("nistp256"),
            Self::NistP384 => f.write_str("nistp384"),
            Self::NistP521 => f.write_str("nistp521"),
        }
    }
}

/// A card's decryption public key.
#[derive(Clone, PartialEq, Eq)]
pub struct CardKey {
    /// The algorithm.
    pub algorithm: KeyAlgorithm,
    /// Raw public key: the 32-byte X25519 key, the uncompressed SEC1 point
    /// (`04 || X || Y`), or the RSA modulus (big-endian).
    pub public: Vec<u8>,
    /// The RSA public exponent (empty for EC keys).
    pub exponent: Vec<u8>,
    /// Creation time stored on the card (seconds since the epoch; part of
    /// the OpenPGP fingerprint).
    pub created: u32,
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardKey({} {})", self.algorithm, self.fingerprint_hex())
    }
}

impl CardKey {
    /// Builds the key from what the card returned.
    pub(crate) fn from_card(public: &PublicKeyMaterial, created: u32) -> Result<Self, String> {
        match public {
            PublicKeyMaterial::R(r) => {
                let n = strip_zeros(r.n());
                let bits = (n.len() * 8) as u16;
                Ok(CardKey {
                    algorithm: KeyAlgorithm::Rsa(bits),
                    public: n.to_vec(),
                    exponent: strip_zeros(r.v()).to_vec(),
                    created,
                })
            }
            PublicKeyMaterial::E(e) => {
                let algorithm = KeyAlgorithm::from_attributes(e.algo())
                    .ok_or_else(|| format!("{:?}", e.algo()))?;
                let data = e.data();
                let public = match algorithm {
                    // Some cards prefix the raw X25519 key with 0x40.
                    KeyAlgorithm::Cv25519 if data.len() == 33 && data[0] == 0x40 => {
                        data[1..].to_vec()
                    }
                    KeyAlgorithm::Cv25519 if data.len() != 32 => {
                        return Err(format!("a Curve25519 key of {} bytes", data.len()));
                    }
                    _ => data.to_vec(),
                };
                Ok(CardKey {
                    algorithm,
                    public,
                    exponent: Vec::new(),
                    created,
                })
            }
        }
    }

    /// The OpenPGP v4 encryption subkey for this key material.
    pub fn openpgp_key(&self) -> Key<PublicParts, UnspecifiedRole> {
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(self.created));
        let (algo, mpis) = match self.algorithm.curve() {
            None => (
                PublicKeyAlgorithm::RSAEncryptSign,
                mpi::PublicKey::RSA {
                    e: mpi::MPI::new(&self.exponent),
                    n: mpi::MPI::new(&self.public),
                },
            ),
            Some((curve, hash, sym)) => {
                let q = if self.algorithm == KeyAlgorithm::Cv25519 {
                    mpi::MPI::new_compressed_point(&self.public)
                } else {
                    mpi::MPI::new(&self.public)
                };
                (
                    PublicKeyAlgorithm::ECDH,
                    mpi::PublicKey::ECDH {
                        curve,
                        q,
                        hash,
                        sym,
                    },
                )
            }
        };
        let key: Key4<PublicParts, UnspecifiedRole> =
            Key4::new(created, algo, mpis).expect("card creation times fit OpenPGP's u32");
        key.into()
    }

    /// The OpenPGP v4 fingerprint, 40 upper-case hex digits.
    pub fn fingerprint_hex(&self) -> String {
        self.openpgp_key().fingerprint().to_hex()
    }

    /// The OpenPGP v4 fingerprint as the card stores it.
    pub fn fingerprint_bytes(&self) -> [u8; 20] {
        let fp = self.openpgp_key().fingerprint();
        let mut out = [0u8; 20];
        out.copy_from_slice(&fp.as_bytes()[..20]);
        out
    }

    /// The `age1…` recipient string of a Curve25519 key.
    pub fn age_recipient(&self) -> Option<String> {
        use bech32::ToBase32 as _;
        (self.algorithm == KeyAlgorithm::Cv25519).then(|| {
            bech32::encode("age", self.public.to_base32(), bech32::Variant::Bech32)
                .expect("\"age\" is a valid bech32 prefix")
        })
    }

    /// The `key` value of the recipient entry: the `age1…` string for
    /// Curve25519, else the base64 (standard, padded) of the OpenPGP
    /// public-subkey packet (tag 14, with its packet header).
    pub fn config_key(&self) -> String {
        match self.age_recipient() {
            Some(age) => age,
            None => {
                let key: Key<PublicParts, SubordinateRole> =
                    self.openpgp_key().role_into_subordinate();
                let bytes = Packet::from(key)
                    .to_vec()
                    .expect("serializing a key to memory cannot fail");
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }
        }
    }

    /// Parses the `key` of a `card-openpgp` recipient entry.
    pub(crate) fn from_config_openpgp(key: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|e| format!("key is not base64 ({e})"))?;
        let packet = Packet::from_bytes(&bytes)
            .map_err(|e| format!("key is not an OpenPGP packet ({e})"))?;
        let key = match packet {
            Packet::PublicSubkey(k) => k.role_into_unspecified(),
            Packet::PublicKey(k) => k.role_into_unspecified(),
            other => return Err(format!("key is a {} packet, not a public key", other.tag())),
        };
        Self::from_openpgp(&key)
    }

    /// The card key an OpenPGP public key describes.
    pub(crate) fn from_openpgp(key: &Key<PublicParts, UnspecifiedRole>) -> Result<Self, String> {
        let created = key
            .creation_time()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let (algorithm, public, exponent) = match key.mpis() {
            mpi::PublicKey::RSA { e, n } => {
                let n = strip_zeros(n.value()).to_vec();
                let bits = (n.len() * 8) as u16;
                (KeyAlgorithm::Rsa(bits), n, strip_zeros(e.value()).to_vec())
            }
            mpi::PublicKey::ECDH { curve, q, .. } => match curve {
                Curve::Cv25519 => {
                    let v = q.value();
                    let raw = if v.len() == 33 && v[0] == 0x40 {
                        &v[1..]
                    } else {
                        v
                    };
                    (KeyAlgorithm::Cv25519, raw.to_vec(), Vec::new())
                }
                Curve::NistP256 => (KeyAlgorithm::NistP256, q.value().to_vec(), Vec::new()),
                Curve::NistP384 => (KeyAlgorithm::NistP384, q.value().to_vec(), Vec::new()),
                Curve::NistP521 => (KeyAlgorithm::NistP521, q.value().to_vec(), Vec::new()),
                other => return Err(format!("unsupported curve {other}")),
            },
            other => return Err(format!("unsupported key algorithm {:?}", other.algo())),
        };
        let k = CardKey {
            algorithm,
            public,
            exponent,
            created,
        };
        if k.openpgp_key().fingerprint() != key.fingerprint() {
            return Err("its KDF parameters differ from nkbackup's (RFC 6637 defaults)".into());
        }
        Ok(k)
    }

    /// Whether `other` is the same key material (ignoring creation time).
    pub fn same_material(&self, other: &CardKey) -> bool {
        self.algorithm == other.algorithm
            && self.public == other.public
            && self.exponent == other.exponent
    }

    /// The recipient entry `card enroll` writes.
    pub fn recipient_config(&self, label: &str, ident: &str) -> RecipientConfig {
        RecipientConfig {
            label: label.to_owned(),
            kind: self.algorithm.recipient_kind().into(),
            key: self.config_key(),
            ident: Some(ident.to_owned()),
            algorithm: Some(self.algorithm.to_string()),
            fingerprint: Some(self.fingerprint_hex()),
            created: Some(rfc3339(self.created)),
            signing_key: None,
            signing_fingerprint: None,
            group: None,
        }
    }
}

/// Seconds since the epoch as RFC 3339 UTC.
pub(crate) fn rfc3339(secs: u32) -> String {
    crate::util::rfc3339_unix(i64::from(secs))
}

/// `b` without its leading zero bytes (card and MPI integers).
pub(crate) fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// The card key a recipient entry of type `card-x25519` or `card-openpgp`
/// holds.
pub(crate) fn from_recipient(r: &RecipientConfig) -> Result<CardKey, CardError> {
    let bad = |reason: String| CardError::InvalidRecipient {
        label: r.label.clone(),
        reason,
    };
    match r.kind.as_str() {
        KIND_X25519 => {
            let rcpt = crate::format::age_key::parse_age(&r.key).map_err(|e| bad(e.to_string()))?;
            let (_, data, _) = bech32::decode(&rcpt.to_string()).map_err(|e| bad(e.to_string()))?;
            use bech32::FromBase32 as _;
            let public = Vec::<u8>::from_base32(&data).map_err(|e| bad(e.to_string()))?;
            Ok(CardKey {
                algorithm: KeyAlgorithm::Cv25519,
                public,
                exponent: Vec::new(),
                created: 0,
            })
        }
        KIND_OPENPGP => CardKey::from_config_openpgp(&r.key).map_err(bad),
        other => Err(bad(format!("type {other:?} is not a card type"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openpgp_key_round_trips_through_config() {
        // A P-256 point from the generator (any valid point will do).
        let secret = p256_point();
        let k = CardKey {
            algorithm: KeyAlgorithm::NistP256,
            public: secret,
            exponent: Vec::new(),
            created: 1_700_000_000,
        };
        let cfg = k.recipient_config("alice-nk3", "000F:12345678");
        assert_eq!(cfg.kind.as_str(), KIND_OPENPGP);
        assert_eq!(cfg.fingerprint.as_deref().map(str::len), Some(40));
        let back = from_recipient(&cfg).unwrap();
        assert_eq!(back, k);
        assert_eq!(back.fingerprint_hex(), k.fingerprint_hex());
        let mut other = k.clone();
        other.created += 1;
        assert_ne!(
            other.fingerprint_hex(),
            k.fingerprint_hex(),
            "time is in the fingerprint"
        );
        assert!(other.same_material(&k));
    }

    #[test]
    fn cv25519_key_is_an_age_recipient() {
        let id = age::x25519::Identity::generate();
        let pk = id.to_public().to_string();
        let cfg = RecipientConfig {
            label: "nk".into(),
            kind: KIND_X25519.into(),
            key: pk.clone(),
            ..Default::default()
        };
        let k = from_recipient(&cfg).unwrap();
        assert_eq!(k.public.len(), 32);
        assert_eq!(k.age_recipient().as_deref(), Some(pk.as_str()));
        assert!(
            from_recipient(&RecipientConfig {
                kind: KIND_OPENPGP.into(),
                ..cfg
            })
            .is_err()
        );
    }

    /// Uncompressed SEC1 encoding of 2·G on P-256.
    fn p256_point() -> Vec<u8> {
        hex::decode(concat!(
            "04",
            "7cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc47669978",
            "07775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1"
        ))
        .unwrap()
    }
}
