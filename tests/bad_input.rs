//! Bad input gets a clear error and loses nothing: damaged, truncated and
//! tampered backups, wrong keys, broken configuration, missing pieces, a
//! killed seal and a full disk.

mod common;

use common::{Fixture, is_root, nkbackup, sample_tree, small_tmpfs};
use nkbackup::{Error, ErrorKind, Opener, Repository, RestoreOptions, Sealer};
use std::fs;
use std::io::{Seek, SeekFrom, Write};

fn sealed(f: &Fixture) -> nkbackup::BackupInfo {
    let src = f.path("svc");
    sample_tree(&src);
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    f.repo.find(&rep.sidecar.id).unwrap()
}

fn deep(f: &Fixture, b: &nkbackup::BackupInfo) -> Result<nkbackup::VerifyReport, Error> {
    Opener::new(b)
        .identity_file(&f.key_file)
        .unwrap()
        .verify_deep()
}

fn restore_fails_cleanly(f: &Fixture, b: &nkbackup::BackupInfo) -> Error {
    let out = f.path("restore-target");
    let e = Opener::new(b)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(&out, &RestoreOptions::default())
        .unwrap_err();
    assert!(!out.exists(), "a failed restore must leave no target");
    let leftovers: Vec<_> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("nkbackup-partial"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
    e
}

#[test]
fn flipped_byte_is_detected_by_shallow_and_deep_verify() {
    let f = Fixture::new();
    let b = sealed(&f);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&b.data_path)
        .unwrap();
    let len = file.metadata().unwrap().len();
    file.seek(SeekFrom::Start(len / 2)).unwrap();
    file.write_all(&[0x5a]).unwrap();
    drop(file);
    let e = f.repo.verify_shallow(&b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    assert!(
        e.to_string().contains(&b.sidecar.id),
        "names the backup: {e}"
    );
    let e = deep(&f, &b).unwrap_err();
    assert!(matches!(e, Error::Damaged { .. }), "{e}");
    assert!(
        e.to_string().contains("older backup"),
        "says what to do: {e}"
    );
    let e = restore_fails_cleanly(&f, &b);
    assert!(matches!(e, Error::Damaged { .. }), "{e}");
}

#[test]
fn truncated_backup_is_detected() {
    let f = Fixture::new();
    let b = sealed(&f);
    for keep in [
        b.sidecar.ciphertext_bytes - 1,
        b.sidecar.ciphertext_bytes / 2,
        100,
        10,
    ] {
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&b.data_path)
            .unwrap();
        file.set_len(keep).unwrap();
        drop(file);
        let e = f.repo.verify_shallow(&b).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = deep(&f, &b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "keep {keep}: {e}");
        let e = restore_fails_cleanly(&f, &b);
        assert_eq!(e.kind(), ErrorKind::Integrity, "keep {keep}: {e}");
    }
}

