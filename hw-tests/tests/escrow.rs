//! Escrowed secrets open with the card.

use crate::support::*;

/// `escrow open --card`: a secret escrowed to a software key and the card
/// (second, so the hint matters) opens with the card, one card operation;
/// a wrong PIN is a wrong PIN (exit 4), not a damaged escrow.
#[test]
pub fn escrow_opens_with_the_card() {
    use std::io::Write as _;
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let run = |args: &[&str], pin: &str, stdin: &[u8]| {
        let mut child = nkbackup()
            .args(args)
            .arg("--repo")
            .arg(&repo)
            .env("NKBACKUP_PIN", pin)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    ok(run(&["init"], "", b""));
    let soft = age::x25519::Identity::generate().to_public().to_string();
    ok(run(
        &["recipient", "add", "--label", "soft", &soft],
        "",
        b"",
    ));
    ok(run(
        &["card", "enroll", "--ident", &ident, "--label", "nk-a"],
        "",
        b"",
    ));
    let secret: Vec<u8> = (0..=255u8).rev().collect(); // not UTF-8
    ok(run(
        &["escrow", "seal", "--name", "signing-key"],
        "",
        &secret,
    ));

    let open = [
        "escrow",
        "open",
        "--name",
        "signing-key",
        "--card",
        &ident,
        "--card-timeout",
        "3",
    ];
    let out = ok(run(&open, &user_pin(), b""));
    assert_eq!(out.stdout, secret, "the escrowed bytes come back");

    // Library: the item's recipients are the hint; one card operation.
    let r = Repository::open(&repo).unwrap();
    let item = nkbackup::escrow::find(&r, "signing-key", None).unwrap();
    assert_eq!(item.recipients[1].label, "nk-a");
    let id = CardIdentity::from_config(r.config(), Some(&ident), pins(user_pin()))
        .unwrap()
        .timeout(Duration::from_secs(3));
    let ops = id.operations();
    let mut ids = nkbackup::unlock::Keys::new();
    ids.set_card(id);
    let got = nkbackup::escrow::open(&item, &ids).unwrap();
    use secrecy::ExposeSecret as _;
    assert_eq!(got.expose_secret(), secret.as_slice());
    assert_eq!(ops.load(Ordering::SeqCst), 1, "one card operation");

    if destructive(&ident) {
        let out = run(&open, "000000", b"");
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("wrong PIN for token nk-a") && !err.contains("damaged"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
        assert_eq!(retries(&ident), 2);
        ok(run(&open, &user_pin(), b""));
        assert_eq!(retries(&ident), 3);
    }
}
