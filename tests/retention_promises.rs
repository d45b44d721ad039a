//! Promises kept on time: a late deletion is a violation unless the class
//! states a tolerance; prune deletes ahead of deadlines; a class without a
//! deadline is flagged everywhere; `promise_max` is checked at load; and
//! journal heads anchor the history an auditor saw (`--expect-head`).
//! Every time is injected.

mod common;

mod retention_support;

use retention_support::*;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn prune_exactly_at(repo: &Repository, t: OffsetDateTime) -> retention::PruneReport {
    prune_at(repo, t)
}

#[test]
fn a_deletion_after_its_deadline_fails_verify_unless_a_tolerance_allows_it() {
    let f = Fixture::new();
    let logs = "[classes.logs]\nmax_age = \"7d\"\npromise = \"Logs are deleted after 7 days.\"\n";
    let repo = f.with_classes(logs);
    let ids: Vec<String> = (0..3)
        .map(|i| seal_at(&repo, "logs", T0 + Duration::hours(i)).sidecar.id)
        .collect();
    // Pruned 15 hours after the first deadline: every deletion is late.
    let late = T0 + Duration::days(7) + Duration::hours(15);
    assert_eq!(prune_exactly_at(&repo, late).deleted.len(), 3);
    let v = verify_at(&repo, late);
    assert_eq!(kinds(&v), vec![ProblemKind::DeletedLate; 3]);
    assert!(!v.passed());
    let first = v.violations.iter().find(|p| p.subject == ids[0]).unwrap();
    assert!(
        first
            .detail
            .contains("15h after its deadline 2026-01-08T00:00:00Z")
            && first.detail.contains("no deletion_tolerance is configured")
            && first.detail.contains("--ahead"),
        "{}",
        first.detail
    );
    // The report says FAIL and why before anything else, and each row LATE.
    let html = nkbackup::render::report::html(&v);
    for want in [
        "FAIL: 3 violation(s)",
        "<strong>deleted-late</strong>",
        "<td class=\"fail\">NO: 15h LATE, promise broken</td>",
        "no deletion tolerance",
    ] {
        assert!(html.contains(want), "missing {want:?}");
    }
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s:?}"));
    assert!(at("FAIL: 3") < at("<h2>Violations</h2>"));
    assert!(at("<h2>Violations</h2>") < at("<h2>Journal heads</h2>"));
    assert!(at("<h2>Journal heads</h2>") < at("<h2>Classes</h2>"));
    // The CLI agrees: exit 6.
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--at", &retention::rfc3339(late)],
        &[],
    );
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(text(&o).contains("VIOLATION deleted-late"), "{}", text(&o));

    // A tolerance stated in the configuration allows it, and is shown.
    let repo = f.with_classes(&format!("{logs}deletion_tolerance = \"1d\"\n"));
    let v = verify_at(&repo, late);
    assert!(v.passed(), "{:?}", v.violations);
    let md = nkbackup::render::report::markdown(&v, "t.svg");
    assert!(
        md.contains("late by 15h, within deletion tolerance 24h")
            && md.contains("deletion tolerance 24h |"),
        "{md}"
    );
    // 15 hours is still too late for a 12-hour tolerance.
    let repo = f.with_classes(&format!("{logs}deletion_tolerance = \"12h\"\n"));
    let v = verify_at(&repo, late);
    assert_eq!(kinds(&v), vec![ProblemKind::DeletedLate; 3]);
    assert!(v.violations[0].detail.contains("deletion_tolerance 12h"));
}

