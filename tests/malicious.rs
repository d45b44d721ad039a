//! Hand-built hostile archives, sealed with the library's own writer
//! bypassed: each escape attempt is refused, nothing is written outside the
//! target, and no finished-looking target is left.

mod common;

use common::Fixture;
use nkbackup::manifest::{SIDECAR_FORMAT, Sidecar};
use nkbackup::{BackupId, Error, ErrorKind, Opener, RestoreOptions};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use tar::{EntryType, Header};

/// One raw tar entry: type, path bytes, link target, content.
struct Raw<'a>(EntryType, &'a [u8], &'a [u8], &'a [u8]);

/// Writes a ustar header with the name copied in byte for byte, so that the
/// `tar` crate's own path checks are bypassed.
fn raw_tar(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let all = std::iter::once(Raw(EntryType::Directory, b".nkbackup", b"", b""))
        .chain(entries.iter().map(|r| Raw(r.0, r.1, r.2, r.3)));
    for Raw(kind, path, link, data) in all {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..path.len()].copy_from_slice(path);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Compresses, encrypts to the fixture key and commits `tar` as a backup
/// with a correct sidecar, as an attacker with write access to the
/// repository and the public key could.
fn plant(f: &Fixture, tar: &[u8]) -> nkbackup::BackupInfo {
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let id = BackupId::new(created).to_string();
    let zst = zstd::encode_all(tar, 3).unwrap();
    let mut age_bytes = Vec::new();
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&f.key.to_public() as &dyn age::Recipient))
            .unwrap();
    let mut w = enc.wrap_output(&mut age_bytes).unwrap();
    w.write_all(&zst).unwrap();
    w.finish().unwrap();
    let dir = f.repo.local_root().unwrap().join("backups/archive");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("{id}.age")), &age_bytes).unwrap();
    let sc = Sidecar {
        format: SIDECAR_FORMAT.into(),
        id: id.clone(),
        class: "archive".into(),
        created,
        host: "attacker".into(),
        tool: "hand-made".into(),
        compression: "zstd:3".into(),
        data: format!("{id}.age"),
        entries: 0,
        skipped: 0,
        file_bytes: 0,
        tar_bytes: tar.len() as u64,
        ciphertext_bytes: age_bytes.len() as u64,
        ciphertext_sha256: hex::encode(Sha256::digest(&age_bytes)),
        manifest_sha256: "0".repeat(64),
        recipients: vec![],
        deadline: None,
        rewrap_pending: None,
        period_key: None,
        job: None,
    };
    fs::write(
        dir.join(format!("{id}.json")),
        serde_json::to_vec(&sc).unwrap(),
    )
    .unwrap();
    f.repo.find(&id).unwrap()
}

/// Restores and asserts the refusal; returns the error message.
fn refused(f: &Fixture, entries: &[Raw], outside: &std::path::Path) -> String {
    let b = plant(f, &raw_tar(entries));
    f.repo
        .verify_shallow(&b)
        .expect("the planted file matches its sidecar");
    let opener = Opener::new(&b).identity_file(&f.key_file).unwrap();
    let target = f.path("target");
    let e = opener
        .restore(&target, &RestoreOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::UnsafeEntry { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert!(!target.exists(), "no target after a refused restore");
    assert!(
        fs::read_dir(outside).unwrap().next().is_none(),
        "something was written outside the target"
    );
    let left: Vec<_> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // verify --deep refuses the same archive.
    let e2 = opener.verify_deep().unwrap_err();
    assert_eq!(e2.kind(), ErrorKind::Integrity, "{e2}");
    e.to_string()
}

fn outside(f: &Fixture) -> std::path::PathBuf {
    let o = f.path("outside");
    fs::create_dir_all(&o).unwrap();
    o
}

#[test]
fn absolute_path_is_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    let abs = o.join("evil");
    let m = refused(
        &f,
        &[Raw(
            EntryType::Regular,
            abs.as_os_str().as_encoded_bytes(),
            b"",
            b"x",
        )],
        &o,
    );
    assert!(m.contains("absolute path"), "{m}");
}

#[test]
fn dot_dot_is_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    let m = refused(
        &f,
        &[Raw(EntryType::Regular, b"a/../../outside/evil", b"", b"x")],
        &o,
    );
    assert!(m.contains("'..'"), "{m}");
}

#[test]
fn write_through_symlink_is_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    let m = refused(
        &f,
        &[
            Raw(
                EntryType::Symlink,
                b"link",
                o.as_os_str().as_encoded_bytes(),
                b"",
            ),
            Raw(EntryType::Regular, b"link/evil", b"", b"x"),
        ],
        &o,
    );
    assert!(m.contains("passes through a symlink"), "{m}");
}

#[test]
fn hardlink_outside_is_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    let m = refused(
        &f,
        &[Raw(EntryType::Link, b"h", b"../../etc/passwd", b"")],
        &o,
    );
    assert!(m.contains("hard link"), "{m}");
    let m = refused(&f, &[Raw(EntryType::Link, b"h", b"/etc/passwd", b"")], &o);
    assert!(m.contains("hard link"), "{m}");
}

#[test]
fn hardlink_through_symlink_is_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    fs::write(f.path("victim"), "v").unwrap();
    let m = refused(
        &f,
        &[
            Raw(
                EntryType::Symlink,
                b"s",
                f.dir.path().as_os_str().as_encoded_bytes(),
                b"",
            ),
            Raw(EntryType::Link, b"h", b"s/victim", b""),
        ],
        &o,
    );
    assert!(m.contains("symlink"), "{m}");
}

#[test]
fn device_nodes_and_fifos_are_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    let m = refused(&f, &[Raw(EntryType::Char, b"null", b"", b"")], &o);
    assert!(m.contains("device node"), "{m}");
    let m = refused(&f, &[Raw(EntryType::Block, b"sda", b"", b"")], &o);
    assert!(m.contains("device node"), "{m}");
    let m = refused(&f, &[Raw(EntryType::Fifo, b"p", b"", b"")], &o);
    assert!(m.contains("fifo"), "{m}");
}

#[test]
fn reserved_path_is_refused() {
    let f = Fixture::new();
    let o = outside(&f);
    let m = refused(
        &f,
        &[Raw(EntryType::Regular, b".nkbackup/evil", b"", b"x")],
        &o,
    );
    assert!(m.contains("reserved"), "{m}");
}

#[test]
fn archive_without_manifest_is_damaged_and_restores_nothing() {
    let f = Fixture::new();
    let b = plant(
        &f,
        &raw_tar(&[Raw(EntryType::Regular, b"fine.txt", b"", b"ok")]),
    );
    let target = f.path("target");
    let e = Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(&target, &RestoreOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::Damaged { .. }), "{e}");
    assert!(e.to_string().contains("inner manifest is missing"), "{e}");
    assert!(!target.exists());
}
