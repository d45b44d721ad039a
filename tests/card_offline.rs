//! Card recipients without a card: sealing to card keys needs no card, and
//! a sidecar that does not fit the header is refused before any card
//! operation (so before PC/SC is even asked for a token).

mod common;

use nkbackup::card::{CardError, CardIdentity, PinRequest};
use nkbackup::config::RecipientConfig;
use nkbackup::{Opener, Repository, Sealer};
use std::sync::atomic::Ordering;

#[test]
fn card_recipients_seal_without_a_card_and_bad_hints_cost_no_card_operation() {
    let f = common::Fixture::new();
    let mut repo = Repository::open(f.repo_path()).unwrap();
    // A "card" whose Curve25519 key we hold in software.
    let card_key = age::x25519::Identity::generate();
    repo.add_recipient(RecipientConfig {
        label: "nk-soft".into(),
        kind: "card-x25519".into(),
        key: card_key.to_public().to_string(),
        ident: Some("FFFE:0BADCAFE".into()),
        algorithm: Some("cv25519".into()),
        ..Default::default()
    })
    .unwrap();
    let cfg = std::fs::read_to_string(f.repo_path().join("nkbackup.toml")).unwrap();
    assert!(cfg.contains("ident = \"FFFE:0BADCAFE\""), "{cfg}");
    let repo = Repository::open(f.repo_path()).unwrap();
    let rep = Sealer::new(&repo, "db")
        .bytes("a.txt", b"hello".to_vec())
        .seal()
        .unwrap();
    let labels: Vec<_> = rep
        .sidecar
        .recipients
        .iter()
        .map(|r| r.label.as_str())
        .collect();
    assert_eq!(
        labels,
        ["test-key", "nk-soft"],
        "sidecar lists stanzas in order"
    );

    // The card stanza is a plain X25519 stanza: the software key opens it.
    let b = repo.find("latest").unwrap();
    let key_file = f.path("card-key.txt");
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(&key_file, card_key.to_string().expose_secret()).unwrap();
    }
    Opener::new(&b)
        .identity_file(&key_file)
        .unwrap()
        .verify_deep()
        .unwrap();

    // Tamper: the sidecar now claims nk-soft is recipient #4.
    let mut sc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rep.sidecar_path).unwrap()).unwrap();
    let arr = sc["recipients"].as_array_mut().unwrap();
    let card_entry = arr.pop().unwrap();
    for _ in 0..2 {
        arr.push(arr[0].clone());
    }
    arr.push(card_entry);
    std::fs::write(&rep.sidecar_path, serde_json::to_vec(&sc).unwrap()).unwrap();
    let b = repo.find("latest").unwrap();
    let id = card_without_pin(&repo);
    let ops = id.operations();
    let err = Opener::new(&b).card(id).verify_deep().unwrap_err();
    assert!(
        matches!(
            &err,
            nkbackup::Error::Card(CardError::HeaderMismatch { ops: 0, .. })
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("recipient #4") && msg.contains("has 3 stanzas"), // 2 + age's grease stanza
        "{msg}"
    );
    assert_eq!(ops.load(Ordering::SeqCst), 0);
    assert_eq!(err.kind(), nkbackup::ErrorKind::Integrity);
}

