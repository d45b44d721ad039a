//! Repositories in an S3-compatible bucket, against a real Garage server
//! on loopback (tests/garage/garage.sh starts it and stops it by PID).
//! Garage must be installed (`tests/garage/garage.sh install`, which
//! tests/run-all.sh runs); without it these tests fail, they never skip.

mod common;

use common::garage::Garage;
use common::{assert_same_tree, sample_tree, seal_at};
use nkbackup::retention::{self, AuditOptions, Clock, PruneOptions};
use nkbackup::{Repository, Sealer};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use time::Duration;
use time::macros::datetime;

/// A key of the test's own making.
fn key(s: &str) -> nkbackup::storage::ObjectKey {
    nkbackup::storage::ObjectKey::new(s).unwrap()
}

/// The tests prune a day or more after the deadlines they test, hence the
/// tolerance (late deletions as violations: tests/retention_promises.rs).
const CLASSES: &str = "\n[classes.logs]\nmax_age = \"7d\"\ndeletion_tolerance = \"7d\"\npromise = \"Logs are deleted after 7 days.\"\n\n[classes.archive]\nmax_age = \"90d\"\n";

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `init` + one age recipient through the CLI; returns the key file.
fn init(g: &Garage, url: &str, dir: &Path) -> std::path::PathBuf {
    ok(g.nkbackup().args(["init", "--repo", url]).output().unwrap());
    let key = age::x25519::Identity::generate();
    let key_file = dir.join("key.txt");
    use secrecy::ExposeSecret;
    fs::write(&key_file, format!("{}\n", key.to_string().expose_secret())).unwrap();
    ok(g.nkbackup()
        .args(["recipient", "add", "--repo", url, "--label", "k"])
        .arg(key.to_public().to_string())
        .output()
        .unwrap());
    key_file
}

/// A Garage cluster with a repository at `url` holding one age recipient,
/// and a sample source tree.
struct Case {
    g: Garage,
    d: tempfile::TempDir,
    url: &'static str,
    key: std::path::PathBuf,
    src: std::path::PathBuf,
}

impl Case {
    fn new(nodes: u8, url: &'static str) -> Self {
        let g = Garage::start(nodes);
        let d = tempfile::tempdir().unwrap();
        let key = init(&g, url, d.path());
        let src = d.path().join("src");
        sample_tree(&src);
        Case {
            g,
            d,
            url,
            key,
            src,
        }
    }

    /// `nkbackup seal --json` of `path`; the new backup's id.
    fn seal(&self, class: &str, path: &Path, env: &[(&str, &Path)]) -> String {
        let mut c = self.g.nkbackup();
        c.envs(env.iter().copied())
            .args(["seal", "--repo", self.url, "--class", class, "--json"])
            .arg(path);
        let out = ok(c.output().unwrap());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["sidecar"]["id"].as_str().unwrap().to_owned()
    }

    /// `nkbackup restore` of `id` into `to` with the key; checks the tree.
    fn restore(&self, id: &str, to: &Path) {
        ok(self
            .g
            .nkbackup()
            .args(["restore", "--repo", self.url, id, "--to"])
            .arg(to)
            .arg("-i")
            .arg(&self.key)
            .output()
            .unwrap());
        assert!(assert_same_tree(&self.src, &to.join("src")) > 10);
    }

