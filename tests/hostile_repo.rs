//! A repository changed by someone else: symlinks and oversized objects
//! planted where nkbackup keeps its files, restores aimed at the
//! repository, damaged headers. Each is refused or reported, nothing
//! outside the repository is read or written, and no good backup is lost.
//! (Stream-level defects are the testkit's: tests/testkit.rs.)

mod common;

use common::{Fixture, damage_stanza_body, is_root, nkbackup, seal_at};
use nkbackup::retention::{self, AuditOptions, Clock, PruneOptions};
use nkbackup::{Error, Opener, RestoreOptions, Sealer};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

fn cli(f: &Fixture, args: &[&str]) -> (i32, String) {
    let out = nkbackup()
        .args(args)
        .arg("--repo")
        .arg(f.repo_path())
        .env_remove("NKBACKUP_NOW")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn seal(f: &Fixture, class: &str, name: &str) -> nkbackup::BackupInfo {
    let id = Sealer::new(&f.repo, class)
        .bytes(name, b"payload".to_vec())
        .seal()
        .unwrap()
        .sidecar
        .id;
    f.repo.find(&id).unwrap()
}

#[test]
fn a_sidecar_replaced_by_a_symlink_is_reported_and_its_data_kept() {
    let f = Fixture::new();
    let b = seal(&f, "archive", "x");
    // The sidecar is moved elsewhere and a symlink put in its place.
    let moved = f.path("elsewhere.json");
    fs::rename(&b.sidecar_path, &moved).unwrap();
    symlink(&moved, &b.sidecar_path).unwrap();
    let l = f.repo.list().unwrap();
    assert!(l.backups.is_empty());
    assert!(l.incomplete.is_empty(), "its data is no incomplete write");
    assert_eq!(l.unreadable.len(), 1);
    assert!(
        l.unreadable[0].message.contains("is a symlink"),
        "{:?}",
        l.unreadable
    );
    let e = f.repo.find(&b.sidecar.id).unwrap_err();
    assert!(matches!(e, Error::SidecarInvalid { .. }), "{e}");
    // Far past any grace period, prune still keeps the data…
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(400);
    let rep = retention::prune(
        &f.repo,
        &PruneOptions {
            clock: Clock::Fixed(t),
            ..PruneOptions::new()
        },
    )
    .unwrap();
    assert!(rep.deleted.is_empty(), "{:?}", rep.deleted);
    assert!(b.data_path.exists(), "a good backup's data is never pruned");
    // …and retention verify does not pass.
    let v = retention::audit(
        &f.repo,
        &AuditOptions {
            clock: Clock::Fixed(t),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!v.passed(), "a hidden backup is a violation");
    let (code, text) = cli(&f, &["retention", "check"]);
    assert_eq!(code, 7, "{text}");
    assert!(text.contains("is a symlink"), "{text}");
}

#[test]
fn a_class_directory_replaced_by_a_symlink_is_not_followed() {
    let f = Fixture::new();
    seal(&f, "archive", "x");
    let outside = f.path("outside");
    fs::create_dir_all(outside.join("logs-elsewhere")).unwrap();
    let logs = f.repo_path().join("backups/logs");
    symlink(outside.join("logs-elsewhere"), &logs).unwrap();
    // Reading and writing through it are refused.
    let e = Sealer::new(&f.repo, "logs")
        .bytes("x", b"x".to_vec())
        .seal()
        .unwrap_err();
    assert!(e.to_string().contains("never follows"), "{e}");
    assert_eq!(
        fs::read_dir(outside.join("logs-elsewhere"))
            .unwrap()
            .count(),
        0
    );
    let l = f.repo.list().unwrap();
    assert_eq!(l.unexpected.len(), 1, "{:?}", l.unexpected);
    assert_eq!(l.backups.len(), 1);
    let (code, text) = cli(&f, &["retention", "check"]);
    assert_eq!(code, 7, "{text}");
    assert!(
        text.contains("a symlink where nkbackup keeps its own files"),
        "{text}"
    );
}

#[test]
fn a_lock_file_replaced_by_a_symlink_is_refused_not_truncated() {
    let f = Fixture::new();
    let victim = f.path("victim");
    fs::write(&victim, "precious").unwrap();
    fs::remove_file(f.repo_path().join("lock")).ok();
    symlink(&victim, f.repo_path().join("lock")).unwrap();
    let e = Sealer::new(&f.repo, "db")
        .bytes("x", vec![1])
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::NotAFile { .. }), "{e}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn oversized_objects_are_refused_before_they_are_read() {
    let f = Fixture::new();
    let b = seal(&f, "archive", "x");
    // Sparse files: gigabytes claimed, nothing on disk.
    let grow = |p: &Path, len: u64| {
        fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(len)
            .unwrap()
    };
    grow(&b.sidecar_path, 2 << 30);
    let (code, text) = cli(&f, &["verify", &b.sidecar.id]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("larger than 1048576 bytes"), "{text}");
    let cfg = f.repo_path().join("nkbackup.toml");
    grow(&cfg, 24 << 30);
    let (code, text) = cli(&f, &["list"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("nkbackup.toml is larger than"), "{text}");
}

#[test]
fn a_journal_planted_with_gigabytes_is_refused() {
    let f = Fixture::new();
    let j = f.repo_path().join("journal");
    fs::create_dir_all(&j).unwrap();
    let file = fs::File::create(j.join("deletions.jsonl")).unwrap();
    file.set_len(4 << 30).unwrap();
    let (code, text) = cli(&f, &["retention", "verify"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("deletions.jsonl is larger than"), "{text}");
    // One line longer than any record: reported as damage, not read whole.
    file.set_len(100 << 20).unwrap();
    let (code, text) = cli(&f, &["retention", "verify"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("longer than 65536 bytes"), "{text}");
}

#[test]
fn restoring_into_the_repository_is_refused() {
    let f = Fixture::new();
    let b = seal(&f, "archive", "nkbackup.toml");
    let before = fs::read(f.repo_path().join("nkbackup.toml")).unwrap();
    let opener = Opener::new(&b).identity_file(&f.key_file).unwrap();
    for (to, force) in [
        (f.repo_path().to_owned(), true),
        (f.repo_path().join("backups"), true),
        (f.repo_path().join("restored-here"), false),
    ] {
        let e = opener
            .restore(&to, &RestoreOptions { path: None, force })
            .unwrap_err();
        assert!(
            matches!(e, Error::TargetInRepository { .. }),
            "{}: {e}",
            to.display()
        );
    }
    assert_eq!(
        fs::read(f.repo_path().join("nkbackup.toml")).unwrap(),
        before
    );
    assert!(!f.repo_path().join("restored-here").exists());
    // A target that holds the repository: an entry on the repository's
    // path is refused before anything changes, others go in.
    let parent = f.repo_path().parent().unwrap();
    let repo_name = f
        .repo_path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let evil = Sealer::new(&f.repo, "archive")
        .bytes(&repo_name, b"not a repository".to_vec())
        .seal()
        .unwrap();
    let evil = f.repo.find(&evil.sidecar.id).unwrap();
    let e = Opener::new(&evil)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(
            parent,
            &RestoreOptions {
                path: None,
                force: true,
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::TargetHoldsRepository { .. }), "{e}");
    assert!(f.repo_path().join("nkbackup.toml").is_file());
    let fine = seal(&f, "archive", "unrelated.txt");
    Opener::new(&fine)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(
            parent,
            &RestoreOptions {
                path: None,
                force: true,
            },
        )
        .unwrap();
    assert_eq!(fs::read(parent.join("unrelated.txt")).unwrap(), b"payload");
}

#[test]
fn latest_is_the_newer_of_two_backups_sealed_in_the_same_second() {
    let f = Fixture::new();
    let t = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    // Ids share the second; their random parts decide nothing.
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(seal_at(&f.repo, "db", t));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        f.repo.find("latest").unwrap().sidecar.id,
        *ids.last().unwrap()
    );
}

#[test]
fn a_damaged_recipient_stanza_is_a_damaged_backup_not_a_wrong_key() {
    let f = Fixture::new();
    let b = seal(&f, "archive", "x");
    damage_stanza_body(&b.data_path, "X25519", |body| body[3] ^= 0x40);
    let (code, text) = cli(
        &f,
        &[
            "verify",
            &b.sidecar.id,
            "--deep",
            "-i",
            f.key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("header was damaged"), "{text}");
    // A key that is not a recipient of an intact backup stays exit 4.
    let intact = seal(&f, "archive", "y");
    let other = f.path("other.txt");
    let k = age::x25519::Identity::generate();
    use secrecy::ExposeSecret;
    fs::write(&other, k.to_string().expose_secret()).unwrap();
    let (code, text) = cli(
        &f,
        &[
            "verify",
            &intact.sidecar.id,
            "--deep",
            "-i",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 4, "{text}");
}

#[test]
fn a_refused_sidecar_is_named_with_its_defect() {
    let f = Fixture::new();
    let b = seal(&f, "archive", "x");
    fs::write(&b.sidecar_path, "{ not json").unwrap();
    for args in [
        vec!["verify", b.sidecar.id.as_str()],
        vec![
            "restore",
            b.sidecar.id.as_str(),
            "--to",
            "/nonexistent/x",
            "-i",
            "k",
        ],
        vec!["verify", &b.sidecar.id[..12]],
    ] {
        let (code, text) = cli(&f, &args);
        assert_eq!(code, 3, "{args:?}: {text}");
        assert!(
            text.contains(b.sidecar_path.to_str().unwrap()) && text.contains("is refused"),
            "{args:?}: {text}"
        );
        assert!(!text.contains("no backup"), "{text}");
    }
}

#[test]
fn list_says_how_much_interrupted_seals_left_behind() {
    let f = Fixture::new();
    let tmp = f.repo_path().join("tmp");
    fs::write(
        tmp.join(".20261101T000000Z-00000001.abc.partial"),
        vec![0u8; 3 << 20],
    )
    .unwrap();
    fs::write(
        tmp.join(".20261101T000000Z-00000002.def.partial"),
        vec![0u8; 1 << 20],
    )
    .unwrap();
    let (code, text) = cli(&f, &["list"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("2 partial writes of interrupted seals (4.0 MiB)"),
        "{text}"
    );
}

#[test]
fn names_with_terminal_escapes_are_shown_escaped() {
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(&src).unwrap();
    // A fifo is skipped with a warning that names it.
    let name = src.join("evil\u{1b}]0;owned\u{7}");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&name)
            .status()
            .unwrap()
            .success()
    );
    let (code, text) = cli(&f, &["seal", "--class", "db", src.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("evil\\u{1b}]0;owned\\u{7}"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "a raw escape reached the terminal: {text:?}"
    );
}

#[test]
fn paths_longer_than_a_restore_can_create_are_skipped_at_seal_time() {
    let f = Fixture::new();
    let src = f.path("svc");
    // 20 levels of 250-byte names: 5 000 bytes below the source.
    let mut deep = src.clone();
    fs::create_dir_all(&deep).unwrap();
    let mut dir = fs::File::open(&deep).unwrap();
    for i in 0..20 {
        let n = format!("{i:02}{}", "d".repeat(248));
        // Relative to the previous directory: the full path is beyond
        // PATH_MAX, which `create_dir_all` could not reach.
        rustix_mkdirat(&dir, &n);
        deep.push(&n);
        dir = open_at(&dir, &n);
    }
    fs::write(src.join("short.txt"), "ok").unwrap();
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.contains("longer than 4095 bytes")),
        "{:?}",
        rep.warnings
    );
    let b = f.repo.find(&rep.sidecar.id).unwrap();
    let out = f.path("out");
    let r = f.restore(&b, &out);
    assert!(r.entries > 1);
    assert_eq!(fs::read_to_string(out.join("svc/short.txt")).unwrap(), "ok");
}

fn rustix_mkdirat(dir: &fs::File, name: &str) {
    use std::os::fd::AsRawFd;
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid directory descriptor and NUL-terminated name.
    let r = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) };
    assert_eq!(r, 0, "mkdirat {name}");
}

fn open_at(dir: &fs::File, name: &str) -> fs::File {
    use std::os::fd::{AsRawFd, FromRawFd};
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: as above; the new descriptor is owned by the File.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY,
        )
    };
    assert!(fd >= 0, "openat {name}");
    unsafe { fs::File::from_raw_fd(fd) }
}

