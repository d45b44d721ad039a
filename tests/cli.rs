//! The command line: the flows of the issue, exit codes, `--json`, and
//! `NKBACKUP_REPO`.

mod common;

use common::{nkbackup, sample_tree};
use std::fs;
use std::io::Write;
use std::process::{Output, Stdio};

fn run(args: &[&str], env_repo: Option<&std::path::Path>) -> Output {
    let mut c = nkbackup();
    c.args(args).env_remove("NKBACKUP_REPO");
    if let Some(r) = env_repo {
        c.env("NKBACKUP_REPO", r);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_whole_flow_of_the_issue() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("backups");
    let r = repo.to_str().unwrap();
    ok(&run(&["init", "--repo", r], None));
    let key = age::x25519::Identity::generate();
    let keyfile = d.path().join("key.txt");
    use secrecy::ExposeSecret;
    fs::write(&keyfile, key.to_string().expose_secret()).unwrap();
    let k = keyfile.to_str().unwrap();
    let pk = key.to_public().to_string();
    let out = ok(&run(
        &["recipient", "add", &pk, "--label", "offsite-1"],
        Some(&repo),
    ));
    assert!(out.contains("offsite-1"));
    let out = ok(&run(&["recipient", "list", "--repo", r], None));
    assert!(out.contains("offsite-1") && out.contains(&pk));

    let src = d.path().join("prosody");
    sample_tree(&src);
    let o = ok(&run(
        &[
            "seal",
            "--repo",
            r,
            "--class",
            "archive",
            "--json",
            src.to_str().unwrap(),
        ],
        None,
    ));
    let seal: serde_json::Value = serde_json::from_str(&o).unwrap();
    let id = seal["sidecar"]["id"].as_str().unwrap().to_owned();
    assert_eq!(seal["sidecar"]["class"], "archive");

    // pg_dump chat | nkbackup seal --class db --stdin-name chat.sql
    let mut child = nkbackup()
        .args(["seal", "--class", "db", "--stdin-name", "chat.sql"])
        .env("NKBACKUP_REPO", &repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"COPY messages FROM stdin;\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(ok(&o).contains("sealed"));

    let list: serde_json::Value =
        serde_json::from_str(&ok(&run(&["list", "--repo", r, "--json"], None))).unwrap();
    assert_eq!(list["backups"].as_array().unwrap().len(), 2);
    let human = ok(&run(&["list"], Some(&repo)));
    assert!(human.contains(&id) && human.contains("archive") && human.contains("db"));
    let only_db = ok(&run(&["list", "--class", "db"], Some(&repo)));
    assert!(!only_db.contains(&id));

    let v: serde_json::Value =
        serde_json::from_str(&ok(&run(&["verify", "--repo", r, &id, "--json"], None))).unwrap();
    assert_eq!(v["id"], id.as_str());
    let v: serde_json::Value = serde_json::from_str(&ok(&run(
        &["verify", "--repo", r, &id, "--deep", "-i", k, "--json"],
        None,
    )))
    .unwrap();
    assert!(v["entries_checked"].as_u64().unwrap() > 10);

    let to = d.path().join("r");
    ok(&run(
        &[
            "restore",
            "--repo",
            r,
            &id,
            "--to",
            to.to_str().unwrap(),
            "-i",
            k,
            "--path",
            "prosody/logs/x.log",
        ],
        None,
    ));
    assert_eq!(
        fs::read(to.join("prosody/logs/x.log")).unwrap(),
        fs::read(src.join("logs/x.log")).unwrap()
    );
    // Restoring again into the now non-empty target is refused.
    let o = run(
        &[
            "restore",
            "--repo",
            r,
            &id,
            "--to",
            to.to_str().unwrap(),
            "-i",
            k,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    ok(&run(
        &[
            "restore",
            "--repo",
            r,
            &id,
            "--to",
            to.to_str().unwrap(),
            "-i",
            k,
            "--force",
        ],
        None,
    ));
    assert!(to.join("prosody/media.bin").exists());
}

#[test]
fn exit_codes_are_as_documented() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("r");
    let r = repo.to_str().unwrap();
    // 1: no repository
    let o = run(&["list", "--repo", r], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nkbackup init"));
    // 2: usage
    assert_eq!(run(&["seal"], None).status.code(), Some(2));
    ok(&run(&["init", "--repo", r], None));
    let key = age::x25519::Identity::generate();
    ok(&run(
        &[
            "recipient",
            "add",
            "--repo",
            r,
            &key.to_public().to_string(),
        ],
        None,
    ));
    let o = ok(&run(
        &[
            "seal",
            "--repo",
            r,
            "--class",
            "db",
            "--json",
            "--stdin-name",
            "x",
        ],
        None,
    ));
    let id = serde_json::from_str::<serde_json::Value>(&o).unwrap()["sidecar"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 4: wrong key
    let wrong = d.path().join("wrong.txt");
    use secrecy::ExposeSecret;
    fs::write(
        &wrong,
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret(),
    )
    .unwrap();
    let o = run(
        &[
            "verify",
            "--repo",
            r,
            &id,
            "--deep",
            "-i",
            wrong.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("age1"),
        "lists the recipient labels"
    );
    // 3: damaged
    let data = repo.join("backups/db").join(format!("{id}.age"));
    let mut bytes = fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    fs::write(&data, bytes).unwrap();
    let o = run(&["verify", "--repo", r, &id], None);
    assert_eq!(o.status.code(), Some(3));
    // 5: locked
    let _lock = nkbackup::Repository::open(&repo)
        .unwrap()
        .lock(std::time::Duration::from_secs(1))
        .unwrap();
    let o = run(
        &[
            "seal",
            "--repo",
            r,
            "--class",
            "db",
            "--lock-wait",
            "0",
            "--stdin-name",
            "x",
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn secrets_never_reach_argv_or_output() {
    // The key is read from a file given by path; the CLI has no option that
    // takes key material itself.
    let help = ok(&run(&["restore", "--help"], None));
    assert!(help.contains("--identity <FILE>"));
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("k.txt");
    fs::write(&bad, "AGE-SECRET-KEY-1NOTVALIDBUTSECRETLOOKING\n").unwrap();
    let r = d.path().join("r");
    ok(&run(&["init", "--repo", r.to_str().unwrap()], None));
    let key = age::x25519::Identity::generate();
    ok(&run(
        &[
            "recipient",
            "add",
            "--repo",
            r.to_str().unwrap(),
            &key.to_public().to_string(),
        ],
        None,
    ));
    ok(&run(
        &[
            "seal",
            "--repo",
            r.to_str().unwrap(),
            "--class",
            "db",
            "--stdin-name",
            "x",
        ],
        None,
    ));
    let o = run(
        &[
            "verify",
            "--repo",
            r.to_str().unwrap(),
            "latest",
            "--deep",
            "-i",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!all.contains("NOTVALIDBUTSECRET"), "{all}");
}