#[test]
fn tampered_sidecar_is_caught_by_deep_verify() {
    let f = Fixture::new();
    let b = sealed(&f);
    // An attacker relabels an archive backup as a log to get it pruned early.
    let text = fs::read_to_string(&b.sidecar_path).unwrap();
    let relabelled = text.replace("\"class\": \"archive\"", "\"class\": \"logs\"");
    fs::write(&b.sidecar_path, &relabelled).unwrap();
    // In place, the sidecar no longer matches its directory: refused, and
    // the error names the sidecar and its defect.
    let e = f.repo.find(&b.sidecar.id).unwrap_err();
    assert!(matches!(e, Error::SidecarInvalid { .. }), "{e}");
    assert!(e.to_string().contains("lies in backups/archive/"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Integrity);
    // Moved along with its data into the logs directory, it parses; only
    // the authenticated inner manifest tells.
    let logs = f.repo_path().join("backups/logs");
    fs::create_dir_all(&logs).unwrap();
    fs::rename(&b.data_path, logs.join(b.data_path.file_name().unwrap())).unwrap();
    fs::write(logs.join(b.sidecar_path.file_name().unwrap()), &relabelled).unwrap();
    fs::remove_file(&b.sidecar_path).unwrap();
    let b2 = f.repo.find(&b.sidecar.id).unwrap();
    assert_eq!(b2.sidecar.class, "logs");
    f.repo.verify_shallow(&b2).unwrap(); // the data file itself is intact
    let e = deep(&f, &b2).unwrap_err();
    assert!(
        e.to_string()
            .contains("class: sidecar says logs, inner manifest says archive"),
        "{e}"
    );
}

#[test]
fn swapped_data_file_is_caught() {
    let f = Fixture::new();
    let b1 = sealed(&f);
    let b2 = f
        .repo
        .find(
            &Sealer::new(&f.repo, "archive")
                .bytes("other", b"other".to_vec())
                .seal()
                .unwrap()
                .sidecar
                .id,
        )
        .unwrap();
    fs::copy(&b2.data_path, &b1.data_path).unwrap();
    assert_eq!(
        f.repo.verify_shallow(&b1).unwrap_err().kind(),
        ErrorKind::Integrity
    );
    let e = deep(&f, &b1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
}

#[test]
fn wrong_key_lists_the_labels_it_is_sealed_to() {
    let f = Fixture::new();
    let b = sealed(&f);
    let other = f.path("other.txt");
    use secrecy::ExposeSecret;
    fs::write(
        &other,
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret(),
    )
    .unwrap();
    let e = Opener::new(&b)
        .identity_file(&other)
        .unwrap()
        .verify_deep()
        .unwrap_err();
    assert!(matches!(e, Error::NoMatchingIdentity { .. }), "{e}");
    assert!(e.to_string().contains("test-key (age)"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Key);
    // No key at all.
    let e = Opener::new(&b).verify_deep().unwrap_err();
    assert!(matches!(e, Error::NoIdentity { .. }), "{e}");
    // A file that is not an identity.
    fs::write(&other, "not a key\n").unwrap();
    let e = Opener::new(&b).identity_file(&other).err().unwrap();
    assert!(matches!(e, Error::IdentityFile { .. }), "{e}");
    assert!(
        !e.to_string().contains("not a key"),
        "never echoes key file content: {e}"
    );
}

#[test]
fn missing_repository_and_config_errors_say_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let e = Repository::open(&d.path().join("none")).unwrap_err();
    assert!(matches!(e, Error::RepositoryNotFound { .. }), "{e}");
    // What to do is the hint (the CLI words it as `nkbackup init`, tests/cli.rs).
    assert_eq!(e.hint(), Some(nkbackup::Hint::InitRepository), "{e}");

    let f = Fixture::new();
    let cfg = f.repo_path().join("nkbackup.toml");
    let good = fs::read_to_string(&cfg).unwrap();
    fs::write(&cfg, good.replacen("[classes.db]", "[classes.db\n", 1)).unwrap();
    let e = Repository::open(f.repo_path()).unwrap_err();
    assert!(matches!(e, Error::ConfigSyntax { .. }), "{e}");
    assert!(
        e.to_string().contains("line "),
        "syntax errors carry a line number: {e}"
    );

    fs::write(
        &cfg,
        good.replacen("compression = \"zstd:6\"", "compresion = \"zstd:6\"", 1),
    )
    .unwrap();
    let e = Repository::open(f.repo_path()).unwrap_err();
    assert!(
        e.to_string().contains("compresion") && e.to_string().contains("line"),
        "{e}"
    );

    fs::write(
        &cfg,
        good.replacen("compression = \"zstd:6\"", "compression = \"zstd:99\"", 1),
    )
    .unwrap();
    let e = Repository::open(f.repo_path()).unwrap_err();
    assert!(matches!(e, Error::ConfigInvalid { .. }), "{e}");

    fs::write(&cfg, &good).unwrap();
    Repository::open(f.repo_path()).unwrap();
}

#[test]
fn no_recipients_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let repo = Repository::init(&d.path().join("r")).unwrap();
    let e = Sealer::new(&repo, "db")
        .bytes("x", vec![1])
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::NoRecipients { .. }), "{e}");
    assert_eq!(e.hint(), Some(nkbackup::Hint::AddRecipient), "{e}");
}

