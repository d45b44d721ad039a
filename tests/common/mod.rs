//! Helpers shared by the integration tests: a repository with a software
//! key, a sample tree with every kind of entry, tree comparison, and access
//! to the stock tools the interop tests need.
#![allow(dead_code)]

pub mod cut_proxy;
pub mod garage;
pub mod rgw;

/// The `NAME=value` lines of an env file a test server's script wrote.
pub fn read_env(path: &Path) -> std::collections::HashMap<String, String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

use nkbackup::Repository;
use nkbackup::config::RecipientConfig;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A repository in a temp dir with one software recipient.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
    pub key: age::x25519::Identity,
    pub key_file: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut repo = Repository::init(&dir.path().join("repo")).unwrap();
        let key = age::x25519::Identity::generate();
        let key_file = dir.path().join("key.txt");
        use secrecy::ExposeSecret;
        fs::write(&key_file, format!("{}\n", key.to_string().expose_secret())).unwrap();
        repo.add_recipient(RecipientConfig {
            label: "test-key".into(),
            kind: "age".into(),
            key: key.to_public().to_string(),
            ..Default::default()
        })
        .unwrap();
        Fixture {
            dir,
            repo,
            key,
            key_file,
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn repo_path(&self) -> &Path {
        self.repo.local_root().unwrap()
    }

    /// Replaces the classes of the config with `classes` (TOML tables) and
    /// reopens the repository.
    pub fn with_classes(&self, classes: &str) -> Repository {
        self.write_classes(classes);
        Repository::open(self.repo_path()).unwrap()
    }

    /// Replaces the configuration's classes without opening the
    /// repository (for classes that must fail to load).
    pub fn write_classes(&self, classes: &str) {
        let cfg = self.repo_path().join("nkbackup.toml");
        let text = fs::read_to_string(&cfg).unwrap();
        let head = &text[..text.find("# Classes:").unwrap()];
        let recipients = &text[text.find("[[recipients]]").unwrap()..];
        fs::write(&cfg, format!("{head}# Classes:\n{classes}\n{recipients}")).unwrap();
    }

    /// Restores `b` into `out` with the fixture's key (default options).
    pub fn restore(&self, b: &nkbackup::BackupInfo, out: &Path) -> nkbackup::RestoreReport {
        nkbackup::Opener::new(b)
            .identity_file(&self.key_file)
            .unwrap()
            .restore(out, &nkbackup::RestoreOptions::default())
            .unwrap()
    }
}

/// Builds a tree with files of several sizes, an empty file, an empty
/// directory, a symlink, a hard link, a long path, a non-UTF-8 name and
/// unusual modes.
pub fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("logs/old")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(root.join("logs/x.log"), "line one\nline two\n".repeat(100)).unwrap();
    fs::write(root.join("logs/old/y.log"), "old\n").unwrap();
    fs::write(root.join("empty.txt"), "").unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(root.join("media.bin"), &big).unwrap();
    std::os::unix::fs::symlink("logs/x.log", root.join("current.log")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::hard_link(root.join("logs/x.log"), root.join("x-hardlink.log")).unwrap();
    let long = root
        .join("d".repeat(90))
        .join("e".repeat(90))
        .join("f".repeat(120));
    fs::create_dir_all(long.parent().unwrap()).unwrap();
    fs::write(&long, "deep").unwrap();
    let raw = std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9.txt");
    fs::write(root.join(raw), "non-utf8 name").unwrap();
    fs::write(root.join("secret.key"), "s").unwrap();
    fs::set_permissions(root.join("secret.key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
}

/// Asserts that two trees hold the same names, kinds, contents, link
/// targets and permission bits. Returns the number of entries compared.
pub fn assert_same_tree(a: &Path, b: &Path) -> usize {
    let mut n = 0;
    let mut names_a: Vec<_> = fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut names_b: Vec<_> = fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names_a.sort();
    names_b.sort();
    assert_eq!(
        names_a,
        names_b,
        "entries of {} vs {}",
        a.display(),
        b.display()
    );
    for name in names_a {
        let (pa, pb) = (a.join(&name), b.join(&name));
        let (ma, mb) = (
            fs::symlink_metadata(&pa).unwrap(),
            fs::symlink_metadata(&pb).unwrap(),
        );
        assert_eq!(ma.file_type(), mb.file_type(), "{}", pa.display());
        if ma.file_type().is_symlink() {
            assert_eq!(fs::read_link(&pa).unwrap(), fs::read_link(&pb).unwrap());
        } else {
            assert_eq!(
                ma.mode() & 0o7777,
                mb.mode() & 0o7777,
                "mode of {}",
                pb.display()
            );
            if ma.is_dir() {
                n += assert_same_tree(&pa, &pb);
            } else {
                assert_eq!(
                    fs::read(&pa).unwrap(),
                    fs::read(&pb).unwrap(),
                    "{}",
                    pb.display()
                );
                assert_eq!(ma.mtime(), mb.mtime(), "mtime of {}", pb.display());
            }
        }
        n += 1;
    }
    n
}

/// The `nkbackup` binary built for these tests.
pub fn nkbackup() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nkbackup"))
}

/// The one test-skip policy: a test that cannot run here fails under CI
/// and tests/run-all.sh (`CI` or `NKBACKUP_REQUIRE_TOOLS` set: they must
/// run it), and elsewhere says why it is skipped. The caller returns.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some() || std::env::var_os("NKBACKUP_REQUIRE_TOOLS").is_some() {
        panic!("{why}; under CI and tests/run-all.sh this test must run");
    }
    eprintln!("SKIPPED: {why}");
}

