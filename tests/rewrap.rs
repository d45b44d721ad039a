//! Rewrap, revoke and k-of-n groups with software keys and the recovery
//! key: new headers for the current recipients, the payload bytes kept,
//! every step journaled, a killed rewrap finished by the next run, and
//! groups that open with their threshold and not below it.

mod common;

use common::{Fixture, nkbackup, sample_tree};
use nkbackup::config::{GroupConfig, RecipientConfig};
use nkbackup::rewrap::Rewrap;
use nkbackup::unlock::Keys;
use nkbackup::{Error, Opener, Repository, Sealer};
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};

fn key_file(dir: &Path, name: &str) -> (age::x25519::Identity, PathBuf) {
    let k = age::x25519::Identity::generate();
    let p = dir.join(format!("{name}.key"));
    std::fs::write(&p, format!("{}\n", k.to_string().expose_secret())).unwrap();
    (k, p)
}

fn add(repo: &mut Repository, label: &str, k: &age::x25519::Identity, group: Option<&str>) {
    repo.add_recipient(RecipientConfig {
        label: label.into(),
        kind: "age".into(),
        key: k.to_public().to_string(),
        group: group.map(Into::into),
        ..Default::default()
    })
    .unwrap();
}

fn keys(ids: &[&age::x25519::Identity]) -> Keys<'static> {
    let mut k = Keys::new();
    for i in ids {
        k.add(Box::new((*i).clone()));
    }
    k
}

fn opens(repo: &Repository, id: &str, ids: &[&age::x25519::Identity]) -> nkbackup::Result<()> {
    let b = repo.find(id)?;
    Opener::new(&b).keys(keys(ids)).verify_deep().map(|_| ())
}

fn recipient_count(f: &Fixture) -> usize {
    Repository::open(f.repo_path())
        .unwrap()
        .config()
        .recipients
        .len()
}

fn payload(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let mut r = &bytes[..];
    nkbackup::format::age_header::read_prefix(&mut r).unwrap();
    r.to_vec()
}

fn seal_three(f: &Fixture) -> Vec<String> {
    let src = f.path("data");
    sample_tree(&src);
    (0..3)
        .map(|i| {
            Sealer::new(&f.repo, "db")
                .path(&src)
                .bytes("n", vec![i; 100])
                .seal()
                .unwrap()
                .sidecar
                .id
        })
        .collect()
}

#[test]
fn a_new_recipient_gets_old_backups_and_the_payload_is_kept() {
    let mut f = Fixture::new();
    let ids = seal_three(&f);
    let (b, _) = key_file(f.dir.path(), "b");
    add(&mut f.repo, "offsite-b", &b, None);
    let before: Vec<Vec<u8>> = ids
        .iter()
        .map(|i| payload(&f.repo.find(i).unwrap().data_path))
        .collect();
    assert!(matches!(
        opens(&f.repo, &ids[0], &[&b]),
        Err(Error::NoMatchingIdentity { .. })
    ));
    let k = keys(&[&f.key]);
    let dry = Rewrap::new(&f.repo, &Keys::new())
        .dry_run(true)
        .run()
        .unwrap();
    assert_eq!(dry.rewrapped, 3, "a dry run needs no key");
    let report = Rewrap::new(&f.repo, &k).run().unwrap();
    assert_eq!(report.rewrapped, 3);
    for (i, id) in ids.iter().enumerate() {
        opens(&f.repo, id, &[&b]).unwrap();
        opens(&f.repo, id, &[&f.key]).unwrap();
        let info = f.repo.find(id).unwrap();
        assert_eq!(
            payload(&info.data_path),
            before[i],
            "payload bytes unchanged"
        );
        assert!(info.sidecar.rewrap_pending.is_none());
        assert_eq!(info.sidecar.recipients.len(), 2);
        f.repo.verify_shallow(&info).unwrap();
    }
    let j = nkbackup::rewrap::journal(&f.repo).unwrap();
    assert!(j.damage.is_empty(), "{:?}", j.damage);
    assert_eq!(j.records.len(), 3);
    assert_eq!(j.records[0].new_recipients.len(), 2);
    assert_ne!(
        j.records[0].old_ciphertext_sha256,
        j.records[0].new_ciphertext_sha256
    );
    // The compliance report shows each rewrap; a rewritten journal fails it.
    // (The classes get the deadlines `init` leaves commented, else they are
    // violations of their own.)
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("#max_age", "max_age")).unwrap();
    f.repo = nkbackup::Repository::open(f.repo_path()).unwrap();
    let audit = nkbackup::retention::audit(&f.repo, &Default::default()).unwrap();
    assert_eq!(audit.rewraps.in_period.len(), 3);
    assert!(
        audit.rewraps.intact && audit.passed(),
        "{:?}",
        audit.violations
    );
    let md = nkbackup::render::report::markdown(&audit, "t.svg");
    assert!(
        md.contains("## Rewraps") && md.contains("offsite-b (age)") && md.contains(&ids[0]),
        "{md}"
    );
    let html = nkbackup::render::report::html(&audit);
    assert!(html.contains("<h2>Rewraps</h2>") && html.contains(&ids[1]));
    let jpath = f.repo_path().join("journal/rewraps.jsonl");
    let text = std::fs::read_to_string(&jpath).unwrap();
    std::fs::write(&jpath, text.replacen("offsite-b", "offsite-x", 1)).unwrap();
    let audit = nkbackup::retention::audit(&f.repo, &Default::default()).unwrap();
    assert!(!audit.rewraps.intact && !audit.passed());
    assert!(
        audit
            .violations
            .iter()
            .any(|v| v.subject.starts_with("rewrap journal line")),
        "{:?}",
        audit.violations
    );
    std::fs::write(&jpath, text).unwrap();
    // Idempotent: nothing left to do, nothing journaled again.
    let again = Rewrap::new(&f.repo, &k).run().unwrap();
    assert_eq!((again.rewrapped, again.up_to_date), (0, 3));
    assert_eq!(nkbackup::rewrap::journal(&f.repo).unwrap().records.len(), 3);
}

