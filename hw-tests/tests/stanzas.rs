//! The card stanzas: one card operation per open, tampered sidecars, damaged stanzas, touch confirmation.

use crate::support::*;

/// Exactly one card operation per backup opened, also when the card's
/// stanza is not the first; and an edited sidecar (recipients reordered)
/// costs no more than that one operation and says what is wrong.
#[test]
pub fn one_card_operation_per_open_and_tampered_sidecar() {
    let _g = lock();
    let ident = env_card(0);
    if destructive(&ident) {
        // An X25519 card stanza: the wrong stanza is only noticed after
        // the card answered (1 operation); an nkbackup/openpgp stanza names
        // its key, so a mismatch is noticed before (0 operations).
        generate(&ident, KeyAlgorithm::Cv25519);
    } else {
        ensure_key(&ident);
    }
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("repo");
    let mut repo = Repository::init(&repo_path).unwrap();
    for label in ["soft-1", "soft-2"] {
        repo.add_recipient(nkbackup::config::RecipientConfig {
            label: label.into(),
            kind: "age".into(),
            key: age::x25519::Identity::generate().to_public().to_string(),
            ..Default::default()
        })
        .unwrap();
    }
    repo.add_recipient(card::enroll(Some(&ident), "nk-a").unwrap())
        .unwrap();
    let repo = Repository::open(&repo_path).unwrap();
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let rep = nkbackup::Sealer::new(&repo, "db")
        .bytes("big.bin", data)
        .seal()
        .unwrap();
    assert_eq!(
        rep.sidecar.recipients[2].label, "nk-a",
        "stanza order = recipient order"
    );

    let (ops, took) = open_with_library(
        &Setup {
            dir: tempfile::tempdir().unwrap(),
            repo: repo_path.clone(),
            src: dir.path().to_owned(),
        },
        Some(&ident),
        user_pin(),
    )
    .unwrap();
    assert_eq!(
        ops, 1,
        "one card operation for a 5 MB backup with 3 stanzas"
    );
    eprintln!(
        "TIMING 5 MB backup, card third of 3 stanzas: {:.0} ms, {ops} card op",
        ms(took)
    );

    // Swap the card's entry with a software one in the sidecar.
    let mut sc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rep.sidecar_path).unwrap()).unwrap();
    sc["recipients"].as_array_mut().unwrap().swap(0, 2);
    std::fs::write(&rep.sidecar_path, serde_json::to_vec_pretty(&sc).unwrap()).unwrap();
    let repo = Repository::open(&repo_path).unwrap();
    let b = repo.find("latest").unwrap();
    let id = CardIdentity::from_config(repo.config(), Some(&ident), pins(user_pin())).unwrap();
    let ops = id.operations();
    let x25519 = repo.config().recipients[2].kind == card::key::KIND_X25519;
    let e = Opener::new(&b).card(id).verify_deep().unwrap_err();
    let want = u32::from(x25519);
    assert!(
        matches!(&e, nkbackup::Error::Card(CardError::HeaderMismatch { ops, .. }) if *ops == want),
        "{e}"
    );
    assert!(e.to_string().contains("sidecar"), "{e}");
    assert_eq!(
        ops.load(Ordering::SeqCst),
        want,
        "no further card operation"
    );
    assert_eq!(e.kind(), nkbackup::ErrorKind::Integrity);
}

/// A backup whose card stanza is damaged is a damaged backup (exit 3, "the
/// stanza … is damaged"), not a card failure: RSA ciphertext changed (the
/// card refuses it), NIST P-256 wrapped key changed (the card answers, the
/// result does not authenticate), X25519 body changed. The PIN counter is
/// untouched: the right PIN was given.
#[test]
pub fn damaged_card_stanza_is_a_damaged_backup() {
    let _g = lock();
    let ident = env_card(0);
    if !destructive(&ident) {
        return;
    }
    for (algo, tag) in [
        (KeyAlgorithm::Rsa(2048), "nkbackup/openpgp"),
        (KeyAlgorithm::NistP256, "nkbackup/openpgp"),
        (KeyAlgorithm::Cv25519, "X25519"),
    ] {
        generate(&ident, algo);
        let s = Setup::new(&[(&ident, "nk-a")]);
        let b = s.repository().find("latest").unwrap();
        // The last byte: the RSA ciphertext's lowest byte, the end of the
        // ECDH wrapped key, the end of the X25519 wrapped file key.
        common::damage_stanza_body(&b.data_path, tag, |body| *body.last_mut().unwrap() ^= 0x01);
        let out = s.restore("r", &ident, &user_pin(), &[]);
        let err = stderr(&out);
        eprintln!("{algo}: exit {:?}: {err}", out.status.code());
        assert_eq!(
            out.status.code(),
            Some(3),
            "{algo}: exit 3 (damaged): {err}"
        );
        assert!(
            err.contains("stanza #1") && err.contains("damaged"),
            "{algo}: {err}"
        );
        assert!(!s.dir.path().join("r").exists());
        assert_eq!(retries(&ident), 3, "{algo}: the PIN was right");
        // As the message advises, `verify` (no key) tells a changed file.
        let v = nkbackup()
            .args(["verify", "--repo"])
            .arg(&s.repo)
            .arg("latest")
            .output()
            .unwrap();
        assert_eq!(v.status.code(), Some(3), "{algo}: {}", stderr(&v));

        let e = open_with_library(&s, Some(&ident), user_pin()).unwrap_err();
        assert_eq!(e.kind(), nkbackup::ErrorKind::Integrity, "{algo}: {e}");
        if tag == "X25519" {
            // An X25519 stanza names nobody: a wrong sidecar hint and a
            // damaged body look the same; the message says both.
            assert!(
                matches!(
                    &e,
                    nkbackup::Error::Card(CardError::HeaderMismatch { ops: 1, .. })
                ),
                "{algo}: {e}"
            );
            assert!(e.to_string().contains("or the header is damaged"), "{e}");
        } else {
            assert!(
                matches!(
                    &e,
                    nkbackup::Error::Card(CardError::DamagedStanza { ops: 1, .. })
                ),
                "{algo}: {e}"
            );
        }
    }
}

