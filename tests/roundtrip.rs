//! Seal and restore through the library: every kind of entry comes back
//! byte for byte, with the checks the issue asks for.

mod common;

use common::{Fixture, assert_same_tree, sample_tree};
use nkbackup::archive::EntrySink;
use nkbackup::manifest::{Entry, EntryKind};
use nkbackup::{Error, Opener, RestoreOptions, Sealer};
use std::fs;

#[test]
fn sample_tree_round_trips_exactly() {
    let f = Fixture::new();
    let src = f.path("service");
    sample_tree(&src);
    let rep = Sealer::new(&f.repo, "archive")
        .path(&src)
        .bytes("dump.sql", b"CREATE TABLE t (x int);\n".to_vec())
        .seal()
        .unwrap();
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    assert_eq!(rep.sidecar.class, "archive");
    assert_eq!(rep.sidecar.compression, "zstd:3");
    assert_eq!(rep.sidecar.recipients[0].label, "test-key");
    assert!(rep.data_path.exists() && rep.sidecar_path.exists());

    let b = f.repo.find(&rep.sidecar.id).unwrap();
    f.repo.verify_shallow(&b).unwrap();
    let v = Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .verify_deep()
        .unwrap();
    assert_eq!(v.file_bytes, rep.sidecar.file_bytes);

    let out = f.path("out");
    let r = f.restore(&b, &out);
    assert!(r.entries > 10);
    let n = assert_same_tree(&src, &out.join("service"));
    assert!(n >= 14, "compared {n} entries");
    assert_eq!(
        fs::read(out.join("dump.sql")).unwrap(),
        b"CREATE TABLE t (x int);\n"
    );
    // The hard link came back as a hard link.
    use std::os::unix::fs::MetadataExt;
    let a = fs::metadata(out.join("service/logs/x.log")).unwrap();
    let h = fs::metadata(out.join("service/x-hardlink.log")).unwrap();
    assert_eq!(a.ino(), h.ino());
    // Nothing but the restored tree is left next to the target.
    let left: Vec<_> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !left.iter().any(|n| n.to_string_lossy().contains("partial")),
        "{left:?}"
    );
}

#[test]
fn no_compression_round_trips_and_is_plain_tar_inside() {
    let f = Fixture::new();
    let src = f.path("media");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.jpg"), vec![0xffu8; 100_000]).unwrap();
    let rep = Sealer::new(&f.repo, "media").path(&src).seal().unwrap();
    assert_eq!(rep.sidecar.compression, "none");
    assert!(
        rep.sidecar.tar_bytes > 100_000,
        "an uncompressed stream is at least the data"
    );
    assert!(rep.sidecar.ciphertext_bytes > rep.sidecar.tar_bytes);
    let b = f.repo.find("latest").unwrap();
    let out = f.path("out");
    f.restore(&b, &out);
    assert_same_tree(&src, &out.join("media"));
}

#[test]
fn stream_of_unknown_length_is_spooled_and_restored() {
    let f = Fixture::new();
    let dump: Vec<u8> = b"INSERT INTO messages VALUES (1, 'hi');\n".repeat(50_000);
    let rep = Sealer::new(&f.repo, "db")
        .reader("chat.sql", &dump[..])
        .seal()
        .unwrap();
    assert_eq!(rep.sidecar.file_bytes, dump.len() as u64);
    // The spool left nothing in tmp/.
    assert_eq!(
        fs::read_dir(f.repo.local_root().unwrap().join("tmp"))
            .unwrap()
            .count(),
        0
    );
    let b = f.repo.find(&rep.sidecar.id[17..]).unwrap();
    let out = f.path("out");
    f.restore(&b, &out);
    assert_eq!(fs::read(out.join("chat.sql")).unwrap(), dump);
}

#[test]
fn partial_restore_with_path_filter() {
    let f = Fixture::new();
    let src = f.path("svc");
    sample_tree(&src);
    Sealer::new(&f.repo, "logs").path(&src).seal().unwrap();
    let b = f.repo.find("latest").unwrap();
    let out = f.path("out");
    let opener = Opener::new(&b).identity_file(&f.key_file).unwrap();
    let r = opener
        .restore(
            &out,
            &RestoreOptions {
                path: Some("svc/logs/x.log".into()),
                force: false,
            },
        )
        .unwrap();
    assert_eq!(r.entries, 1);
    assert_eq!(
        fs::read(out.join("svc/logs/x.log")).unwrap(),
        fs::read(src.join("logs/x.log")).unwrap()
    );
    assert!(!out.join("svc/media.bin").exists());
    // A filter that matches nothing is an error, and nothing is created.
    let out2 = f.path("out2");
    let e = opener
        .restore(
            &out2,
            &RestoreOptions {
                path: Some("svc/nope".into()),
                force: false,
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::PathNotInBackup { .. }), "{e}");
    assert!(!out2.exists());
}