#[test]
fn missing_data_and_incomplete_writes_are_reported() {
    let f = Fixture::new();
    let b = sealed(&f);
    // Data without sidecar (a seal killed after the rename) is not a backup.
    let orphan = b.data_path.with_file_name("20200101T000000Z-00000000.age");
    fs::copy(&b.data_path, &orphan).unwrap();
    let l = f.repo.list().unwrap();
    assert_eq!(l.backups.len(), 1);
    let keys: Vec<&str> = l.incomplete.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["backups/archive/20200101T000000Z-00000000.age"]);
    assert_eq!(
        f.repo.storage().describe(&l.incomplete[0].key),
        orphan.display().to_string()
    );
    // Sidecar without data.
    fs::remove_file(&b.data_path).unwrap();
    let e = f.repo.verify_shallow(&b).unwrap_err();
    assert!(matches!(e, Error::DataMissing { .. }), "{e}");
    let e = deep(&f, &b).unwrap_err();
    assert!(matches!(e, Error::DataMissing { .. }), "{e}");
}

#[test]
fn unreadable_file_fails_the_seal_unless_skipped() {
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("ok"), "ok").unwrap();
    fs::write(src.join("locked"), "secret").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(src.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads everything: run the CLI as an unprivileged user instead.
    let run = |extra: &[&str]| {
        let mut c = if is_root() {
            for p in [f.dir.path(), &src, &src.join("ok")] {
                fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
            }
            fs::set_permissions(src.join("ok"), fs::Permissions::from_mode(0o644)).unwrap();
            chmod_recursive(f.repo_path());
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_nkbackup"));
            c
        } else {
            nkbackup()
        };
        c.args(["seal", "--class", "archive", "--repo"])
            .arg(f.repo_path())
            .args(extra)
            .arg(&src);
        c.output().unwrap()
    };
    let o = run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("svc/locked") && err.contains("--skip-unreadable"),
        "{err}"
    );
    assert!(
        Repository::open(f.repo_path())
            .unwrap()
            .list()
            .unwrap()
            .backups
            .is_empty()
    );

    let o = run(&["--skip-unreadable"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("svc/locked: unreadable"), "{err}");
    let l = Repository::open(f.repo_path()).unwrap().list().unwrap();
    assert_eq!(l.backups[0].sidecar.skipped, 1);
}

fn chmod_recursive(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let m = fs::symlink_metadata(p).unwrap();
    if m.is_dir() {
        fs::set_permissions(p, fs::Permissions::from_mode(0o777)).unwrap();
        for e in fs::read_dir(p).unwrap() {
            chmod_recursive(&e.unwrap().path());
        }
    } else if m.is_file() {
        fs::set_permissions(p, fs::Permissions::from_mode(0o666)).unwrap();
    }
}

#[test]
fn killed_seal_leaves_no_backup_that_looks_complete() {
    let f = Fixture::new();
    let src = f.path("big");
    fs::create_dir_all(&src).unwrap();
    let data: Vec<u8> = (0..8_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
        .collect();
    fs::write(src.join("random.bin"), &data).unwrap();
    // RLIMIT_FSIZE makes the kernel kill the process (SIGXFSZ) mid-write.
    let o = std::process::Command::new("prlimit")
        .arg("--fsize=1000000")
        .arg(env!("CARGO_BIN_EXE_nkbackup"))
        .args(["seal", "--class", "media", "--repo"])
        .arg(f.repo_path())
        .arg(&src)
        .output()
        .unwrap();
    assert!(!o.status.success(), "the seal must have been killed");
    let l = f.repo.list().unwrap();
    assert!(l.backups.is_empty(), "no committed backup");
    // What is left is a partial file in tmp/, named as such.
    for e in fs::read_dir(f.repo.local_root().unwrap().join("tmp")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(n.ends_with(".partial"), "{n}");
    }
    // The repository still works: the lock died with the process.
    Sealer::new(&f.repo, "media")
        .path(&src)
        .lock_wait(std::time::Duration::from_secs(2))
        .seal()
        .unwrap();
    assert_eq!(f.repo.list().unwrap().backups.len(), 1);
}

/// Unmounts a mount point when dropped.
#[test]
fn full_disk_fails_the_seal_and_commits_nothing() {
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("small");
    let Some(_u) = small_tmpfs(&mnt, "2m") else {
        return;
    };
    let mut repo = Repository::init(&mnt.join("repo")).unwrap();
    let key = age::x25519::Identity::generate();
    repo.add_recipient(nkbackup::config::RecipientConfig {
        label: "k".into(),
        kind: "age".into(),
        key: key.to_public().to_string(),
        ..Default::default()
    })
    .unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let data: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
        .collect();
    fs::write(src.join("random.bin"), &data).unwrap();
    let e = Sealer::new(&repo, "media").path(&src).seal().unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("No space left") || msg.contains("space"),
        "{msg}"
    );
    assert!(msg.contains("nothing was committed"), "{msg}");
    assert!(repo.list().unwrap().backups.is_empty());
    assert_eq!(
        fs::read_dir(repo.local_root().unwrap().join("tmp"))
            .unwrap()
            .count(),
        0,
        "partial file removed"
    );
}

