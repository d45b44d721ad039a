//! `nkbackup run` and exclusions (docs/JOBS.md): two jobs from
//! nkbackup.toml — a tree with exclusions and a command source, and a job
//! whose command fails — then prune, the retention check and the drill
//! status; the summary, the JSON, the exit code and the metrics file
//! (checked with `promtool check metrics` when CI has it).

mod common;

use common::{Fixture, have_tool, nkbackup};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const CACHEDIR: &str = "Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n";

/// A source tree with things to leave out.
fn tree(root: &Path) {
    for d in ["data/sub", "data/cache", "data/big", "data/tmp"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(root.join("data/a.txt"), "a").unwrap();
    fs::write(root.join("data/sub/b.txt"), "b").unwrap();
    fs::write(root.join("data/sub/x.tmp"), "temporary").unwrap();
    fs::write(root.join("data/sub/keep.tmp"), "kept by !keep.tmp").unwrap();
    fs::write(root.join("data/cache/CACHEDIR.TAG"), CACHEDIR).unwrap();
    fs::write(root.join("data/cache/blob"), "cached").unwrap();
    fs::write(root.join("data/tmp/upload"), "in a tmp/ directory").unwrap();
    for i in 0..2000 {
        fs::write(root.join(format!("data/big/{i}")), "x").unwrap();
    }
}

fn jobs_config(f: &Fixture, src: &Path) {
    let cfg = f.repo_path().join("nkbackup.toml");
    // The deadlines `init` writes commented out, set (a class without one
    // makes the night's retention check report a problem).
    let text = fs::read_to_string(&cfg)
        .unwrap()
        .replace("#max_age", "max_age")
        + &format!(
            r#"
[jobs.files]
class = "archive"
paths = ["{src}/data"]
exclude = ["*.tmp", "!keep.tmp", "{src}/data/big", "tmp/"]
exclude_caches = true

[[jobs.files.commands]]
name = "state.json"
run = ["sh", "-c", "printf '{{\"users\": 3}}'"]

[jobs.db]
class = "db"

[[jobs.db.commands]]
name = "chat.sql"
run = ["sh", "-c", "echo 'partial dump'; echo 'pg_dump: connection to server failed' >&2; exit 2"]
"#,
            src = src.display()
        );
    fs::write(cfg, text).unwrap();
}

fn run(f: &Fixture, args: &[&str]) -> Output {
    nkbackup()
        .arg("run")
        .args(args)
        .arg("--repo")
        .arg(f.repo_path())
        .output()
        .unwrap()
}

/// Every path of backup `id`, as a restore writes them.
fn restored(f: &Fixture, id: &str) -> Vec<String> {
    let repo = nkbackup::Repository::open(f.repo_path()).unwrap();
    let b = repo.find(id).unwrap();
    let to = f.path(&format!("restore-{id}"));
    f.restore(&b, &to);
    let mut out = Vec::new();
    let mut stack = vec![to.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(&to).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn run_seals_every_job_and_a_failing_command_commits_nothing_for_its_job() {
    let f = Fixture::new();
    let src = f.path("src");
    tree(&src);
    jobs_config(&f, &src);
    let metrics = f.path("nkbackup.prom");

    // A dry run says what it would do and seals nothing.
    let o = run(&f, &["--dry-run"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("job files (archive): would seal"), "{out}");
    assert!(out.contains("job db (db): would seal"), "{out}");
    let repo = nkbackup::Repository::open(f.repo_path()).unwrap();
    assert!(repo.list().unwrap().backups.is_empty());

    let o = run(&f, &["--metrics-file", metrics.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(9), "{out}{err}");
    assert!(
        out.contains("job db (db): FAILED: command chat.sql"),
        "{out}"
    );
    assert!(out.contains("exit status: 2"), "{out}");
    assert!(out.contains("nothing was committed for job db"), "{out}");
    assert!(
        err.contains("pg_dump: connection to server failed"),
        "{err}"
    );
    assert!(out.contains("job files (archive): sealed"), "{out}");
    assert!(out.contains("outcome: job-failed (exit 9)"), "{out}");
    // The failing job committed nothing; the other one sealed.
    let backups = repo.list().unwrap().backups;
    assert_eq!(backups.len(), 1);
    let b = &backups[0];
    assert_eq!(b.sidecar.class, "archive");
    assert_eq!(b.sidecar.job.as_deref(), Some("files"));
    assert!(repo.list().unwrap().incomplete.is_empty());

    // The excluded files are absent; the cache directory is kept empty.
    let paths = restored(&f, &b.sidecar.id);
    assert_eq!(
        paths,
        [
            "data",
            "data/a.txt",
            "data/cache",
            "data/sub",
            "data/sub/b.txt",
            "data/sub/keep.tmp",
            "state.json"
        ]
    );
    // The manifest header records the rules and how much they left out
    // (x.tmp, big/, tmp/, the cache's content).
    let header = inner_header(&f, b);
    assert_eq!(header["excluded"], 4, "{header}");
    let rules: Vec<&str> = header["exclude"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"*.tmp") && rules.contains(&"--exclude-caches"),
        "{rules:?}"
    );

    // The metrics file: the job's success, the failure, classes, journals.
    let m = fs::read_to_string(&metrics).unwrap();
    assert!(
        m.contains("nkbackup_job_failed{job=\"db\",class=\"db\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("nkbackup_job_failed{job=\"files\",class=\"archive\"} 0"),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "nkbackup_job_last_success_timestamp_seconds{{job=\"files\",class=\"archive\"}} {}",
            b.sidecar.created.unix_timestamp()
        )),
        "{m}"
    );
    assert!(
        m.contains("nkbackup_journal_intact{journal=\"deletions\"} 1"),
        "{m}"
    );
    assert!(m.contains("nkbackup_run_success 0"), "{m}");
    if have_tool("promtool") {
        let o = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(fs::File::open(&metrics).unwrap())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // The JSON, and a named job runs alone.
    let o = run(&f, &["--json", "files"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["report"]["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(v["report"]["jobs"][0]["status"], "sealed");
    // Nothing failed now; the classes were never drilled: exit 8.
    assert_eq!(v["outcome"], "drill-stale", "{v}");
    assert_eq!(o.status.code(), Some(8));
    let o = run(&f, &["nosuch"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no [jobs.nosuch]"));
}

/// The inner manifest's header of `b`, read back through a verify.
fn inner_header(f: &Fixture, b: &nkbackup::BackupInfo) -> serde_json::Value {
    let script = format!(
        "set -eo pipefail; age -d -i '{}' '{}' | zstd -d | tar -xO .nkbackup/manifest.jsonl | head -1",
        f.key_file.display(),
        b.data_path.display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_job_with_every_is_not_due_until_then_and_a_hung_command_times_out() {
    let f = Fixture::new();
    let src = f.path("src");
    tree(&src);
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = fs::read_to_string(&cfg).unwrap()
        + &format!(
            "\n[jobs.daily]\nclass = \"archive\"\npaths = [\"{}/data/a.txt\"]\nevery = \"24h\"\n\n[jobs.hang]\nclass = \"db\"\nevery = \"24h\"\n\n[[jobs.hang.commands]]\nname = \"dump\"\nrun = [\"sh\", \"-c\", \"sleep 30 | cat\"]\ntimeout = \"2s\"\n",
            src.display()
        );
    fs::write(cfg, text).unwrap();
    let start = std::time::Instant::now();
    let o = run(&f, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(start.elapsed().as_secs() < 20, "the timeout did not fire");
    assert!(out.contains("job daily (archive): sealed"), "{out}");
    assert!(
        out.contains("did not finish within 2s and was killed"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(9));
    // Next run: daily is not due, hang still is (it never succeeded).
    let o = run(&f, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("job daily (archive): not due"), "{out}");
    assert!(out.contains("job hang (db): FAILED"), "{out}");
}

#[test]
fn seal_excludes_from_the_command_line_and_a_file() {
    let f = Fixture::new();
    let src = f.path("src");
    tree(&src);
    let list = f.path("excludes.txt");
    fs::write(&list, "# caches and uploads\ntmp/\n*.tmp\n").unwrap();
    let o = nkbackup()
        .args(["seal", "--class", "archive", "--json", "--exclude-caches"])
        .arg("--exclude-from")
        .arg(&list)
        .arg("--exclude")
        .arg(format!("{}/data/big", src.display()))
        .arg("--repo")
        .arg(f.repo_path())
        .arg(src.join("data"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["excluded"], 5, "{v}");
    let paths = restored(&f, v["sidecar"]["id"].as_str().unwrap());
    assert!(
        !paths.iter().any(|p| p.contains("tmp") || p.contains("big")),
        "{paths:?}"
    );
    assert!(paths.contains(&"data/cache".to_owned()));
    // A malformed pattern is refused before anything is sealed.
    let o = nkbackup()
        .args([
            "seal",
            "--class",
            "archive",
            "--exclude",
            "a\u{1b}b",
            "--repo",
        ])
        .arg(f.repo_path())
        .arg(src.join("data"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exclude pattern"));
}

/// contrib/systemd: the units pass `systemd-analyze verify` without a
/// single warning (with ExecStart pointing at the binary under test, as
/// verify checks that it exists), and keep their hardening.
#[test]
fn the_systemd_units_verify_and_are_hardened() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let service = fs::read_to_string(dir.join("nkbackup.service")).unwrap();
    for d in [
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "ReadWritePaths=",
        "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
        "OnFailure=nkbackup-failure@",
        "ExecStart=/usr/bin/nkbackup run",
    ] {
        assert!(service.contains(d), "nkbackup.service lacks {d}");
    }
    assert!(
        fs::read_to_string(dir.join("nkbackup.cron"))
            .unwrap()
            .contains("nkbackup run")
    );
    if !have_tool("systemd-analyze") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_nkbackup");
    let mut units = Vec::new();
    for name in [
        "nkbackup.service",
        "nkbackup.timer",
        "nkbackup-failure@.service",
    ] {
        let text = fs::read_to_string(dir.join(name))
            .unwrap()
            .replace("/usr/bin/nkbackup", bin)
            .replace("EnvironmentFile=/", "EnvironmentFile=-/");
        fs::write(tmp.path().join(name), text).unwrap();
        units.push(tmp.path().join(name));
    }
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(tmp.path().to_str().unwrap()))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns: {ours:?}");
}

/// `one_file_system`: a file system mounted below a source is stored as
/// an empty directory (its content is not walked).
#[test]
fn one_file_system_stores_a_mount_point_empty() {
    let f = Fixture::new();
    let src = f.path("src");
    tree(&src);
    let Some(_m) = common::small_tmpfs(&src.join("data/mnt"), "1m") else {
        return;
    };
    fs::write(src.join("data/mnt/on-another-fs"), "x").unwrap();
    let seal = |extra: &[&str]| {
        let o = nkbackup()
            .args(["seal", "--class", "archive", "--json"])
            .args(extra)
            .arg("--repo")
            .arg(f.repo_path())
            .arg(src.join("data"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        restored(&f, v["sidecar"]["id"].as_str().unwrap())
    };
    let all = seal(&[]);
    assert!(all.contains(&"data/mnt/on-another-fs".to_owned()));
    let one = seal(&["--one-file-system"]);
    assert!(one.contains(&"data/mnt".to_owned()), "{one:?}");
    assert!(!one.iter().any(|p| p.starts_with("data/mnt/")), "{one:?}");
}
