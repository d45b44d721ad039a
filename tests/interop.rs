//! A backup sealed by nkbackup opens with the stock `age`, `zstd` and `tar`
//! binaries and matches the source tree byte for byte. tests/run-all.sh
//! installs them; under CI a missing tool fails the test.

mod common;

use common::{Fixture, assert_same_tree, have_tool, sample_tree};
use nkbackup::Sealer;
use std::process::Command;

/// Extracts the backup at `data` with stock `age -d | zstd -d | tar -x`
/// into a new directory, and returns it.
fn stock_extract(f: &Fixture, data: &std::path::Path) -> std::path::PathBuf {
    let out = f.path("stock");
    std::fs::create_dir(&out).unwrap();
    let script = format!(
        "set -eo pipefail; age -d -i '{}' '{}' | zstd -d | tar -x -C '{}'",
        f.key_file.display(),
        data.display(),
        out.display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// The sample tree sealed into a compressed class and extracted with the
/// stock tools: the fixture, the source, the seal's report and the
/// extracted tree. `None` (a printed skip) without age, zstd and tar.
fn sealed_and_extracted() -> Option<(
    Fixture,
    std::path::PathBuf,
    nkbackup::SealReport,
    std::path::PathBuf,
)> {
    if !(have_tool("age") && have_tool("zstd") && have_tool("tar")) {
        return None;
    }
    let f = Fixture::new();
    let src = f.path("service");
    sample_tree(&src);
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let out = stock_extract(&f, &rep.data_path);
    Some((f, src, rep, out))
}

#[test]
fn stock_age_zstd_tar_restore_matches_the_source() {
    let Some((f, src, rep, out)) = sealed_and_extracted() else {
        return;
    };
    let n = assert_same_tree(&src, &out.join("service"));
    assert!(n >= 14, "compared {n} entries");
    // The inner manifest is there for a human too, last in the stream.
    let manifest = std::fs::read_to_string(out.join(".nkbackup/manifest.jsonl")).unwrap();
    assert!(
        manifest.starts_with("{\"nkbackup_manifest\":2,"),
        "{manifest}"
    );
    let o = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -eo pipefail; age -d -i '{}' '{}' | zstd -d | tar -t | tail -n 1",
                f.key_file.display(),
                rep.data_path.display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        ".nkbackup/manifest.jsonl"
    );
}

#[test]
fn uncompressed_class_opens_with_age_and_tar_alone() {
    if !(have_tool("age") && have_tool("tar")) {
        return;
    }
    let f = Fixture::new();
    let src = f.path("media");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("p.jpg"), vec![7u8; 50_000]).unwrap();
    let rep = Sealer::new(&f.repo, "media").path(&src).seal().unwrap();
    let out = f.path("stock");
    std::fs::create_dir(&out).unwrap();
    let script = format!(
        "set -eo pipefail; age -d -i '{}' '{}' | tar -x -C '{}'",
        f.key_file.display(),
        rep.data_path.display(),
        out.display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_tree(&src, &out.join("media"));
}

#[test]
fn stock_age_encrypted_key_file_works_with_nkbackup() {
    // The reverse direction: a key made by stock age-keygen opens our backups.
    if !have_tool("age-keygen") {
        return;
    }
    let f = Fixture::new();
    let keyfile = f.path("stock-key.txt");
    let o = Command::new("age-keygen")
        .arg("-o")
        .arg(&keyfile)
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = std::fs::read_to_string(&keyfile).unwrap();
    let pk = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let mut repo = f.repo.clone();
    repo.add_recipient(nkbackup::config::RecipientConfig {
        label: "stock".into(),
        kind: "age".into(),
        key: pk,
        ..Default::default()
    })
    .unwrap();
    Sealer::new(&repo, "db")
        .bytes("x", b"x".to_vec())
        .seal()
        .unwrap();
    let b = repo.find("latest").unwrap();
    nkbackup::Opener::new(&b)
        .identity_file(&keyfile)
        .unwrap()
        .verify_deep()
        .unwrap();
}

/// Paths at the ustar limits (a name of exactly 100 bytes, a path split
/// between the 155-byte prefix and the name, one too long for either and
/// a link target too long for its field, both written as pax records)
/// restore the same with stock tar and nkbackup.
#[test]
fn paths_at_the_ustar_limits_restore_with_stock_tar() {
    if !(have_tool("age") && have_tool("zstd") && have_tool("tar")) {
        return;
    }
    let f = Fixture::new();
    let src = f.path("svc");
    let d150 = "d".repeat(150);
    let names = [
        "n".repeat(100 - "svc/".len()),
        format!("{d150}/{}", "f".repeat(90)),
        format!("{d150}/{}", "g".repeat(120)),
    ];
    for n in &names {
        let p = src.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, n.as_bytes()).unwrap();
    }
    // A link target longer than the 100-byte linkname field: a pax linkpath.
    std::os::unix::fs::symlink(
        format!("{d150}/{}", names[1].rsplit('/').next().unwrap()),
        src.join("l"),
    )
    .unwrap();
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let out = stock_extract(&f, &rep.data_path);
    assert_eq!(assert_same_tree(&src, &out.join("svc")), 5);
    let b = f.repo.find(&rep.sidecar.id).unwrap();
    let ours = f.path("ours");
    nkbackup::Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .restore(&ours, &Default::default())
        .unwrap();
    assert_eq!(assert_same_tree(&src, &ours.join("svc")), 5);
}

