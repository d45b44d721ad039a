//! Retention policy and evaluation: the example config, durations, states
//! at an injected time, keep rules, a shortened policy, unknown classes,
//! and the seal-time `source_max_age` lint.

mod common;

use common::{Fixture, nkbackup, seal_at};
use nkbackup::retention::{
    self, Action, DEFAULT_GRACE, Policy, State, evaluate, evaluate::PolicyChange,
};
use nkbackup::{Error, Repository, Sealer};
use std::fs;
use std::path::Path;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn eval(repo: &Repository, at: OffsetDateTime) -> retention::Evaluation {
    let policy = Policy::from_config(repo.config()).unwrap();
    evaluate(
        repo,
        &repo.list().unwrap(),
        &policy,
        at,
        DEFAULT_GRACE,
        &mut |_| Ok(()),
    )
}

fn check_cli(repo: &Path, at: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let o = nkbackup()
        .args(["retention", "check", "--repo"])
        .arg(repo)
        .args(["--at", at])
        .args(extra)
        .env_remove("NKBACKUP_NOW")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn example_config_parses_and_keeps_its_own_promises() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/nkbackup.toml");
    let cfg = nkbackup::config::Config::parse(&fs::read_to_string(&path).unwrap(), &path).unwrap();
    let p = Policy::from_config(&cfg).unwrap();
    // (class, promise_max, words of the promise): every promise states
    // its bound, and the settings fit in it (checked at load).
    for (class, bound, promise_word) in [
        ("logs", "7d", "7 days"),
        ("server-logs", "24h", "24 hours"),
        ("archive", "90d", "90 days"),
        ("uploads", "90d", "90 days"),
        ("photos", "90d", "90 days"),
        ("accounts", "30d", "30 days"),
    ] {
        let c = p.class(class).unwrap_or_else(|| panic!("class {class}"));
        assert!(
            c.promise.as_deref().unwrap().contains(promise_word),
            "{class}: {:?}",
            c.promise
        );
        let b = c.promise_bound().unwrap().expect("promise_max stated");
        assert_eq!(b.bound, bound, "{class}");
        let total = c.source_max_age.unwrap().as_secs() + c.max_age.unwrap().as_secs();
        assert!(total <= c.promise_max.unwrap().as_secs(), "{class}: {b:?}");
        assert!(!c.keeps_forever(), "{class}");
    }
    assert_eq!(p.class("archive").unwrap().keep.daily, 14);
    assert_eq!(p.class("uploads").unwrap().keep.daily, 7);
    assert_eq!(p.class("logs").unwrap().max_age.unwrap().to_string(), "2d");
    let b = p
        .class("uploads")
        .unwrap()
        .promise_bound()
        .unwrap()
        .unwrap();
    assert_eq!(
        (b.sum.as_str(), b.longest.as_str(), b.margin.as_str()),
        ("source_max_age 83d + max_age 7d", "90d", "0s")
    );
}

#[test]
fn malformed_durations_and_keys_in_the_config_are_rejected_with_the_place() {
    let f = Fixture::new();
    for (line, want) in [
        ("max_age = \"7\"", "unit is missing"),
        ("max_age = \"7 days\"", "unit is missing"),
        ("max_age = \"1y\"", "no fixed length"),
        ("max_age = \"0d\"", "longer than zero"),
        ("max_age = \"-1d\"", "expected a number"),
        ("source_max_age = \"3 weeks\"", "source_max_age"),
        ("max-age = \"7d\"", "max-age"),
        ("keep_daily = -1", "keep_daily"),
    ] {
        let cfg = f.repo_path().join("nkbackup.toml");
        let text = fs::read_to_string(&cfg).unwrap();
        let bad = text.replacen("[classes.logs]\n", &format!("[classes.logs]\n{line}\n"), 1);
        fs::write(&cfg, &bad).unwrap();
        let e = Repository::open(f.repo_path()).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, Error::ConfigInvalid { .. } | Error::ConfigSyntax { .. }),
            "{line}: {msg}"
        );
        assert!(msg.contains(want), "{line}: {msg}");
        if line.starts_with("max_age") {
            assert!(msg.contains("[classes.logs]"), "names the class: {msg}");
            assert!(msg.contains("max_age"), "names the key: {msg}");
            assert!(
                msg.contains("e.g. 24h, 7d, 90d"),
                "says what to write: {msg}"
            );
        }
        fs::write(&cfg, &text).unwrap();
    }
    Repository::open(f.repo_path()).unwrap();
}

