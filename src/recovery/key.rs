//! The recovery key itself: 32 secret bytes that are an X25519 secret key.
//!
//! The bytes are used *directly* as the X25519 scalar, exactly as Matrix key
//! backup (`m.megolm_backup.v1.curve25519-aes-sha2`) uses its recovery key,
//! so the public key computed here equals the `public_key` a Matrix client
//! would publish for the same recovery key. age's X25519 identities are the
//! same kind of object, so the key maps one-to-one onto an
//! `AGE-SECRET-KEY-1…` identity and an `age1…` recipient: a backup sealed to
//! the recovery key opens with stock `age -d -i key.txt`.

use std::fmt;

pub use crate::error::KeyId;

use bech32::{FromBase32, ToBase32, Variant, u5};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Bech32 human-readable part of an age X25519 identity (lower case, as age
/// itself encodes it before upper-casing the whole string).
const AGE_SECRET_KEY_HRP: &str = "age-secret-key-";
/// Bech32 human-readable part of an age X25519 recipient.
const AGE_RECIPIENT_HRP: &str = "age";

/// A 256-bit recovery key.
///
/// The bytes live in a zeroizing buffer and are wiped on drop. `Debug`
/// prints only the public [`KeyId`]. There is deliberately no `Display`: use
/// [`RecoveryKey::to_encoded`] (Matrix encoding) or
/// [`RecoveryKey::export_age`] (age identity), both of which return a
/// [`SecretString`].
#[derive(Clone)]
pub struct RecoveryKey {
    secret: Zeroizing<[u8; RecoveryKey::LEN]>,
}

impl RecoveryKey {
    /// Length of a recovery key in bytes.
    pub const LEN: usize = 32;

    /// Generates a fresh recovery key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut secret = Zeroizing::new([0u8; Self::LEN]);
        crate::util::fill_random(secret.as_mut());
        RecoveryKey { secret }
    }

    /// Wraps existing key bytes. The caller should wipe its own copy.
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        RecoveryKey {
            secret: Zeroizing::new(*bytes),
        }
    }

    /// The secret bytes, for the encodings in this module.
    pub(crate) fn secret_bytes(&self) -> &[u8; Self::LEN] {
        &self.secret
    }

    /// The key as an age X25519 identity.
    ///
    /// Built by encoding the bytes as an `AGE-SECRET-KEY-1…` string (Bech32,
    /// as age does) and parsing that with age's own parser, so the mapping is
    /// exactly age's: the X25519 secret is these 32 bytes, clamped by
    /// X25519 when used.
    pub fn to_age_identity(&self) -> age::x25519::Identity {
        let text = self.export_age();
        text.expose_secret()
            .parse()
            .expect("a Bech32 string of 32 bytes with age's HRP is a valid age identity")
    }

    /// The age recipient (`age1…`) that backups are sealed to.
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.to_age_identity().to_public()
    }

    /// The raw 32-byte Curve25519 public key (the same value Matrix key
    /// backup publishes as `public_key`, there in unpadded base64).
    pub fn public_key_bytes(&self) -> [u8; 32] {
        let recipient = self.recipient().to_string();
        let (hrp, data, _variant) =
            bech32::decode(&recipient).expect("age writes valid Bech32 recipients");
        debug_assert_eq!(hrp, AGE_RECIPIENT_HRP);
        let bytes = Vec::<u8>::from_base32(&data).expect("age recipients carry whole bytes");
        bytes
            .as_slice()
            .try_into()
            .expect("an age X25519 recipient is 32 bytes")
    }

    /// The key as the text of an age identity file line,
    /// `AGE-SECRET-KEY-1…`, for `age -d -i`.
    pub fn export_age(&self) -> SecretString {
        let mut data = self.secret.to_base32();
        let mut encoded = bech32::encode(AGE_SECRET_KEY_HRP, &data, Variant::Bech32)
            .expect("age's HRP is valid Bech32");
        let upper = SecretString::from(encoded.to_uppercase());
        // Clear intermediates (`u5` has no Zeroize impl; overwrite by hand).
        let zero = u5::try_from_u8(0).expect("0 is a valid u5");
        data.iter_mut().for_each(|d| *d = zero);
        encoded.zeroize();
        upper
    }

    /// The key's public id: see [`KeyId`].
    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::digest(self.public_key_bytes());
        let mut id = [0u8; KeyId::LEN];
        id.copy_from_slice(&digest[..KeyId::LEN]);
        KeyId(id)
    }
}

impl PartialEq for RecoveryKey {
    /// Constant-time comparison of the secret bytes.
    fn eq(&self, other: &Self) -> bool {
        self.secret.ct_eq(other.secret.as_ref()).into()
    }
}