/// A full disk under a compressed seal used to crash it (exit 101) about
/// one run in four: zstd wrote again after the encryption thread's error.
#[test]
fn a_full_disk_never_crashes_a_compressed_seal() {
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("small");
    let Some(_u) = small_tmpfs(&mnt, "8m") else {
        return;
    };
    let repo = mnt.join("repo");
    let key = age::x25519::Identity::generate().to_public().to_string();
    let run = |args: &[&str]| {
        nkbackup()
            .args(args)
            .arg("--repo")
            .arg(&repo)
            .output()
            .unwrap()
    };
    assert!(run(&["init"]).status.success());
    assert!(run(&["recipient", "add", &key]).status.success());
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    // Incompressible: 30 MB of random bytes, and a few smaller files.
    let mut noise = vec![0u8; 30_000_000];
    std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut noise).unwrap();
    fs::write(src.join("noise.bin"), &noise).unwrap();
    for i in 0..5 {
        fs::write(
            src.join(format!("f{i}")),
            &noise[i * 200_000..(i + 1) * 200_000],
        )
        .unwrap();
    }
    for round in 0..48 {
        let out = run(&["seal", "--class", "archive", src.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "round {round}: {err}{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(err.contains("No space left"), "round {round}: {err}");
        assert!(!err.contains("panicked"), "round {round}: {err}");
    }
    assert_eq!(fs::read_dir(repo.join("tmp")).unwrap().count(), 0);
}

#[test]
fn full_disk_fails_the_restore_and_leaves_nothing() {
    let f = Fixture::new();
    let mnt = f.path("small");
    let Some(_u) = small_tmpfs(&mnt, "1m") else {
        return;
    };
    // 600 small files need 2.4 MiB of 4 KiB pages. Small files are placed
    // by the restore's own threads: their error must reach the caller.
    let src = f.path("svc");
    for i in 0..600 {
        let dir = src.join(format!("d{}", i % 7));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("f{i}")), vec![b'x'; 100 + i]).unwrap();
    }
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find(&rep.sidecar.id).unwrap();
    let out = mnt.join("restored");
    let e = Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(&out, &RestoreOptions::default())
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("No space left"), "{msg}");
    assert!(msg.contains("restoring") && msg.contains("/f"), "{msg}");
    let left: Vec<_> = fs::read_dir(&mnt).unwrap().collect();
    assert!(left.is_empty(), "a failed restore leaves nothing: {left:?}");
}

#[test]
fn concurrent_seals_are_serialized_and_a_held_lock_times_out() {
    let f = Fixture::new();
    let lock = f.repo.lock(std::time::Duration::from_secs(1)).unwrap();
    let e = Sealer::new(&f.repo, "db")
        .bytes("x", vec![1])
        .lock_wait(std::time::Duration::from_millis(200))
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{e}"
    );
    drop(lock);
    let repo = &f.repo;
    std::thread::scope(|s| {
        for i in 0..4 {
            s.spawn(move || {
                Sealer::new(repo, "db")
                    .bytes(&format!("f{i}"), vec![i as u8; 100_000])
                    .seal()
                    .unwrap()
            });
        }
    });
    let l = f.repo.list().unwrap();
    assert_eq!(l.backups.len(), 4);
    for b in &l.backups {
        f.repo.verify_shallow(b).unwrap();
    }
}
