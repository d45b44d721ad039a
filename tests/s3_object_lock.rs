//! S3 Object Lock (issue 22): a repository with `object_lock` writes every
//! backup object locked until the backup's deadline, against a real Ceph
//! RADOS Gateway on loopback (tests/rgw/rgw.sh starts it and stops it by
//! PID). The store itself refuses an early delete, even with delete
//! credentials; nkbackup says "locked until …"; after the deadline prune
//! removes every version and verify passes; a lock that outlives a
//! shortened policy is a conflict naming the date. Ceph must be installed
//! (tests/run-all.sh installs it); without it these tests fail, they never
//! skip.

mod common;

use common::rgw::Rgw;
use common::seal_at;
use nkbackup::config::{LockMode, RecipientConfig};
use nkbackup::retention::{self, AuditOptions, Clock, ProblemKind, PruneOptions};
use nkbackup::{Error, Repository};
use time::{Duration, OffsetDateTime};

fn key(s: &str) -> nkbackup::storage::ObjectKey {
    nkbackup::storage::ObjectKey::new(s).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

/// Replaces the classes of the repository's configuration with `classes`
/// (and adds `extra` to `[repository]`), then opens it again.
fn configure(repo: &Repository, url: &str, r: &Rgw, extra: &str, classes: &str) -> Repository {
    let s = repo.storage();
    let text = String::from_utf8(s.get(&key("nkbackup.toml"), 1 << 20).unwrap().unwrap()).unwrap();
    let head = &text[..text.find("[classes.").unwrap()];
    let head = head.replacen("[repository]\n", &format!("[repository]\n{extra}"), 1);
    let recipients = text.find("[[recipients]]").map_or("", |i| &text[i..]);
    s.put(
        &key("nkbackup.toml"),
        format!("{head}{classes}{recipients}").as_bytes(),
    )
    .unwrap();
    Repository::open_url(url, &r.settings()).unwrap()
}

fn add_recipient(repo: &mut Repository) -> age::x25519::Identity {
    add_labelled(repo, "k")
}

fn add_labelled(repo: &mut Repository, label: &str) -> age::x25519::Identity {
    let id = age::x25519::Identity::generate();
    repo.add_recipient(RecipientConfig {
        label: label.into(),
        kind: "age".into(),
        key: id.to_public().to_string(),
        ..Default::default()
    })
    .unwrap();
    id
}

/// Rewraps every backup to the repository's recipients, opening them with
/// `id`.
fn rewrap(repo: &Repository, id: &age::x25519::Identity) -> nkbackup::rewrap::RewrapReport {
    let mut keys = nkbackup::unlock::Keys::new();
    keys.add(Box::new(id.clone()));
    nkbackup::rewrap::Rewrap::new(repo, &keys).run().unwrap()
}

fn prune(repo: &Repository, at: OffsetDateTime) -> retention::PruneReport {
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

fn audit(repo: &Repository, at: OffsetDateTime) -> retention::AuditReport {
    retention::audit(
        repo,
        &AuditOptions {
            clock: Clock::Fixed(at),
            ..Default::default()
        },
    )
    .unwrap()
}

/// The version ids and retention (as the gateway reports them, not
/// through nkbackup) of `path` in `bucket`.
fn retention_xml(r: &Rgw, bucket: &str, path: &str, version: &str) -> String {
    String::from_utf8(r.s3(
        "GET",
        &format!("/{bucket}/{path}?retention=&versionId={version}"),
        &[],
    ))
    .unwrap()
}

#[test]
fn locked_backups_resist_early_deletes_and_leave_after_their_deadline() {
    const BUCKET: &str = "nkb-locked";
    let r = Rgw::start();
    r.bucket(BUCKET, "locked");
    let url = format!("s3://{BUCKET}/lock");
    let mut repo =
        Repository::init_url_with(&url, &r.settings(), Some(LockMode::Compliance)).unwrap();
    assert_eq!(repo.object_lock(), Some(LockMode::Compliance));
    let k = add_recipient(&mut repo);
    let repo = configure(
        &repo,
        &url,
        &r,
        "",
        "[classes.logs]\nmax_age = \"25s\"\ndeletion_tolerance = \"1h\"\n\n[classes.db]\nmax_age = \"2h\"\ndeletion_tolerance = \"1h\"\n\n",
    );

    let t0 = now();
    let id = seal_at(&repo, "logs", t0);
    let data = format!("lock/backups/logs/{id}.age");
    let sidecar = format!("lock/backups/logs/{id}.json");
    let deadline = t0 + Duration::seconds(25);
    let until = nkbackup::util::rfc3339(deadline);
    // Both objects carry the lock, as the store itself reports it.
    for path in [&data, &sidecar] {
        let (versions, _) = r.versions(BUCKET, path);
        assert_eq!(versions.len(), 1, "{path}");
        let xml = retention_xml(&r, BUCKET, path, &versions[0]);
        assert!(
            xml.contains("<Mode>COMPLIANCE</Mode>") && xml.contains(&until[..19]),
            "{path}: {xml}"
        );
    }
    let s = repo.storage().clone();
    let dkey = key(&format!("backups/logs/{id}.age"));
    let lock = s.retention(&dkey).unwrap().unwrap();
    assert_eq!((lock.mode, lock.until), (LockMode::Compliance, deadline));

    // An early delete of the version, with the credentials that may
    // delete, is refused by the store itself.
    let (versions, _) = r.versions(BUCKET, &data);
    let (status, body) = r.try_s3(
        "DELETE",
        &format!("/{BUCKET}/{data}?versionId={}", versions[0]),
        &[],
    );
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    // An overwrite makes a new version; the locked one stays, and verify
    // catches the unlocked impostor.
    r.s3(
        "PUT",
        &format!("/{BUCKET}/{data}"),
        &["--data-binary", "ransom"],
    );
    let (after, _) = r.versions(BUCKET, &data);
    assert_eq!(after.len(), 2);
    assert!(after.contains(&versions[0]), "the locked version stays");
    let v = audit(&repo, now());
    assert!(
        v.violations
            .iter()
            .any(|p| p.kind == ProblemKind::NotLocked && p.subject == id),
        "{:?}",
        v.violations
    );
    assert!(
        v.object_lock.as_deref().unwrap().starts_with("compliance"),
        "{:?}",
        v.object_lock
    );
    // Take the impostor away again (it holds no lock).
    let impostor = after.iter().find(|v| **v != versions[0]).unwrap();
    r.s3(
        "DELETE",
        &format!("/{BUCKET}/{data}?versionId={impostor}"),
        &[],
    );
    assert!(audit(&repo, now()).violations.is_empty());

    // A rewrap (a token revoked) writes new versions, locked alike; the old
    // version is locked too and stays, and the report says until when.
    let mut repo = repo;
    add_labelled(&mut repo, "k2");
    let report = rewrap(&repo, &k);
    assert_eq!(report.rewrapped, 1);
    assert_eq!(report.items[0].old_version_locked_until, Some(deadline));
    assert_eq!(r.versions(BUCKET, &data).0.len(), 2);
    assert!(
        audit(&repo, now()).violations.is_empty(),
        "the new versions are locked"
    );

    // nkbackup's own delete names the lock.
    let e = s.delete(&dkey).unwrap_err().to_string();
    assert!(e.contains("is locked until") && e.contains(&until), "{e}");
    // A prune that believes the backup overdue (its clock ahead of the
    // store's) deletes nothing and says until when the store holds it.
    let report = prune(&repo, t0 + Duration::hours(1));
    assert!(report.deleted.is_empty(), "{:?}", report.deleted);
    let p = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::LockConflict && p.subject == id)
        .unwrap_or_else(|| panic!("{:?}", report.problems));
    assert!(
        p.detail.contains(&format!("locked until {until}")),
        "{}",
        p.detail
    );
    assert_eq!(r.versions(BUCKET, &data).0.len(), 2, "nothing was deleted");

    // A policy shortened below a lock: the lock wins, and verify names the
    // date the store allows deletion. (The db backup is locked 2 h.)
    let db = seal_at(&repo, "db", t0);
    let db_until = nkbackup::util::rfc3339(t0 + Duration::hours(2));
    let shortened = configure(
        &repo,
        &url,
        &r,
        "",
        "[classes.logs]\nmax_age = \"25s\"\ndeletion_tolerance = \"1h\"\n\n[classes.db]\nmax_age = \"20s\"\ndeletion_tolerance = \"1m\"\n\n",
    );
    let v = audit(&shortened, now());
    let p = v
        .violations
        .iter()
        .find(|p| p.kind == ProblemKind::LockConflict && p.subject == db)
        .unwrap_or_else(|| panic!("{:?}", v.violations));
    assert!(
        p.detail
            .contains(&format!("the store will allow deletion on {db_until}")),
        "{}",
        p.detail
    );

    // After the deadline the store lets go: prune removes every version
    // of the logs backup, and verify proves none remains.
    let wait = deadline + Duration::seconds(2) - now();
    if wait.is_positive() {
        std::thread::sleep(wait.unsigned_abs());
    }
    let report = prune(&shortened, now());
    assert_eq!(
        report
            .deleted
            .iter()
            .map(|d| d.id.as_deref())
            .collect::<Vec<_>>(),
        vec![Some(id.as_str())],
        "{:?}",
        report.problems
    );
    for path in [&data, &sidecar] {
        assert_eq!(r.versions(BUCKET, path), (vec![], vec![]), "{path}");
    }
    // The db backup is still held, and says so.
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::LockConflict && p.subject == db),
        "{:?}",
        report.problems
    );
    // Back to the policy the db backup was sealed under: verify passes.
    let restored = configure(
        &shortened,
        &url,
        &r,
        "",
        "[classes.logs]\nmax_age = \"25s\"\ndeletion_tolerance = \"1h\"\n\n[classes.db]\nmax_age = \"2h\"\ndeletion_tolerance = \"1h\"\n\n",
    );
    let v = audit(&restored, now());
    assert!(v.violations.is_empty(), "{:?}", v.violations);
    assert_eq!(
        v.absence.versions,
        "versioned: no older version of a deleted object remains"
    );

    // An old copy put back is caught.
    r.s3(
        "PUT",
        &format!("/{BUCKET}/{data}"),
        &["--data-binary", "from tape"],
    );
    assert_eq!(r.versions(BUCKET, &data).0.len(), 1, "the copy is there");
    let v = audit(&restored, now());
    assert!(
        v.violations
            .iter()
            .any(|p| p.kind == ProblemKind::NotDeleted
                && p.subject == format!("backups/logs/{id}.age")),
        "{:?}",
        v.violations
    );
}