/// Whether a stock tool is on PATH. When it is not, a test that needs it
/// fails under CI (CI must run it) and otherwise says why it is skipped.
pub fn have_tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        skip(&format!(
            "{name} is not installed; run tests/run-all.sh to install it and run this test"
        ));
    }
    found
}

/// Whether the tests run as root (some failure modes need or differ for root).
pub fn is_root() -> bool {
    let d = tempfile::tempdir().unwrap();
    fs::metadata(d.path()).unwrap().uid() == 0
}

/// Changes the body of the first stanza tagged `tag` in the age header of
/// the file at `path` (e.g. `nkbackup/openpgp`, `X25519`): its decoded
/// bytes are given to `damage`, which must keep their length, and written
/// back in place. Everything else in the file stays as it was.
pub fn damage_stanza_body(path: &Path, tag: &str, damage: impl FnOnce(&mut Vec<u8>)) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let bytes = fs::read(path).unwrap();
    let mac = bytes
        .windows(5)
        .position(|w| w == b"\n--- ")
        .expect("an age header");
    let header = std::str::from_utf8(&bytes[..mac + 1]).expect("an ASCII header");
    let mut lines: Vec<String> = header.lines().map(str::to_owned).collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("-> {tag} ")) || *l == format!("-> {tag}"))
        .unwrap_or_else(|| panic!("no {tag} stanza in {}", path.display()))
        + 1;
    let end = (start..lines.len())
        .find(|&i| lines[i].starts_with("-> "))
        .unwrap_or(lines.len());
    let mut body = b64.decode(lines[start..end].concat()).unwrap();
    let len = body.len();
    damage(&mut body);
    assert_eq!(body.len(), len, "the damage must keep the body's length");
    let text = b64.encode(&body);
    let mut new: Vec<String> = text
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    if text.len() % 64 == 0 {
        new.push(String::new()); // age ends a body with a line shorter than 64
    }
    assert_eq!(new.len(), end - start, "same number of body lines");
    lines.splice(start..end, new);
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    assert_eq!(out.len(), mac + 1);
    out.extend_from_slice(&bytes[mac + 1..]);
    fs::write(path, out).unwrap();
}

/// Seals a small backup of `class` dated `t` (retention tests); its id.
pub fn seal_at(repo: &Repository, class: &str, t: time::OffsetDateTime) -> String {
    nkbackup::Sealer::new(repo, class)
        .bytes("data.txt", format!("{class} at {t}").into_bytes())
        .created_at(t)
        .seal()
        .unwrap()
        .sidecar
        .id
}

/// A mount, unmounted when dropped.
pub struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A tmpfs of `size` mounted at `mnt` (a new directory), or `None` when not
/// root (the caller's test is skipped; in CI that fails).
pub fn small_tmpfs(mnt: &std::path::Path, size: &str) -> Option<Unmount> {
    if !is_root() {
        eprintln!(
            "SKIPPED: mounting a small tmpfs needs root; tests/run-all.sh in CI runs as root"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test as root"
        );
        return None;
    }
    fs::create_dir(mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(mnt)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mounting tmpfs failed");
    Some(Unmount(mnt.to_owned()))
}

/// What a planted sidecar says about the stream's inner manifest: entries,
/// skipped, file bytes, SHA-256 (hex) of the manifest.
pub type ManifestInfo = (u64, u64, u64, String);

/// Plants a backup as an attacker with write access to the repository and
/// the public key could: the plaintext tar stream `tar` (zstd-compressed
/// here unless `compressed` says it already is), encrypted to the
/// fixture's key as `backups/archive/<id>.age`, with a sidecar that
/// matches the ciphertext and says `manifest` about the inner manifest.
/// Streams: a stream of gigabytes takes no memory.
pub fn plant_stream(
    f: &Fixture,
    id: &str,
    tar: impl std::io::Read,
    compressed: bool,
    manifest: Option<ManifestInfo>,
) -> PathBuf {
    use std::io::Write;
    let dir = f.repo_path().join("backups/archive");
    fs::create_dir_all(&dir).unwrap();
    let data_path = dir.join(format!("{id}.age"));
    let file = std::io::BufWriter::new(fs::File::create(&data_path).unwrap());
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&f.key.to_public() as &dyn age::Recipient))
            .unwrap();
    let mut w = enc.wrap_output(file).unwrap();
    let mut tar = tar;
    let tar_bytes = if compressed {
        std::io::copy(&mut tar, &mut w).unwrap()
    } else {
        let mut counted = CountingRead(tar, 0);
        zstd::stream::copy_encode(&mut counted, &mut w, 1).unwrap();
        counted.1
    };
    w.finish().unwrap().flush().unwrap();
    plant_sidecar(f, id, tar_bytes, manifest);
    data_path
}