#[test]
fn owner_ids_beyond_32_bits_are_never_truncated_to_root() {
    if !is_root() {
        common::skip("restoring owners needs root; tests/run-all.sh in CI runs as root");
        return;
    }
    // A stream whose file claims uid 2^32 + 1000: truncated, that is 1000;
    // 2^32 would be root.
    let f = Fixture::new();
    fn add(tar: &mut Vec<u8>, h: &mut tar::Header, path: &str, data: &[u8], kind: tar::EntryType) {
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.as_old_mut().name = [0; 100];
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    let mut h = tar::Header::new_ustar();
    let mut tar = Vec::new();
    add(
        &mut tar,
        &mut h,
        ".nkbackup",
        b"",
        tar::EntryType::Directory,
    );
    h.set_uid((1 << 32) + 1000);
    h.set_gid(1 << 32);
    add(&mut tar, &mut h, "f", b"data", tar::EntryType::Regular);
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    let id = "20261101T000000Z-7e57c0de";
    let manifest = format!(
        "{{\"nkbackup_manifest\":1,\"backup_id\":\"{id}\",\"class\":\"archive\",\"created\":\"2026-11-01T00:00:00Z\",\"host\":\"h\",\"tool\":\"t\",\"entries\":1,\"skipped\":0,\"file_bytes\":4}}\n{{\"path\":\"f\",\"type\":\"file\",\"size\":4,\"mode\":420,\"mtime\":0,\"uid\":4294968296,\"gid\":4294967296,\"sha256\":\"{}\"}}\n",
        sha(b"data")
    );
    let mut m = tar::Header::new_ustar();
    m.set_entry_type(tar::EntryType::Regular);
    m.set_size(manifest.len() as u64);
    m.set_mode(0o644);
    m.as_old_mut().name[..24].copy_from_slice(b".nkbackup/manifest.jsonl");
    m.set_cksum();
    tar.extend_from_slice(m.as_bytes());
    tar.extend_from_slice(manifest.as_bytes());
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    tar.extend_from_slice(&[0; 1024]);
    let mut data = Vec::new();
    {
        use std::io::Write;
        let enc = age::Encryptor::with_recipients(std::iter::once(
            &f.key.to_public() as &dyn age::Recipient
        ))
        .unwrap();
        let mut w = enc.wrap_output(&mut data).unwrap();
        w.write_all(&tar).unwrap();
        w.finish().unwrap();
    }
    let dir = f.repo_path().join("backups/archive");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("{id}.age")), &data).unwrap();
    let sidecar = serde_json::json!({
        "format": "nkbackup-sidecar/1", "id": id, "class": "archive",
        "created": "2026-11-01T00:00:00Z", "host": "h", "tool": "t",
        "compression": "none", "data": format!("{id}.age"), "entries": 1,
        "skipped": 0, "file_bytes": 4, "tar_bytes": tar.len(),
        "ciphertext_bytes": data.len(), "ciphertext_sha256": sha(&data),
        "manifest_sha256": sha(manifest.as_bytes()), "recipients": [],
    });
    fs::write(dir.join(format!("{id}.json")), sidecar.to_string()).unwrap();
    let b = f.repo.find(id).unwrap();
    let out = f.path("out");
    let rep = f.restore(&b, &out);
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(out.join("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0), "left as the restoring user's");
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.contains("does not fit a Linux uid/gid")),
        "{:?}",
        rep.warnings
    );
}