#[test]
fn non_empty_target_is_refused_unless_forced_and_force_merges() {
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(src.join("data")).unwrap();
    fs::write(src.join("data/a"), "new a").unwrap();
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find("latest").unwrap();
    let opener = Opener::new(&b).identity_file(&f.key_file).unwrap();

    let target = f.path("target");
    fs::create_dir_all(target.join("svc/data")).unwrap();
    fs::write(target.join("svc/data/a"), "old a").unwrap();
    fs::write(target.join("svc/data/keep"), "keep me").unwrap();
    fs::write(target.join("unrelated"), "stay").unwrap();

    let e = opener
        .restore(&target, &RestoreOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::TargetNotEmpty { .. }), "{e}");
    assert_eq!(e.hint(), Some(nkbackup::Hint::ForceRestore));
    assert_eq!(
        fs::read_to_string(target.join("svc/data/a")).unwrap(),
        "old a"
    );

    opener
        .restore(
            &target,
            &RestoreOptions {
                path: None,
                force: true,
            },
        )
        .unwrap();
    assert_eq!(
        fs::read_to_string(target.join("svc/data/a")).unwrap(),
        "new a"
    );
    assert_eq!(
        fs::read_to_string(target.join("svc/data/keep")).unwrap(),
        "keep me"
    );
    assert_eq!(
        fs::read_to_string(target.join("unrelated")).unwrap(),
        "stay"
    );
    let staged: Vec<_> = fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".nkbackup-restore"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

#[test]
fn restore_into_existing_empty_directory() {
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "x").unwrap();
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find("latest").unwrap();
    let target = f.path("empty");
    fs::create_dir(&target).unwrap();
    f.restore(&b, &target);
    assert_eq!(fs::read_to_string(target.join("svc/f")).unwrap(), "x");
}

