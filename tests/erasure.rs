//! Crypto-erasure (docs/RETENTION.md, "Crypto-erasure"): period keys, a
//! replica made by `nkbackup copy`, prune erasing an expired period's key
//! from every keyring location, `nkbackup erase`, an erasure killed
//! between its steps, and break glass with the stock binaries.

mod common;

mod retention_support;

use common::{assert_same_tree, have_tool, sample_tree};
use nkbackup::keyring::ErasureEvent;
use retention_support::*;
use secrecy::ExposeSecret as _;
use std::process::Command;

/// Thursday: 7-day periods start at 00:00 UTC on Thursdays (epoch aligned).
const P1: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);
/// The tests prune days after the deadlines they test (when a period key
/// is due), hence the
/// tolerance (late deletions as violations: tests/retention_promises.rs).
const CHAT: &str = "[classes.chat]\nmax_age = \"7d\"\nerasure_period = \"7d\"\ndeletion_tolerance = \"7d\"\npromise = \"Chat messages are gone from backups within 14 days.\"\n[classes.logs]\nmax_age = \"7d\"\ndeletion_tolerance = \"7d\"\n";

struct Scenario {
    f: Fixture,
    repo: Repository,
    rk: nkbackup::recovery::RecoveryKey,
    rk_file: std::path::PathBuf,
    /// Two backups in the first period, one in each of the next two.
    ids: Vec<String>,
}

fn scenario() -> Scenario {
    scenario_with(|_| String::new())
}

/// The scenario, with `extra(f)` appended to nkbackup.toml before sealing.
fn scenario_with(extra: impl FnOnce(&Fixture) -> String) -> Scenario {
    let mut f = Fixture::new();
    let rk = nkbackup::recovery::RecoveryKey::generate();
    f.repo
        .set_recovery(nkbackup::recovery::setup::config_for(&rk, None), false)
        .unwrap();
    f.with_classes(CHAT);
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = fs::read_to_string(&cfg).unwrap() + &extra(&f);
    fs::write(&cfg, text).unwrap();
    let repo = Repository::open(f.repo_path()).unwrap();
    let rk_file = f.path("recovery.txt");
    fs::write(
        &rk_file,
        format!("{}\n", rk.to_age_identity().to_string().expose_secret()),
    )
    .unwrap();
    let ids = [1, 2, 8, 15]
        .iter()
        .map(|d| crate::common::seal_at(&repo, "chat", P1 + Duration::days(*d)))
        .collect();
    Scenario {
        f,
        repo,
        rk,
        rk_file,
        ids,
    }
}

fn keys_of(id: &age::x25519::Identity) -> nkbackup::unlock::Keys<'static> {
    let mut k = nkbackup::unlock::Keys::new();
    k.add(Box::new(id.clone()));
    k
}

fn open_err(repo: &Repository, id: &str, keys: nkbackup::unlock::Keys<'_>) -> Error {
    let b = repo.find(id).unwrap();
    nkbackup::Opener::new(&b)
        .keys(keys)
        .verify_deep()
        .unwrap_err()
}

