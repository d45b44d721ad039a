//! Key algorithms: generate, enroll, seal and restore on the card; an imported key opens like the software key.

use crate::support::*;

#[test]
pub fn cv25519_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::Cv25519);
}

#[test]
pub fn rsa2048_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::Rsa(2048));
}

#[test]
pub fn rsa4096_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::Rsa(4096));
}

#[test]
pub fn nistp256_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::NistP256);
}

/// A Curve25519 key made in software and uploaded: the card opens the
/// backup, and so does the software key (it is the same key).
#[test]
pub fn imported_key_opens_like_the_software_key() {
    let _g = lock();
    let Some(ident) = second_card() else { return };
    if !destructive(&ident) {
        return;
    }
    let secret: [u8; 32] = rand_bytes();
    let public = x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES);
    import_cv25519(&ident, &secret, &public);

    let s = Setup::new(&[(&ident, "imported")]);
    let cfg = std::fs::read_to_string(s.repo.join("nkbackup.toml")).unwrap();
    let age_public = {
        use bech32::ToBase32 as _;
        bech32::encode("age", public.to_base32(), bech32::Variant::Bech32).unwrap()
    };
    assert!(
        cfg.contains(&age_public),
        "enrolled key is the imported one:\n{cfg}"
    );
    ok(s.restore("r", &ident, &user_pin(), &[]));
    s.compare("r");

    // The same backup opens with the software copy of the key.
    let sw = {
        use bech32::ToBase32 as _;
        bech32::encode(
            "age-secret-key-",
            secret.to_base32(),
            bech32::Variant::Bech32,
        )
        .unwrap()
        .to_ascii_uppercase()
    };
    let key_file = s.dir.path().join("sw.txt");
    std::fs::write(&key_file, format!("{sw}\n")).unwrap();
    let repo = s.repository();
    let b = repo.find("latest").unwrap();
    let rep = Opener::new(&b)
        .identity_file(&key_file)
        .unwrap()
        .verify_deep()
        .unwrap();
    assert!(rep.entries_checked > 10);
}

pub fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

pub fn import_cv25519(ident: &str, secret: &[u8; 32], public: &[u8; 32]) {
    use openpgp_card::ocard::KeyType;
    use openpgp_card::ocard::algorithm::AlgoSimple;
    use openpgp_card::ocard::crypto::{CardUploadableKey, EccKey, EccType, PrivateKeyMaterial};
    use openpgp_card::ocard::data::{Fingerprint, KeyGenerationTime};

    struct Up {
        private_be: Vec<u8>,
        public: Vec<u8>,
        time: u32,
        fp: [u8; 20],
    }
    impl EccKey for Up {
        fn oid(&self) -> &[u8] {
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01] // Curve25519
        }
        fn private(&self) -> &[u8] {
            &self.private_be
        }
        fn public(&self) -> &[u8] {
            &self.public
        }
        fn ecc_type(&self) -> EccType {
            EccType::ECDH
        }
    }
    impl CardUploadableKey for Up {
        fn private_key(&self) -> Result<PrivateKeyMaterial, openpgp_card::Error> {
            Ok(PrivateKeyMaterial::E(Box::new(self.clone_up())))
        }
        fn timestamp(&self) -> KeyGenerationTime {
            KeyGenerationTime::from(self.time)
        }
        fn fingerprint(&self) -> Result<Fingerprint, openpgp_card::Error> {
            Ok(Fingerprint::from(self.fp))
        }
    }
    impl Up {
        fn clone_up(&self) -> Up {
            Up {
                private_be: self.private_be.clone(),
                public: self.public.clone(),
                time: self.time,
                fp: self.fp,
            }
        }
    }

    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let key = card::CardKey {
        algorithm: KeyAlgorithm::Cv25519,
        public: public.to_vec(),
        exponent: Vec::new(),
        created: time,
    };
    // Card import format: scalar big-endian, public key 0x40 || u.
    let mut private_be = secret.to_vec();
    private_be.reverse();
    let mut pub40 = vec![0x40];
    pub40.extend_from_slice(public);
    let up = Up {
        private_be,
        public: pub40,
        time,
        fp: key.fingerprint_bytes(),
    };

    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None).unwrap(),
        ident,
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    tx.verify_admin_pin(SecretString::from(admin_pin()))
        .unwrap();
    let mut admin = tx.as_admin_card(None).unwrap();
    admin
        .set_algorithm(KeyType::Decryption, AlgoSimple::Curve25519)
        .unwrap();
    admin.import_key(&up, KeyType::Decryption).unwrap();
}
