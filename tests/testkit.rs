//! The hostile-backup testkit, run: every `tests/testkit/*.case` is planted
//! in a repository as an attacker with write access and the public key
//! would plant it, and each command the case names must end with the exit
//! code and say the fragment it expects. A refused restore must leave no
//! target, no staging directory and nothing in the `outside` directory the
//! hostile paths aim at. `tests/testkit/generate.py` made the cases and
//! says how to read one.

mod common;

use common::{Fixture, have_tool, nkbackup, plant_sidecar, plant_stream};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testkit");
const ID: &str = "20261101T000000Z-7e57c0de";

struct Case {
    name: String,
    payload_kind: String,
    manifest: Option<(u64, u64, u64, String)>,
    id: String,
    expect: Vec<(String, i32, String)>,
    payload: Vec<u8>,
}

fn parse(path: &Path) -> Case {
    let bytes = fs::read(path).unwrap();
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("a header, an empty line, the payload");
    let head = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut c = Case {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        payload_kind: String::new(),
        manifest: None,
        id: ID.into(),
        expect: Vec::new(),
        payload: bytes[split + 2..].to_vec(),
    };
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("nkbackup testkit case"), "{}", c.name);
    for l in lines {
        let (k, v) = l.split_once(": ").unwrap();
        match k {
            "defect" => {}
            "payload" => c.payload_kind = v.to_owned(),
            "id" => c.id = v.to_owned(),
            "manifest" => {
                let f: Vec<&str> = v.split(' ').collect();
                c.manifest = Some((
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].to_owned(),
                ));
            }
            "expect" => {
                let (cmd, rest) = v.split_once(' ').unwrap();
                let (code, msg) = rest.split_once(' ').unwrap();
                c.expect.push((
                    cmd.to_owned(),
                    code.parse().unwrap(),
                    msg.trim_matches('"').to_owned(),
                ));
            }
            other => panic!("{}: unknown header {other}", c.name),
        }
    }
    c
}

fn cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse(p)).collect()
}

/// Plants `c` in the fixture's repository, as `backups/archive/<id>`.
fn plant(f: &Fixture, c: &Case, control: &Case) {
    match c.payload_kind.as_str() {
        "tar" => {
            plant_stream(f, &c.id, &c.payload[..], false, c.manifest.clone());
        }
        "tar.zst" => {
            plant_stream(f, &c.id, &c.payload[..], true, c.manifest.clone());
        }
        "age" => {
            // The data file itself, as planted.
            let dir = f.repo_path().join("backups/archive");
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(format!("{}.age", c.id)), &c.payload).unwrap();
            plant_sidecar(f, &c.id, 0, c.manifest.clone());
        }
        "sidecar" => {
            // The control stream's data, under this case's sidecar.
            let data = plant_stream(f, &c.id, &control.payload[..], false, None);
            let bytes = fs::read(&data).unwrap();
            let sidecar = String::from_utf8(c.payload.clone())
                .unwrap()
                .replace("@CIPHERTEXT_SHA256@", &hex::encode(Sha256::digest(&bytes)))
                .replace("@CIPHERTEXT_BYTES@", &bytes.len().to_string());
            fs::write(data.with_extension("json"), sidecar).unwrap();
        }
        "key-item" => {
            // A key item's sidecar, at `keys/<id>.json` (`id` is its place,
            // `<class>/<period>/<key id>`), beside a valid backup.
            plant_stream(f, control.id.as_str(), &control.payload[..], false, None);
            let path = f.repo_path().join(format!("keys/{}.json", c.id));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, &c.payload).unwrap();
        }
        "classes" => {
            // The repository's nkbackup.toml with these [classes], beside
            // a valid backup.
            plant_stream(f, control.id.as_str(), &control.payload[..], false, None);
            f.write_classes(std::str::from_utf8(&c.payload).unwrap());
        }
        "drill-journal" => {
            // journal/drills.jsonl as planted, beside a valid backup, with
            // card nk-a enrolled with a signature key.
            plant_stream(f, control.id.as_str(), &control.payload[..], false, None);
            let mut repo = nkbackup::Repository::open(f.repo_path()).unwrap();
            let signer = common::SoftSigner::generate();
            common::add_soft_card(&mut repo, "nk-a", Some(&signer));
            let line = String::from_utf8(c.payload.clone())
                .unwrap()
                .replace("@SIGNING_FP@", &signer.fingerprint());
            let dir = f.repo_path().join("journal");
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("drills.jsonl"), line).unwrap();
        }
        "journal-files" => {
            // Files under journal/ as planted ("== NAME" lines, each
            // followed by the file's bytes), beside a valid backup.
            plant_stream(f, control.id.as_str(), &control.payload[..], false, None);
            let dir = f.repo_path().join("journal");
            let text = &c.payload[..];
            let starts: Vec<usize> = (0..text.len())
                .filter(|&i| text[i..].starts_with(b"== ") && (i == 0 || text[i - 1] == b'\n'))
                .collect();
            for (n, &at) in starts.iter().enumerate() {
                let end = starts.get(n + 1).copied().unwrap_or(text.len());
                let nl = at + text[at..].iter().position(|&b| b == b'\n').unwrap();
                let name = std::str::from_utf8(&text[at + 3..nl]).unwrap();
                let path = dir.join(name);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, &text[nl + 1..end]).unwrap();
            }
        }
        other => panic!("{}: unknown payload {other}", c.name),
    }
}