#[test]
fn period_backups_are_sealed_to_their_period_key_only() {
    let s = scenario();
    let items = s.repo.keyring().items(None).unwrap();
    let periods: Vec<&str> = items.iter().map(|i| i.item.period.as_str()).collect();
    assert_eq!(
        periods,
        [
            "20260101T000000Z-7d",
            "20260108T000000Z-7d",
            "20260115T000000Z-7d"
        ]
    );
    for i in &items {
        let labels: Vec<&str> = i.item.recipients.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["test-key", "recovery-key"]);
        assert!(
            s.f.repo_path()
                .join("keys/chat")
                .join(&i.item.period)
                .join(format!("{}.age", i.item.key_id))
                .exists()
        );
    }
    let b = s.repo.find(&s.ids[0]).unwrap();
    let r = b.sidecar.period_key.clone().unwrap();
    assert_eq!(r.period, "20260101T000000Z-7d");
    assert_eq!(b.sidecar.recipients.len(), 1);
    assert_eq!(b.sidecar.recipients[0].kind, "period");
    // The two backups of the first period share one key.
    let b2 = s.repo.find(&s.ids[1]).unwrap();
    assert_eq!(b2.sidecar.period_key, Some(r.clone()));
    // Stock age with the repository's key does not open the backup
    // itself: only the period key does.
    if have_tool("age") {
        let o = Command::new("age")
            .args(["-d", "-i"])
            .arg(&s.f.key_file)
            .arg(&b.data_path)
            .output()
            .unwrap();
        assert!(!o.status.success());
    }
    // nkbackup opens it through the key item, with either key; the same
    // Keys open the period's second backup from their memory of the key.
    let keys = keys_of(&s.f.key);
    let rep = nkbackup::Opener::new(&b).keys(keys).verify_deep().unwrap();
    assert_eq!(rep.entries_checked, 1);
    let mut rk = nkbackup::unlock::Keys::new();
    rk.add(Box::new(s.rk.to_age_identity()));
    nkbackup::Opener::new(&b2).keys(rk).verify_deep().unwrap();
    // A class without erasure_period is sealed as before.
    let plain = s
        .repo
        .find(&crate::common::seal_at(&s.repo, "logs", P1))
        .unwrap();
    assert!(plain.sidecar.period_key.is_none());
    assert_eq!(plain.sidecar.recipients.len(), 2);
    assert!(!s.f.repo_path().join("keys/logs").exists());
}

#[test]
fn a_key_item_opened_once_serves_the_whole_period() {
    let s = scenario();
    let keys = keys_of(&s.f.key);
    let b = s.repo.find(&s.ids[0]).unwrap();
    let r = b.sidecar.period_key.clone().unwrap();
    let place = format!("chat/{}/{}", r.period, r.key_id);
    assert!(keys.period_key(&place).is_none());
    s.repo
        .keyring()
        .open(&b.sidecar.id, "chat", &r, &keys)
        .unwrap()
        .unwrap();
    assert!(keys.period_key(&place).is_some());
    // With the key item gone, the remembered key still opens the period's
    // backups for these keys (and only for them).
    let item = s.f.repo_path().join(format!("keys/{place}.age"));
    let saved = fs::read(&item).unwrap();
    fs::remove_file(&item).unwrap();
    let b2 = s.repo.find(&s.ids[1]).unwrap();
    let k = s
        .repo
        .keyring()
        .open(&b2.sidecar.id, "chat", &r, &keys)
        .unwrap();
    assert!(k.is_some());
    let e = open_err(&s.repo, &s.ids[1], keys_of(&s.f.key));
    assert!(matches!(e, Error::DataMissing { .. }), "{e}");
    fs::write(&item, saved).unwrap();
}