#[test]
fn revoke_through_the_cli_makes_the_key_open_nothing() {
    let mut f = Fixture::new();
    let (b, b_file) = key_file(f.dir.path(), "b");
    add(&mut f.repo, "offsite-b", &b, None);
    let ids = seal_three(&f);
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), b"signing key").unwrap();
    let st = nkbackup()
        .args(["escrow", "seal", "--name", "sk", "--repo"])
        .arg(f.repo_path())
        .stdin(std::fs::File::open(secret.path()).unwrap())
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");
    // The lost token is test-key; offsite-b opens the backups for the rewrap.
    let out = nkbackup()
        .args(["recipient", "revoke", "test-key", "--repo"])
        .arg(f.repo_path())
        .arg("-i")
        .arg(&b_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("revoked test-key") && text.contains("4 rewrapped"),
        "{text}"
    );
    let repo = Repository::open(f.repo_path()).unwrap();
    for id in &ids {
        assert!(
            matches!(
                opens(&repo, id, &[&f.key]),
                Err(Error::NoMatchingIdentity { .. })
            ),
            "the revoked key opens nothing"
        );
        opens(&repo, id, &[&b]).unwrap();
    }
    let item = nkbackup::escrow::find(&repo, "sk", None).unwrap();
    assert!(nkbackup::escrow::open(&item, &keys(&[&f.key])).is_err());
    let got = nkbackup::escrow::open(&item, &keys(&[&b])).unwrap();
    assert_eq!(got.expose_secret(), b"signing key");
    // Without a key the revocation refuses before changing anything.
    let out = nkbackup()
        .args(["recipient", "revoke", "offsite-b", "--repo"])
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("give a key"));
    assert_eq!(recipient_count(&f), 1);
}

#[test]
fn a_replaced_recovery_key_opens_nothing_after_a_rewrap() {
    let mut f = Fixture::new();
    let old = nkbackup::recovery::RecoveryKey::generate();
    f.repo
        .set_recovery(nkbackup::recovery::setup::config_for(&old, None), false)
        .unwrap();
    let ids = seal_three(&f);
    let new = nkbackup::recovery::RecoveryKey::generate();
    f.repo
        .set_recovery(nkbackup::recovery::setup::config_for(&new, None), true)
        .unwrap();
    let mut k = Keys::new();
    k.add(Box::new(old.to_age_identity()));
    assert_eq!(Rewrap::new(&f.repo, &k).run().unwrap().rewrapped, 3);
    for id in &ids {
        assert!(opens(&f.repo, id, &[&old.to_age_identity()]).is_err());
        opens(&f.repo, id, &[&new.to_age_identity()]).unwrap();
    }
}