/// Writes the sidecar of the planted data file `backups/archive/<id>.age`:
/// it matches the file's length and SHA-256 and says `manifest` about the
/// inner manifest.
pub fn plant_sidecar(f: &Fixture, id: &str, tar_bytes: u64, manifest: Option<ManifestInfo>) {
    use sha2::Digest;
    let dir = f.repo_path().join("backups/archive");
    let mut h = sha2::Sha256::new();
    let mut data = fs::File::open(dir.join(format!("{id}.age"))).unwrap();
    let len = std::io::copy(&mut data, &mut h).unwrap();
    let (entries, skipped, file_bytes, sha) = manifest.unwrap_or((0, 0, 0, "0".repeat(64)));
    let sidecar = serde_json::json!({
        "format": "nkbackup-sidecar/1",
        "id": id,
        "class": "archive",
        "created": format!(
            "{}-{}-{}T{}:{}:{}Z",
            &id[0..4], &id[4..6], &id[6..8], &id[9..11], &id[11..13], &id[13..15]
        ),
        "host": "testkit",
        "tool": "testkit",
        "compression": "zstd:1",
        "data": format!("{id}.age"),
        "entries": entries,
        "skipped": skipped,
        "file_bytes": file_bytes,
        "tar_bytes": tar_bytes,
        "ciphertext_bytes": len,
        "ciphertext_sha256": hex::encode(h.finalize()),
        "manifest_sha256": sha,
        "recipients": [{"label": "test-key", "type": "age", "key": f.key.to_public().to_string()}],
    });
    fs::write(dir.join(format!("{id}.json")), sidecar.to_string()).unwrap();
}

/// A reader that counts what it passes on.
struct CountingRead<R>(R, u64);

impl<R: std::io::Read> std::io::Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1 += n as u64;
        Ok(n)
    }
}

/// A software Ed25519 signature key standing in for a card's, for the
/// tests of what verification does with drill signatures (the hardware
/// tests sign on the virtual card itself).
pub struct SoftSigner {
    pair: sequoia_openpgp::crypto::KeyPair,
}

impl SoftSigner {
    pub fn generate() -> Self {
        use sequoia_openpgp::packet::key::{Key4, PrimaryRole, SecretParts};
        let key: Key4<SecretParts, PrimaryRole> =
            Key4::generate_ecc(true, sequoia_openpgp::types::Curve::Ed25519).unwrap();
        SoftSigner {
            pair: key.into_keypair().unwrap(),
        }
    }

    /// The `signing_key` value of a recipient entry.
    pub fn config_value(&self) -> String {
        use base64::Engine as _;
        use sequoia_openpgp::serialize::MarshalInto as _;
        let public = self.pair.public().clone().role_into_primary();
        let bytes = sequoia_openpgp::Packet::from(public).to_vec().unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn fingerprint(&self) -> String {
        self.pair.public().fingerprint().to_hex()
    }

    /// An OpenPGP signature over `message`, base64.
    pub fn sign_b64(&mut self, message: &[u8]) -> String {
        use base64::Engine as _;
        use sequoia_openpgp::serialize::MarshalInto as _;
        let sig = sequoia_openpgp::packet::signature::SignatureBuilder::new(
            sequoia_openpgp::types::SignatureType::Binary,
        )
        .set_hash_algo(sequoia_openpgp::types::HashAlgorithm::SHA256)
        .sign_message(&mut self.pair, message)
        .unwrap();
        let bytes = sequoia_openpgp::Packet::from(sig).to_vec().unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

impl nkbackup::drill::RecordSigner for SoftSigner {
    fn sign(&mut self, statement: &[u8]) -> nkbackup::Result<nkbackup::drill::DrillSignature> {
        Ok(nkbackup::drill::DrillSignature {
            key: self.fingerprint(),
            openpgp: self.sign_b64(statement),
        })
    }
}

/// Enrolls a "card" labelled `label` (ident FFFE:0000000A) whose
/// decryption key is a software X25519 key (returned, to open backups
/// with) and, if given, `signer`'s signature key.
pub fn add_soft_card(
    repo: &mut Repository,
    label: &str,
    signer: Option<&SoftSigner>,
) -> age::x25519::Identity {
    let id = age::x25519::Identity::generate();
    repo.add_recipient(RecipientConfig {
        label: label.into(),
        kind: "card-x25519".into(),
        key: id.to_public().to_string(),
        ident: Some("FFFE:0000000A".into()),
        signing_key: signer.map(SoftSigner::config_value),
        signing_fingerprint: signer.map(SoftSigner::fingerprint),
        ..Default::default()
    })
    .unwrap();
    id
}

/// `len` bytes that do not compress (xorshift64 from a fixed seed), the
/// same every run.
pub fn noise(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for c in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
    }
    out
}
