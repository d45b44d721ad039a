//! PINs: a wrong PIN, the lockout guard at one try left, a PIN on every fresh connection.

use crate::support::*;

/// A wrong PIN costs one try, says how many are left, and decrypts nothing.
#[test]
pub fn wrong_pin_drops_the_counter_with_a_clear_message() {
    let Some((_g, ident, s)) = card0_setup(true) else {
        return;
    };
    assert_eq!(retries(&ident), 3);
    let out = s.restore("r", &ident, "000000", &[]);
    assert_eq!(out.status.code(), Some(4), "exit code 4: no usable key");
    let err = stderr(&out);
    assert!(
        err.contains("wrong PIN for token nk-a") && err.contains("2 tries left"),
        "{err}"
    );
    assert!(!err.contains("000000"), "the PIN never appears: {err}");
    assert!(!s.dir.path().join("r").exists());
    assert_eq!(retries(&ident), 2, "the card's counter dropped");
    ok(s.restore("r", &ident, &user_pin(), &[]));
    assert_eq!(retries(&ident), 3, "a correct PIN resets the counter");
}

/// With one try left nkbackup refuses to present a PIN (so it never locks
/// a token) unless told --i-know-the-last-try.
#[test]
pub fn lockout_guard_at_one_try_left() {
    let Some((_g, ident, s)) = card0_setup(true) else {
        return;
    };
    for _ in 0..2 {
        assert!(!s.restore("r", &ident, "000000", &[]).status.success());
    }
    assert_eq!(retries(&ident), 1);
    // Even the right PIN is not presented.
    let out = s.restore("r", &ident, &user_pin(), &[]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains("only ONE PIN try left") && err.contains("--i-know-the-last-try"),
        "{err}"
    );
    assert_eq!(retries(&ident), 1, "no try was used");
    // The library refuses the same way.
    let e = open_with_library(&s, Some(&ident), user_pin()).unwrap_err();
    assert!(
        matches!(e, nkbackup::Error::Card(CardError::LastPinTry { .. })),
        "{e}"
    );
    assert_eq!(e.kind(), nkbackup::ErrorKind::Key);
    ok(s.restore("r", &ident, &user_pin(), &["--i-know-the-last-try"]));
    assert_eq!(retries(&ident), 3);
    s.compare("r");
}

/// The enrolled token is not inserted: "insert token …", then a clear error
/// after the timeout.
#[test]
pub fn no_card_inserted_fails_clearly_after_the_timeout() {
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "alice-nk3")]);
    if !cards_sh(&["pull", "0"]) {
        common::skip("cannot pull a physical token (no NKB_HW_CARDS_SH)");
        return;
    }
    let start = Instant::now();
    let out = s.restore("r", &ident, &user_pin(), &[]);
    let took = start.elapsed();
    cards_sh(&["insert", "0"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("insert token alice-nk3 ({ident})")),
        "{err}"
    );
    assert!(err.contains("was not inserted within 3 s"), "{err}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert!(!s.dir.path().join("r").exists());
}

/// A verified PIN does not survive the connection: nkbackup resets the card
/// on disconnect, so a fresh connection must present the PIN again.
#[test]
pub fn pin_required_on_a_fresh_connection() {
    use openpgp_card::ocard::crypto::Cryptogram;
    let (_g, ident, s) = card0_setup(false).expect("a non-destructive scenario runs");
    ok(s.restore("r", &ident, &user_pin(), &[]));
    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None).unwrap(),
        &ident,
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    let input = match tx
        .public_key_material(openpgp_card::ocard::KeyType::Decryption)
        .unwrap()
    {
        openpgp_card::ocard::crypto::PublicKeyMaterial::E(e) => {
            let d = e.data().to_vec();
            tx.card().decipher(Cryptogram::ECDH(&d)).map(|_| ())
        }
        openpgp_card::ocard::crypto::PublicKeyMaterial::R(r) => {
            let mut ct = vec![0u8; r.n().len()];
            ct[r.n().len() - 1] = 2;
            tx.card().decipher(Cryptogram::RSA(&ct)).map(|_| ())
        }
    };
    let e = input.expect_err("decipher without PIN must be refused");
    assert!(
        matches!(
            e,
            openpgp_card::Error::CardStatus(
                openpgp_card::ocard::StatusBytes::SecurityStatusNotSatisfied
            )
        ),
        "{e:?}"
    );
}