#[test]
fn two_of_three_software_members() {
    let mut f = Fixture::new();
    f.repo
        .add_group(GroupConfig {
            name: "officers".into(),
            threshold: 2,
        })
        .unwrap();
    let m: Vec<_> = (0..3)
        .map(|i| key_file(f.dir.path(), &format!("m{i}")).0)
        .collect();
    for (i, k) in m.iter().enumerate() {
        add(&mut f.repo, &format!("officer-{i}"), k, Some("officers"));
    }
    let id = Sealer::new(&f.repo, "db")
        .bytes("x", b"secret".to_vec())
        .seal()
        .unwrap()
        .sidecar;
    assert_eq!(id.recipients.len(), 4);
    assert_eq!(id.recipients[1].group.as_deref(), Some("officers"));
    assert_eq!(id.recipients[1].threshold, Some(2));
    for pair in [[0, 1], [0, 2], [1, 2]] {
        opens(&f.repo, &id.id, &[&m[pair[0]], &m[pair[1]]]).unwrap();
    }
    let e = opens(&f.repo, &id.id, &[&m[1]]).unwrap_err();
    assert!(matches!(e, Error::GroupIncomplete { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("group officers needs 2")
            && msg.contains("opened 1: officer-1")
            && msg.contains("1 more of officer-0, officer-2"),
        "{msg}"
    );
    // The recipient on its own still opens alone.
    opens(&f.repo, &id.id, &[&f.key]).unwrap();
    // Escrow items honour the group too.
    let item = nkbackup::escrow::seal(
        &f.repo,
        "sk",
        &secrecy::SecretSlice::from(b"officers' secret".to_vec()),
    )
    .unwrap();
    let got = nkbackup::escrow::open(&item, &keys(&[&m[0], &m[2]])).unwrap();
    assert_eq!(got.expose_secret(), b"officers' secret");
    let e = nkbackup::escrow::open(&item, &keys(&[&m[2]])).unwrap_err();
    assert!(matches!(e, Error::GroupIncomplete { .. }), "{e}");
    // A member listed again on its own is refused with the reason.
    let e = f
        .repo
        .add_recipient(RecipientConfig {
            label: "officer-0-alone".into(),
            kind: "age".into(),
            key: m[0].to_public().to_string(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("with this key"), "{e}");
    let cfg = std::fs::read_to_string(f.repo_path().join("nkbackup.toml")).unwrap();
    let planted = format!(
        "{cfg}\n[[recipients]]\nlabel = \"dup\"\ntype = \"age\"\nkey = \"{}\"\n",
        m[0].to_public()
    );
    std::fs::write(f.repo_path().join("nkbackup.toml"), planted).unwrap();
    let e = Repository::open(f.repo_path()).unwrap_err().to_string();
    assert!(e.contains("threshold means nothing"), "{e}");
    std::fs::write(f.repo_path().join("nkbackup.toml"), cfg).unwrap();

    // Existing backups move into a group by a rewrap: the recovery-less
    // repository's own key opens them, then two officers do.
    let mut f2 = Fixture::new();
    let old = Sealer::new(&f2.repo, "db")
        .bytes("y", b"z".to_vec())
        .seal()
        .unwrap()
        .sidecar
        .id;
    f2.repo
        .add_group(GroupConfig {
            name: "officers".into(),
            threshold: 2,
        })
        .unwrap();
    // Seals refuse a group short of its threshold.
    add(&mut f2.repo, "officer-0", &m[0], Some("officers"));
    let e = Sealer::new(&f2.repo, "db")
        .bytes("y", b"z".to_vec())
        .seal()
        .unwrap_err();
    assert!(e.to_string().contains("needs 2 members"), "{e}");
    add(&mut f2.repo, "officer-1", &m[1], Some("officers"));
    f2.repo.remove_recipient("test-key").unwrap();
    Rewrap::new(&f2.repo, &keys(&[&f2.key])).run().unwrap();
    assert!(opens(&f2.repo, &old, &[&f2.key]).is_err());
    assert!(opens(&f2.repo, &old, &[&m[0]]).is_err());
    opens(&f2.repo, &old, &[&m[0], &m[1]]).unwrap();
    // The group opens the old backups for the next rewrap too.
    add(&mut f2.repo, "officer-2", &m[2], Some("officers"));
    Rewrap::new(&f2.repo, &keys(&[&m[0], &m[1]])).run().unwrap();
    opens(&f2.repo, &old, &[&m[1], &m[2]]).unwrap();
}

/// A rewrap aborted (as by `kill -9`) at every step of every backup: each
/// backup opens with its old recipients or its new ones, and the next run
/// finishes: the old key opens nothing, the journal holds each backup once.
#[test]
fn a_killed_rewrap_is_finished_by_the_next_run() {
    let steps = [
        "after-upload",
        "after-intent",
        "after-data",
        "after-journal",
        "after-sidecar",
    ];
    let mut runs = 0;
    for step in steps {
        for n in 1..=4 {
            runs += 1;
            let mut f = Fixture::new();
            let ids = seal_three(&f);
            nkbackup::escrow::seal(&f.repo, "sk", &secrecy::SecretSlice::from(b"k".to_vec()))
                .unwrap();
            let (b, _) = key_file(f.dir.path(), "b");
            add(&mut f.repo, "offsite-b", &b, None);
            f.repo.remove_recipient("test-key").unwrap();
            let out = nkbackup()
                .args(["rewrap", "--repo"])
                .arg(f.repo_path())
                .arg("-i")
                .arg(&f.key_file)
                .env("NKBACKUP_TEST_CRASH_REWRAP", format!("{step}:{n}"))
                .output()
                .unwrap();
            assert!(!out.status.success(), "{step}:{n} must abort: {out:?}");
            for id in &ids {
                let old = opens(&f.repo, id, &[&f.key]);
                let new = opens(&f.repo, id, &[&b]);
                assert!(
                    old.is_ok() || new.is_ok(),
                    "{step}:{n}: backup {id} opens with neither: {old:?} / {new:?}"
                );
            }
            let item = nkbackup::escrow::find(&f.repo, "sk", None).unwrap();
            assert!(
                nkbackup::escrow::open(&item, &keys(&[&f.key])).is_ok()
                    || nkbackup::escrow::open(&item, &keys(&[&b])).is_ok(),
                "{step}:{n}: the escrow item opens with neither"
            );
            let out = nkbackup()
                .args(["rewrap", "--repo"])
                .arg(f.repo_path())
                .arg("-i")
                .arg(&f.key_file)
                .output()
                .unwrap();
            assert!(out.status.success(), "{step}:{n}: {out:?}");
            for id in &ids {
                assert!(opens(&f.repo, id, &[&f.key]).is_err(), "{step}:{n}");
                opens(&f.repo, id, &[&b]).unwrap();
                assert!(f.repo.find(id).unwrap().sidecar.rewrap_pending.is_none());
            }
            let item = nkbackup::escrow::find(&f.repo, "sk", None).unwrap();
            assert!(nkbackup::escrow::open(&item, &keys(&[&f.key])).is_err());
            let j = nkbackup::rewrap::journal(&f.repo).unwrap();
            assert!(j.damage.is_empty(), "{step}:{n}: {:?}", j.damage);
            assert_eq!(j.records.len(), 4, "{step}:{n}: each item journaled once");
            let listing = f.repo.list().unwrap();
            assert!(listing.incomplete.is_empty(), "{step}:{n}");
            assert_eq!(listing.backups.len(), 3);
        }
    }
    assert!(runs >= 20, "{runs} kill points");
}

/// `recipient add --rewrap` gives the new key the existing backups at once;
/// keys without `--rewrap` are refused rather than ignored.
#[test]
fn recipient_add_with_rewrap_through_the_cli() {
    let f = Fixture::new();
    let ids = seal_three(&f);
    let (b, _) = key_file(f.dir.path(), "b");
    let out = nkbackup()
        .args(["recipient", "add", "--label", "offsite-b", "--repo"])
        .arg(f.repo_path())
        .arg(b.to_public().to_string())
        .arg("--rewrap")
        .arg("-i")
        .arg(&f.key_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 rewrapped"));
    let repo = Repository::open(f.repo_path()).unwrap();
    for id in &ids {
        opens(&repo, id, &[&b]).unwrap();
    }
    let (c, _) = key_file(f.dir.path(), "c");
    let out = nkbackup()
        .args(["recipient", "add", "--label", "offsite-c", "--repo"])
        .arg(f.repo_path())
        .arg(c.to_public().to_string())
        .arg("-i")
        .arg(&f.key_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --rewrap"));
    assert_eq!(recipient_count(&f), 2, "nothing was added");
}