#[test]
fn a_locked_repository_refuses_what_cannot_be_locked() {
    let r = Rgw::start();
    r.bucket("nkb-unlocked", "versioned");
    r.bucket("nkb-locked", "locked");

    // init: a bucket without Object Lock is refused, and nothing written.
    let e = Repository::init_url_with(
        "s3://nkb-unlocked/a",
        &r.settings(),
        Some(LockMode::Governance),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ObjectLock { .. }), "{e}");
    assert!(e.to_string().contains("Object Lock"), "{e}");
    let listing = String::from_utf8(r.s3("GET", "/nkb-unlocked?list-type=2", &[])).unwrap();
    assert!(!listing.contains("<Key>"), "{listing}");
    // A directory cannot be locked either.
    let dir = tempfile::tempdir().unwrap();
    let e = Repository::init_url_with(
        dir.path().join("r").to_str().unwrap(),
        &r.settings(),
        Some(LockMode::Compliance),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("a directory has no Object Lock"),
        "{e}"
    );

    // A configuration that says object_lock, on a bucket without it: every
    // writing command refuses (seal, prune).
    let url = "s3://nkb-unlocked/b";
    let mut repo = Repository::init_url(url, &r.settings()).unwrap();
    add_recipient(&mut repo);
    let repo = configure(
        &repo,
        url,
        &r,
        "object_lock = \"compliance\"\n",
        "[classes.logs]\nmax_age = \"7d\"\ndeletion_tolerance = \"1d\"\n\n",
    );
    let e = nkbackup::Sealer::new(&repo, "logs")
        .bytes("x", b"x".to_vec())
        .seal()
        .unwrap_err();
    assert!(
        e.to_string().contains("has no Object Lock configuration")
            || e.to_string().contains("Object Lock is not enabled"),
        "{e}"
    );
    let e = retention::prune(&repo, &PruneOptions::new()).unwrap_err();
    assert!(matches!(e, Error::ObjectLock { .. }), "{e}");
    assert!(repo.list().unwrap().backups.is_empty());

    // A bucket that keeps versions but has no lock: a rewrap leaves no old
    // version behind (it would still open with the revoked key).
    let url = "s3://nkb-unlocked/d";
    let mut repo = Repository::init_url(url, &r.settings()).unwrap();
    let k = add_recipient(&mut repo);
    let repo = configure(&repo, url, &r, "", "[classes.logs]\nmax_age = \"7d\"\n\n");
    let id = seal_at(&repo, "logs", now());
    let mut repo = repo;
    add_labelled(&mut repo, "k2");
    repo.remove_recipient("k").unwrap();
    let report = rewrap(&repo, &k);
    assert_eq!(
        (report.rewrapped, report.items[0].old_version_locked_until),
        (1, None)
    );
    for ext in ["age", "json"] {
        let path = format!("d/backups/logs/{id}.{ext}");
        assert_eq!(r.versions("nkb-unlocked", &path).0.len(), 1, "{path}");
    }

    // In a locked bucket: a class without a deadline, or without a
    // tolerance, cannot be sealed.
    let url = "s3://nkb-locked/c";
    let mut repo =
        Repository::init_url_with(url, &r.settings(), Some(LockMode::Compliance)).unwrap();
    add_recipient(&mut repo);
    let repo = configure(
        &repo,
        url,
        &r,
        "",
        "[classes.keep]\nmax_age = \"forever\"\nreason = \"ledger\"\n\n[classes.tight]\nmax_age = \"7d\"\n\n",
    );
    for (class, says) in [
        ("keep", "has no deadline"),
        ("tight", "has no deletion_tolerance"),
    ] {
        let e = nkbackup::Sealer::new(&repo, class)
            .bytes("x", b"x".to_vec())
            .seal()
            .unwrap_err();
        assert!(matches!(e, Error::ObjectLock { .. }), "{e}");
        assert!(e.to_string().contains(says), "{class}: {e}");
    }
    assert!(repo.list().unwrap().backups.is_empty());
}