impl Eq for RecoveryKey {}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryKey(key id {})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;

    fn key_from_hex(h: &str) -> RecoveryKey {
        let bytes: [u8; 32] = hex::decode(h).unwrap().try_into().unwrap();
        RecoveryKey::from_bytes(&bytes)
    }

    /// Matrix key-backup vectors: (key_hex, public_key as unpadded base64).
    /// Copied from /work/shared/test-vectors/matrix-recovery-key.json,
    /// section `megolm_backup_v1`; upstream sources per entry.
    const PUBLIC_KEY_VECTORS: &[(&str, &str, &str)] = &[
        // js-sdk-alice-curve25519-backup / js-sdk-legacy-backup-spec:
        // matrix-org/matrix-js-sdk spec/test-utils/crypto-test-data/index.ts
        // @ 8fec0cb6408dbe4c2ef871be16a4309ced01579d (SIGNED_BACKUP_DATA),
        // and spec/unit/crypto/backup.spec.ts @ 6b93e11e2c501c1d982a127674696ae649217cba.
        // The key is RFC 7748 section 6.1's Alice private key.
        (
            "js-sdk-alice",
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",
        ),
        // js-sdk-bob-curve25519-backup: matrix-org/matrix-js-sdk
        // spec/test-utils/crypto-test-data/index.ts @ 8fec0cb6408dbe4c2ef871be16a4309ced01579d
        (
            "js-sdk-bob",
            "0f076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            "ZRuVWcWlDuvOwZRygccUCD4Avtnt130800I+WQNwwRY",
        ),
        // rust-sdk-decrypt-key (public_key derived_by_research): matrix-org/matrix-rust-sdk
        // crates/matrix-sdk-crypto/src/backups/keys/decryption.rs @ 64b12e0b808969c284c94f0ea239f37d6746d6e2
        (
            "rust-sdk-decrypt-key",
            "1daf5c92553ff4da85a3d58a7557c6ce6a942fff709647717c48ad6d220f557c",
            "6Q6b15s4YM2jCs38pHiN8wiRkiuCcvpsM9S3/qm31Co",
        ),
        // mautrix-backup-case-1/2 (public_key derived_by_research): mautrix/go
        // crypto/backup/encryptedsessiondata_test.go @ bdb58f2e6c0adff4675a415bda9074703875d7d6
        (
            "mautrix-backup",
            "45e48c319791b4349daf05f3bb63af37407bdca5179183edde46987c5224c35d",
            "QeTvLLbpkE4iel5+VxNYWmgi1JVvaUSjX+fS02T0LWk",
        ),
    ];

    #[test]
    fn public_key_matches_matrix_key_backup_vectors() {
        for (id, key_hex, public_b64) in PUBLIC_KEY_VECTORS {
            let key = key_from_hex(key_hex);
            assert_eq!(
                STANDARD_NO_PAD.encode(key.public_key_bytes()),
                *public_b64,
                "vector {id}"
            );
        }
    }

    #[test]
    fn rfc7748_alice_public_key() {
        // RFC 7748 section 6.1: Alice's public key.
        let key = key_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        assert_eq!(
            hex::encode(key.public_key_bytes()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }

    #[test]
    fn export_age_is_what_age_itself_writes() {
        let key = RecoveryKey::generate();
        let exported = key.export_age();
        assert!(exported.expose_secret().starts_with("AGE-SECRET-KEY-1"));
        // age's own serialisation of the identity we built must be identical:
        // the bytes map exactly, no clamping or re-encoding in between.
        assert_eq!(
            key.to_age_identity().to_string().expose_secret(),
            exported.expose_secret()
        );
        // And parsing age's string back gives the same recipient.
        let reparsed: age::x25519::Identity = exported.expose_secret().parse().unwrap();
        assert_eq!(
            reparsed.to_public().to_string(),
            key.recipient().to_string()
        );
    }

    #[test]
    fn recipient_decrypts_what_it_encrypts() {
        use std::io::{Read, Write};
        let key = RecoveryKey::generate();
        let recipient = key.recipient();
        assert!(recipient.to_string().starts_with("age1"));
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let mut sealed = vec![];
        let mut w = encryptor.wrap_output(&mut sealed).unwrap();
        w.write_all(b"backup payload").unwrap();
        w.finish().unwrap();

        // Decrypt through an identity parsed from the exported text, as
        // `age -d -i key.txt` would.
        let identity: age::x25519::Identity = key.export_age().expose_secret().parse().unwrap();
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        let mut r = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap();
        let mut out = vec![];
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"backup payload");

        // A different recovery key cannot open it.
        let other = RecoveryKey::generate().to_age_identity();
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        assert!(
            decryptor
                .decrypt(std::iter::once(&other as &dyn age::Identity))
                .is_err()
        );
    }

    #[test]
    fn key_id_is_sha256_prefix_of_public_key() {
        let key = key_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let expected = &Sha256::digest(key.public_key_bytes())[..8];
        assert_eq!(key.key_id().as_bytes(), expected);
        assert_eq!(key.key_id().to_string(), hex::encode(expected));
        assert_eq!(key.key_id().to_string().len(), 16);
        assert_ne!(key.key_id(), RecoveryKey::generate().key_id());
    }

    #[test]
    fn generate_gives_distinct_keys() {
        let a = RecoveryKey::generate();
        let b = RecoveryKey::generate();
        assert_ne!(a, b);
        assert_eq!(a, a.clone());
    }

    #[test]
    fn debug_prints_no_secret() {
        let bytes = [0xA5u8; 32];
        let key = RecoveryKey::from_bytes(&bytes);
        let shown = format!("{key:?}");
        let alt = format!("{key:#?}");
        assert!(shown.starts_with("RecoveryKey(key id "), "{shown}");
        assert!(shown.contains(&key.key_id().to_string()));
        for s in [&shown, &alt] {
            assert!(!s.to_lowercase().contains("a5a5"), "{s}");
            assert!(!s.contains("165"), "{s}"); // 0xA5 as decimal
            assert!(!s.contains(key.export_age().expose_secret()));
        }
    }
}
