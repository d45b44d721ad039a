//! Repositories in a bucket that keeps versions, against a real Ceph RADOS
//! Gateway on loopback (tests/rgw/rgw.sh starts it and stops it by PID;
//! issue 22, part 2): prune deletes every version of a due backup, not
//! just the current one; `retention verify` lists versions and proves none
//! remains; a version left behind, or an object put back, is a violation.
//! Ceph must be installed (`tests/rgw/rgw.sh install`, which
//! tests/run-all.sh runs); without it these tests fail, they never skip.

mod common;

use common::rgw::Rgw;
use common::seal_at;
use nkbackup::Repository;
use nkbackup::config::RecipientConfig;
use nkbackup::retention::{self, AuditOptions, Clock, PruneOptions};
use time::Duration;
use time::macros::datetime;

const BUCKET: &str = "nkb-versioned";

fn key(s: &str) -> nkbackup::storage::ObjectKey {
    nkbackup::storage::ObjectKey::new(s).unwrap()
}

/// A repository at s3://nkb-versioned/PREFIX with one age recipient and a
/// `logs` class (7 days).
fn repo(r: &Rgw, prefix: &str) -> Repository {
    let url = format!("s3://{BUCKET}/{prefix}");
    let mut repo = Repository::init_url(&url, &r.settings()).unwrap();
    repo.add_recipient(RecipientConfig {
        label: "k".into(),
        kind: "age".into(),
        key: age::x25519::Identity::generate().to_public().to_string(),
        ..Default::default()
    })
    .unwrap();
    let s = repo.storage();
    let text = String::from_utf8(s.get(&key("nkbackup.toml"), 1 << 20).unwrap().unwrap()).unwrap();
    let head = &text[..text.find("[classes.archive]").unwrap()];
    let recipients = &text[text.find("[[recipients]]").unwrap()..];
    let classes = "[classes.logs]\nmax_age = \"7d\"\ndeletion_tolerance = \"7d\"\n\n";
    s.put(
        &key("nkbackup.toml"),
        format!("{head}{classes}{recipients}").as_bytes(),
    )
    .unwrap();
    Repository::open_url(&url, &r.settings()).unwrap()
}

/// Prunes what is overdue at `at` (nothing ahead of its deadline).
fn prune(repo: &Repository, at: time::OffsetDateTime) -> retention::PruneReport {
    retention::prune(
        repo,
        &PruneOptions {
            clock: Clock::Fixed(at),
            ahead: Duration::ZERO,
            ..PruneOptions::new()
        },
    )
    .unwrap()
}

fn audit(repo: &Repository, at: time::OffsetDateTime) -> retention::AuditReport {
    retention::audit(
        repo,
        &AuditOptions {
            clock: Clock::Fixed(at),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn prune_deletes_every_version_and_verify_proves_none_remains() {
    let r = Rgw::start();
    r.bucket(BUCKET, "versioned");
    let repo = repo(&r, "prune");
    let t0 = datetime!(2026-01-01 00:00:00 UTC);
    let old = seal_at(&repo, "logs", t0);
    let young = seal_at(&repo, "logs", t0 + Duration::days(6));
    let data = format!("prune/backups/logs/{old}.age");
    let sidecar = format!("prune/backups/logs/{old}.json");
    // The bucket really keeps versions: overwriting the sidecar (as a
    // rewrap does) leaves the first version behind.
    let s = repo.storage();
    let bytes = s
        .get(&key(&format!("backups/logs/{old}.json")), 1 << 20)
        .unwrap()
        .unwrap();
    s.put(&key(&format!("backups/logs/{old}.json")), &bytes)
        .unwrap();
    assert_eq!(r.versions(BUCKET, &sidecar).0.len(), 2, "two versions");

    let now = t0 + Duration::days(8);
    let report = prune(&repo, now);
    assert_eq!(report.deleted.len(), 1);
    assert_eq!(report.deleted[0].id.as_deref(), Some(old.as_str()));
    for k in [&data, &sidecar] {
        assert_eq!(
            r.versions(BUCKET, k),
            (vec![], vec![]),
            "{k}: no version and no delete marker is left"
        );
    }
    assert!(
        !r.versions(BUCKET, &format!("prune/backups/logs/{young}.age"))
            .0
            .is_empty()
    );

    let v = audit(&repo, now);
    assert!(v.violations.is_empty(), "{:?}", v.violations);
    assert_eq!(v.absence.objects_checked, 2);
    assert_eq!(
        v.absence.versions, "versioned: no older version of a deleted object remains",
        "verify listed the versions"
    );

    // A journaled object put back (an old copy restored) is a violation.
    s.put(&key(&format!("backups/logs/{old}.age")), b"from tape")
        .unwrap();
    let v = audit(&repo, now);
    assert!(
        v.violations
            .iter()
            .any(|p| p.subject == format!("backups/logs/{old}.age")),
        "{:?}",
        v.violations
    );
}

#[test]
fn a_version_left_behind_a_delete_marker_is_a_violation() {
    let r = Rgw::start();
    r.bucket(BUCKET, "versioned");
    let repo = repo(&r, "marker");
    let t0 = datetime!(2026-01-01 00:00:00 UTC);
    let old = seal_at(&repo, "logs", t0);
    let now = t0 + Duration::days(8);
    prune(&repo, now);
    // Someone puts the data back and deletes it the way a plain client
    // does: the bytes stay, as a noncurrent version under a delete marker.
    let data = format!("marker/backups/logs/{old}.age");
    repo.storage()
        .put(&key(&format!("backups/logs/{old}.age")), b"a copy")
        .unwrap();
    r.s3("DELETE", &format!("/{BUCKET}/{data}"), &[]);
    let (versions, markers) = r.versions(BUCKET, &data);
    assert_eq!(
        (versions.len(), markers.len()),
        (1, 1),
        "one version under a marker"
    );
    let v = audit(&repo, now);
    let p = v
        .violations
        .iter()
        .find(|p| p.subject == format!("backups/logs/{old}.age"))
        .unwrap_or_else(|| panic!("{:?}", v.violations));
    assert!(
        p.detail.contains("keeps 1 older version(s)") && p.detail.contains(&versions[0]),
        "{}",
        p.detail
    );
}