#[test]
fn states_follow_the_injected_clock_and_sidecars_record_the_deadline() {
    let f = Fixture::new();
    let repo = f.with_classes(
        "[classes.logs]\nmax_age = \"7d\"\npromise = \"Logs are deleted after 7 days.\"\n",
    );
    let old = seal_at(&repo, "logs", T0);
    let soon = seal_at(&repo, "logs", T0 + Duration::hours(1));
    let fresh = seal_at(&repo, "logs", T0 + Duration::days(3));
    let sc = repo.find(&old).unwrap().sidecar;
    assert_eq!(
        sc.deadline,
        Some(T0 + Duration::days(7)),
        "deadline sealed in"
    );

    let at = T0 + Duration::days(7);
    let ev = eval(&repo, at);
    let state = |id: &str| ev.backups.iter().find(|a| a.id == id).unwrap().state;
    assert_eq!(state(&old), State::Overdue, "deadline reached exactly");
    assert_eq!(state(&soon), State::DueSoon, "1 h left of a 24 h window");
    assert_eq!(state(&fresh), State::Ok);
    let c = ev.classes.iter().find(|c| c.class == "logs").unwrap();
    assert_eq!((c.backups, c.ok, c.due_soon, c.overdue), (3, 1, 1, 1));
    assert_eq!(
        c.next_deadline,
        Some(T0 + Duration::days(7) + Duration::hours(1))
    );
    assert_eq!(c.oldest, Some(T0));
    assert_eq!(c.promise.as_deref(), Some("Logs are deleted after 7 days."));
    let a = ev.backups.iter().find(|a| a.id == old).unwrap();
    assert_eq!((a.action, a.reason.as_str()), (Action::Delete, "overdue"));

    // One second earlier nothing is overdue.
    let ev = eval(&repo, at - Duration::seconds(1));
    assert!(!ev.any_overdue());

    // The CLI, with --at and with NKBACKUP_NOW, and its exit codes.
    let (code, out, err) = check_cli(f.repo_path(), "2026-01-07T23:59:59Z", &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("2026")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows[0].contains("due soon") && rows.iter().all(|l| !l.contains("OVERDUE")),
        "{out}"
    );
    let (code, out, err) = check_cli(f.repo_path(), "2026-01-08", &[]);
    assert_eq!(code, Some(6), "overdue exists: {out}{err}");
    assert!(
        out.contains(&format!("{old} logs")) && out.contains("OVERDUE"),
        "{out}"
    );
    assert!(err.contains("nkbackup prune"), "{err}");
    let o = nkbackup()
        .args(["retention", "check", "--json", "--repo"])
        .arg(f.repo_path())
        .env("NKBACKUP_NOW", "2026-01-08T00:00:00Z")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["at"], "2026-01-08T00:00:00Z");
    let states: Vec<&str> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["overdue", "due-soon", "ok"]);
    let (code, _, err) = check_cli(f.repo_path(), "next tuesday", &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn keep_rules_keep_newest_per_day_week_month_and_drop_the_rest() {
    let f = Fixture::new();
    let repo = f.with_classes(
        "[classes.archive]\nmax_age = \"90d\"\nkeep_daily = 2\nkeep_weekly = 3\nkeep_monthly = 3\n",
    );
    // Twice a day from Thu 2026-01-01 to Mon 2026-03-02 00:00.
    let mut ids = Vec::new();
    for k in 0..=120 {
        ids.push(seal_at(&repo, "archive", T0 + Duration::hours(12 * k)));
    }
    let ev = eval(&repo, datetime!(2026-03-02 13:00 UTC));
    let kept: Vec<(OffsetDateTime, String)> = ev
        .backups
        .iter()
        .filter(|a| a.action == Action::Keep)
        .map(|a| (a.created, a.reason.clone()))
        .collect();
    assert_eq!(
        kept,
        vec![
            (datetime!(2026-01-31 12:00 UTC), "monthly".to_owned()),
            (datetime!(2026-02-22 12:00 UTC), "weekly".to_owned()),
            (datetime!(2026-02-28 12:00 UTC), "monthly".to_owned()),
            (datetime!(2026-03-01 12:00 UTC), "daily, weekly".to_owned()),
            (
                datetime!(2026-03-02 00:00 UTC),
                "newest, daily, weekly, monthly".to_owned()
            ),
        ]
    );
    let surplus = ev
        .backups
        .iter()
        .filter(|a| a.action == Action::Delete && a.reason == "surplus")
        .count();
    assert_eq!(surplus, 121 - 5);
    assert_eq!(
        ev.classes
            .iter()
            .find(|c| c.class == "archive")
            .unwrap()
            .surplus,
        116
    );
    assert!(!ev.any_overdue());

    // Past max_age even the newest goes: keep rules never outlive the promise.
    let ev = eval(&repo, datetime!(2026-03-02 00:00 UTC) + Duration::days(90));
    assert!(
        ev.backups
            .iter()
            .all(|a| a.state == State::Overdue && a.action == Action::Delete)
    );
}

#[test]
fn a_shortened_policy_reevaluates_existing_backups_and_reports_both_deadlines() {
    let f = Fixture::new();
    let repo = f.with_classes("[classes.archive]\nmax_age = \"90d\"\n");
    let id = seal_at(&repo, "archive", T0);
    let at = T0 + Duration::days(31);
    assert!(!eval(&repo, at).any_overdue());

    // The privacy policy changes: archives are now kept 30 days.
    let repo = f.with_classes("[classes.archive]\nmax_age = \"30d\"\n");
    let ev = eval(&repo, at);
    let a = &ev.backups[0];
    assert_eq!(a.id, id);
    assert_eq!(a.state, State::Overdue);
    assert_eq!(a.deadline, Some(T0 + Duration::days(30)));
    assert_eq!(a.sealed_deadline, Some(T0 + Duration::days(90)));
    assert_eq!(a.policy_change, Some(PolicyChange::Shortened));
    let (code, out, _) = check_cli(f.repo_path(), "2026-02-01", &[]);
    assert_eq!(code, Some(6));
    assert!(
        out.contains("2026-01-31T00:00:00Z")
            && out.contains("policy shortened; deadline when sealed: 2026-04-01T00:00:00Z"),
        "{out}"
    );
    // Lengthening is reported too (and nothing is overdue).
    let repo = f.with_classes("[classes.archive]\nmax_age = \"180d\"\n");
    let a = &eval(&repo, at).backups[0];
    assert_eq!(a.policy_change, Some(PolicyChange::Lengthened));
    assert_eq!(a.state, State::Ok);
}

#[test]
fn unknown_classes_are_reported_and_never_pruned() {
    let f = Fixture::new();
    let repo =
        f.with_classes("[classes.logs]\nmax_age = \"7d\"\n[classes.scratch]\nmax_age = \"1d\"\n");
    let id = seal_at(&repo, "scratch", T0);
    // Sealing into a class that does not exist is refused.
    let e = Sealer::new(&repo, "nope")
        .bytes("x", vec![1])
        .seal()
        .unwrap_err();
    assert!(matches!(e, Error::UnknownClass { .. }), "{e}");
    // The class is removed from the configuration; its backup remains.
    let repo = f.with_classes("[classes.logs]\nmax_age = \"7d\"\n");
    let ev = eval(&repo, T0 + Duration::days(400));
    let a = &ev.backups[0];
    assert_eq!((a.state, a.action), (State::UnknownClass, Action::Hold));
    assert!(a.reason.contains("[classes.scratch]"), "{}", a.reason);
    let (code, out, err) = check_cli(f.repo_path(), "2027-06-01", &[]);
    assert_eq!(code, Some(7), "problems, nothing overdue: {out}{err}");
    assert!(
        err.contains("scratch") && err.contains("does not define"),
        "{err}"
    );
    assert!(out.contains("(class not in nkbackup.toml)"), "{out}");
    // check --class of an unknown class is an error naming the defined ones.
    let (code, _, err) = check_cli(f.repo_path(), "2027-06-01", &["--class", "nope"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("\"nope\" is not defined") && err.contains("logs"),
        "{err}"
    );
    // prune holds it.
    let o = nkbackup()
        .args(["prune", "--at", "2027-06-01", "--repo"])
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(repo.find(&id).unwrap().data_path.exists());
}

#[test]
fn files_older_than_source_max_age_are_listed_and_strict_refuses() {
    let f = Fixture::new();
    let repo = f.with_classes("[classes.logs]\nmax_age = \"7d\"\nsource_max_age = \"7d\"\n");
    let src = f.path("logs");
    fs::create_dir_all(src.join("old")).unwrap();
    fs::write(src.join("today.log"), "new").unwrap();
    for n in ["old/a.log", "old/b.log"] {
        fs::write(src.join(n), "stale").unwrap();
        let file = fs::File::options().write(true).open(src.join(n)).unwrap();
        file.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        )
        .unwrap();
    }
    let rep = Sealer::new(&repo, "logs").path(&src).seal().unwrap();
    assert_eq!(rep.stale_sources, 2);
    let w: Vec<&String> = rep
        .warnings
        .iter()
        .filter(|w| w.contains("source_max_age 7d"))
        .collect();
    assert_eq!(w.len(), 2, "{:?}", rep.warnings);
    assert!(
        w[0].contains("logs/old/a.log") && w[0].contains("2023-11-14"),
        "{}",
        w[0]
    );

    let e = Sealer::new(&repo, "logs")
        .path(&src)
        .strict(true)
        .seal()
        .unwrap_err();
    assert!(
        e.to_string().contains("2 file(s)") && e.to_string().contains("logs/old/a.log"),
        "{e}"
    );
    assert_eq!(
        repo.list().unwrap().backups.len(),
        1,
        "strict committed nothing"
    );
    assert_eq!(
        fs::read_dir(repo.local_root().unwrap().join("tmp"))
            .unwrap()
            .count(),
        0,
        "no partial left"
    );

    let o = nkbackup()
        .args(["seal", "--class", "logs", "--strict", "--repo"])
        .arg(f.repo_path())
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("without --strict"));
    // A class without source_max_age does not look at mtimes.
    let repo = f.with_classes("[classes.logs]\nmax_age = \"7d\"\n");
    let rep = Sealer::new(&repo, "logs")
        .path(&src)
        .strict(true)
        .seal()
        .unwrap();
    assert_eq!(rep.stale_sources, 0);
}
