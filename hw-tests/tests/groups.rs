//! k-of-n token groups and revocation on the virtual cards over pcscd.

use crate::support::*;

fn cli(args: &[&str], repo: &std::path::Path) -> Output {
    nkbackup()
        .args(args)
        .arg("--repo")
        .arg(repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap()
}

/// An empty repository with group `officers` (threshold 2) whose members
/// are the two cards, and one backup of the sample tree.
fn two_card_group() -> Option<(String, String, tempfile::TempDir, std::path::PathBuf)> {
    let (a, Some(b)) = (env_card(0), second_card()) else {
        return None;
    };
    ensure_key(&a);
    ensure_key(&b);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    ok(cli(&["init"], &repo));
    ok(cli(
        &["group", "add", "officers", "--threshold", "2"],
        &repo,
    ));
    for (ident, label) in [(&a, "alice-nk3"), (&b, "bob-nk3")] {
        ok(cli(
            &[
                "card", "enroll", "--ident", ident, "--label", label, "--group", "officers",
            ],
            &repo,
        ));
    }
    let src = dir.path().join("data");
    sample_tree(&src);
    ok(nkbackup()
        .args(["seal", "--class", "db", "--repo"])
        .arg(&repo)
        .arg(&src)
        .output()
        .unwrap());
    Some((a, b, dir, repo))
}

/// 2-of-2 with both cards in their readers: one card operation each, and
/// the restore matches the source; with one card pulled, the open fails
/// naming the member still needed, after telling the group's progress.
#[test]
pub fn two_of_two_cards() {
    let _g = lock();
    let Some((a, b, dir, repo)) = two_card_group() else {
        return;
    };
    let r = Repository::open(&repo).unwrap();
    let backup = r.find("latest").unwrap();
    assert_eq!(backup.sidecar.recipients.len(), 2);
    let id = CardIdentity::from_config(r.config(), None, pins(user_pin()))
        .unwrap()
        .timeout(Duration::from_secs(3));
    let ops = id.operations();
    let opener = Opener::new(&backup).card(id);
    let start = Instant::now();
    opener.verify_deep().unwrap();
    eprintln!(
        "TIMING 2-of-2 open with two cards: {:.0} ms",
        ms(start.elapsed())
    );
    assert_eq!(
        ops.load(Ordering::SeqCst),
        2,
        "one card operation per token"
    );
    let mut used = opener.members_used();
    used.sort();
    assert_eq!(used, ["alice-nk3", "bob-nk3"]);

    let out = nkbackup()
        .args(["restore", "latest", "--to"])
        .arg(dir.path().join("r"))
        .args(["--card", "--card-timeout", "3", "--repo"])
        .arg(&repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap();
    ok(out);
    assert_same_tree(&dir.path().join("data"), &dir.path().join("r").join("data"));

    if !cards_sh(&["pull", "1"]) {
        common::skip("cannot pull a physical token");
        return;
    }
    let out = nkbackup()
        .args([
            "verify",
            "latest",
            "--deep",
            "--card",
            "--card-timeout",
            "3",
            "--repo",
        ])
        .arg(&repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap();
    cards_sh(&["insert", "1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("group officers: 1 of 2 done (alice-nk3); insert the next token")
            && err.contains("group officers needs 2 of its tokens")
            && err.contains("Still needed: 1 more of bob-nk3"),
        "{err}"
    );
    let _ = (a, b);
}

/// 2-of-3 with two cards and one software member: the software key and
/// either card open it; a card that is not a member is told so.
#[test]
pub fn two_of_three_with_a_software_member() {
    let _g = lock();
    let (a, Some(b)) = (env_card(0), second_card()) else {
        return;
    };
    ensure_key(&a);
    ensure_key(&b);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    ok(cli(&["init"], &repo));
    ok(cli(
        &["group", "add", "officers", "--threshold", "2"],
        &repo,
    ));
    ok(cli(
        &[
            "card",
            "enroll",
            "--ident",
            &a,
            "--label",
            "alice-nk3",
            "--group",
            "officers",
        ],
        &repo,
    ));
    // Card b is enrolled on its own: not a member.
    ok(cli(
        &["card", "enroll", "--ident", &b, "--label", "bob-nk3"],
        &repo,
    ));
    let soft = age::x25519::Identity::generate();
    let key_file = dir.path().join("carol.key");
    use secrecy::ExposeSecret as _;
    std::fs::write(&key_file, format!("{}\n", soft.to_string().expose_secret())).unwrap();
    ok(cli(
        &[
            "recipient",
            "add",
            &soft.to_public().to_string(),
            "--label",
            "carol-key",
            "--group",
            "officers",
        ],
        &repo,
    ));
    let r = Repository::open(&repo).unwrap();
    nkbackup::Sealer::new(&r, "db")
        .bytes("x", b"officers only".to_vec())
        .seal()
        .unwrap();
    let b_only = r.find("latest").unwrap();
    // The member card with the software member open it.
    let out = nkbackup()
        .args([
            "verify",
            "latest",
            "--deep",
            "--card",
            &a,
            "--card-timeout",
            "3",
            "-i",
        ])
        .arg(&key_file)
        .arg("--repo")
        .arg(&repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap();
    assert!(ok(out).status.success());
    // The software member alone: the group is incomplete.
    let mut keys = nkbackup::unlock::Keys::new();
    keys.add(Box::new(soft.clone()));
    let e = Opener::new(&b_only).keys(keys).verify_deep().unwrap_err();
    assert!(matches!(e, nkbackup::Error::GroupIncomplete { .. }), "{e}");
    assert!(
        e.to_string().contains("Still needed: 1 more of alice-nk3"),
        "{e}"
    );
    // With card b (a recipient on its own, not a member) alone in its
    // reader and the software member: b opens it alone, as it should.
    if cards_sh(&["pull", "0"]) {
        let id = CardIdentity::from_config(r.config(), None, pins(user_pin()))
            .unwrap()
            .timeout(Duration::from_secs(3));
        let ops = id.operations();
        let mut keys = nkbackup::unlock::Keys::new();
        keys.add(Box::new(soft.clone()));
        keys.set_card(id);
        let res = Opener::new(&b_only).keys(keys).verify_deep();
        cards_sh(&["insert", "0"]);
        res.unwrap();
        assert_eq!(ops.load(Ordering::SeqCst), 1);
    }
}

/// A card revoked through the CLI (the other card opens for the rewrap):
/// the revoked card fails on every backup, the other still opens, and the
/// recovery key still restores with stock tools (tests/interop.rs covers
/// the pipeline with a software key).
#[test]
pub fn revoke_a_card() {
    let _g = lock();
    let (a, Some(b)) = (env_card(0), second_card()) else {
        return;
    };
    ensure_key(&a);
    ensure_key(&b);
    let s = Setup::new(&[(&a, "nk-a"), (&b, "nk-b")]);
    let repo = s.repository();
    nkbackup::Sealer::new(&repo, "db")
        .bytes("two", b"2".to_vec())
        .seal()
        .unwrap();
    let old_config = repo.config().clone();
    let start = Instant::now();
    let out = nkbackup()
        .args([
            "recipient",
            "revoke",
            "nk-a",
            "--card",
            &b,
            "--card-timeout",
            "3",
            "--repo",
        ])
        .arg(&s.repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap();
    let took = start.elapsed();
    let out = ok(out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 rewrapped") && text.contains("revoked nk-a"),
        "{text}"
    );
    eprintln!(
        "TIMING revoke by rewrap of 2 small backups with one card: {:.0} ms ({:.0} ms per backup, whole process)",
        ms(took),
        ms(took) / 2.0
    );
    let repo = s.repository();
    for b_info in repo.list().unwrap().backups {
        assert_eq!(b_info.sidecar.recipients.len(), 1);
        assert_eq!(b_info.sidecar.recipients[0].label, "nk-b");
        // The revoked card, as the configuration knew it before: it
        // opens nothing.
        let gone = CardIdentity::from_config(&old_config, Some(&a), pins(user_pin()))
            .unwrap()
            .timeout(Duration::from_secs(3));
        let e = Opener::new(&b_info).card(gone).verify_deep().unwrap_err();
        assert_eq!(e.kind(), nkbackup::ErrorKind::Key, "{e}");
        let id = CardIdentity::from_config(repo.config(), Some(&b), pins(user_pin()))
            .unwrap()
            .timeout(Duration::from_secs(3));
        Opener::new(&b_info).card(id).verify_deep().unwrap();
    }
    let out = s.restore("ra", &a, &user_pin(), &[]);
    assert!(!out.status.success(), "the revoked card opens nothing");
}