/// Sets the decryption key's touch policy (UIF) with the admin PIN.
pub fn set_touch(
    ident: &str,
    policy: openpgp_card::ocard::data::TouchPolicy,
) -> Result<(), openpgp_card::Error> {
    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None)?,
        ident,
    )?;
    let mut tx = c.transaction()?;
    tx.verify_admin_pin(SecretString::from(admin_pin()))?;
    let mut admin = tx.as_admin_card(None)?;
    admin.set_touch_policy(openpgp_card::ocard::KeyType::Decryption, policy)
}

/// Turns touch confirmation off again when dropped (also on a failed
/// assertion), so later scenarios see the card as they expect.
pub struct TouchOff<'a>(pub &'a str);

impl Drop for TouchOff<'_> {
    fn drop(&mut self) {
        if let Err(e) = set_touch(self.0, openpgp_card::ocard::data::TouchPolicy::Off) {
            eprintln!("could not turn touch confirmation off on {}: {e:?}", self.0);
        }
    }
}

pub fn card_touch(ident: &str) -> String {
    let out = ok(nkbackup()
        .args(["card", "list", "--json"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|c| c["ident"] == ident)
        .unwrap_or_else(|| panic!("{ident} not listed: {v}"))["touch"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Touch confirmation (UIF) on for the decryption key: `card list` shows
/// it, and a restore says "touch your token …" before the one decipher
/// (the virtual card confirms presence at once; a physical token waits for
/// the touch). With UIF off again, the message is gone.
#[test]
pub fn touch_policy_on_says_touch_your_token() {
    use openpgp_card::ocard::data::TouchPolicy;
    let Some((_g, ident, s)) = card0_setup(true) else {
        return;
    };
    assert_eq!(card_touch(&ident), "off");
    set_touch(&ident, TouchPolicy::On)
        .unwrap_or_else(|e| panic!("the card refused UIF on for decryption: {e:?}"));
    let reset = TouchOff(&ident);
    assert_eq!(card_touch(&ident), "on", "card list shows the touch policy");
    let text = ok(nkbackup().args(["card", "list"]).output().unwrap());
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("touch: on"),
        "{text:?}"
    );

    let out = ok(s.restore("r", &ident, &user_pin(), &[]));
    let touch = format!("touch your token nk-a ({ident}) to confirm the decryption");
    assert!(stderr(&out).contains(&touch), "{}", stderr(&out));
    s.compare("r");

    drop(reset);
    assert_eq!(card_touch(&ident), "off");
    let out = ok(s.restore("r2", &ident, &user_pin(), &[]));
    assert!(
        !stderr(&out).contains("touch your token"),
        "{}",
        stderr(&out)
    );
}

/// `find` over three backups sealed to the card opens each with the same
/// keys: exactly three card operations, and the matching backups named.
#[test]
pub fn find_costs_one_card_operation_per_backup() {
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("repo");
    let mut repo = Repository::init(&repo_path).unwrap();
    repo.add_recipient(card::enroll(Some(&ident), "nk-a").unwrap())
        .unwrap();
    let repo = Repository::open(&repo_path).unwrap();
    let ids: Vec<String> = ["alice.mbox", "bob.txt", "carol.mbox"]
        .iter()
        .map(|name| {
            nkbackup::Sealer::new(&repo, "archive")
                .bytes(name, b"mail".to_vec())
                .seal()
                .unwrap()
                .sidecar
                .id
        })
        .collect();
    let id = CardIdentity::from_config(repo.config(), Some(&ident), pins(user_pin()))
        .unwrap()
        .timeout(Duration::from_secs(3));
    let ops = id.operations();
    let mut keys = nkbackup::unlock::Keys::new();
    keys.set_card(id);
    let pattern = nkbackup::catalog::PathPattern::new("*.mbox").unwrap();
    let rep = nkbackup::catalog::find(&repo, &keys, &pattern, None, &mut |_| {}).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    let found: Vec<&str> = rep.found.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(found, [ids[0].as_str(), ids[2].as_str()]);
    assert_eq!(
        ops.load(Ordering::SeqCst),
        3,
        "one card operation per backup"
    );
}
