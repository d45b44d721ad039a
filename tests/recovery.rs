//! The recovery key and escrow through the CLI: make it, check typed keys
//! (each kind of mistake is a distinct error), restore with it, break
//! glass with stock tools, split between custodians, passphrase variant,
//! printable sheet, and escrow of small secrets.

mod common;

use common::{have_tool, nkbackup, sample_tree};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

struct Repo {
    dir: tempfile::TempDir,
    key: String,
}

impl Repo {
    fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::write(&p, text).unwrap();
        p
    }
    fn run(&self, args: &[&str]) -> Output {
        nkbackup()
            .args(args)
            .env("NKBACKUP_REPO", self.path())
            .env_remove("NKBACKUP_RECOVERY_PASSPHRASE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        text(o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A repository whose only recipient is a fresh recovery key.
fn repo_with_recovery_key() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Repo {
        dir,
        key: String::new(),
    };
    ok(&r.run(&["init"]));
    let out = ok(&r.run(&["recovery-key", "new"]));
    r.key = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("EsT") || l.starts_with("EsU") || l.starts_with("Es"))
        .expect("the key is printed")
        .to_owned();
    assert_eq!(r.key.split(' ').count(), 12, "12 groups of 4: {}", r.key);
    assert!(out.contains("shown once"));
    r
}

fn seal_sample(r: &Repo) -> (PathBuf, String) {
    let src = r.dir.path().join("svc");
    sample_tree(&src);
    let o = ok(&r.run(&[
        "seal",
        "--class",
        "archive",
        "--json",
        src.to_str().unwrap(),
    ]));
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["sidecar"]["recipients"][0]["type"], "recovery");
    (src, v["sidecar"]["id"].as_str().unwrap().to_owned())
}

#[test]
fn seal_to_recovery_key_and_restore_with_it() {
    let r = repo_with_recovery_key();
    let (src, id) = seal_sample(&r);
    let kf = r.file("key.txt", &format!("{}\n", r.key));
    let k = kf.to_str().unwrap();
    ok(&r.run(&["verify", &id, "--deep", "--recovery-key-file", k]));
    let to = r.dir.path().join("out");
    ok(&r.run(&[
        "restore",
        &id,
        "--to",
        to.to_str().unwrap(),
        "--recovery-key-file",
        k,
    ]));
    common::assert_same_tree(&src, &to.join("svc"));
    // Whitespace is free: no spaces, newlines, tabs.
    let squashed = r.file("k2.txt", &r.key.replace(' ', "").replace("EsT", "E\tsT"));
    ok(&r.run(&[
        "recovery-key",
        "check",
        "--recovery-key-file",
        squashed.to_str().unwrap(),
    ]));
    // Without a terminal, --recovery-key says how to give the key instead.
    let o = r.run(&["verify", &id, "--deep", "--recovery-key"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--recovery-key-file"), "{}", text(&o));
}

#[test]
fn typed_key_mistakes_are_told_apart() {
    let r = repo_with_recovery_key();
    let check = |name: &str, key: &str| {
        let f = r.file(name, key);
        r.run(&[
            "recovery-key",
            "check",
            "--recovery-key-file",
            f.to_str().unwrap(),
        ])
    };
    ok(&check("good", &r.key));
    // A character outside base58 ('0', 'O', 'I', 'l'): named with its position.
    let mut bad: Vec<char> = r.key.chars().collect();
    bad[6] = '0';
    let o = check("alpha", &bad.iter().collect::<String>());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("'0'") && text(&o).contains("7"),
        "{}",
        text(&o)
    );
    // One mistyped (valid) character: parity.
    let mut typo: Vec<char> = r.key.chars().collect();
    let i = typo.len() - 3;
    typo[i] = if typo[i] == 'a' { 'b' } else { 'a' };
    let o = check("typo", &typo.iter().collect::<String>());
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("mistyped"), "{}", text(&o));
    // Too short.
    let o = check("short", &r.key[..r.key.len() - 5]);
    assert!(
        text(&o).contains("length") || text(&o).contains("long"),
        "{}",
        text(&o)
    );
    // Wrong prefix: a valid base58 string of the right length but not a key.
    let o = check(
        "prefix",
        "2222 2222 2222 2222 2222 2222 2222 2222 2222 2222 2222 2222",
    );
    assert!(!o.status.success());
    // A valid key of another repository: exit 4, says so.
    let other = repo_with_recovery_key();
    let o = check("other", &other.key);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        text(&o).contains("not the one this repository"),
        "{}",
        text(&o)
    );
    // Secrets are not echoed in any of the messages.
    for name in ["alpha", "typo", "other"] {
        let k = fs::read_to_string(r.dir.path().join(name)).unwrap();
        let o = check(name, &k);
        assert!(!text(&o).contains(&k[..14]), "{name}: {}", text(&o));
    }
}