/// The recovery key with the stock `age` tools (DESIGN.md tier 1):
/// `age-keygen -y` must derive the same recipient from our exported
/// identity, and `age -d -i` must open a file sealed to our recipient.
#[test]
fn stock_age_agrees_on_the_recovery_key() {
    use secrecy::ExposeSecret;
    use std::io::Write;
    if !(have_tool("age") && have_tool("age-keygen")) {
        return;
    }
    // RFC 7748 Alice key: recipient known from the Matrix vectors.
    let bytes: [u8; 32] =
        hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap()
            .try_into()
            .unwrap();
    let key = nkbackup::recovery::RecoveryKey::from_bytes(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.txt");
    std::fs::write(&key_path, format!("{}\n", key.export_age().expose_secret())).unwrap();

    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        key.recipient().to_string()
    );

    let recipient = key.recipient();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let sealed_path = dir.path().join("b.age");
    let mut sealed = vec![];
    let mut w = encryptor.wrap_output(&mut sealed).unwrap();
    w.write_all(b"opened by stock age").unwrap();
    w.finish().unwrap();
    std::fs::write(&sealed_path, &sealed).unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key_path)
        .arg(&sealed_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"opened by stock age");
}

/// After a revoke by rewrap (a new header, the old payload), stock
/// `age -d | zstd -d | tar -x` with the recovery key still restores the
/// backup, and the revoked key no longer opens it with stock age either.
#[test]
fn stock_tools_restore_a_rewrapped_backup_with_the_recovery_key() {
    if !(have_tool("age") && have_tool("zstd") && have_tool("tar")) {
        return;
    }
    let mut f = Fixture::new();
    let rk = nkbackup::recovery::RecoveryKey::generate();
    f.repo
        .set_recovery(nkbackup::recovery::setup::config_for(&rk, None), false)
        .unwrap();
    let src = f.path("data");
    sample_tree(&src);
    let sealed = Sealer::new(&f.repo, "db").path(&src).seal().unwrap();
    f.repo.remove_recipient("test-key").unwrap();
    let mut keys = nkbackup::unlock::Keys::new();
    keys.add(Box::new(f.key.clone()));
    let report = nkbackup::rewrap::Rewrap::new(&f.repo, &keys).run().unwrap();
    assert_eq!(report.rewrapped, 1);
    let rk_file = f.path("recovery.txt");
    use secrecy::ExposeSecret as _;
    std::fs::write(
        &rk_file,
        format!("{}\n", rk.to_age_identity().to_string().expose_secret()),
    )
    .unwrap();
    let out = f.path("stock");
    std::fs::create_dir(&out).unwrap();
    let run = |key: &std::path::Path| {
        let script = format!(
            "set -eo pipefail; age -d -i '{}' '{}' | zstd -d | tar -x -C '{}'",
            key.display(),
            sealed.data_path.display(),
            out.display()
        );
        Command::new("bash").args(["-c", &script]).output().unwrap()
    };
    let o = run(&f.key_file);
    assert!(
        !o.status.success(),
        "the revoked key opens it with stock age"
    );
    let o = run(&rk_file);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(assert_same_tree(&src, &out.join("data")) > 10);
}

/// The manifest's offsets, written or implied (docs/FORMAT.md §4), are where
/// GNU tar's `--block-number` finds each member: a second reader of the
/// rule agrees with the writer.
#[test]
fn manifest_offsets_written_or_implied_are_where_gnu_tar_finds_each_member() {
    let Some((f, _, rep, out)) = sealed_and_extracted() else {
        return;
    };
    let o = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -eo pipefail; age -d -i '{}' '{}' | zstd -d | tar -t -R",
                f.key_file.display(),
                rep.data_path.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // "block N: path", N counting 512-byte blocks from the stream's start.
    let blocks: std::collections::HashMap<String, u64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let (n, path) = l.strip_prefix("block ")?.split_once(": ")?;
            Some((path.trim_end_matches('/').to_string(), n.parse().ok()?))
        })
        .collect();
    let manifest = std::fs::read_to_string(out.join(".nkbackup/manifest.jsonl")).unwrap();
    let (mut implied, mut written, mut left_out, mut compared) = (0u64, 0, 0, 0);
    for line in manifest.lines().skip(1) {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["type"] == "skipped" {
            continue;
        }
        let at = match e["offset"].as_u64() {
            Some(at) => {
                written += 1;
                at
            }
            None => {
                left_out += 1;
                implied
            }
        };
        implied = at + 512 + e["size"].as_u64().unwrap().next_multiple_of(512);
        if let Some(path) = e["path"].as_str() {
            let path = path.trim_end_matches('/');
            let tar_at = blocks[path] * 512;
            // For a path ustar cannot hold GNU tar counts from the header
            // after the pax `x` header and its records; the offset names
            // the `x` header.
            let pax = path.len() > 100 && (1024..=2048).contains(&(tar_at - at));
            assert!(tar_at == at || pax, "{path} is at {tar_at}: {line}");
            compared += 1;
        }
    }
    assert!(compared >= 14, "compared {compared} of {blocks:?}");
    // The first entry and the one after the long path's pax header carry
    // their offset; entries that follow the one before directly do not.
    assert!(
        written >= 2 && left_out >= 10,
        "{written} written, {left_out} left out"
    );
}
