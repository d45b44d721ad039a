//! Every length an attacker chooses has a bound (docs/FORMAT.md §10,
//! src/limits.rs). Each test here plants something that claims gigabytes,
//! runs the real `nkbackup` on it and reads the process's peak resident
//! memory (`VmHWM`, which the binary reports with the `test-hooks`
//! feature): the command must refuse with a clear "damaged" error (exit 3)
//! while its peak stays under 128 MiB.
#![cfg(feature = "test-hooks")]

mod common;

use common::{Fixture, nkbackup, plant_stream};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// The budget every refusal must stay within.
const BUDGET_KIB: i64 = 128 * 1024;
const ID: &str = "20261101T000000Z-7e57c0de";

/// Runs `cmd` to its end; its exit code, its output, and its peak RSS in
/// KiB, which the binary itself reports (a test hook: see
/// `report_peak_memory` in src/bin/nkbackup/main.rs).
fn measured(mut cmd: Command) -> (i32, String, i64) {
    let out = cmd.env("NKBACKUP_TEST_PEAK_RSS", "1").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("nkbackup-test: VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| {
            panic!("no peak memory reported (build with --features test-hooks): {text}")
        });
    (out.status.code().unwrap_or(-1), text, rss)
}

fn cli(f: &Fixture, args: &[&str]) -> Command {
    let mut c = nkbackup();
    c.args(args).arg("--repo").arg(f.repo_path());
    c
}

fn deep(f: &Fixture) -> Command {
    cli(
        f,
        &["verify", ID, "--deep", "-i", f.key_file.to_str().unwrap()],
    )
}

/// Asserts a refusal with exit 3 saying `says`, within the budget.
fn refused_within_budget(what: &str, cmd: Command, says: &str) {
    let (code, out, rss) = measured(cmd);
    assert_eq!(code, 3, "{what}: {out}");
    assert!(out.contains(says), "{what}: {out}");
    assert!(
        rss < BUDGET_KIB,
        "{what}: peak RSS {rss} KiB is over the {BUDGET_KIB} KiB budget"
    );
    eprintln!("{what}: refused, peak RSS {} MiB", rss / 1024);
}

/// A ustar header for `name` of type `typ` claiming `size` bytes.
fn header(name: &[u8], typ: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(tar::EntryType::new(typ));
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn start() -> Vec<u8> {
    header(b".nkbackup", b'5', 0)
}

#[test]
fn a_pax_header_claiming_2_gib() {
    let f = Fixture::new();
    let mut s = start();
    s.extend(header(b"././@PaxHeader", b'x', 2 << 30));
    s.extend(vec![b'x'; 100_000]);
    plant_stream(&f, ID, &s[..], false, None);
    refused_within_budget("pax header of 2 GiB", deep(&f), "larger than the 65536");
}

#[test]
fn a_gnu_long_name_claiming_1_gib() {
    let f = Fixture::new();
    let mut s = start();
    s.extend(header(b"././@LongLink", b'L', 1 << 30));
    s.extend(vec![b'a'; 100_000]);
    plant_stream(&f, ID, &s[..], false, None);
    refused_within_budget("GNU long name of 1 GiB", deep(&f), "larger than the 4096");
}

#[test]
fn an_inner_manifest_line_of_a_gigabyte() {
    let f = Fixture::new();
    let mut s = start();
    s.extend(header(b".nkbackup/manifest.jsonl", b'0', 1 << 30));
    // A gigabyte of one line, streamed through zstd (a few MiB stored).
    let line = std::io::repeat(b'a').take(1 << 30);
    plant_stream(&f, ID, (&s[..]).chain(line), false, None);
    refused_within_budget(
        "manifest line of 1 GiB",
        deep(&f),
        "longer than 65536 bytes",
    );
}

#[test]
fn a_zstd_frame_asking_for_a_2_gib_window() {
    let f = Fixture::new();
    // Frame header: magic, descriptor 0, window descriptor 0xA8 = 2^31.
    let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0x01, 0x00, 0x00];
    plant_stream(&f, ID, &frame[..], true, None);
    refused_within_budget(
        "zstd window of 2 GiB",
        deep(&f),
        "Frame requires too much memory",
    );
}

