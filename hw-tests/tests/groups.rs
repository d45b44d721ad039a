//! k-of-n token groups and revocation on the virtual cards over pcscd.

use crate::keys::{import_cv25519, rand_bytes};
use crate::support::*;
use std::path::{Path, PathBuf};

fn cli(args: &[&str], repo: &Path) -> Output {
    nkbackup()
        .args(args)
        .arg("--repo")
        .arg(repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap()
}

/// A member of the test group: a card (its ident) or a software key.
enum Member<'m> {
    Card(&'m str),
    Software(&'m age::x25519::Identity),
}

/// A new repository with group `officers` of `threshold` whose members
/// are `members` (labelled as given), and one backup of the sample tree.
struct GroupRepo {
    dir: tempfile::TempDir,
    repo: PathBuf,
}

impl GroupRepo {
    fn new(threshold: u8, members: &[(Member<'_>, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        ok(cli(&["init"], &repo));
        let t = threshold.to_string();
        ok(cli(&["group", "add", "officers", "--threshold", &t], &repo));
        for (m, label) in members {
            let args: Vec<String> = match m {
                Member::Card(ident) => ["card", "enroll", "--ident", ident, "--label", label]
                    .map(String::from)
                    .to_vec(),
                Member::Software(k) => {
                    vec![
                        "recipient".into(),
                        "add".into(),
                        k.to_public().to_string(),
                        "--label".into(),
                        label.to_string(),
                    ]
                }
            };
            let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
            args.extend(["--group", "officers"]);
            ok(cli(&args, &repo));
        }
        let src = dir.path().join("data");
        sample_tree(&src);
        ok(nkbackup()
            .args(["seal", "--class", "db", "--repo"])
            .arg(&repo)
            .arg(&src)
            .output()
            .unwrap());
        GroupRepo { dir, repo }
    }

    fn repository(&self) -> Repository {
        Repository::open(&self.repo).unwrap()
    }

    /// `verify latest --deep` through the CLI with `--card` and `extra`.
    fn verify(&self, extra: &[&str]) -> Output {
        nkbackup()
            .args([
                "verify",
                "latest",
                "--deep",
                "--card",
                "--card-timeout",
                "3",
                "--repo",
            ])
            .arg(&self.repo)
            .args(extra)
            .env("NKBACKUP_PIN", user_pin())
            .output()
            .unwrap()
    }

    fn key_file(&self, k: &age::x25519::Identity) -> PathBuf {
        use secrecy::ExposeSecret as _;
        let p = self
            .dir
            .path()
            .join(format!("{}.key", &k.to_public().to_string()[4..12]));
        std::fs::write(&p, format!("{}\n", k.to_string().expose_secret())).unwrap();
        p
    }
}

/// Both cards, each with a decryption key; `None` (skipped, said why)
/// without a second token.
fn two_cards() -> Option<(String, String)> {
    let (a, Some(b)) = (env_card(0), second_card()) else {
        return None;
    };
    ensure_key(&a);
    ensure_key(&b);
    Some((a, b))
}

/// 2-of-2 with both cards in their readers: one card operation each, the
/// restore matches the source; with one card pulled, the open fails
/// naming the member still needed, after telling the group's progress
/// and that the token in the reader is not one still needed.
#[test]
pub fn two_of_two_cards() {
    let _g = lock();
    let Some((a, b)) = two_cards() else { return };
    let g = GroupRepo::new(
        2,
        &[
            (Member::Card(&a), "alice-nk3"),
            (Member::Card(&b), "bob-nk3"),
        ],
    );
    let r = g.repository();
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
    let mut used = opener.opened_with();
    used.sort();
    assert_eq!(used, ["alice-nk3", "bob-nk3"]);

    let out = nkbackup()
        .args(["restore", "latest", "--to"])
        .arg(g.dir.path().join("r"))
        .args(["--card", "--card-timeout", "3", "--repo"])
        .arg(&g.repo)
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap();
    ok(out);
    assert_same_tree(
        &g.dir.path().join("data"),
        &g.dir.path().join("r").join("data"),
    );

    if !cards_sh(&["pull", "1"]) {
        common::skip("cannot pull a physical token");
        return;
    }
    let out = g.verify(&[]);
    cards_sh(&["insert", "1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("group officers: 1 of 2 done (alice-nk3); insert the next token")
            && err.contains("alice-nk3 (")
            && err.contains("is not a member of group officers still needed here")
            && err.contains("group officers needs 2 of its tokens")
            && err.contains("Still needed: 1 more of bob-nk3"),
        "{err}"
    );
}

/// 2-of-3 with two cards and one software member: any two open it (both
/// cards; a card and the software key), one card operation per card used.
/// A card that is not a member is told so before any PIN is asked, and
/// is not used.
#[test]
pub fn two_of_three_with_a_software_member() {
    let _g = lock();
    let Some((a, b)) = two_cards() else { return };
    let carol = age::x25519::Identity::generate();
    let g = GroupRepo::new(
        2,
        &[
            (Member::Card(&a), "alice-nk3"),
            (Member::Card(&b), "bob-nk3"),
            (Member::Software(&carol), "carol-key"),
        ],
    );
    let r = g.repository();
    let backup = r.find("latest").unwrap();
    let open = |with_carol: bool| {
        let id = CardIdentity::from_config(r.config(), None, pins(user_pin()))
            .unwrap()
            .timeout(Duration::from_secs(3));
        let ops = id.operations();
        let mut keys = nkbackup::unlock::Keys::new();
        if with_carol {
            keys.add(Box::new(carol.clone()));
        }
        keys.set_card(id);
        let o = Opener::new(&backup).keys(keys);
        let res = o.verify_deep().map(|_| {
            let mut u = o.opened_with();
            u.sort();
            u
        });
        (res, ops.load(Ordering::SeqCst))
    };
    let (used, ops) = open(false);
    assert_eq!(
        (used.unwrap(), ops),
        (vec!["alice-nk3".to_owned(), "bob-nk3".to_owned()], 2)
    );
    let (used, ops) = open(true);
    assert_eq!(ops, 1, "the software share first, then one card");
    assert_eq!(used.unwrap().len(), 2);
    // The software member alone: the group is incomplete.
    let mut keys = nkbackup::unlock::Keys::new();
    keys.add(Box::new(carol.clone()));
    let e = Opener::new(&backup).keys(keys).verify_deep().unwrap_err();
    assert!(matches!(e, nkbackup::Error::GroupIncomplete { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("Still needed: 1 more of alice-nk3, bob-nk3"),
        "{e}"
    );

    // A token that is no member: group alice + carol only; bob's card in
    // its reader is told to be no member, no PIN is presented to it.
    let g2 = GroupRepo::new(
        2,
        &[
            (Member::Software(&carol), "carol-key"),
            (Member::Card(&a), "alice-nk3"),
        ],
    );
    if !cards_sh(&["pull", "0"]) {
        common::skip("cannot pull a physical token");
        return;
    }
    let tries = retries(&b);
    let carol_file = g2.key_file(&carol);
    let out = g2.verify(&["-i", carol_file.to_str().unwrap()]);
    cards_sh(&["insert", "0"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("token {b} in "))
            && err.contains("is not a member of group officers still needed here")
            && err.contains("Still needed: 1 more of alice-nk3"),
        "{err}"
    );
    assert_eq!(retries(&b), tries, "no PIN was presented to the non-member");
    ok(g2.verify(&["-i", carol_file.to_str().unwrap()]));
}

/// A card revoked through the CLI (the other card opens for the rewrap):
/// the revoked card and its software copy open no backup any more, the
/// other card still opens every one.
#[test]
pub fn revoke_a_card() {
    let _g = lock();
    let Some((a, b)) = two_cards() else { return };
    if !destructive(&a) {
        return;
    }
    // Card a gets a known key, so that its software copy can be tried.
    let secret: [u8; 32] = rand_bytes();
    let public = x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES);
    import_cv25519(&a, &secret, &public);
    let copy = {
        use bech32::ToBase32 as _;
        bech32::encode(
            "age-secret-key-",
            secret.to_base32(),
            bech32::Variant::Bech32,
        )
        .unwrap()
        .to_ascii_uppercase()
    };
    let s = Setup::new(&[(&a, "nk-a"), (&b, "nk-b")]);
    let copy_file = s.dir.path().join("copy.key");
    std::fs::write(&copy_file, format!("{copy}\n")).unwrap();
    let repo = s.repository();
    nkbackup::Sealer::new(&repo, "db")
        .bytes("two", b"2".to_vec())
        .seal()
        .unwrap();
    for info in repo.list().unwrap().backups {
        Opener::new(&info)
            .identity_file(&copy_file)
            .unwrap()
            .verify_deep()
            .unwrap();
    }
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
    let j = nkbackup::rewrap::journal(&repo).unwrap();
    assert_eq!(j.records.len(), 2);
    assert_eq!(j.records[0].opened_with, ["nk-b"]);
    for info in repo.list().unwrap().backups {
        assert_eq!(info.sidecar.recipients.len(), 1);
        assert_eq!(info.sidecar.recipients[0].label, "nk-b");
        // The revoked card, as the configuration knew it before, and its
        // software copy open nothing.
        let gone = CardIdentity::from_config(&old_config, Some(&a), pins(user_pin()))
            .unwrap()
            .timeout(Duration::from_secs(3));
        let e = Opener::new(&info).card(gone).verify_deep().unwrap_err();
        assert_eq!(e.kind(), nkbackup::ErrorKind::Key, "{e}");
        let e = Opener::new(&info)
            .identity_file(&copy_file)
            .unwrap()
            .verify_deep()
            .unwrap_err();
        assert_eq!(e.kind(), nkbackup::ErrorKind::Key, "{e}");
        let id = CardIdentity::from_config(repo.config(), Some(&b), pins(user_pin()))
            .unwrap()
            .timeout(Duration::from_secs(3));
        Opener::new(&info).card(id).verify_deep().unwrap();
    }
}