#[test]
fn break_glass_with_stock_age_zstd_tar() {
    if !(have_tool("age") && have_tool("zstd") && have_tool("tar")) {
        return;
    }
    let r = repo_with_recovery_key();
    let (src, id) = seal_sample(&r);
    let kf = r.file("key.txt", &r.key);
    let agekey = r.dir.path().join("age-key.txt");
    let out = ok(&r.run(&[
        "recovery-key",
        "export-age",
        "--recovery-key-file",
        kf.to_str().unwrap(),
    ]));
    assert!(out.contains("AGE-SECRET-KEY-1"));
    fs::write(&agekey, out).unwrap();
    let data = r.path().join("backups/archive").join(format!("{id}.age"));
    let dest = r.dir.path().join("stock");
    fs::create_dir(&dest).unwrap();
    let o = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -eo pipefail; age -d -i '{}' '{}' | zstd -d | tar -x -C '{}'",
                agekey.display(),
                data.display(),
                dest.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    common::assert_same_tree(&src, &dest.join("svc"));
}

fn share_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("nkbs1"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn shares_k_of_n_rebuild_the_key_and_open_backups() {
    let r = repo_with_recovery_key();
    let (_, id) = seal_sample(&r);
    let kf = r.file("key.txt", &r.key);
    let out = ok(&r.run(&[
        "recovery-key",
        "split",
        "--threshold",
        "3",
        "--shares",
        "5",
        "--recovery-key-file",
        kf.to_str().unwrap(),
    ]));
    let shares = share_lines(&out);
    assert_eq!(shares.len(), 5);
    let files: Vec<PathBuf> = shares
        .iter()
        .enumerate()
        .map(|(i, s)| r.file(&format!("share{i}"), s))
        .collect();
    let arg = |idx: &[usize]| {
        idx.iter()
            .map(|&i| files[i].to_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    };
    // Any 3 of 5 (all ten subsets) rebuild the key.
    for a in 0..5 {
        for b in a + 1..5 {
            for c in b + 1..5 {
                let mut args = vec!["recovery-key", "combine"];
                let fs_ = [&files[a], &files[b], &files[c]];
                for f in fs_ {
                    args.push("--share-file");
                    args.push(f.to_str().unwrap());
                }
                assert_eq!(ok(&r.run(&args)).trim(), r.key, "shares {a},{b},{c}");
            }
        }
    }
    let to = r.dir.path().join("out");
    ok(&r.run(&[
        "restore",
        &id,
        "--to",
        to.to_str().unwrap(),
        "--recovery-shares",
        &arg(&[4, 0, 2]),
    ]));
    // Too few.
    let o = r.run(&["recovery-key", "check", "--recovery-shares", &arg(&[0, 1])]);
    assert!(text(&o).contains("needs 3 shares, got 2"), "{}", text(&o));
    // A share with a typo.
    let mut typo = shares[1].clone();
    let n = typo.len() - 2;
    typo.replace_range(n..n + 1, if &typo[n..n + 1] == "a" { "b" } else { "a" });
    let t = r.file("typo", &typo);
    let o = r.run(&[
        "recovery-key",
        "check",
        "--recovery-shares",
        &format!(
            "{},{},{}",
            files[0].display(),
            t.display(),
            files[2].display()
        ),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).to_lowercase().contains("share"), "{}", text(&o));
    // Shares of a different key mixed in.
    let other = repo_with_recovery_key();
    let okf = other.file("key.txt", &other.key);
    let oshares = share_lines(&ok(&other.run(&[
        "recovery-key",
        "split",
        "--threshold",
        "3",
        "--shares",
        "5",
        "--recovery-key-file",
        okf.to_str().unwrap(),
    ])));
    let foreign = r.file("foreign", &oshares[3]);
    let o = r.run(&[
        "recovery-key",
        "check",
        "--recovery-shares",
        &format!(
            "{},{},{}",
            files[0].display(),
            files[1].display(),
            foreign.display()
        ),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("different"), "{}", text(&o));
}

#[test]
fn passphrase_variant() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let run = |args: &[&str], pass: Option<&str>| {
        let mut c = nkbackup();
        c.args(args)
            .env("NKBACKUP_REPO", &repo)
            .stdin(Stdio::null());
        match pass {
            Some(p) => c.env("NKBACKUP_RECOVERY_PASSPHRASE", p),
            None => c.env_remove("NKBACKUP_RECOVERY_PASSPHRASE"),
        };
        c.output().unwrap()
    };
    ok(&run(&["init"], None));
    let o = run(&["recovery-key", "new", "--passphrase"], Some("too short"));
    assert!(text(&o).contains("shorter than 12"), "{}", text(&o));
    let pass = "correct horse battery staple";
    ok(&run(&["recovery-key", "new", "--passphrase"], Some(pass)));
    let cfg = fs::read_to_string(repo.join("nkbackup.toml")).unwrap();
    assert!(
        cfg.contains("m.pbkdf2") && cfg.contains("iterations = 500000"),
        "{cfg}"
    );
    assert!(!cfg.contains(pass));
    let mut c = nkbackup();
    let mut child = c
        .args(["seal", "--class", "db", "--stdin-name", "d.sql"])
        .env("NKBACKUP_REPO", &repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"dump").unwrap();
    ok(&child.wait_with_output().unwrap());
    ok(&run(
        &["recovery-key", "check", "--recovery-passphrase"],
        Some(pass),
    ));
    let o = run(
        &["recovery-key", "check", "--recovery-passphrase"],
        Some("correct horse battery stapler"),
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("mistyped passphrase"), "{}", text(&o));
    let to = dir.path().join("out");
    ok(&run(
        &[
            "restore",
            "latest",
            "--to",
            to.to_str().unwrap(),
            "--recovery-passphrase",
        ],
        Some(pass),
    ));
    assert_eq!(fs::read(to.join("d.sql")).unwrap(), b"dump");
}

#[test]
fn sheet_is_private_and_new_key_needs_replace() {
    let dir = tempfile::tempdir().unwrap();
    let r = Repo {
        dir,
        key: String::new(),
    };
    ok(&r.run(&["init"]));
    let sheet = r.dir.path().join("sheet.html");
    let out = ok(&r.run(&["recovery-key", "new", "--sheet", sheet.to_str().unwrap()]));
    let html = fs::read_to_string(&sheet).unwrap();
    let key_line = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Es"))
        .unwrap();
    assert!(html.contains(key_line) && html.contains("<svg") && html.contains("AGE-SECRET-KEY-1"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&sheet).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The key is nowhere else on disk.
    assert!(
        !grep_dir(&r.path(), key_line),
        "key written into the repository"
    );
    // A second key is refused without --replace, and the sheet never overwritten.
    let o = r.run(&["recovery-key", "new"]);
    assert!(text(&o).contains("--replace"), "{}", text(&o));
    let o = r.run(&[
        "recovery-key",
        "new",
        "--replace",
        "--sheet",
        sheet.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(fs::read_to_string(&sheet).unwrap(), html);
    ok(&r.run(&["recovery-key", "new", "--replace"]));
}

fn grep_dir(dir: &Path, needle: &str) -> bool {
    fs::read_dir(dir).unwrap().any(|e| {
        let p = e.unwrap().path();
        if p.is_dir() {
            grep_dir(&p, needle)
        } else {
            fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        }
    })
}

#[test]
fn escrow_seal_list_open() {
    let r = repo_with_recovery_key();
    let age_key = age::x25519::Identity::generate();
    use secrecy::ExposeSecret;
    let kf = r.file("age.txt", age_key.to_string().expose_secret());
    ok(&r.run(&[
        "recipient",
        "add",
        &age_key.to_public().to_string(),
        "--label",
        "offsite",
    ]));
    let secret = b"ed25519 a_Xyz0 PRIVATE-SIGNING-KEY-MATERIAL\n";
    let mut child = nkbackup()
        .args(["escrow", "seal", "--name", "synapse-signing-key"])
        .env("NKBACKUP_REPO", r.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(secret).unwrap();
    assert!(ok(&child.wait_with_output().unwrap()).contains("escrowed synapse-signing-key"));
    let list = ok(&r.run(&["escrow", "list"]));
    assert!(list.contains("synapse-signing-key") && list.contains("offsite"));
    assert!(!list.contains("PRIVATE"), "listing never shows contents");
    let out = r.run(&[
        "escrow",
        "open",
        "--name",
        "synapse-signing-key",
        "-i",
        kf.to_str().unwrap(),
    ]);
    assert_eq!(out.stdout, secret);
    let rk = r.file("rk.txt", &r.key);
    let dest = r.dir.path().join("key.out");
    ok(&r.run(&[
        "escrow",
        "open",
        "--name",
        "synapse-signing-key",
        "--recovery-key-file",
        rk.to_str().unwrap(),
        "--out",
        dest.to_str().unwrap(),
    ]));
    assert_eq!(fs::read(&dest).unwrap(), secret);
    // Wrong key: exit 4. Unknown name: exit 1. Tampered blob: exit 3.
    let wrong = r.file(
        "wrong.txt",
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret(),
    );
    let o = r.run(&[
        "escrow",
        "open",
        "--name",
        "synapse-signing-key",
        "-i",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let o = r.run(&[
        "escrow",
        "open",
        "--name",
        "nope",
        "-i",
        kf.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("escrow list"));
    let dir = r.path().join("escrow/synapse-signing-key");
    let blob = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "age"))
        .unwrap();
    let mut b = fs::read(&blob).unwrap();
    let n = b.len();
    b[n - 1] ^= 1;
    fs::write(&blob, b).unwrap();
    let o = r.run(&[
        "escrow",
        "open",
        "--name",
        "synapse-signing-key",
        "-i",
        kf.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}