/// A merge into an existing target that fails part-way says what it
/// changed, keeps the originals it moved aside, and does not claim that
/// nothing was put in place.
#[test]
fn a_merge_that_fails_part_way_says_what_it_changed() {
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(src.join("mnt")).unwrap();
    fs::write(src.join("a"), "new a").unwrap();
    fs::write(src.join("b"), "new b").unwrap();
    fs::write(src.join("mnt/x"), "x").unwrap();
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let target = f.path("target");
    fs::create_dir_all(target.join("svc")).unwrap();
    fs::write(target.join("svc/b"), "old b").unwrap();
    // svc/mnt is another file system: a rename into it fails (EXDEV).
    let Some(_u) = common::small_tmpfs(&target.join("svc/mnt"), "1m") else {
        return;
    };
    let (code, text) = cli(
        &f,
        &[
            "restore",
            &rep.sidecar.id,
            "--force",
            "-i",
            f.key_file.to_str().unwrap(),
            "--to",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("is now partly restored"), "{text}");
    assert!(
        text.contains("1 entries were added and 1 replaced"),
        "{text}"
    );
    assert!(!text.contains("nothing was put in place"), "{text}");
    assert_eq!(fs::read_to_string(target.join("svc/a")).unwrap(), "new a");
    assert_eq!(fs::read_to_string(target.join("svc/b")).unwrap(), "new b");
    // The original of the replaced file is kept, and the index says so.
    let kept = fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("nkbackup-replaced"))
        .expect("the replaced originals are kept");
    let index = fs::read_to_string(kept.join("index.txt")).unwrap();
    assert_eq!(index, "0\tsvc/b\n");
    assert_eq!(fs::read_to_string(kept.join("0")).unwrap(), "old b");
}
