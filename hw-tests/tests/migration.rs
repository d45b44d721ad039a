//! Moving over from rage + age-plugin-openpgp-card (issue 24, part 3). The
//! plugin's `age1…` recipient is the card's own X25519 key: backups sealed
//! to it as a plain `age` recipient hold an ordinary X25519 stanza the card
//! unwraps. `card enroll` offers to take that recipient over (`--adopt`),
//! and the old backups then open with `--card`, one card operation each.

use crate::support::*;

/// Card 0 with a Curve25519 decryption key; its `age1…` recipient.
fn card_with_x25519() -> Option<(std::sync::MutexGuard<'static, ()>, String, String)> {
    let g = lock();
    let ident = env_card(0);
    let key = |ident: &str| {
        card::list()
            .unwrap()
            .into_iter()
            .find(|c| c.ident == ident)
            .and_then(|c| c.key)
    };
    if key(&ident).is_none_or(|k| k.algorithm != "cv25519") {
        if !destructive(&ident) {
            return None;
        }
        generate(&ident, KeyAlgorithm::Cv25519);
    }
    let entry = card::enroll(Some(&ident), "x").expect("the card's public key");
    assert_eq!(entry.kind.as_str(), "card-x25519");
    Some((g, ident, entry.key))
}

#[test]
pub fn a_plugin_recipient_is_adopted_and_its_backups_open_with_the_card() {
    let Some((_g, ident, age1)) = card_with_x25519() else {
        return;
    };
    assert!(age1.starts_with("age1"), "{age1}");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let src = dir.path().join("data");
    sample_tree(&src);
    let run = |args: &[&str]| {
        nkbackup()
            .args(args)
            .arg("--repo")
            .arg(&repo)
            .env("NKBACKUP_PIN", user_pin())
            .output()
            .unwrap()
    };
    ok(run(&["init"]));
    // What an admin of rage + the plugin has: the card as a plain recipient.
    ok(run(&["recipient", "add", "--label", "plugin-nk", &age1]));
    let seal = || {
        let out = ok(nkbackup()
            .args(["seal", "--json", "--class", "db", "--repo"])
            .arg(&repo)
            .arg(&src)
            .output()
            .unwrap());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["sidecar"]["id"].as_str().unwrap().to_owned()
    };
    let old = seal();
    let restore = |id: &str, to: &str| {
        nkbackup()
            .args(["restore", "--repo"])
            .arg(&repo)
            .args([id, "--to"])
            .arg(dir.path().join(to))
            .args(["--card", &ident, "--card-timeout", "3"])
            .env("NKBACKUP_PIN", user_pin())
            .output()
            .unwrap()
    };
    // Not enrolled yet: --card has nothing to use, and says how to adopt.
    let out = restore(&old, "r0");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("--adopt"), "{}", stderr(&out));

    // Enrolling it anew is refused with advice that works.
    let out = run(&["card", "enroll", "--ident", &ident, "--label", "nk-a"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("card enroll --adopt plugin-nk"),
        "{}",
        stderr(&out)
    );
    // Adopting another label, or one that does not exist, is refused.
    let out = run(&["card", "enroll", "--ident", &ident, "--adopt", "nosuch"]);
    assert!(
        stderr(&out).contains("cannot adopt recipient \"nosuch\""),
        "{}",
        stderr(&out)
    );

    let out = ok(run(&[
        "card",
        "enroll",
        "--ident",
        &ident,
        "--adopt",
        "plugin-nk",
    ]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("took over age recipient \"plugin-nk\""),
        "{out:?}"
    );
    let cfg = std::fs::read_to_string(repo.join("nkbackup.toml")).unwrap();
    assert_eq!(cfg.matches(&age1).count(), 1, "{cfg}");
    assert!(cfg.contains("type = \"card-x25519\""), "{cfg}");
    assert!(cfg.contains(&format!("ident = \"{ident}\"")), "{cfg}");
    assert!(!cfg.contains("type = \"age\""), "{cfg}");

    // The old backup (sidecar: type age) opens with the card, once.
    let out = ok(restore(&old, "r1"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every entry verified"));
    assert_same_tree(&src, &dir.path().join("r1").join("data"));
    let r = Repository::open(&repo).unwrap();
    let b = r.find(&old).unwrap();
    assert_eq!(b.sidecar.recipients[0].kind, "age");
    let id = CardIdentity::from_config(r.config(), Some(&ident), pins(user_pin()))
        .unwrap()
        .timeout(Duration::from_secs(3));
    let ops = id.operations();
    Opener::new(&b).card(id).verify_deep().unwrap();
    assert_eq!(ops.load(Ordering::SeqCst), 1);

    // And so does a backup sealed after the adoption.
    let new = seal();
    ok(restore(&new, "r2"));
    assert_same_tree(&src, &dir.path().join("r2").join("data"));
}
