//! Restore drills: passed and failed drills are journaled with what the
//! issue asks for; status flags classes and tokens never or not recently
//! drilled; the journal is hash-chained.

mod common;

use common::{Fixture, nkbackup, sample_tree};
use nkbackup::drill::{self, DrillOptions, Outcome, TokenInfo};
use nkbackup::{Error, ErrorKind, Opener, Sealer};
use std::fs;

fn token(label: &str) -> TokenInfo {
    TokenInfo {
        label: label.into(),
        kind: "age".into(),
        ident: None,
        fingerprint: None,
    }
}

#[test]
fn passed_drill_is_journaled_with_figures_and_writes_nothing() {
    let f = Fixture::new();
    let src = f.path("svc");
    sample_tree(&src);
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find("latest").unwrap();
    let seen = std::sync::atomic::AtomicU64::new(0);
    let opener = Opener::new(&b)
        .identity_file(&f.key_file)
        .unwrap()
        .on_progress(|n| seen.store(n, std::sync::atomic::Ordering::Relaxed));
    let before: Vec<_> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let rec = drill::run(
        &f.repo,
        &b,
        opener,
        token("test-key"),
        &DrillOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.outcome, Outcome::Passed);
    assert_eq!(rec.seq, 1);
    assert_eq!(rec.backup_id, rep.sidecar.id);
    assert_eq!(rec.bytes_verified, rep.sidecar.file_bytes);
    assert_eq!(rec.ciphertext_bytes, rep.sidecar.ciphertext_bytes);
    assert!(rec.entries_verified > 10);
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        rep.sidecar.ciphertext_bytes,
        "progress reached the total"
    );
    let after: Vec<_> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "a drill without --restore-to writes no data");
    let j = drill::read_journal(&f.repo).unwrap();
    assert!(j.damage.is_empty());
    assert_eq!(j.records, vec![rec]);
}