#[test]
fn prune_erases_an_expired_period_everywhere_and_the_replica_says_so() {
    let s = scenario();
    let replica = s.f.path("replica");
    let o = cli(
        s.f.repo_path(),
        &["copy", "--to", replica.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("4 backup(s) copied"), "{out}");
    assert!(out.contains("replica created"), "{out}");
    assert!(!replica.join("keys").exists(), "key items are never copied");
    // Idempotent: a second copy copies nothing.
    let o = cli(
        s.f.repo_path(),
        &["copy", "--to", replica.to_str().unwrap()],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 backup(s) copied"));
    let rep = Repository::open(&replica).unwrap();
    assert_eq!(rep.list().unwrap().backups.len(), 4);
    assert_eq!(
        rep.keyring().locations()[0].location(),
        fs::canonicalize(s.f.repo_path()).unwrap().to_str().unwrap()
    );
    // The replica opens with the original's keyring.
    let out = s.f.path("r1");
    let b = rep.find(&s.ids[2]).unwrap();
    s.f.restore(&b, &out);

    // Period 1 ends on 8 January; its last possible deadline is 7 days
    // later. The dry run says it; the prune does it.
    let t = P1 + Duration::days(14) + Duration::hours(1);
    let dry = retention::prune(
        &s.repo,
        &PruneOptions {
            clock: at(t),
            dry_run: true,
            ..PruneOptions::new()
        },
    )
    .unwrap();
    assert_eq!(dry.erasures.len(), 1);
    assert_eq!(s.repo.keyring().items(None).unwrap().len(), 3);
    let p = prune_at(&s.repo, t);
    assert_eq!(p.deleted.len(), 2);
    assert_eq!(p.erasures.len(), 1, "{:?}", p.problems);
    let e = &p.erasures[0];
    assert_eq!(e.period, "20260101T000000Z-7d");
    assert_eq!(e.backups, s.ids[..2].to_vec());
    assert!(e.locations.iter().all(|l| l.absent && l.error.is_none()));
    assert!(
        !s.f.repo_path()
            .join("keys/chat/20260101T000000Z-7d")
            .exists()
    );
    assert_eq!(s.repo.keyring().items(None).unwrap().len(), 2);
    // The journal: intent and done, chained.
    let st = retention::erasure::journal(&s.repo).unwrap();
    assert!(st.damage.is_empty());
    let events: Vec<ErasureEvent> = st.records.iter().map(|r| r.event).collect();
    assert_eq!(events, [ErasureEvent::Intent, ErasureEvent::Done]);
    assert_eq!(st.records[1].intent, Some(1));

    // In the replica the period's backups are beyond use for every key;
    // after a copy brings the erasure journal, the error says why.
    let e = open_err(&rep, &s.ids[0], keys_of(&s.f.key));
    assert!(matches!(e, Error::CryptoErased { .. }), "{e}");
    let o = cli(
        s.f.repo_path(),
        &["copy", "--to", replica.to_str().unwrap()],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("erasure journal updated"));
    for k in [keys_of(&s.f.key), {
        let mut k = nkbackup::unlock::Keys::new();
        k.add(Box::new(s.rk.to_age_identity()));
        k
    }] {
        let e = open_err(&rep, &s.ids[1], k);
        assert!(matches!(e, Error::CryptoErased { .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::Key);
        assert!(e.to_string().contains("crypto-erased"), "{e}");
    }
    let o = cli(
        &replica,
        &[
            "verify",
            "--deep",
            &s.ids[0],
            "--identity",
            s.f.key_file.to_str().unwrap(),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("crypto-erased"),
        "{err}"
    );
    if have_tool("age") {
        for key in [&s.f.key_file, &s.rk_file] {
            let o = Command::new("age")
                .args(["-d", "-i"])
                .arg(key)
                .arg(rep.find(&s.ids[0]).unwrap().data_path)
                .output()
                .unwrap();
            assert!(!o.status.success(), "stock age opened an erased backup");
        }
    }
    // The later periods still restore from the replica.
    let out = s.f.path("r2");
    let b = rep.find(&s.ids[3]).unwrap();
    assert_eq!(s.f.restore(&b, &out).entries, 1);

    // Proof: retention verify finds the key absent in every location and
    // shows the erasure in the compliance report.
    let v = verify_at(&s.repo, t);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.erasures.in_period.len(), 1);
    assert!(v.erasures.in_period[0].locations[0].absent);
    let md = nkbackup::render::report::markdown(&v, "timeline.svg");
    assert!(md.contains("## Crypto-erased"), "{md}");
    assert!(md.contains("20260101T000000Z-7d"), "{md}");
    // A key item put back is found.
    let again = s.f.repo_path().join(format!(
        "keys/chat/20260101T000000Z-7d/{}.json",
        st.records[0].key_ids[0]
    ));
    fs::create_dir_all(again.parent().unwrap()).unwrap();
    fs::write(&again, b"{}").unwrap();
    let v = verify_at(&s.repo, t);
    assert!(
        kinds(&v).contains(&ProblemKind::KeyNotErased),
        "{:?}",
        v.violations
    );
}

#[test]
fn a_killed_erasure_is_completed_by_the_next_prune() {
    let s = scenario();
    let t = "2026-01-15T01:00:00Z";
    let o = cli(
        s.f.repo_path(),
        &["prune", "--ahead", "0", "--at", t],
        &[("NKBACKUP_TEST_CRASH_ERASE", "after-location")],
    );
    assert!(!o.status.success(), "the crash hook did not fire");
    let st = retention::erasure::journal(&s.repo).unwrap();
    assert_eq!(st.records.len(), 1);
    assert_eq!(st.records[0].event, ErasureEvent::Intent);
    let v = verify_at(&s.repo, datetime!(2026-01-15 01:00:00 UTC));
    assert!(
        kinds(&v).contains(&ProblemKind::ErasurePending),
        "{:?}",
        v.violations
    );
    // The period's backups were deleted before; its key is gone too
    // (deleted before the crash), and the next prune journals the rest.
    let o = cli(s.f.repo_path(), &["prune", "--ahead", "0", "--at", t], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st = retention::erasure::journal(&s.repo).unwrap();
    let events: Vec<ErasureEvent> = st.records.iter().map(|r| r.event).collect();
    assert_eq!(events, [ErasureEvent::Intent, ErasureEvent::Done]);
    let v = verify_at(&s.repo, datetime!(2026-01-15 01:00:00 UTC));
    assert!(v.passed(), "{:?}", v.violations);

    // Killed right after the intent: nothing deleted yet, completed too.
    let o = cli(
        s.f.repo_path(),
        &[
            "erase",
            "--class",
            "chat",
            "--period",
            "20260108T000000Z-7d",
            "--yes",
        ],
        &[("NKBACKUP_TEST_CRASH_ERASE", "after-intent")],
    );
    assert!(!o.status.success());
    assert_eq!(s.repo.keyring().items(None).unwrap().len(), 2);
    let o = cli(s.f.repo_path(), &["prune", "--ahead", "0", "--at", t], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(s.repo.keyring().items(None).unwrap().len(), 1);
    let e = open_err(&s.repo, &s.ids[2], keys_of(&s.f.key));
    assert!(matches!(e, Error::CryptoErased { .. }), "{e}");
}

#[test]
fn erase_says_what_becomes_unreadable_and_asks_first() {
    let s = scenario();
    // Without a terminal and without --yes nothing is erased.
    let o = cli(
        s.f.repo_path(),
        &[
            "erase",
            "--class",
            "chat",
            "--period",
            "20260115T000000Z-7d",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains(&s.ids[3]), "{err}");
    assert!(err.contains("add --yes"), "{err}");
    assert_eq!(s.repo.keyring().items(None).unwrap().len(), 3);
    // A period needs its class; an unknown period matches nothing.
    let o = cli(
        s.f.repo_path(),
        &["erase", "--period", "20260115T000000Z-7d", "--yes"],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--class"));
    let o = cli(
        s.f.repo_path(),
        &[
            "erase",
            "--class",
            "chat",
            "--period",
            "20270114T000000Z-7d",
            "--yes",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no period key matches"));
    // --before erases every period that started before the time.
    let o = cli(
        s.f.repo_path(),
        &["erase", "--before", "2026-01-09", "--yes", "--json"],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let erased: Vec<&str> = v["erased"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["period"].as_str().unwrap())
        .collect();
    assert_eq!(erased, ["20260101T000000Z-7d", "20260108T000000Z-7d"]);
    assert_eq!(v["erased"][0]["reason"], "requested");
    for id in &s.ids[..3] {
        let e = open_err(&s.repo, id, keys_of(&s.f.key));
        assert!(matches!(e, Error::CryptoErased { .. }), "{e}");
        assert!(e.to_string().contains("erased on request"), "{e}");
    }
    let out = s.f.path("r");
    s.f.restore(&s.repo.find(&s.ids[3]).unwrap(), &out);
    // Sealing into an erased period makes a new key for it.
    let id = crate::common::seal_at(&s.repo, "chat", P1 + Duration::days(3));
    let b = s.repo.find(&id).unwrap();
    let out = s.f.path("r3");
    s.f.restore(&b, &out);
}

#[test]
fn a_revoked_key_loses_the_period_keys_through_a_rewrap_of_the_key_items_only() {
    let mut s = scenario();
    let before: Vec<String> = s
        .ids
        .iter()
        .map(|id| s.repo.find(id).unwrap().sidecar.ciphertext_sha256)
        .collect();
    s.f.repo.remove_recipient("test-key").unwrap();
    let repo = Repository::open(s.f.repo_path()).unwrap();
    let mut rk = nkbackup::unlock::Keys::new();
    rk.add(Box::new(s.rk.to_age_identity()));
    let report = nkbackup::rewrap::Rewrap::new(&repo, &rk).run().unwrap();
    assert_eq!(report.rewrapped, 3, "{:?}", report.items);
    assert!(report.items.iter().all(|i| i.item == "period-key"));
    let after: Vec<String> = s
        .ids
        .iter()
        .map(|id| repo.find(id).unwrap().sidecar.ciphertext_sha256)
        .collect();
    assert_eq!(before, after, "period backups are not rewritten");
    let e = open_err(&repo, &s.ids[0], keys_of(&s.f.key));
    assert!(matches!(e, Error::NoMatchingIdentity { .. }), "{e}");
    let mut rk = nkbackup::unlock::Keys::new();
    rk.add(Box::new(s.rk.to_age_identity()));
    let b = repo.find(&s.ids[0]).unwrap();
    nkbackup::Opener::new(&b).keys(rk).verify_deep().unwrap();
}

#[test]
fn break_glass_opens_a_period_backup_with_stock_age_zstd_tar() {
    if !(have_tool("age") && have_tool("zstd") && have_tool("tar")) {
        return;
    }
    let s = scenario();
    let src = s.f.path("data");
    sample_tree(&src);
    let sealed = nkbackup::Sealer::new(&s.repo, "chat")
        .path(&src)
        .created_at(P1 + Duration::days(3))
        .seal()
        .unwrap();
    let r = sealed.sidecar.period_key.unwrap();
    let item =
        s.f.repo_path()
            .join(format!("keys/chat/{}/{}.age", r.period, r.key_id));
    let out = s.f.path("stock");
    fs::create_dir(&out).unwrap();
    let script = format!(
        "set -eo pipefail; age -d -i '{rk}' '{item}' > '{pk}'; age -d -i '{pk}' '{data}' | zstd -d | tar -x -C '{out}'",
        rk = s.rk_file.display(),
        item = item.display(),
        pk = s.f.path("period-key.txt").display(),
        data = sealed.data_path.display(),
        out = out.display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(assert_same_tree(&src, &out.join("data")) > 10);
}

#[test]
fn a_keyring_apart_from_the_data_with_a_mirror_is_written_and_erased_alike() {
    let s = scenario_with(|f| {
        let (a, b) = (f.path("keyring-a"), f.path("keyring-b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        format!(
            "\n[keyring]\nlocation = \"{}\"\nmirrors = [\"{}\"]\n",
            a.display(),
            b.display()
        )
    });
    let (a, b) = (s.f.path("keyring-a"), s.f.path("keyring-b"));
    assert!(!s.f.repo_path().join("keys").exists());
    let r = s.repo.find(&s.ids[2]).unwrap().sidecar.period_key.unwrap();
    let rel = format!("keys/chat/{}/{}.age", r.period, r.key_id);
    assert!(a.join(&rel).exists() && b.join(&rel).exists());
    assert_eq!(s.repo.keyring().items(None).unwrap().len(), 6);
    // The primary lost the item: the mirror still opens the backup.
    fs::remove_file(a.join(&rel)).unwrap();
    fs::remove_file(a.join(rel.replace(".age", ".json"))).unwrap();
    let out = s.f.path("r");
    s.f.restore(&s.repo.find(&s.ids[2]).unwrap(), &out);
    // Prune erases period 1 from both locations and proves it for both.
    let t = P1 + Duration::days(14) + Duration::hours(1);
    let p = prune_at(&s.repo, t);
    assert_eq!(p.erasures.len(), 1, "{:?}", p.problems);
    let locs: Vec<&str> = p.erasures[0]
        .locations
        .iter()
        .map(|l| l.location.as_str())
        .collect();
    assert_eq!(locs, [a.to_str().unwrap(), b.to_str().unwrap()]);
    for d in [&a, &b] {
        assert!(!d.join("keys/chat/20260101T000000Z-7d").exists());
    }
    let v = verify_at(&s.repo, t);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.erasures.locations.len(), 2);
    // With every location gone and no erasure journaled, the error says
    // what is missing and where it looked.
    fs::remove_dir_all(b.join("keys")).unwrap();
    let e = open_err(&s.repo, &s.ids[2], keys_of(&s.f.key));
    assert!(matches!(e, Error::PeriodKeyMissing { .. }), "{e}");
    assert!(e.to_string().contains(a.to_str().unwrap()), "{e}");
}
