//! `ls` and `find`: what backups hold, read from the authenticated inner
//! manifest, through the library and the command line (directory
//! repositories; buckets: tests/s3.rs).

mod common;

use common::{Fixture, nkbackup, sample_tree};
use nkbackup::catalog::{self, HowRead, PathPattern};
use nkbackup::manifest::EntryKind;
use nkbackup::{Opener, Sealer};
use std::fs;
use std::process::Output;

fn cli(f: &Fixture, args: &[&str]) -> Output {
    nkbackup()
        .args(args)
        .arg("--repo")
        .arg(f.repo_path())
        .arg("-i")
        .arg(&f.key_file)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn ls_lists_every_entry_or_those_below_a_path_with_digests() {
    let f = Fixture::new();
    let src = f.path("svc");
    sample_tree(&src);
    let b = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let found = f.repo.find(&b.sidecar.id).unwrap();
    let o = || Opener::new(&found).identity_file(&f.key_file).unwrap();

    let all = o().entries(&[]).unwrap();
    assert_eq!(all.entries.len() as u64, b.sidecar.entries);
    let x = all
        .entries
        .iter()
        .find(|e| e.path.to_string() == "svc/logs/x.log")
        .expect("svc/logs/x.log listed");
    assert_eq!((x.kind, x.size), (EntryKind::File, 1800));
    let content = fs::read(src.join("logs/x.log")).unwrap();
    assert_eq!(
        x.sha256.as_deref(),
        Some(nkbackup::digest::sha256_hex(&content).as_str())
    );
    // Read through the payload's index, not from start to end.
    match &all.read {
        HowRead::Index(r) => assert!(r.ciphertext_read < r.ciphertext_bytes, "{r:?}"),
        other => panic!("read {other:?}"),
    }

    let logs = o().entries(&["svc/logs/".into()]).unwrap();
    let mut names: Vec<String> = logs.entries.iter().map(|e| e.path.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "svc/logs",
            "svc/logs/old",
            "svc/logs/old/y.log",
            "svc/logs/x.log"
        ]
    );
    let e = o().entries(&["svc/nothing".into()]).unwrap_err();
    assert!(e.to_string().contains("has no entry"), "{e}");

    // The command line: a line per entry, JSON with the manifest's fields,
    // a clear error for a path that is not there.
    let (out, err) = text(&cli(&f, &["ls", &b.sidecar.id, "svc/logs"]));
    assert_eq!(out.lines().count(), 4, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("- 0644         1800 ") && l.ends_with(" svc/logs/x.log")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("d ")), "{out}");
    let (out, _) = text(&cli(&f, &["ls", "latest", "svc/current.log", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], b.sidecar.id.as_str());
    assert_eq!(v["entries"][0]["type"], "symlink");
    assert_eq!(v["entries"][0]["target"], "logs/x.log");
    let no = cli(&f, &["ls", "latest", "svc/nope"]);
    assert_eq!(no.status.code(), Some(1));
    assert!(text(&no).1.contains("has no entry"), "{}", text(&no).1);
    // Without a key: refused, nothing listed.
    let bare = nkbackup()
        .args(["ls", "latest", "--repo"])
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert!(!bare.status.success() && bare.stdout.is_empty());
}