#[test]
fn failed_drills_are_journaled_with_the_reason() {
    let f = Fixture::new();
    Sealer::new(&f.repo, "db")
        .bytes("d.sql", b"dump".to_vec())
        .seal()
        .unwrap();
    // A token that is enrolled now but was not when the backup was sealed.
    let mut repo = f.repo.clone();
    let late = age::x25519::Identity::generate();
    repo.add_recipient(nkbackup::config::RecipientConfig {
        label: "late-key".into(),
        kind: "age".into(),
        key: late.to_public().to_string(),
        ..Default::default()
    })
    .unwrap();
    let b = repo.find("latest").unwrap();
    let e = drill::run(
        &repo,
        &b,
        Opener::new(&b).identity(Box::new(late)),
        token("late-key"),
        &DrillOptions::default(),
    )
    .unwrap_err();
    let Error::DrillFailed { seq, cause, .. } = e else {
        panic!("{e}")
    };
    let record = drill::record(&repo, seq).unwrap().unwrap();
    assert_eq!(record.outcome, Outcome::Failed);
    assert_eq!(cause.kind(), ErrorKind::Key);
    assert!(
        record.error.as_deref().unwrap().contains("test-key"),
        "{record:?}"
    );
    // Corrupted backup.
    let mut bytes = fs::read(&b.data_path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    fs::write(&b.data_path, bytes).unwrap();
    let e = drill::run(
        &repo,
        &b,
        Opener::new(&b).identity_file(&f.key_file).unwrap(),
        token("test-key"),
        &DrillOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    let j = drill::read_journal(&repo).unwrap();
    assert_eq!(j.records.len(), 2);
    assert!(j.records.iter().all(|r| r.outcome == Outcome::Failed));
    assert!(j.records[1].error.as_deref().unwrap().contains("damaged"));
}

#[test]
fn cli_drill_restore_compare_and_status() {
    let f = Fixture::new();
    let src = f.path("svc");
    sample_tree(&src);
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let run = |args: &[&str]| {
        nkbackup()
            .args(args)
            .env("NKBACKUP_REPO", f.repo_path())
            .env_remove("NKBACKUP_NOW")
            .output()
            .unwrap()
    };
    let k = f.key_file.to_str().unwrap();
    // Restore-to and compare with the (unchanged, then changed) live tree.
    let to = f.path("drilled");
    let o = run(&[
        "drill",
        "--class",
        "archive",
        "-i",
        k,
        "--restore-to",
        to.to_str().unwrap(),
        "--compare",
        src.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "passed");
    assert_eq!(v["token"]["label"], "test-key");
    assert_eq!(v["compare"]["changed"], 0, "{v}");
    assert_eq!(v["compare"]["missing"], 0, "{v}");
    assert_eq!(v["compare"]["extra"], 0, "{v}");
    common::assert_same_tree(&src, &to.join("svc"));
    fs::write(src.join("logs/x.log"), "rotated").unwrap();
    fs::write(src.join("new.txt"), "new").unwrap();
    let o = run(&[
        "drill",
        "--backup",
        "latest",
        "-i",
        k,
        "--compare",
        src.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 changed") && out.contains("1 only in live"),
        "{out}"
    );
    assert!(out.contains("svc/logs/x.log: content differs"), "{out}");
    // Two tokens at once is refused; no token is refused.
    let o = run(&["drill", "--class", "archive"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("one token"));

    // Status: archive and test-key drilled; other classes never -> exit 8.
    let o = run(&["drill", "status", "--json"]);
    assert_eq!(o.status.code(), Some(8));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let state = |list: &str, name: &str| {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state("classes", "archive"), "ok");
    assert_eq!(state("classes", "db"), "never");
    assert_eq!(state("tokens", "test-key"), "ok");
    // After max_interval (default 90 days) the drill is stale.
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(91))
        .date()
        .to_string();
    let o = run(&["drill", "status", "--json", "--at", &later]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["classes"][0]["state"], "stale");

    // A repository with only the archive class, drilled: exit 0.
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = fs::read_to_string(&cfg).unwrap();
    let only_archive: String = text
        .split("\n[classes.")
        .enumerate()
        .filter(|(i, part)| *i == 0 || part.starts_with("archive]"))
        .map(|(i, p)| {
            if i == 0 {
                p.to_owned()
            } else {
                format!("\n[classes.{p}")
            }
        })
        .collect();
    fs::write(
        &cfg,
        format!("{only_archive}\n[drill]\nmax_interval = \"30d\"\n"),
    )
    .unwrap();
    let o = run(&["drill", "status"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Tampering with the drill journal is detected and fails status.
    let jp = f.repo_path().join("journal/drills.jsonl");
    let j = fs::read_to_string(&jp).unwrap();
    fs::write(&jp, j.replacen("\"passed\"", "\"failed\"", 1)).unwrap();
    let o = run(&["drill", "status"]);
    assert_eq!(o.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&o.stderr).contains("damaged"));
}

#[test]
fn drill_commands_take_repo_from_the_option_or_the_environment() {
    let f = Fixture::new();
    let r = f.repo_path().to_str().unwrap().to_owned();
    let o = nkbackup()
        .args(["drill", "status", "--repo", &r])
        .env_remove("NKBACKUP_REPO")
        .output()
        .unwrap();
    // Nothing drilled yet: every class and the token are "never" (exit 8).
    assert_eq!(
        o.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("NEVER"));
    let o = nkbackup()
        .args(["drill", "--class", "archive"])
        .env_remove("NKBACKUP_REPO")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--repo"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Drill planning is a library call: the backup (newest, random or named,
/// in a class) and the one token the keys name, with hints instead of CLI
/// options in the errors.
#[test]
fn a_drill_is_planned_by_the_library() {
    use drill::{BackupChoice, TokenChoice};
    let f = Fixture::new();
    let e = drill::choose_backup(&f.repo, &BackupChoice::Newest(Some("db".into())))
        .err()
        .unwrap();
    assert!(matches!(e, Error::NothingToDrill { .. }), "{e}");
    assert_eq!(e.to_string(), "no backup to drill in class db");
    let src = f.path("svc");
    sample_tree(&src);
    let first = Sealer::new(&f.repo, "db").path(&src).seal().unwrap();
    let second = Sealer::new(&f.repo, "db").path(&src).seal().unwrap();
    Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let newest = drill::choose_backup(&f.repo, &BackupChoice::Newest(Some("db".into()))).unwrap();
    assert_eq!(newest.sidecar.id, second.sidecar.id);
    let named = drill::choose_backup(&f.repo, &BackupChoice::Id(first.sidecar.id.clone())).unwrap();
    assert_eq!(named.sidecar.id, first.sidecar.id);
    for _ in 0..8 {
        let r = drill::choose_backup(&f.repo, &BackupChoice::Random(Some("db".into()))).unwrap();
        assert_eq!(r.sidecar.class, "db");
    }
    let t = drill::choose_token(
        &f.repo,
        &TokenChoice {
            identity_files: vec![f.key_file.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t, token("test-key"));
    let e = drill::choose_token(&f.repo, &TokenChoice::default())
        .err()
        .unwrap();
    assert_eq!(e.hint(), Some(nkbackup::Hint::NameOneToken));
    let e = drill::choose_token(
        &f.repo,
        &TokenChoice {
            card: Some(String::new()),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(e.hint(), Some(nkbackup::Hint::EnrollCard));
    assert!(
        !e.to_string().contains("--"),
        "no CLI option in a library message: {e}"
    );
}

/// A drill of a k-of-n group: its members open the backup together and
/// every member used is journaled; status credits the group and each
/// member; fewer members, or a key that opens alone, fail the drill.
#[test]
fn a_group_drill_journals_every_member_it_used() {
    use secrecy::ExposeSecret as _;
    let mut f = Fixture::new();
    f.repo
        .add_group(nkbackup::config::GroupConfig {
            name: "officers".into(),
            threshold: 2,
        })
        .unwrap();
    let mut files = Vec::new();
    for i in 0..3 {
        let k = age::x25519::Identity::generate();
        let p = f.path(&format!("m{i}.key"));
        fs::write(&p, format!("{}\n", k.to_string().expose_secret())).unwrap();
        f.repo
            .add_recipient(nkbackup::config::RecipientConfig {
                label: format!("officer-{i}"),
                kind: "age".into(),
                key: k.to_public().to_string(),
                group: Some("officers".into()),
                ..Default::default()
            })
            .unwrap();
        files.push(p);
    }
    Sealer::new(&f.repo, "db")
        .bytes("x", b"y".to_vec())
        .seal()
        .unwrap();
    let drill = |keys: &[&std::path::Path]| {
        let mut c = nkbackup();
        c.args([
            "drill", "--class", "db", "--group", "officers", "--json", "--repo",
        ])
        .arg(f.repo_path());
        for k in keys {
            c.arg("-i").arg(k);
        }
        c.output().unwrap()
    };
    let out = drill(&[&files[0], &files[2]]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "passed", "{v}");
    assert_eq!(v["token"]["type"], "group");
    let members: Vec<&str> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["officer-0", "officer-2"]);

    let out = drill(&[&files[1]]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Still needed: 1 more of"));
    // The repository's own key opens alone: that proves no group.
    let out = drill(&[&f.key_file]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not by 2 members of group officers"),
        "{out:?}"
    );
    let st = nkbackup::drill::status(&f.repo, time::OffsetDateTime::now_utc()).unwrap();
    let state = |n: &str| {
        st.tokens
            .iter()
            .find(|t| t.name == n)
            .map(|t| t.state)
            .unwrap()
    };
    use nkbackup::drill::DrillState;
    assert_eq!(state("officers"), DrillState::Ok);
    assert_eq!(state("officer-0"), DrillState::Ok);
    assert_eq!(state("officer-2"), DrillState::Ok);
    assert_eq!(
        state("officer-1"),
        DrillState::Never,
        "a failed drill proves nothing"
    );
    assert_eq!(st.failed, 2);
}
