//! Crypto-erasure with the card: a period key opened once serves the
//! whole period (one card operation per period, not per backup), and
//! after prune erased a period, its copies in a replica open with no card
//! while the later periods restore from the replica with the card.

use crate::support::*;
use time::macros::datetime;

#[test]
pub fn a_period_asks_the_card_once_and_an_erased_period_opens_nowhere() {
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "nk-a")]);
    let cfg = s.repo.join("nkbackup.toml");
    let text = std::fs::read_to_string(&cfg).unwrap()
        + "\n[classes.chat]\nmax_age = \"7d\"\nerasure_period = \"7d\"\n";
    std::fs::write(&cfg, text).unwrap();
    let repo = s.repository();
    // Two backups in the period starting 2026-01-01, one in the next.
    let p1 = datetime!(2026-01-01 00:00:00 UTC);
    let ids: Vec<String> = [1, 2, 8]
        .iter()
        .map(|d| common::seal_at(&repo, "chat", p1 + time::Duration::days(*d)))
        .collect();

    let id = CardIdentity::from_config(repo.config(), Some(&ident), pins(user_pin()))
        .unwrap()
        .timeout(Duration::from_secs(3));
    let ops = id.operations();
    let mut keys = nkbackup::unlock::Keys::new();
    keys.set_card(id);
    let count = |n: usize| {
        let b = repo.find(&ids[n]).unwrap();
        Opener::new(&b).shared_keys(&keys).verify_deep().unwrap();
        ops.load(Ordering::SeqCst)
    };
    assert_eq!(count(0), 1, "the first backup opens its period key");
    assert_eq!(count(1), 1, "the period's second backup asks no card");
    assert_eq!(count(2), 2, "the next period's key is one more operation");
    assert_eq!(keys.opened_with(), ["nk-a"]);
    // A drill of the class opens the period key with the card and is
    // credited to it.
    let out = ok(nkbackup()
        .args(["drill", "--repo"])
        .arg(&s.repo)
        .args([
            "--backup",
            &ids[1],
            "--card",
            &ident,
            "--card-timeout",
            "3",
            "--json",
        ])
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "passed", "{v}");
    assert_eq!(v["token"]["label"], "nk-a", "{v}");
    assert_eq!(v["class"], "chat", "{v}");

    let replica = s.dir.path().join("replica");
    ok(nkbackup()
        .args(["copy", "--repo"])
        .arg(&s.repo)
        .arg("--to")
        .arg(&replica)
        .output()
        .unwrap());
    let t = p1 + time::Duration::days(14) + time::Duration::hours(1);
    let p = nkbackup::retention::prune(
        &repo,
        &nkbackup::retention::PruneOptions {
            clock: nkbackup::retention::Clock::Fixed(t),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(p.erasures.len(), 1, "{:?}", p.problems);
    ok(nkbackup()
        .args(["copy", "--repo"])
        .arg(&s.repo)
        .arg("--to")
        .arg(&replica)
        .output()
        .unwrap());
    let restore = |id: &str, to: &str| {
        nkbackup()
            .args(["restore", "--repo"])
            .arg(&replica)
            .args([id, "--to"])
            .arg(s.dir.path().join(to))
            .args(["--card", &ident, "--card-timeout", "3"])
            .env("NKBACKUP_PIN", user_pin())
            .output()
            .unwrap()
    };
    for (n, to) in [(0, "r0"), (1, "r1")] {
        let out = restore(&ids[n], to);
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert!(stderr(&out).contains("crypto-erased"), "{}", stderr(&out));
        assert!(!s.dir.path().join(to).exists());
    }
    ok(restore(&ids[2], "r2"));
    let got = std::fs::read(s.dir.path().join("r2/data.txt")).unwrap();
    assert!(String::from_utf8_lossy(&got).starts_with("chat at 2026-01-09"));
}