#[test]
fn find_names_the_backups_holding_a_match_and_goes_on_past_a_damaged_one() {
    let f = Fixture::new();
    let seal = |class: &str, name: &str| {
        Sealer::new(&f.repo, class)
            .bytes(name, b"mail".to_vec())
            .seal()
            .unwrap()
            .sidecar
            .id
    };
    let a = seal("archive", "alice.mbox");
    let b = seal("archive", "bob.txt");
    let c = seal("logs", "carol.mbox");
    let mut keys = nkbackup::unlock::Keys::new();
    for id in nkbackup::identity::load_file(&f.key_file).unwrap() {
        keys.add(id);
    }
    let p = PathPattern::new("*.mbox").unwrap();
    let mut seen = Vec::new();
    let rep = catalog::find(&f.repo, &keys, &p, None, &mut |id| seen.push(id.to_owned())).unwrap();
    assert_eq!(rep.searched, 3);
    assert_eq!(seen.len(), 3);
    let ids: Vec<&str> = rep.found.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), c.as_str()]);
    assert!(rep.problems.is_empty());
    let rep = catalog::find(&f.repo, &keys, &p, Some("logs"), &mut |_| {}).unwrap();
    assert_eq!((rep.searched, rep.found.len()), (1, 1));

    // The command line: exit 0 with matches, 1 without.
    let o = cli(&f, &["find", "*.mbox"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains(&a) && out.contains(&c) && !out.contains(&b),
        "{out}"
    );
    assert!(out.contains("2 of 3 backup(s)"), "{out}");
    assert_eq!(cli(&f, &["find", "*.nothing"]).status.code(), Some(1));
    let bare = nkbackup()
        .args(["find", "*.mbox", "--repo"])
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert!(text(&bare).1.contains("no key given"), "{}", text(&bare).1);
    let bad = cli(&f, &["find", "a["]);
    assert!(
        text(&bad).1.contains("invalid find pattern"),
        "{}",
        text(&bad).1
    );

    // One backup damaged in its middle: the others are still searched,
    // the damaged one is named, exit 3.
    let data = f.repo.find(&a).unwrap().data_path;
    let mut bytes = fs::read(&data).unwrap();
    let mid = bytes.len() - 40;
    bytes[mid] ^= 0xff;
    fs::write(&data, &bytes).unwrap();
    let o = cli(&f, &["find", "*.mbox"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(
        out.contains(&c) && !out.contains(&format!("{a} (")),
        "{out}"
    );
    assert!(
        err.contains(&a) && err.contains("could not be searched"),
        "{err}"
    );
}

/// Decrypts a backup's payload with the fixture's key.
fn payload(f: &Fixture, data: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let d = age::Decryptor::new(fs::File::open(data).unwrap()).unwrap();
    let mut out = Vec::new();
    d.decrypt(std::iter::once(&f.key as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// `svc/` with three frames' worth of bytes that do not compress
/// (`big.bin`, 48 MiB) and two small files after it, sealed: the small
/// files share a frame with big.bin's last 1.5 KiB only.
fn seal_big(f: &Fixture) -> (nkbackup::SealReport, Vec<u8>) {
    let src = f.path("svc");
    fs::create_dir_all(src.join("sub")).unwrap();
    let big = common::noise(3 * nkbackup::compression::FRAME_BYTES as usize);
    fs::write(src.join("big.bin"), &big).unwrap();
    fs::write(src.join("small.txt"), b"small").unwrap();
    fs::write(src.join("sub/other.txt"), b"other").unwrap();
    let b = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    (b, big)
}

#[test]
fn ls_reads_only_the_index_and_refuses_a_lying_seek_table() {
    let f = Fixture::new();
    let (b, _) = seal_big(&f);
    let found = f.repo.find(&b.sidecar.id).unwrap();
    let listing = Opener::new(&found)
        .identity_file(&f.key_file)
        .unwrap()
        .entries(&[])
        .unwrap();
    assert_eq!(listing.entries.len(), 5);
    let HowRead::Index(r) = &listing.read else {
        panic!("read {:?}", listing.read)
    };
    assert!(
        r.ciphertext_read * 100 <= r.ciphertext_bytes,
        "read {} of {} bytes",
        r.ciphertext_read,
        r.ciphertext_bytes
    );

    // The payload: the data frames and the manifest's, the locator, the
    // seek table; stock zstd still reads it whole (tests/interop.rs).
    let plain = payload(&f, &b.data_path);
    let n = plain.len();
    assert_eq!(&plain[n - 4..], &0x8F92_EAB1u32.to_le_bytes());
    let frames = u32::from_le_bytes(plain[n - 9..n - 5].try_into().unwrap()) as usize;
    // Three frames of big.bin and its headers, a fourth of its last bytes
    // and the small files, then the manifest's own frame.
    assert_eq!(frames, 5);
    let locator = n - 9 - frames * 8 - 8 - 24;
    assert_eq!(&plain[locator + 8..locator + 16], b"nkbackup");

    // Planted with a lie in the tail, by someone holding only the public
    // key: each is refused as damaged, naming the seek table.
    let manifest = Some((
        b.sidecar.entries,
        b.sidecar.skipped,
        b.sidecar.file_bytes,
        b.sidecar.manifest_sha256.clone(),
    ));
    type Lie = Box<dyn Fn(&mut Vec<u8>)>;
    let lies: [(&str, Lie, &str); 3] = [
        (
            "20261101T000001Z-7e57c0d1",
            Box::new(move |p: &mut Vec<u8>| p[locator + 16] ^= 0x40),
            "does not start a frame",
        ),
        (
            "20261101T000002Z-7e57c0d2",
            Box::new(|p: &mut Vec<u8>| {
                let n = p.len();
                p[n - 9..n - 5].copy_from_slice(&u32::MAX.to_le_bytes())
            }),
            "frames",
        ),
        (
            "20261101T000003Z-7e57c0d3",
            Box::new(move |p: &mut Vec<u8>| {
                // The first frame claims a byte more than it holds.
                let at = locator + 24 + 8;
                let c = u32::from_le_bytes(p[at..at + 4].try_into().unwrap());
                p[at..at + 4].copy_from_slice(&(c + 1).to_le_bytes());
            }),
            "add up to",
        ),
    ];
    for (id, lie, says) in lies {
        let mut p = plain.clone();
        lie(&mut p);
        common::plant_stream(&f, id, &p[..], true, manifest.clone());
        let planted = f.repo.find(id).unwrap();
        let e = Opener::new(&planted)
            .identity_file(&f.key_file)
            .unwrap()
            .entries(&[])
            .unwrap_err();
        assert!(matches!(e, nkbackup::Error::Damaged { .. }), "{id}: {e}");
        let msg = e.to_string();
        assert!(
            msg.contains("seek table") && msg.contains(says),
            "{id}: {msg}"
        );
    }
}

#[test]
fn an_uncompressed_class_lists_by_reading_the_whole_backup() {
    let f = Fixture::new();
    f.write_classes("[classes.plain]\ncompression = \"none\"\n");
    let repo = nkbackup::Repository::open(f.repo_path()).unwrap();
    let b = Sealer::new(&repo, "plain")
        .bytes("a.txt", b"abc".to_vec())
        .seal()
        .unwrap();
    let found = repo.find(&b.sidecar.id).unwrap();
    let l = Opener::new(&found)
        .identity_file(&f.key_file)
        .unwrap()
        .entries(&[])
        .unwrap();
    assert_eq!(l.entries.len(), 1);
    assert!(matches!(l.read, HowRead::Sequential(_)), "{:?}", l.read);
}

#[test]
fn restore_of_one_path_reads_only_its_frames_and_a_damaged_chunk_fails_only_its_file() {
    let f = Fixture::new();
    let (b, big) = seal_big(&f);
    let restore = |path: &str, to: &str| {
        let found = f.repo.find(&b.sidecar.id).unwrap();
        Opener::new(&found)
            .identity_file(&f.key_file)
            .unwrap()
            .restore(
                &f.path(to),
                &nkbackup::RestoreOptions {
                    path: Some(path.into()),
                    force: false,
                },
            )
    };
    let r = restore("svc/small.txt", "one").unwrap();
    let ix = r.index.as_ref().expect("restored through the index");
    assert_eq!((r.entries, r.bytes), (1, 5));
    assert!(
        ix.ciphertext_read * 100 <= 3 * ix.ciphertext_bytes,
        "read {} of {}",
        ix.ciphertext_read,
        ix.ciphertext_bytes
    );
    assert_eq!(fs::read(f.path("one/svc/small.txt")).unwrap(), b"small");
    let r = restore("svc/big.bin", "big").unwrap();
    assert!(r.index.is_some());
    assert!(fs::read(f.path("big/svc/big.bin")).unwrap() == big);
    let r = restore("svc/sub", "sub").unwrap();
    assert_eq!(r.entries, 2);
    assert_eq!(fs::read(f.path("sub/svc/sub/other.txt")).unwrap(), b"other");

    // One byte of big.bin's second frame changed on disk: big.bin and the
    // whole backup are damaged, small.txt (in a later frame) still restores.
    let mut data = fs::read(&b.data_path).unwrap();
    let at = data.len() / 4;
    data[at] ^= 1;
    fs::write(&b.data_path, &data).unwrap();
    let e = restore("svc/big.bin", "big2").unwrap_err();
    assert!(matches!(e, nkbackup::Error::Damaged { .. }), "{e}");
    assert!(!f.path("big2").exists(), "a refused restore leaves nothing");
    let r = restore("svc/small.txt", "one2").unwrap();
    assert_eq!(fs::read(f.path("one2/svc/small.txt")).unwrap(), b"small");
    assert!(r.index.is_some());
    let found = f.repo.find(&b.sidecar.id).unwrap();
    let e = Opener::new(&found)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(&f.path("all"), &Default::default())
        .unwrap_err();
    assert!(matches!(e, nkbackup::Error::Damaged { .. }), "{e}");
}