#[test]
fn special_files_are_skipped_and_listed_in_the_manifest() {
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("ok"), "ok").unwrap();
    let fifo = src.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    assert_eq!(rep.sidecar.skipped, 2);
    assert_eq!(rep.warning_count, 2);
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.contains("svc/pipe") && w.contains("fifo"))
    );
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.contains("svc/sock") && w.contains("socket"))
    );

    // The inner manifest (read with stock-equivalent parsing) lists them.
    let b = f.repo.find("latest").unwrap();
    let out = f.path("out");
    f.restore(&b, &out);
    let manifest = read_manifest(&f, &b);
    let skipped: Vec<_> = manifest
        .iter()
        .filter(|e| e.kind == EntryKind::Skipped)
        .map(|e| (e.path.to_string(), e.note.clone().unwrap()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(!out.join("svc/pipe").exists());
}

#[test]
fn top_level_symlink_source_is_stored_as_a_symlink() {
    let f = Fixture::new();
    let real = f.path("real");
    fs::create_dir_all(&real).unwrap();
    fs::write(real.join("data"), "d").unwrap();
    std::os::unix::fs::symlink(&real, f.path("alias")).unwrap();
    let rep = Sealer::new(&f.repo, "archive")
        .path(f.path("alias"))
        .seal()
        .unwrap();
    assert_eq!(rep.sidecar.entries, 1);
    assert_eq!(rep.sidecar.file_bytes, 0, "the link is not followed");
}

#[test]
fn repository_inside_a_source_is_not_backed_up() {
    let f = Fixture::new();
    // The fixture's temp dir holds the repository: seal the whole dir.
    fs::write(f.path("note.txt"), "n").unwrap();
    let rep = Sealer::new(&f.repo, "archive")
        .path(f.dir.path())
        .seal()
        .unwrap();
    assert!(
        rep.warnings.iter().any(|w| w.contains("repository itself")),
        "{:?}",
        rep.warnings
    );
}

#[test]
fn seal_problems_are_reported_before_anything_is_written() {
    let f = Fixture::new();
    let e = Sealer::new(&f.repo, "nope")
        .path(f.path("x"))
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::UnknownClass { .. }), "{e}");
    assert!(
        e.to_string().contains("archive"),
        "lists the defined classes: {e}"
    );

    let e = Sealer::new(&f.repo, "archive")
        .path(f.path("missing"))
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::Unreadable { .. }), "{e}");
    assert!(e.to_string().contains("missing"));

    fs::create_dir_all(f.path("a/svc")).unwrap();
    fs::create_dir_all(f.path("b/svc")).unwrap();
    let e = Sealer::new(&f.repo, "archive")
        .path(f.path("a/svc"))
        .path(f.path("b/svc"))
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::DuplicateSourceName { .. }), "{e}");

    let e = Sealer::new(&f.repo, "archive")
        .bytes("../evil", vec![])
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidName { .. }), "{e}");

    assert!(f.repo.list().unwrap().backups.is_empty());
    assert_eq!(
        fs::read_dir(f.repo.local_root().unwrap().join("tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn ids_resolve_by_prefix_suffix_and_latest() {
    let f = Fixture::new();
    let a = Sealer::new(&f.repo, "db")
        .bytes("a", b"a".to_vec())
        .seal()
        .unwrap();
    let b = Sealer::new(&f.repo, "db")
        .bytes("b", b"b".to_vec())
        .created_at(a.sidecar.created + time::Duration::hours(1))
        .seal()
        .unwrap();
    assert_eq!(f.repo.find("latest").unwrap().sidecar.id, b.sidecar.id);
    assert_eq!(
        f.repo.find(&a.sidecar.id[..20]).unwrap().sidecar.id,
        a.sidecar.id
    );
    assert_eq!(
        f.repo.find(&b.sidecar.id[17..]).unwrap().sidecar.id,
        b.sidecar.id
    );
    let e = f.repo.find("2").unwrap_err();
    assert!(matches!(e, Error::AmbiguousId { .. }), "{e}");
    let e = f.repo.find("ffffffffff").unwrap_err();
    assert!(matches!(e, Error::BackupNotFound { .. }), "{e}");
}

/// Decrypts a backup with the library's pieces and returns its manifest.
fn read_manifest(f: &Fixture, b: &nkbackup::BackupInfo) -> Vec<nkbackup::manifest::Entry> {
    use std::io::Read;
    let file = fs::File::open(&b.data_path).unwrap();
    let dec = age::Decryptor::new(file).unwrap();
    let r = dec
        .decrypt(std::iter::once(&f.key as &dyn age::Identity))
        .unwrap();
    let mut tar = tar::Archive::new(zstd::stream::read::Decoder::new(r).unwrap());
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path_bytes().as_ref() == b".nkbackup/manifest.jsonl" {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return s
                .lines()
                .skip(1)
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        }
    }
    panic!("no manifest")
}

#[test]
fn ownership_is_restored_when_restoring_as_root() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !common::is_root() {
        common::skip("restoring ownership needs root; CI runs as root");
        return;
    }
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("d/owned"), "x").unwrap();
    fs::write(src.join("setgid"), "x").unwrap();
    std::os::unix::fs::symlink("owned", src.join("d/link")).unwrap();
    std::os::unix::fs::lchown(src.join("d/owned"), Some(1234), Some(2345)).unwrap();
    std::os::unix::fs::lchown(src.join("d"), Some(4321), Some(5432)).unwrap();
    std::os::unix::fs::lchown(src.join("d/link"), Some(77), Some(88)).unwrap();
    std::os::unix::fs::lchown(src.join("setgid"), Some(10), Some(20)).unwrap();
    fs::set_permissions(src.join("setgid"), fs::Permissions::from_mode(0o2755)).unwrap();
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find("latest").unwrap();
    let out = f.path("out");
    f.restore(&b, &out);
    let m = |p: &str| fs::symlink_metadata(out.join(p)).unwrap();
    assert_eq!(
        (m("svc/d/owned").uid(), m("svc/d/owned").gid()),
        (1234, 2345)
    );
    assert_eq!((m("svc/d").uid(), m("svc/d").gid()), (4321, 5432));
    assert_eq!((m("svc/d/link").uid(), m("svc/d/link").gid()), (77, 88));
    assert_eq!(
        m("svc/setgid").mode() & 0o7777,
        0o2755,
        "set-id bit survives chown"
    );
    assert_eq!(m("svc/setgid").uid(), 10);
}