fn run(f: &Fixture, c: &Case, cmd: &str) -> (i32, String) {
    let mut p = nkbackup();
    p.env_remove("NKBACKUP_NOW");
    let key = f.key_file.to_str().unwrap();
    let target = f.path("target");
    match cmd {
        "verify" => p.args(["verify", &c.id]),
        "verify-deep" => p.args(["verify", &c.id, "--deep", "-i", key]),
        "ls" => p.args(["ls", &c.id, "-i", key]),
        "restore" => p.args(["restore", &c.id, "-i", key, "--to"]).arg(&target),
        "retention-check" => p.args(["retention", "check"]),
        "retention-verify" => p.args(["retention", "verify"]),
        "keyring-list" => p.args(["keyring", "list"]),
        other => panic!("{}: unknown command {other}", c.name),
    };
    let out = p.arg("--repo").arg(f.repo_path()).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_hostile_backup_is_refused_as_its_case_says() {
    let all = cases();
    assert!(all.len() >= 50, "only {} cases in {DIR}", all.len());
    let control = all.iter().find(|c| c.name == "valid-control").unwrap();
    let mut failures = Vec::new();
    for c in &all {
        assert!(!c.expect.is_empty(), "{}: expects nothing", c.name);
        let f = Fixture::new();
        // A deadline, so that retention computes one for every backup.
        f.with_classes("[classes.archive]\nmax_age = \"90d\"\n");
        let outside = f.path("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret"), "keep").unwrap();
        plant(&f, c, control);
        for (cmd, code, msg) in &c.expect {
            let (got, text) = run(&f, c, cmd);
            if std::env::var_os("NKBACKUP_TESTKIT_SHOW").is_some() {
                eprintln!("{} / {cmd} -> {got}: {text}", c.name);
            }
            if got != *code || !text.contains(msg.as_str()) {
                failures.push(format!(
                    "{} / {cmd}: wanted exit {code} and {msg:?}, got {got}: {text}",
                    c.name
                ));
            }
            if cmd == "restore" && *code != 0 {
                let left: Vec<String> = fs::read_dir(f.dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains("target") || n.contains("partial"))
                    .collect();
                if !left.is_empty() {
                    failures.push(format!("{}: a refused restore left {left:?}", c.name));
                }
            }
        }
        let mut seen: Vec<String> = fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        seen.sort();
        if seen != ["secret"] || fs::read(outside.join("secret")).unwrap() != b"keep" {
            failures.push(format!("{}: something changed outside: {seen:?}", c.name));
        }
        if Path::new("/tmp/nkbackup-testkit-absolute").exists() {
            failures.push(format!("{}: wrote /tmp/nkbackup-testkit-absolute", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The committed cases are exactly what the generator writes.
#[test]
fn the_cases_are_what_the_generator_writes() {
    if !have_tool("python3") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(Path::new(DIR).join("generate.py"))
        .arg(out.path())
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let names = |d: &Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".case"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(out.path()), names(Path::new(DIR)));
    for n in names(out.path()) {
        assert!(
            fs::read(out.path().join(&n)).unwrap() == fs::read(Path::new(DIR).join(&n)).unwrap(),
            "{n} differs from what generate.py writes: run `python3 tests/testkit/generate.py`"
        );
    }
}