    /// `nkbackup list --json`.
    fn list(&self) -> serde_json::Value {
        let out = ok(self
            .g
            .nkbackup()
            .args(["list", "--repo", self.url, "--json"])
            .output()
            .unwrap());
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn random_file(path: &Path, mib: usize) {
    let mut f = fs::File::open("/dev/urandom").unwrap();
    let mut buf = vec![0u8; mib << 20];
    f.read_exact(&mut buf).unwrap();
    fs::write(path, buf).unwrap();
}

/// Runs `cmd` and returns its output and peak resident set (VmHWM, KiB),
/// sampled from /proc while it runs.
fn with_peak_rss(mut cmd: Command) -> (Output, u64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = fs::read_to_string(&status_file)
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (child.wait_with_output().unwrap(), peak)
}

/// A 2 MiB tmpfs, unmounted on drop (needs root, as CI is).
struct SmallTmp(std::path::PathBuf);

impl SmallTmp {
    fn mount(at: &Path) -> Self {
        assert!(
            common::is_root(),
            "this test mounts a tmpfs and needs root (tests/run-all.sh in CI runs as root)"
        );
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(at)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mounting tmpfs failed");
        SmallTmp(at.to_owned())
    }
}

impl Drop for SmallTmp {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn seal_list_verify_restore_stream_without_a_local_copy_in_flat_memory() {
    let c = Case::new(1, "s3://nkb/service-a");
    let (g, d, url) = (&c.g, &c.d, c.url);
    random_file(&c.src.join("media.bin"), 24);
    // The scratch directory is a 2 MiB tmpfs: a local copy of the 24 MiB
    // backup could not be made there.
    let tmp = SmallTmp::mount(&d.path().join("tmp"));
    let id = c.seal("archive", &c.src, &[("TMPDIR", &tmp.0)]);
    assert_eq!(
        fs::read_dir(&tmp.0).unwrap().count(),
        0,
        "nothing is left in the scratch directory"
    );

    let l = c.list();
    assert_eq!(l["backups"].as_array().unwrap().len(), 1);
    assert_eq!(l["backups"][0]["id"], id.as_str());
    assert_eq!(
        l["backups"][0]["data_path"],
        format!("s3://nkb/service-a/backups/archive/{id}.age").as_str()
    );
    assert!(l["incomplete"].as_array().unwrap().is_empty());
    let v = ok(g
        .nkbackup()
        .args(["verify", "--repo", url, &id])
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&v.stdout).contains("OK"));
    ok(g.nkbackup()
        .args(["verify", "--repo", url, &id, "--deep", "-i"])
        .arg(&c.key)
        .output()
        .unwrap());
    c.restore(&id, &d.path().join("restored"));

    // Memory stays flat: three times the data, the same peak (class
    // `media` stores without compression, so this measures the upload).
    let seal_media = |mib: usize| {
        let dir = d.path().join(format!("media-{mib}"));
        fs::create_dir(&dir).unwrap();
        random_file(&dir.join("a.bin"), mib);
        let mut cmd = g.nkbackup();
        cmd.args(["seal", "--repo", url, "--class", "media"])
            .arg(&dir);
        let (out, peak) = with_peak_rss(cmd);
        ok(out);
        fs::remove_dir_all(&dir).unwrap();
        peak
    };
    let (p64, p192) = (seal_media(64), seal_media(192));
    eprintln!("peak RSS: {p64} KiB for 64 MiB, {p192} KiB for 192 MiB");
    // Growth with the data would add ~128 MiB; the buffers (five 6 MiB
    // parts at most, docs/STORAGE.md) fill a little differently from run
    // to run (48-56 MiB measured for 64 MiB), hence two parts of slack.
    assert!(
        p192 < p64 + 12 * 1024 && p192 < 96 * 1024,
        "peak RSS grew from {p64} KiB to {p192} KiB with the data"
    );
}

fn put_classes(repo: &Repository) -> Repository {
    let s = repo.storage();
    let mut text =
        String::from_utf8(s.get(&key("nkbackup.toml"), 1 << 20).unwrap().unwrap()).unwrap();
    let cut = text.find("[classes.archive]").unwrap();
    let recipients = text[text.find("[[recipients]]").unwrap()..].to_owned();
    text.truncate(cut);
    text.push_str(CLASSES);
    text.push('\n');
    text.push_str(&recipients);
    s.put(&key("nkbackup.toml"), text.as_bytes()).unwrap();
    Repository::open_in(s.clone()).unwrap()
}

#[test]
fn retention_prunes_and_proves_deletion_by_listing_and_head() {
    let g = Garage::start(1);
    let d = tempfile::tempdir().unwrap();
    let url = "s3://nkb/retention";
    init(&g, url, d.path());
    let repo = put_classes(&Repository::open_url(url, &g.settings()).unwrap());
    let t0 = datetime!(2026-01-01 00:00:00 UTC);
    let old = seal_at(&repo, "logs", t0);
    let young = seal_at(&repo, "logs", t0 + Duration::days(6));
    let keep = seal_at(&repo, "archive", t0);
    let now = t0 + Duration::days(8);

    // retention check through the CLI: one overdue (exit 6).
    let check = g
        .nkbackup()
        .args(["retention", "check", "--repo", url, "--at", "2026-01-09"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(6), "{}", stderr(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains(&old));

    let report = retention::prune(
        &repo,
        &PruneOptions {
            clock: Clock::Fixed(now),
            ..PruneOptions::new()
        },
    )
    .unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert_eq!(report.deleted[0].id.as_deref(), Some(old.as_str()));
    let s = repo.storage();
    for k in [
        format!("backups/logs/{old}.age"),
        format!("backups/logs/{old}.json"),
    ] {
        assert!(s.stat(&key(&k)).unwrap().is_none(), "{k} is gone");
    }
    let ids: Vec<String> = repo
        .list()
        .unwrap()
        .backups
        .into_iter()
        .map(|b| b.sidecar.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&young) && ids.contains(&keep));
    assert!(
        s.get(
            &key("journal/deletions/00000000000000000001.jsonl"),
            1 << 20
        )
        .unwrap()
        .is_some()
    );
    assert!(
        s.get(&key("lock"), 1 << 20).unwrap().is_none(),
        "the lease is released"
    );

    // retention verify through the CLI: passes, and says how it proved it.
    let v = ok(g
        .nkbackup()
        .args([
            "retention",
            "verify",
            "--repo",
            url,
            "--at",
            "2026-01-09",
            "--json",
        ])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(v["absence"]["objects_checked"], 2);
    assert!(
        v["absence"]["method"].as_str().unwrap().contains("HEAD"),
        "{}",
        v["absence"]
    );
    assert!(
        v["absence"]["versions"]
            .as_str()
            .unwrap()
            .starts_with("not versioned"),
        "Garage keeps no versions: {}",
        v["absence"]
    );
    assert!(v["violations"].as_array().unwrap().is_empty(), "{v}");

    // A journaled object that comes back (restored from elsewhere) is a
    // violation: the HEAD finds it.
    s.put(
        &key(&format!("backups/logs/{old}.age")),
        b"restored from tape",
    )
    .unwrap();
    let r = retention::audit(
        &repo,
        &AuditOptions {
            clock: Clock::Fixed(now),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        r.violations
            .iter()
            .any(|p| p.subject == format!("backups/logs/{old}.age")),
        "{:?}",
        r.violations
    );
}

#[test]
fn drills_and_the_lock_live_in_the_bucket() {
    let c = Case::new(1, "s3://nkb/drills");
    let (g, url) = (&c.g, c.url);
    c.seal("db", &c.src, &[]);
    ok(g.nkbackup()
        .args(["drill", "--repo", url, "--class", "db", "-i"])
        .arg(&c.key)
        .output()
        .unwrap());
    // Exit 8: the other classes were never drilled.
    let st = g
        .nkbackup()
        .args(["drill", "status", "--repo", url, "--json"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(8), "{}", stderr(&st));
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let db = st["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "db")
        .unwrap();
    assert!(db["last_passed"].is_object(), "{st}");
    let repo = Repository::open_url(url, &g.settings()).unwrap();
    // Seal checks a new id is free by listing: that finds exact keys only.
    let s = repo.storage();
    let data_key = &repo.find("latest").unwrap().data_key;
    assert!(s.exists(data_key).unwrap());
    assert!(s.exists(&key("nkbackup.toml")).unwrap());
    assert!(!s.exists(&key("nkbackup.tom")).unwrap());
    assert!(
        !s.exists(&key(&data_key.as_str().replace(".age", ".ag")))
            .unwrap()
    );
    let journal = repo
        .storage()
        .get(&key("journal/drills/00000000000000000001.jsonl"), 1 << 20)
        .unwrap()
        .unwrap();
    assert_eq!(journal.iter().filter(|&&c| c == b'\n').count(), 1);

    // The lease object is exclusive: a second taker waits, then reports
    // who holds it.
    let held = repo.lock(std::time::Duration::from_secs(1)).unwrap();
    let e = repo
        .lock(std::time::Duration::from_millis(600))
        .unwrap_err();
    assert_eq!(e.kind(), nkbackup::ErrorKind::Locked, "{e}");
    assert!(e.to_string().contains("s3://nkb/drills"), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{e}"
    );
    drop(held);
    drop(repo.lock(std::time::Duration::from_secs(1)).unwrap());
}

#[test]
fn wrong_credentials_missing_bucket_and_a_down_endpoint_are_clear_errors() {
    let c = Case::new(1, "s3://nkb/errors");
    let (g, url, src) = (&c.g, c.url, &c.src);
    let secret = g.var("AWS_SECRET_ACCESS_KEY").to_owned();
    let last = if secret.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &secret[..secret.len() - 1]);
    let cases: Vec<(&str, Command, &str)> = vec![
        (
            "wrong secret",
            {
                let mut c = g.nkbackup();
                c.env("AWS_SECRET_ACCESS_KEY", &wrong);
                c
            },
            "refused the credentials",
        ),
        ("missing bucket", g.nkbackup(), "bucket does not exist"),
        (
            "endpoint down",
            {
                let mut c = g.nkbackup();
                // A port nothing listens on.
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let port = l.local_addr().unwrap().port();
                drop(l);
                c.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
                c
            },
            "cannot be reached",
        ),
    ];
    for (what, mut c, says) in cases {
        let repo = if what == "missing bucket" {
            "s3://no-such-bucket/x"
        } else {
            url
        };
        let out = c
            .args(["seal", "--repo", repo, "--class", "logs"])
            .arg(src)
            .output()
            .unwrap();
        let e = stderr(&out);
        assert!(!out.status.success(), "{what}: {e}");
        assert!(e.contains(says), "{what}: {e}");
        assert!(e.contains(repo), "{what} names the repository: {e}");
        assert!(!e.contains(&secret) && !e.contains(&wrong), "{what}: {e}");
    }
    assert!(c.list()["backups"].as_array().unwrap().is_empty());
}

/// Fails after `good` bytes, as a disk error or a vanished file would.
struct FailingReader {
    left: u64,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("the disk under the source failed"));
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(0x5a);
        self.left -= n as u64;
        Ok(n)
    }
}

fn unfinished_uploads(g: &Garage) -> String {
    let out = g.garage(&["bucket", "info", "nkb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_interrupted_upload_commits_nothing() {
    let g = Garage::start(1);
    let d = tempfile::tempdir().unwrap();
    let url = "s3://nkb/interrupted";
    init(&g, url, d.path());
    let repo = Repository::open_url(url, &g.settings()).unwrap();

    // 1. The source fails after several parts were uploaded: the seal
    //    fails, the multipart upload is aborted, nothing is listed.
    let e = Sealer::new(&repo, "media")
        .reader_with_len("big.bin", FailingReader { left: 40 << 20 }, 64 << 20)
        .seal()
        .unwrap_err();
    assert!(e.to_string().contains("big.bin"), "{e}");
    let l = repo.list().unwrap();
    assert!(l.backups.is_empty() && l.incomplete.is_empty());
    let info = unfinished_uploads(&g);
    assert!(
        !info.contains("Unfinished uploads"),
        "the aborted upload is gone:\n{info}"
    );

    // 2. The network goes away mid-upload (the server is stopped): the
    //    seal fails naming the repository, and once the server is back
    //    no backup is listed.
    let src = d.path().join("src");
    fs::create_dir(&src).unwrap();
    random_file(&src.join("a.bin"), 96);
    let data = g.dir.path().join("node1/data");
    let before = dir_size(&data);
    let mut seal = g
        .nkbackup()
        .args(["seal", "--repo", url, "--class", "media"])
        .arg(&src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until data arrives at the server, then cut it off.
    let start = std::time::Instant::now();
    while dir_size(&data) < before + (16 << 20) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no upload arrived"
        );
        assert!(seal.try_wait().unwrap().is_none(), "the seal ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    g.stop_node(1);
    let out = seal.wait_with_output().unwrap();
    let e = stderr(&out);
    assert!(!out.status.success(), "{e}");
    assert!(e.contains("s3://nkb/interrupted"), "{e}");
    assert!(e.contains("nothing was committed"), "{e}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sealed"));
    g.start_node(1);
    let l = Repository::open_url(url, &g.settings())
        .unwrap()
        .list()
        .unwrap();
    assert!(l.backups.is_empty(), "{:?}", l.backups);
    assert!(l.incomplete.is_empty(), "{:?}", l.incomplete);
    // The abort could not reach the stopped server, so its parts wait for
    // the bucket's clean-up (docs/STORAGE.md): Garage's command here, a
    // lifecycle rule on AWS S3 and MinIO.
    let info = unfinished_uploads(&g);
    assert!(info.contains("Unfinished uploads"), "{info}");
    let out = g.garage(&[
        "bucket",
        "cleanup-incomplete-uploads",
        "--older-than",
        "0s",
        "nkb",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info = unfinished_uploads(&g);
    assert!(!info.contains("Unfinished uploads"), "{info}");
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(p) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

#[test]
fn three_node_cluster_keeps_sealing_and_restoring_with_a_node_down() {
    let c = Case::new(3, "s3://nkb/replicated");
    let round = |n: &str| {
        let id = c.seal("archive", &c.src, &[]);
        c.restore(&id, &c.d.path().join(n));
        id
    };
    let first = round("all-up");
    c.g.stop_node(3);
    let second = round("node-3-down");
    // The backup sealed before the outage restores too.
    c.restore(&first, &c.d.path().join("first-again"));
    let l = c.list();
    let ids: Vec<&str> = l["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    c.g.start_node(3);
}

/// Revocation in a bucket: a rewrap killed after its intent and after its
/// new object, then finished by the next run; the new key opens every
/// backup, the revoked one none, and the journal is the bucket's.
#[test]
fn a_rewrap_in_a_bucket_survives_a_kill_and_revokes_the_old_key() {
    let c = Case::new(1, "s3://nkb/rewrap");
    let (g, url) = (&c.g, c.url);
    let ids: Vec<String> = (0..3).map(|_| c.seal("db", &c.src, &[])).collect();
    let new = age::x25519::Identity::generate();
    let new_file = c.d.path().join("new.txt");
    use secrecy::ExposeSecret;
    fs::write(&new_file, format!("{}\n", new.to_string().expose_secret())).unwrap();
    ok(g.nkbackup()
        .args(["recipient", "add", "--repo", url, "--label", "new"])
        .arg(new.to_public().to_string())
        .output()
        .unwrap());
    ok(g.nkbackup()
        .args(["recipient", "remove", "--repo", url, "k"])
        .output()
        .unwrap());
    let rewrap = |crash: Option<&str>| {
        let mut cmd = g.nkbackup();
        cmd.args(["rewrap", "--repo", url, "-i"]).arg(&c.key);
        if let Some(at) = crash {
            cmd.env("NKBACKUP_TEST_CRASH_REWRAP", at);
        }
        cmd.output().unwrap()
    };
    let verify = |id: &str, key: &Path| {
        g.nkbackup()
            .args(["verify", "--repo", url, id, "--deep", "-i"])
            .arg(key)
            .output()
            .unwrap()
    };
    let repo = Repository::open_url(url, &g.settings()).unwrap();
    for crash in ["after-intent:2", "after-data:2"] {
        assert!(!rewrap(Some(crash)).status.success(), "{crash} aborts");
        // A killed writer leaves its lease (6 h, docs/STORAGE.md): the
        // admin who knows it is dead removes it.
        repo.storage().delete(&key("lock")).unwrap();
        for id in &ids {
            let old = verify(id, &c.key).status.success();
            let new = verify(id, &new_file).status.success();
            assert!(old || new, "{crash}: {id} opens with neither key");
        }
    }
    let out = ok(rewrap(None));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already up to date"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for id in &ids {
        ok(verify(id, &new_file));
        assert_eq!(
            verify(id, &c.key).status.code(),
            Some(4),
            "the old key opens nothing"
        );
    }
    let to = c.d.path().join("r");
    ok(g.nkbackup()
        .args(["restore", "--repo", url, &ids[0], "--to"])
        .arg(&to)
        .arg("-i")
        .arg(&new_file)
        .output()
        .unwrap());
    assert!(assert_same_tree(&c.src, &to.join("src")) > 10);
    let j = nkbackup::rewrap::journal(&repo).unwrap();
    assert!(j.damage.is_empty(), "{:?}", j.damage);
    assert_eq!(j.records.len(), 3, "each backup journaled once");
    assert!(
        repo.list()
            .unwrap()
            .backups
            .iter()
            .all(|b| b.sidecar.rewrap_pending.is_none())
    );
}

/// Crypto-erasure with a bucket on both sides: the keyring mirrored into
/// a bucket, the backups copied to a replica bucket; prune erases the
/// expired period's key from the directory and the bucket, and the
/// replica's copies of that period open no more (docs/RETENTION.md,
/// "Crypto-erasure"); the later periods still restore from the bucket.
#[test]
fn crypto_erasure_reaches_a_keyring_mirror_and_a_replica_in_buckets() {
    let g = Garage::start(1);
    let f = common::Fixture::new();
    f.with_classes(
        "[classes.chat]\nmax_age = \"7d\"\nerasure_period = \"7d\"\ndeletion_tolerance = \"7d\"\n",
    );
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = fs::read_to_string(&cfg).unwrap()
        + "\n[keyring]\nmirrors = [\"s3://nkb/keyring-mirror\"]\n";
    fs::write(&cfg, text).unwrap();
    let local = std::sync::Arc::new(nkbackup::storage::LocalStorage::new(f.repo_path()));
    let repo = Repository::open_with(local, &g.settings()).unwrap();
    let p1 = datetime!(2026-01-01 00:00:00 UTC);
    let ids: Vec<String> = [1, 8, 15]
        .iter()
        .map(|d| seal_at(&repo, "chat", p1 + Duration::days(*d)))
        .collect();
    let mirror = nkbackup::storage::open("s3://nkb/keyring-mirror", &g.settings()).unwrap();
    let listed = |s: &dyn nkbackup::storage::Storage| -> Vec<String> {
        s.list(Some(&key("keys")))
            .unwrap()
            .into_iter()
            .map(|o| o.key.to_string())
            .collect()
    };
    assert_eq!(listed(mirror.as_ref()).len(), 6, "3 key items, age + json");
    let copy = || {
        ok(g.nkbackup()
            .args(["copy", "--repo"])
            .arg(f.repo_path())
            .args(["--to", "s3://nkb/replica"])
            .output()
            .unwrap())
    };
    assert!(String::from_utf8_lossy(&copy().stdout).contains("3 backup(s) copied"));
    let replica = Repository::open_url("s3://nkb/replica", &g.settings()).unwrap();
    assert!(
        listed(replica.storage().as_ref()).is_empty(),
        "no key copied"
    );
    assert_eq!(replica.keyring().locations().len(), 2);

    let t = p1 + Duration::days(14) + Duration::hours(1);
    let p = retention::prune(
        &repo,
        &PruneOptions {
            clock: Clock::Fixed(t),
            ahead: Duration::ZERO,
            ..PruneOptions::new()
        },
    )
    .unwrap();
    assert_eq!(p.erasures.len(), 1, "{:?}", p.problems);
    assert!(p.erasures[0].locations.iter().all(|l| l.absent));
    let left = listed(mirror.as_ref());
    assert_eq!(left.len(), 4);
    assert!(
        left.iter().all(|k| !k.contains("20260101T000000Z-7d")),
        "{left:?}"
    );
    assert!(String::from_utf8_lossy(&copy().stdout).contains("erasure journal updated"));

    // The replica bucket still holds the period's backup; nothing opens it.
    let out = g
        .nkbackup()
        .args([
            "verify",
            "--repo",
            "s3://nkb/replica",
            &ids[0],
            "--deep",
            "-i",
        ])
        .arg(&f.key_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("crypto-erased"), "{}", stderr(&out));
    let to = f.path("r");
    ok(g.nkbackup()
        .args(["restore", "--repo", "s3://nkb/replica", &ids[2], "--to"])
        .arg(&to)
        .arg("-i")
        .arg(&f.key_file)
        .output()
        .unwrap());
    let v = retention::audit(
        &repo,
        &AuditOptions {
            clock: Clock::Fixed(t),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.erasures.in_period[0].locations.len(), 2);
}

/// A journal line of the tests' own.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Note {
    n: u64,
}

fn segments(s: &dyn nkbackup::storage::Storage, name: &str) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = s
        .list(Some(&nkbackup::journal::segment_dir(name)))
        .unwrap()
        .into_iter()
        .map(|o| {
            let b = s.get(&o.key, 1 << 24).unwrap().unwrap();
            let lines = b.iter().filter(|&&c| c == b'\n').count();
            (o.key.name().to_owned(), lines)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn bucket_journals_append_into_bounded_segments_and_old_journals_keep_verifying() {
    use nkbackup::journal::{self, JournalWriter, SEGMENT_LINES};
    use nkbackup::storage::Storage;
    let g = Garage::start(1);
    let d = tempfile::tempdir().unwrap();
    let url = "s3://nkb/segments";
    init(&g, url, d.path());
    let repo = Repository::open_url(url, &g.settings()).unwrap();
    let s = repo.storage().clone();

    // 150 appends: segments of 64, 64 and 22 lines, named by their first
    // seq; no single journal object is rewritten whole.
    let mut w = JournalWriter::<Note>::open(s.clone(), "notes").unwrap();
    for n in 1..=150 {
        assert_eq!(w.append(Note { n }).unwrap(), n);
    }
    assert_eq!(SEGMENT_LINES, 64);
    assert_eq!(
        segments(s.as_ref(), "notes"),
        vec![
            ("00000000000000000001.jsonl".to_owned(), 64),
            ("00000000000000000065.jsonl".to_owned(), 64),
            ("00000000000000000129.jsonl".to_owned(), 22),
        ]
    );
    assert!(!s.exists(&journal::key("notes")).unwrap());
    let st = journal::read::<Note>(s.as_ref(), "notes").unwrap();
    assert!(st.damage.is_empty(), "{:?}", st.damage);
    assert_eq!(st.records.len(), 150);
    assert_eq!(st.records[149].n, 150);
    // Reopened, the writer goes on in the open segment.
    let mut w = JournalWriter::<Note>::open(s.clone(), "notes").unwrap();
    assert_eq!(w.append(Note { n: 151 }).unwrap(), 151);
    assert_eq!(segments(s.as_ref(), "notes")[2].1, 23);

    // A journal written as one object (before segments) keeps verifying,
    // and new lines go into a segment after it.
    let local = tempfile::tempdir().unwrap();
    let ls: std::sync::Arc<dyn Storage> =
        std::sync::Arc::new(nkbackup::storage::LocalStorage::new(local.path()));
    let mut lw = JournalWriter::<Note>::open(ls.clone(), "old").unwrap();
    for n in 1..=3 {
        lw.append(Note { n }).unwrap();
    }
    for k in [journal::key("old"), journal::head_key("old")] {
        s.put(&k, &ls.get(&k, 1 << 20).unwrap().unwrap()).unwrap();
    }
    let mut w = JournalWriter::<Note>::open(s.clone(), "old").unwrap();
    w.append(Note { n: 4 }).unwrap();
    w.append(Note { n: 5 }).unwrap();
    assert_eq!(
        segments(s.as_ref(), "old"),
        vec![("00000000000000000004.jsonl".to_owned(), 2)]
    );
    let st = journal::read::<Note>(s.as_ref(), "old").unwrap();
    assert!(st.damage.is_empty(), "{:?}", st.damage);
    assert_eq!(
        st.records.iter().map(|r| r.n).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );

    // Tampering across segments is found: a middle segment removed, a
    // segment renamed, an object planted among them.
    let damage = |name: &str| {
        journal::read::<Note>(s.as_ref(), name)
            .unwrap()
            .damage
            .into_iter()
            .map(|d| d.reason)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let middle = key("journal/notes/00000000000000000065.jsonl");
    let kept = s.get(&middle, 1 << 24).unwrap().unwrap();
    s.delete(&middle).unwrap();
    let why = damage("notes");
    assert!(why.contains("seq is 129 where 65 was expected"), "{why}");
    s.put(&key("journal/notes/00000000000000000066.jsonl"), &kept)
        .unwrap();
    let why = damage("notes");
    assert!(why.contains("must begin with seq 66"), "{why}");
    s.delete(&key("journal/notes/00000000000000000066.jsonl"))
        .unwrap();
    s.put(&middle, &kept).unwrap();
    assert_eq!(damage("notes"), "");
    s.put(&key("journal/notes/README"), b"hello").unwrap();
    let why = damage("notes");
    assert!(why.contains("not one nkbackup writes"), "{why}");
    let e = JournalWriter::<Note>::open(s.clone(), "notes").unwrap_err();
    assert!(e.to_string().contains("journal"), "{e}");
    s.delete(&key("journal/notes/README")).unwrap();

    // Two writers (a lock broken by hand): the second's new segment is
    // refused, not overwritten.
    let mut a = JournalWriter::<Note>::open(s.clone(), "race").unwrap();
    let mut b = JournalWriter::<Note>::open(s.clone(), "race").unwrap();
    a.append(Note { n: 1 }).unwrap();
    let e = b.append(Note { n: 2 }).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(
        journal::read::<Note>(s.as_ref(), "race").unwrap().records[0].n,
        1
    );
}

#[test]
fn the_sidecar_cache_saves_gets_and_never_serves_a_replaced_sidecar() {
    use nkbackup::repo::sidecar_cache::SidecarCache;
    let case = Case::new(1, "s3://nkb/cache");
    let g = &case.g;
    let ids: Vec<String> = (0..3).map(|_| case.seal("logs", &case.src, &[])).collect();
    let cache = case.d.path().join("cache");
    let repo = Repository::open_url(case.url, &g.settings())
        .unwrap()
        .with_sidecar_cache(&cache);
    let file = SidecarCache::file_in(&cache, repo.location(), &repo.config().repository.id);
    let listed = |repo: &Repository| {
        let l = repo.list().unwrap();
        assert!(l.cache_problem.is_none(), "{:?}", l.cache_problem);
        let mut got: Vec<String> = l.backups.iter().map(|b| b.sidecar.id.clone()).collect();
        got.sort();
        (got, l.sidecars_from_cache, l.unreadable.len())
    };
    let mut all = ids.clone();
    all.sort();

    // Cold: every sidecar fetched, then cached.
    assert_eq!(listed(&repo), (all.clone(), 0, 0));
    assert_eq!(SidecarCache::load(&file, repo.location()).len(), 3);
    // Warm: none fetched, the same backups.
    assert_eq!(listed(&repo), (all.clone(), 3, 0));

    // A sidecar replaced in the bucket (another tag and time) is fetched
    // again and refused; the good copy in the cache is not used.
    let s = repo.storage();
    let side = key(&format!("backups/logs/{}.json", ids[0]));
    let good = s.get(&side, 1 << 20).unwrap().unwrap();
    s.put(&side, b"{\"tampered\": true}").unwrap();
    let (got, from_cache, unreadable) = listed(&repo);
    assert_eq!((got.len(), from_cache, unreadable), (2, 2, 1));
    // Put back (same bytes, a later time): fetched once more, then cached.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.put(&side, &good).unwrap();
    assert_eq!(listed(&repo), (all.clone(), 2, 0));
    assert_eq!(listed(&repo), (all.clone(), 3, 0));

    // A backup gone is dropped from the cache.
    s.delete(&key(&format!("backups/logs/{}.json", ids[1])))
        .unwrap();
    assert_eq!(listed(&repo).1, 2);
    assert_eq!(SidecarCache::load(&file, repo.location()).len(), 2);

    // A damaged cache file is ignored and rewritten.
    let mut bytes = fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&file, &bytes).unwrap();
    assert_eq!(listed(&repo).1, 0);
    assert_eq!(listed(&repo).1, 2);

    // An unwritable cache directory: the listing is still complete, and
    // says why nothing was cached.
    let ro = case.d.path().join("not-a-dir");
    fs::write(&ro, b"a file").unwrap();
    let l = Repository::open_url(case.url, &g.settings())
        .unwrap()
        .with_sidecar_cache(ro.join("cache"))
        .list()
        .unwrap();
    assert_eq!((l.backups.len(), l.sidecars_from_cache), (2, 0));
    assert!(l.cache_problem.is_some());

    // The CLI caches under --cache-dir (the harness sets it), and
    // --no-cache leaves nothing behind.
    let warm = |args: &[&str]| {
        let mut c = g.nkbackup();
        c.args(["list", "--repo", case.url]).args(args);
        ok(c.output().unwrap())
    };
    let cli_file = SidecarCache::file_in(
        &g.cache_dir(),
        repo.location(),
        &repo.config().repository.id,
    );
    warm(&["--no-cache"]);
    assert!(
        !cli_file.exists(),
        "--no-cache wrote {}",
        cli_file.display()
    );
    warm(&[]);
    assert_eq!(SidecarCache::load(&cli_file, repo.location()).len(), 2);
    // (Exit 7: the data object whose sidecar was deleted above.)
    let out = g
        .nkbackup()
        .args(["retention", "check", "--summary", "--repo", case.url])
        .arg("--cache-dir")
        .arg(ro.join("cache"))
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("the sidecar cache was not written"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ls_and_find_read_a_bucket_backup() {
    let case = Case::new(1, "s3://nkb/catalog");
    // Two frames' worth of bytes that do not compress (32 MiB), so that
    // reading the index, or the frame after them, is a small part of the
    // object.
    let big = common::noise(2 * nkbackup::compression::FRAME_BYTES as usize);
    std::fs::write(case.src.join("big.bin"), &big).unwrap();
    let id = case.seal("archive", &case.src, &[]);
    let run = |args: &[&str]| {
        let mut c = case.g.nkbackup();
        c.args(args).args(["--repo", case.url, "-i"]).arg(&case.key);
        ok(c.output().unwrap())
    };
    let out = run(&["ls", &id, "src/logs"]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("src/logs/old/y.log"), "{out}");
    let out = run(&["find", "y.log", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["found"][0]["id"], id.as_str());
    assert_eq!(v["found"][0]["entries"][0]["path"], "src/logs/old/y.log");
    // Through the payload's index, by range requests: the manifest's part
    // of the object, not the object.
    let out = run(&["ls", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["read"]["how"], "index", "{v}");
    let (read, whole) = (
        v["read"]["ciphertext_read"].as_u64().unwrap(),
        v["read"]["ciphertext_bytes"].as_u64().unwrap(),
    );
    assert!(read * 20 < whole, "read {read} of {whole}");
    // One file restored from the bucket the same way.
    let to = case.d.path().join("one");
    let mut c = case.g.nkbackup();
    c.args([
        "restore",
        &id,
        "--path",
        "src/logs/old/y.log",
        "--json",
        "--to",
    ])
    .arg(&to)
    .args(["--repo", case.url, "-i"])
    .arg(&case.key);
    let out = ok(c.output().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"], 1, "{v}");
    // At most the frame that holds it (16 MiB of tar) and the index.
    let read = v["index"]["ciphertext_read"].as_u64().unwrap();
    assert!(
        read < 17 << 20 && read * 2 < whole,
        "read {read} of {whole}"
    );
    assert_eq!(
        std::fs::read(to.join("src/logs/old/y.log")).unwrap(),
        std::fs::read(case.src.join("logs/old/y.log")).unwrap()
    );
}

/// A network that fails in the middle of reading a backup is a storage
/// error naming the object, never "damaged": the backup is fine, and the
/// user should run the command again, not give the backup up.
#[test]
fn a_network_failing_mid_read_is_a_store_error_not_damage() {
    let case = Case::new(1, "s3://nkb/cut");
    std::fs::write(case.src.join("big.bin"), common::noise(12 << 20)).unwrap();
    let id = case.seal("archive", &case.src, &[]);
    let target: std::net::SocketAddr = case.g.var("AWS_ENDPOINT_URL")["http://".len()..]
        .parse()
        .unwrap();
    let tries: [(&str, &[&str], u64); 3] = [
        ("a full restore", &[], 6 << 20),
        ("restore --path", &["--path", "src/logs/old/y.log"], 2 << 20),
        ("ls", &[], 100 << 10),
    ];
    for (what, extra, budget) in tries {
        let proxy = common::cut_proxy::CutProxy::start(target, budget);
        let to = case.d.path().join(format!("to-{}", proxy.port));
        let mut c = case.g.nkbackup();
        c.env("AWS_ENDPOINT_URL", proxy.url());
        if what == "ls" {
            c.args(["ls", &id]);
        } else {
            c.args(["restore", &id]).args(extra).arg("--to").arg(&to);
        }
        let out = c
            .args(["--repo", case.url, "-i"])
            .arg(&case.key)
            .output()
            .unwrap();
        let e = stderr(&out);
        assert!(proxy.was_cut(), "{what}: the budget was not spent: {e}");
        assert_eq!(out.status.code(), Some(1), "{what}: {e}");
        assert!(
            !e.contains("damaged") && !e.contains("authentication"),
            "{what}: {e}"
        );
        assert!(
            e.contains(&format!("{}/backups/archive/{id}.age", case.url)),
            "{what} names the object it was reading: {e}"
        );
        assert!(!to.exists(), "{what} left {}", to.display());
    }
}