#[test]
fn prune_deletes_ahead_of_deadlines_and_check_warns_of_those_coming() {
    let f = Fixture::new();
    let repo = f.with_classes(
        "[classes.logs]\nmax_age = \"7d\"\n[classes.server-logs]\nmax_age = \"24h\"\n",
    );
    let soon = seal_at(&repo, "logs", T0).sidecar.id; // deadline T0+7d
    let later = seal_at(&repo, "logs", T0 + Duration::days(1)).sidecar.id; // T0+8d
    let short = seal_at(
        &repo,
        "server-logs",
        T0 + Duration::days(6) + Duration::hours(10),
    );
    let now = T0 + Duration::days(6) + Duration::hours(12);
    let now_s = retention::rfc3339(now);

    // retention check: nothing overdue (exit 0), but two deadlines come
    // within a day: a warning says prune must run before them.
    let o = cli(f.repo_path(), &["retention", "check", "--at", &now_s], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 backup(s) reach their deadline within 24h")
            && err.contains(&format!("first {soon} at 2026-01-08T00:00:00Z")),
        "{err}"
    );
    // --ahead 0 deletes only what is overdue: nothing.
    let o = cli(
        f.repo_path(),
        &["prune", "--ahead", "0", "--at", &now_s, "--dry-run"],
        &[],
    );
    assert!(
        text(&o).contains("would delete 0 backup(s)"),
        "{}",
        text(&o)
    );
    // The default (24h, at most half of a class's max_age) deletes the
    // logs backup due in 12 hours, not the one due in 36, and not the
    // 24-hour class's backup made two hours ago (half its life: 12h).
    let o = cli(f.repo_path(), &["prune", "--at", &now_s], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "deleted logs {soon} (ahead, created 2026-01-01T00:00:00Z, deadline 2026-01-08T00:00:00Z, 12h before it)"
        )),
        "{out}"
    );
    assert!(out.contains("deleted 1 backup(s)"), "{out}");
    let left: Vec<String> = repo
        .list()
        .unwrap()
        .backups
        .into_iter()
        .map(|b| b.sidecar.id)
        .collect();
    assert!(left.contains(&later) && left.contains(&short.sidecar.id));
    assert!(
        journal_lines(&repo)
            .iter()
            .any(|l| l.contains("\"reason\":\"ahead\""))
    );
    // Deleted early is kept promise: verify passes and says how early.
    let v = verify_at(&repo, now);
    assert!(v.passed(), "{:?}", v.violations);
    let md = nkbackup::render::report::markdown(&v, "t.svg");
    assert!(md.contains("| ahead | yes, 12h before |"), "{md}");
}

#[test]
fn a_class_without_a_deadline_is_flagged_everywhere_unless_kept_forever_on_purpose() {
    let f = Fixture::new();
    let repo = f.with_classes("[classes.keep]\ndescription = \"everything\"\n");
    seal_at(&repo, "keep", T0);
    let o = cli(
        f.repo_path(),
        &["retention", "check", "--at", "2026-02-01"],
        &[],
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(
        text(&o).contains("class keep: keeps backups forever: no promise can hold"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("keep            NONE"), "{}", text(&o));
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--json", "--at", "2026-02-01"],
        &[],
    );
    assert_eq!(o.status.code(), Some(6));
    assert_eq!(json(&o)["violations"][0]["kind"], "no-deadline");
    let v = verify_at(&repo, T0 + Duration::days(31));
    let html = nkbackup::render::report::html(&v);
    assert!(html.contains("NO DEADLINE: keeps backups forever, no promise can hold"));

    // On purpose, with a reason: no violation, and the reason is shown.
    let repo = f.with_classes(
        "[classes.keep]\nmax_age = \"forever\"\nreason = \"statutory archive, kept by law\"\n",
    );
    let v = verify_at(&repo, T0 + Duration::days(31));
    assert!(v.passed(), "{:?}", v.violations);
    let md = nkbackup::render::report::markdown(&v, "t.svg");
    assert!(
        md.contains("kept forever on purpose: statutory archive, kept by law"),
        "{md}"
    );
    let o = cli(
        f.repo_path(),
        &["retention", "check", "--at", "2026-02-01"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("keep         forever"), "{}", text(&o));

    // "forever" needs its reason; a reason needs "forever".
    for (classes, want) in [
        (
            "[classes.keep]\nmax_age = \"forever\"\n",
            "[classes.keep]: max_age = \"forever\" needs reason",
        ),
        (
            "[classes.keep]\nmax_age = \"7d\"\nreason = \"because\"\n",
            "reason is only for max_age = \"forever\"",
        ),
    ] {
        f.write_classes(classes);
        let o = cli(f.repo_path(), &["retention", "check"], &[]);
        assert!(!o.status.success());
        assert!(text(&o).contains(want), "{}", text(&o));
    }

    // A new repository: its classes show where the deadline goes, init
    // says they have none, and verify fails until they do.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r");
    let o = nkbackup()
        .arg("init")
        .arg("--repo")
        .arg(&r)
        .output()
        .unwrap();
    assert!(
        text(&o).contains("then: give classes archive, db, logs, media a deadline"),
        "{}",
        text(&o)
    );
    let toml = fs::read_to_string(r.join("nkbackup.toml")).unwrap();
    assert_eq!(toml.matches("\n#max_age = ").count(), 4, "{toml}");
    let o = cli(&r, &["retention", "verify", "--json"], &[]);
    assert_eq!(o.status.code(), Some(6));
    let v = json(&o);
    let kinds: Vec<&str> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["no-deadline"; 4]);
}

#[test]
fn promise_max_is_checked_at_load_and_reported_with_its_margin() {
    let f = Fixture::new();
    let upl = "[classes.uploads]\npromise = \"Uploads are deleted 90 days after upload, backups included.\"\npromise_max = \"90d\"\n";
    for (rest, want) in [
        // The issue's example: 90 days at the source, 90 in backups.
        (
            "source_max_age = \"90d\"\nmax_age = \"90d\"\n",
            "[classes.uploads]: source_max_age 90d + max_age 90d = 180d exceeds promise_max 90d",
        ),
        (
            "source_max_age = \"80d\"\nmax_age = \"7d\"\ndeletion_tolerance = \"5d\"\n",
            "source_max_age 80d + max_age 7d + deletion_tolerance 5d = 92d exceeds promise_max 90d",
        ),
        (
            "source_max_age = \"60d\"\nmax_age = \"28d\"\nerasure_period = \"7d\"\n",
            "source_max_age 60d + max_age 28d + erasure_period 7d = 95d exceeds promise_max 90d",
        ),
        ("max_age = \"7d\"\n", "promise_max 90d needs source_max_age"),
        (
            "source_max_age = \"7d\"\n",
            "promise_max 90d cannot hold without a deadline",
        ),
    ] {
        f.write_classes(&format!("{upl}{rest}"));
        let e = match Repository::open(f.repo_path()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{rest} loaded"),
        };
        assert!(e.contains(want), "{rest}: {e}");
        let o = cli(f.repo_path(), &["retention", "check"], &[]);
        assert!(
            !o.status.success() && text(&o).contains(want),
            "{}",
            text(&o)
        );
    }
    let repo = f.with_classes(&format!(
        "{upl}source_max_age = \"80d\"\nmax_age = \"7d\"\n"
    ));
    let v = verify_at(&repo, T0);
    assert!(v.passed(), "{:?}", v.violations);
    let md = nkbackup::render::report::markdown(&v, "t.svg");
    assert!(
        md.contains("promise_max 90d ≥ source_max_age 80d + max_age 7d = 87d; margin 3d"),
        "{md}"
    );
}

/// Rewrites the deletion journal from `lines`, chain and head recomputed,
/// as someone who can write the repository could.
fn rewrite_journal(repo: &Repository, lines: &[serde_json::Value]) {
    let dir = repo.local_root().unwrap().join("journal");
    let mut prev = journal::GENESIS.to_owned();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let mut l = l.clone();
        l["seq"] = (i as u64 + 1).into();
        l["prev"] = prev.clone().into();
        let line = format!("{l}\n");
        prev = hex::encode(Sha256::digest(line.as_bytes()));
        out.push_str(&line);
    }
    fs::write(dir.join("deletions.jsonl"), out).unwrap();
    fs::write(
        dir.join("deletions.head"),
        serde_json::json!({"seq": lines.len(), "sha256": prev}).to_string(),
    )
    .unwrap();
}