/// The walk hands the writer batches of entries, small files read in and
/// large ones still open: sizes on both sides of the inline limit (64 KiB),
/// batches cut by entry count and by bytes, and deep directories between
/// files all come back byte for byte and in walk order.
#[test]
fn many_files_across_batch_and_inline_limits_round_trip() {
    let f = Fixture::new();
    let src = f.path("spool");
    let mut expect = Vec::new();
    for i in 0..1300u32 {
        let dir = src.join(format!("d{:02}", i / 100));
        let size = match i % 7 {
            0 => 0,
            1 => 65_535,
            2 => 65_536,
            3 => 65_537,
            4 => 200_000 + i as usize,
            _ => (i as usize * 37) % 3000,
        };
        let data: Vec<u8> = (0..size).map(|b| (b as u32 ^ i) as u8).collect();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("f{i:04}")), &data).unwrap();
        expect.push(format!("spool/d{:02}/f{i:04}", i / 100));
    }
    let deep = src.join("d05/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t");
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("leaf"), b"deep").unwrap();

    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    let b = f.repo.find(&rep.sidecar.id).unwrap();
    let out = f.path("out");
    f.restore(&b, &out);
    let n = assert_same_tree(&src, &out.join("spool"));
    assert!(n > 1300, "compared {n} entries");

    // The stream holds the files in byte order of their paths.
    struct Files(Vec<String>);
    impl EntrySink for Files {
        fn entry(&mut self, e: &Entry, _: &mut dyn std::io::Read) -> nkbackup::Result<()> {
            if e.kind == EntryKind::File && !e.path.to_string().contains("/a/") {
                self.0.push(e.path.to_string());
            }
            Ok(())
        }
    }
    let mut files = Files(Vec::new());
    Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .verify_with(&mut files)
        .unwrap();
    assert_eq!(files.0, expect);
}

/// Files are created with their final mode; the mode is set again only
/// where the umask or a change of owner takes bits away. Every kind of
/// mode must come back exactly, whatever the umask.
#[test]
fn every_file_mode_comes_back_exactly() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let src = f.path("modes");
    fs::create_dir_all(&src).unwrap();
    let mut modes = vec![0o400, 0o444, 0o600, 0o644, 0o666, 0o755, 0o777, 0o1777];
    if common::is_root() {
        // Set-id bits are restored only when restoring as root; only root
        // can seal a file nobody may read.
        modes.extend([0o000, 0o4755, 0o2755, 0o6777]);
    }
    for m in &modes {
        let p = src.join(format!("m{m:o}"));
        fs::write(&p, b"x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(*m)).unwrap();
    }
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find("latest").unwrap();
    let out = f.path("out");
    f.restore(&b, &out);
    for m in &modes {
        let got = fs::symlink_metadata(out.join(format!("modes/m{m:o}")))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(got, *m, "mode {m:o} came back as {got:o}");
    }
    assert_same_tree(&src, &out.join("modes"));
}

/// Under a directory with a default ACL, the ACL and not the umask decides
/// the mode of a new file, so a file created with its final mode can still
/// come out different: the restore must then set every mode itself.
#[test]
fn modes_come_back_exactly_under_a_default_acl() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let src = f.path("acl-src");
    fs::create_dir_all(&src).unwrap();
    for m in [0o644, 0o755, 0o600] {
        let p = src.join(format!("m{m:o}"));
        fs::write(&p, b"x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
    }
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();

    // A default ACL of user::rwx, group::r-x, other::--- on the directory
    // the restore stages in (binary form of `system.posix_acl_default`:
    // version 2, then tag, permissions and id per entry).
    let parent = f.path("acl");
    fs::create_dir_all(&parent).unwrap();
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm) in [(0x01u16, 7u16), (0x04, 5), (0x20, 0)] {
        acl.extend(tag.to_le_bytes());
        acl.extend(perm.to_le_bytes());
        acl.extend(u32::MAX.to_le_bytes());
    }
    rustix::fs::setxattr(
        &parent,
        "system.posix_acl_default",
        &acl,
        rustix::fs::XattrFlags::empty(),
    )
    .expect("the test filesystem supports POSIX ACLs");
    // The ACL works: a new file there loses the bits it takes away.
    fs::write(parent.join("probe"), b"").unwrap();
    let probe = fs::metadata(parent.join("probe")).unwrap().permissions();
    assert_eq!(probe.mode() & 0o7, 0, "the default ACL took effect");
    fs::remove_file(parent.join("probe")).unwrap();

    let b = f.repo.find("latest").unwrap();
    let out = parent.join("out");
    f.restore(&b, &out);
    assert_same_tree(&src, &out.join("acl-src"));
}
