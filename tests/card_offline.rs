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
    let pins = Box::new(
        |_: &PinRequest| -> Result<secrecy::SecretString, CardError> {
            panic!("no PIN may be asked for")
        },
    );
    let id = CardIdentity::from_config(repo.config(), None, pins).unwrap();
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