#[test]
fn journal_heads_prove_the_history_since_an_earlier_report_was_not_rewritten() {
    let f = Fixture::new();
    let (repo, _) = scenario(&f);
    prune_at(&repo, NOW);
    let verify_at = |at: &str, extra: &[&str]| {
        let mut args = vec!["retention", "verify", "--json", "--at", at];
        args.extend_from_slice(extra);
        cli(f.repo_path(), &args, &[])
    };
    let verify = |extra: &[&str]| verify_at("2026-01-10", extra);
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let heads = json(&o)["heads"].clone();
    let names: Vec<&str> = heads
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["journal"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deletions", "drills", "rewraps", "erasures"]);
    assert_eq!(heads[0]["head"]["seq"], 8);
    let seen = format!(
        "deletions=8:{}",
        heads[0]["head"]["sha256"].as_str().unwrap()
    );
    // The text output prints the heads to keep.
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--at", "2026-01-10"],
        &[],
    );
    assert!(
        text(&o).contains(&format!("--expect-head): {seen} drills=0:")),
        "{}",
        text(&o)
    );

    // The same journal, and one extended since, pass.
    let o = verify(&["--expect-head", &seen]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["heads"][0]["extends_expected"], true);
    seal_at(&repo, "logs", NOW);
    prune_at(&repo, NOW + Duration::days(8));
    let o = verify_at("2026-01-18", &["--expect-head", &seen]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines: Vec<serde_json::Value> = journal_lines(&repo)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Two more deletions: the backup just sealed and the scenario's last.
    assert_eq!(lines.len(), 12);
    let seen12 = format!(
        "deletions=12:{}",
        json(&o)["heads"][0]["head"]["sha256"].as_str().unwrap()
    );

    // Rewritten consistently (chain and head recomputed), each attack
    // passes the journal's own checks but not the earlier head.
    let mut middle = lines.clone();
    middle[2]["at"] = "2026-01-09T00:00:00Z".into();
    let truncated = lines[..4].to_vec();
    let without_tail = lines[..10].to_vec();
    for (what, forged, head, want) in [
        (
            "a rewritten middle line",
            middle,
            &seen,
            "its line 8 has SHA-256",
        ),
        (
            "a truncation",
            truncated,
            &seen,
            "it has 4 line(s), fewer than the 8",
        ),
        (
            "a removed tail",
            without_tail,
            &seen12,
            "it has 10 line(s), fewer than the 12",
        ),
    ] {
        rewrite_journal(&repo, &forged);
        let o = verify_at("2026-01-18", &[]);
        let v = json(&o);
        assert!(
            !v["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["kind"] == "journal-damaged"),
            "{what}: the forgery is consistent: {v}"
        );
        let o = verify_at("2026-01-18", &["--expect-head", head]);
        assert_eq!(o.status.code(), Some(6), "{what}: {}", text(&o));
        let v = json(&o);
        let p = v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "journal-rewritten")
            .unwrap_or_else(|| panic!("{what}: {v}"));
        assert_eq!(p["subject"], "deletions journal");
        assert!(p["detail"].as_str().unwrap().contains(want), "{what}: {p}");
        assert_eq!(v["heads"][0]["extends_expected"], false);
        let html = f.path("r.html");
        cli(
            f.repo_path(),
            &[
                "retention",
                "verify",
                "--at",
                "2026-01-18",
                "--expect-head",
                head,
                "--report",
                html.to_str().unwrap(),
            ],
            &[],
        );
        let page = fs::read_to_string(&html).unwrap();
        assert!(page.contains("REWRITTEN: does not extend"), "{what}");
    }
    rewrite_journal(&repo, &lines);

    // Malformed heads and unknown journals are refused with the form.
    for (arg, want) in [
        ("deletions=8", "is not SEQ:SHA256"),
        ("deletions=x:00", "is not a line number"),
        ("deletions=8:abc", "is not a SHA-256"),
        (
            "backups=8:abc",
            "the journals are deletions, drills, rewraps, erasures",
        ),
    ] {
        let o = verify(&["--expect-head", arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}: {}", text(&o));
        assert!(text(&o).contains(want), "{arg}: {}", text(&o));
    }
}

#[test]
fn a_witness_receives_every_head_and_catches_a_rewrite_without_the_auditor() {
    let f = Fixture::new();
    let witness = f.path("witness");
    fs::create_dir_all(&witness).unwrap();
    let cfg = f.repo_path().join("nkbackup.toml");
    let with_witness = |loc: &Path| {
        let text = fs::read_to_string(&cfg).unwrap();
        let text = match text.find("\n[witness]") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        fs::write(
            &cfg,
            format!(
                "{text}\n[witness]\nlocation = {:?}\n",
                loc.display().to_string()
            ),
        )
        .unwrap();
    };
    let (_, _) = scenario(&f);
    with_witness(&witness);
    let repo = Repository::open(f.repo_path()).unwrap();
    prune_at(&repo, NOW);
    // One head per journal line, append-only, the newest the journal's.
    let heads: Vec<String> = {
        let mut v: Vec<String> = fs::read_dir(witness.join("witness/deletions"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(heads.len(), 8, "{heads:?}");
    assert_eq!(heads[7], "00000000000000000008.head");
    let newest = fs::read(witness.join("witness/deletions").join(&heads[7])).unwrap();
    assert_eq!(
        newest,
        fs::read(f.repo_path().join("journal/deletions.head")).unwrap()
    );
    let v = verify_at(&repo, NOW);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.heads[0].extends_witnessed, Some(true));
    let md = nkbackup::render::report::markdown(&v, "t.svg");
    assert!(md.contains("| extends 8:"), "{md}");
    assert!(md.contains("| the witness holds no head yet |"), "{md}");

    // Its tail removed and the chain recomputed: the witness, not the
    // auditor, catches it.
    let lines: Vec<serde_json::Value> = journal_lines(&repo)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rewrite_journal(&repo, &lines[..6]);
    let v = verify_at(&repo, NOW);
    assert_eq!(kinds(&v), vec![ProblemKind::JournalRewritten]);
    assert!(
        v.violations[0]
            .detail
            .contains("it does not extend the head the witness recorded (8:"),
        "{}",
        v.violations[0].detail
    );
    let html = nkbackup::render::report::html(&v);
    assert!(html.contains("<td class=\"fail\">REWRITTEN: does not extend 8:"));
    // Writing on over the forgery collides with the witness's record.
    seal_at(&repo, "logs", NOW);
    let e = retention::prune(
        &repo,
        &PruneOptions {
            clock: at(NOW + Duration::days(8)),
            ahead: Duration::ZERO,
            ..PruneOptions::new()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("the witness already holds another head for this line"),
        "{e}"
    );

    // The repository itself is no witness.
    with_witness(f.repo_path());
    let e = Repository::open(f.repo_path()).unwrap_err().to_string();
    assert!(
        e.contains("[witness] location is the repository itself"),
        "{e}"
    );
}