/// The symlink set of the old reader grew with the names' total length
/// (a 487 KB backup took 974 MB); directories and symlinks are now kept as
/// 64-bit hashes.
#[test]
fn six_hundred_thousand_symlinks_with_long_names() {
    let f = Fixture::new();
    struct Links {
        i: u32,
        buf: Vec<u8>,
        pos: usize,
    }
    impl Read for Links {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.pos == self.buf.len() {
                self.buf.clear();
                self.pos = 0;
                if self.i == 600_000 {
                    return Ok(0);
                }
                let name = format!("s/{:08}{}", self.i, "n".repeat(240));
                let mut rec = Vec::new();
                nkbackup::format::pax::push_record(&mut rec, "path", name.as_bytes());
                self.buf
                    .extend(header(b"././@PaxHeader", b'x', rec.len() as u64));
                rec.resize(rec.len().div_ceil(512) * 512, 0);
                self.buf.extend(rec);
                let mut h = tar::Header::new_ustar();
                h.as_old_mut().name[..1].copy_from_slice(b"l");
                h.as_old_mut().linkname[..6].copy_from_slice(b"target");
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                h.set_cksum();
                self.buf.extend_from_slice(h.as_bytes());
                self.i += 1;
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
    let mut s = start();
    s.extend(header(b"s", b'5', 0));
    let links = Links {
        i: 0,
        buf: Vec::new(),
        pos: 0,
    };
    // Ends without a manifest, after 600 000 symlinks of 250-byte names
    // (150 MB of names).
    let end = [0u8; 1024];
    plant_stream(&f, ID, (&s[..]).chain(links).chain(&end[..]), false, None);
    refused_within_budget(
        "600 000 symlinks with 250-byte names",
        deep(&f),
        "inner manifest is missing",
    );
}

/// Grows the file at `p` to `len` bytes without writing them (sparse).
fn grow(p: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn whole_objects_claiming_gigabytes() {
    let f = Fixture::new();
    let id = common::seal_at(&f.repo, "archive", time::OffsetDateTime::now_utc());
    let side = f.repo_path().join(format!("backups/archive/{id}.json"));
    grow(&side, 2 << 30);
    refused_within_budget(
        "sidecar of 2 GiB",
        cli(&f, &["verify", &id]),
        "larger than 1048576 bytes",
    );
    let j = f.repo_path().join("journal");
    fs::create_dir_all(&j).unwrap();
    grow(&j.join("deletions.jsonl"), 4 << 30);
    refused_within_budget(
        "journal of 4 GiB",
        cli(&f, &["retention", "verify"]),
        "deletions.jsonl is larger than",
    );
    let e = f.repo_path().join("escrow/k");
    fs::create_dir_all(&e).unwrap();
    grow(&e.join(format!("{ID}.json")), 2 << 30);
    refused_within_budget(
        "escrow sidecar of 2 GiB",
        cli(&f, &["escrow", "list"]),
        "larger than 1048576 bytes",
    );
    grow(&f.repo_path().join("nkbackup.toml"), 24 << 30);
    refused_within_budget(
        "configuration of 24 GiB",
        cli(&f, &["list"]),
        "nkbackup.toml is larger than",
    );
}

#[test]
fn a_journal_line_of_100_mib_is_damage_not_memory() {
    let f = Fixture::new();
    let j = f.repo_path().join("journal");
    fs::create_dir_all(&j).unwrap();
    grow(&j.join("deletions.jsonl"), 100 << 20);
    let (code, out, rss) = measured(cli(&f, &["retention", "verify"]));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("longer than 65536 bytes"), "{out}");
    assert!(rss < BUDGET_KIB, "peak RSS {rss} KiB");
}

#[test]
fn a_recovery_key_file_of_a_gigabyte_is_refused_at_once() {
    let f = Fixture::new();
    let (code, out, _) = measured(cli(&f, &["recovery-key", "new"]));
    assert_eq!(code, 0, "{out}");
    let k = f.path("key.txt.huge");
    grow(&k, 1 << 30);
    let (code, out, rss) = measured(cli(
        &f,
        &[
            "recovery-key",
            "check",
            "--recovery-key-file",
            k.to_str().unwrap(),
        ],
    ));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("larger than 65536 bytes"), "{out}");
    assert!(rss < BUDGET_KIB, "peak RSS {rss} KiB");
}

/// The `age` crate holds a header line whole: a data file whose header is
/// one line of 300 MiB is refused after 256 KiB.
#[test]
fn an_age_header_line_of_300_mib() {
    let f = Fixture::new();
    let dir = f.repo_path().join("backups/archive");
    fs::create_dir_all(&dir).unwrap();
    {
        use std::io::Write;
        let mut w =
            std::io::BufWriter::new(fs::File::create(dir.join(format!("{ID}.age"))).unwrap());
        w.write_all(b"age-encryption.org/v1\n-> X25519 ").unwrap();
        std::io::copy(&mut std::io::repeat(b'A').take(300 << 20), &mut w).unwrap();
        w.flush().unwrap();
    }
    common::plant_sidecar(&f, ID, 0, None);
    refused_within_budget(
        "age header line of 300 MiB",
        deep(&f),
        "its age header is longer than",
    );
}
