//! KDF-protected PINs (issue 24, part 4): a card whose KDF data object is
//! set (GnuPG's `kdf-setup`) expects every PIN hashed with iterated-salted
//! S2K (OpenPGP card spec 3.4, §4.3.2) before it is sent.
//!
//! opcard stores the KDF data object as it is written and compares PINs as
//! bytes: it does not rehash its PINs when the object changes (as Gnuk or
//! a YubiKey do for `kdf-setup` on a fresh card). GnuPG's `kdf-setup`
//! would therefore leave it with PINs nobody can present, so the test sets
//! the object with openpgp-card's admin API and changes both PINs to their
//! hashed form itself, exactly what a card that rehashes does, and puts
//! everything back afterwards (also when it fails). The hash is computed
//! here, independently of openpgp-card's, so a wrong mapping fails.

use crate::support::*;
use sha2::{Digest, Sha256};

/// KDF-DO fields as GnuPG's `kdf-setup` writes them: algorithm 3
/// (KDF_ITERSALTED_S2K), hash 8 (SHA-256), GnuPG's byte count 0x02000000.
const ITERATIONS: u32 = 0x0200_0000;
const SALT_PW1: [u8; 8] = *b"nkb-salt";
const SALT_RC: [u8; 8] = *b"nkb-rc-s";
const SALT_PW3: [u8; 8] = *b"nkb-pw3s";

/// OpenPGP S2K iterated and salted (RFC 4880 §3.7.1.3) with SHA-256:
/// `salt || pin` repeated until `count` bytes are hashed (at least once).
fn s2k(pin: &str, salt: &[u8], count: u32) -> Vec<u8> {
    let mut block = salt.to_vec();
    block.extend(pin.as_bytes());
    let mut left = (count as usize).max(block.len());
    let mut h = Sha256::new();
    while left > 0 {
        let n = left.min(block.len());
        h.update(&block[..n]);
        left -= n;
    }
    h.finalize().to_vec()
}

fn kdf_do() -> Vec<u8> {
    let mut d = vec![0x81, 1, 3, 0x82, 1, 8, 0x83, 4];
    d.extend(ITERATIONS.to_be_bytes());
    for (tag, salt) in [(0x84, SALT_PW1), (0x85, SALT_RC), (0x86, SALT_PW3)] {
        d.extend([tag, 8]);
        d.extend(salt);
    }
    d.extend([0x87, 32]);
    d.extend(s2k(&user_pin(), &SALT_PW1, ITERATIONS));
    d.extend([0x88, 32]);
    d.extend(s2k(&admin_pin(), &SALT_PW3, ITERATIONS));
    d
}

/// Card `ident` with the KDF data object set and its PINs hashed, until
/// dropped.
struct KdfOn(String);

impl KdfOn {
    fn set(ident: &str) -> Self {
        let kdf = openpgp_card::ocard::data::KdfDo::try_from(&kdf_do()[..]).unwrap();
        with_card(ident, |tx| {
            tx.verify_pw3(secret(admin_pin().into_bytes())).unwrap();
            tx.set_kdf_do(&kdf).unwrap();
            let pw1 = s2k(&user_pin(), &SALT_PW1, ITERATIONS);
            tx.change_pw1(secret(user_pin().into_bytes()), secret(pw1))
                .unwrap();
            let pw3 = s2k(&admin_pin(), &SALT_PW3, ITERATIONS);
            tx.change_pw3(secret(admin_pin().into_bytes()), secret(pw3))
                .unwrap();
        });
        KdfOn(ident.to_owned())
    }
}

impl Drop for KdfOn {
    fn drop(&mut self) {
        let off = openpgp_card::ocard::data::KdfDo::try_from(&[0x81, 1, 0][..]).unwrap();
        with_card(&self.0, |tx| {
            let pw1 = s2k(&user_pin(), &SALT_PW1, ITERATIONS);
            let pw3 = s2k(&admin_pin(), &SALT_PW3, ITERATIONS);
            tx.change_pw1(secret(pw1), secret(user_pin().into_bytes()))
                .unwrap();
            tx.change_pw3(secret(pw3), secret(admin_pin().into_bytes()))
                .unwrap();
            tx.verify_pw3(secret(admin_pin().into_bytes())).unwrap();
            tx.set_kdf_do(&off).unwrap();
        });
    }
}

#[test]
pub fn a_card_with_kdf_opens_backups_and_counts_wrong_pins() {
    let _g = lock();
    let Some(ident) = second_card() else {
        return;
    };
    if !destructive(&ident) {
        return;
    }
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "nk-kdf")]);
    let kdf = KdfOn::set(&ident);

    let listed = card::list().unwrap();
    let c = listed.iter().find(|c| c.ident == ident).unwrap();
    assert!(c.kdf, "{c:?}");
    let out = ok(nkbackup().args(["card", "list"]).output().unwrap());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("KDF: on"),
        "{out:?}"
    );

    // The PIN typed is the same; nkbackup hashes it as the card says.
    ok(s.restore("r", &ident, &user_pin(), &[]));
    s.compare("r");
    let out = s.restore("r2", &ident, "654321", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wrong PIN") && stderr(&out).contains("2 tries left"),
        "{}",
        stderr(&out)
    );
    assert_eq!(retries(&ident), 2);
    ok(s.restore("r3", &ident, &user_pin(), &[]));
    assert_eq!(retries(&ident), 3);

    drop(kdf);
    let c = card::list().unwrap();
    assert!(!c.iter().find(|c| c.ident == ident).unwrap().kdf);
    ok(s.restore("r4", &ident, &user_pin(), &[]));
}