#[test]
fn cli_card_options_without_card_recipients_say_what_to_do() {
    let f = common::Fixture::new();
    let src = f.path("data");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a"), "a").unwrap();
    let seal = common::nkbackup()
        .args(["seal", "--repo"])
        .arg(f.repo_path())
        .args(["--class", "db"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(seal.status.success());
    let out = common::nkbackup()
        .args(["restore", "--repo"])
        .arg(f.repo_path())
        .args(["latest", "--to"])
        .arg(f.path("r"))
        .arg("--card")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no card recipients") && err.contains("card enroll"),
        "{err}"
    );
    let out = common::nkbackup()
        .args(["verify", "--repo"])
        .arg(f.repo_path())
        .args(["latest", "--pin-file", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--deep"));
    assert!(!f.path("r").exists());
}

/// A card-openpgp stanza whose body no longer parses is a damaged backup:
/// refused before any card operation (no PIN asked, PC/SC never needed),
/// exit code 3, a message naming the stanza. The software key cannot open
/// the backup either: age authenticates the whole header.
#[test]
fn damaged_openpgp_card_stanza_is_a_damaged_backup_before_any_card_operation() {
    use nkbackup::card::{CardKey, KeyAlgorithm};
    let f = common::Fixture::new();
    let mut repo = Repository::open(f.repo_path()).unwrap();
    let secret = loop {
        let mut b = [0u8; 32];
        nkbackup::util::fill_random(&mut b);
        if let Ok(k) = p256::SecretKey::from_slice(&b) {
            break k;
        }
    };
    let key = CardKey {
        algorithm: KeyAlgorithm::NistP256,
        public: p256::EncodedPoint::from(secret.public_key())
            .as_bytes()
            .to_vec(),
        exponent: Vec::new(),
        created: 1_760_000_000,
    };
    repo.add_recipient(key.recipient_config("nk-p256", "FFFE:0BADCAFE"))
        .unwrap();
    let repo = Repository::open(f.repo_path()).unwrap();
    let rep = Sealer::new(&repo, "db")
        .bytes("a.txt", b"hello".to_vec())
        .seal()
        .unwrap();
    assert_eq!(rep.sidecar.recipients[1].kind, "card-openpgp");
    // The PKESK's packet tag: the body is no longer a PKESK.
    common::damage_stanza_body(&rep.data_path, "nkbackup/openpgp", |b| b[0] ^= 0x3f);

    let b = repo.find("latest").unwrap();
    let id = card_without_pin(&repo);
    let ops = id.operations();
    let err = Opener::new(&b).card(id).verify_deep().unwrap_err();
    assert!(
        matches!(
            &err,
            nkbackup::Error::Card(CardError::DamagedStanza {
                stanza: 2,
                ops: 0,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), nkbackup::ErrorKind::Integrity);
    assert_eq!(ops.load(Ordering::SeqCst), 0);

    let out = common::nkbackup()
        .args(["restore", "--repo"])
        .arg(f.repo_path())
        .args(["latest", "--to"])
        .arg(f.path("r"))
        .args(["--card", "--card-timeout", "1"])
        .env_remove("NKBACKUP_PIN")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "exit 3: damaged backup: {err}");
    assert!(
        err.contains("the backup is damaged: stanza #2")
            && err.contains("nk-p256 (FFFE:0BADCAFE)")
            && err.contains("is malformed")
            && err.contains("the token is not at fault (0 card operation(s)"),
        "{err}"
    );
    assert!(
        !err.contains("card FFFE"),
        "not reported as a card error: {err}"
    );
    assert!(!f.path("r").exists());

    // The software recipient's stanza is intact, yet the header MAC fails.
    let e = Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .verify_deep()
        .unwrap_err();
    assert_eq!(e.kind(), nkbackup::ErrorKind::Integrity, "{e}");
}

/// `escrow open --card` uses the escrow item's recipient list as the card's
/// stanza hint, like a backup sidecar: a list pointing past the header is
/// refused before any card operation (exit 3; PC/SC is never asked). In a
/// repository without card recipients, `--card` says what to do (exit 4).
#[test]
fn escrow_open_with_card_uses_the_item_recipients_as_hint() {
    let f = common::Fixture::new();
    let escrow = |args: &[&str], stdin: &[u8]| {
        use std::io::Write as _;
        let mut child = common::nkbackup()
            .arg("escrow")
            .args(args)
            .arg("--repo")
            .arg(f.repo_path())
            .env_remove("NKBACKUP_PIN")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    let sealed = escrow(&["seal", "--name", "k"], b"secret");
    assert!(sealed.status.success(), "{sealed:?}");
    let out = escrow(&["open", "--name", "k", "--card"], b"");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no card recipients") && err.contains("card enroll"),
        "{err}"
    );

    let mut repo = Repository::open(f.repo_path()).unwrap();
    let card_key = age::x25519::Identity::generate();
    repo.add_recipient(RecipientConfig {
        label: "nk-soft".into(),
        kind: "card-x25519".into(),
        key: card_key.to_public().to_string(),
        ident: Some("FFFE:0BADCAFE".into()),
        algorithm: Some("cv25519".into()),
        ..Default::default()
    })
    .unwrap();
    let sealed = escrow(&["seal", "--name", "k"], b"secret 2");
    assert!(sealed.status.success(), "{sealed:?}");
    let repo = Repository::open(f.repo_path()).unwrap();
    // By id: two versions sealed within one second have the same `created`.
    let item = nkbackup::escrow::list(&repo)
        .unwrap()
        .into_iter()
        .find(|i| i.recipients.len() == 2)
        .unwrap();
    assert_eq!(item.recipients[1].label, "nk-soft", "stanza order");
    let id = item.id.clone();
    // The item now claims the card's stanza is #4 (the header has 3).
    let json = item.path.with_extension("json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let arr = v["recipients"].as_array_mut().unwrap();
    let card_entry = arr.pop().unwrap();
    for _ in 0..2 {
        arr.push(arr[0].clone());
    }
    arr.push(card_entry);
    std::fs::write(&json, serde_json::to_vec(&v).unwrap()).unwrap();

    let out = escrow(
        &[
            "open",
            "--name",
            "k",
            "--id",
            &id,
            "--card",
            "--card-timeout",
            "1",
        ],
        b"",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("recipient #4")
            && err.contains("has 3 stanzas")
            && err.contains("0 card operation(s)"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // The software copy of the "card" key opens it (the stanza is intact).
    let key_file = f.path("card-key.txt");
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(&key_file, card_key.to_string().expose_secret()).unwrap();
    }
    let out = common::nkbackup()
        .args(["escrow", "open", "--name", "k", "--id", &id, "-i"])
        .arg(&key_file)
        .arg("--repo")
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"secret 2");
}

/// The repository's card identity, with a PIN prompt that fails the test:
/// these scenarios must end before any card is asked for a PIN.
fn card_without_pin(repo: &Repository) -> CardIdentity {
    let pins = Box::new(
        |_: &PinRequest| -> Result<secrecy::SecretString, CardError> {
            panic!("no PIN may be asked for")
        },
    );
    CardIdentity::from_config(repo.config(), None, pins).unwrap()
}
