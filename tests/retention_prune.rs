//! Prune, the deletion journal and proof of deletion: what is deleted and
//! journaled, dry runs, a prune killed between its steps, leftovers of
//! interrupted seals, a tampered or truncated journal, and sidecars that
//! disagree with their data (the report: tests/retention_report.rs).

mod common;

mod retention_support;

use retention_support::*;

#[test]
fn prune_deletes_overdue_and_surplus_and_journals_every_deletion() {
    let f = Fixture::new();
    let (repo, b) = scenario(&f);

    // A dry run changes nothing, and says what would go.
    let o = cli(
        f.repo_path(),
        &["prune", "--dry-run", "--at", "2026-01-10"],
        &[],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert_eq!(out.matches(", created ").count(), 4, "{out}");
    assert!(out.contains("would delete 4 backup(s)"), "{out}");
    assert!(
        out.contains(&format!("{} (surplus", b[3].sidecar.id)),
        "{out}"
    );
    assert!(
        !repo
            .local_root()
            .unwrap()
            .join("journal/deletions.jsonl")
            .exists()
    );
    assert_eq!(repo.list().unwrap().backups.len(), 6);
    // verify fails before the prune: three backups are overdue.
    let v = verify_at(&repo, NOW);
    assert_eq!(kinds(&v), vec![ProblemKind::Overdue; 3]);

    let rep = prune_at(&repo, NOW);
    assert_eq!(rep.deleted.len(), 4);
    assert_eq!(rep.kept, 2);
    for x in &b[..4] {
        assert!(
            !x.data_path.exists() && !x.sidecar_path.exists(),
            "{}",
            x.sidecar.id
        );
    }
    for x in &b[4..] {
        assert!(x.data_path.exists() && x.sidecar_path.exists());
    }
    // The journal: intent + done per deletion, every field, chained.
    let lines = journal_lines(&repo);
    assert_eq!(lines.len(), 8);
    let mut prev = journal::GENESIS.to_owned();
    for (i, l) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["seq"], i as u64 + 1);
        assert_eq!(v["prev"], prev);
        prev = hex::encode(Sha256::digest(format!("{l}\n")));
        assert_eq!(v["event"], if i % 2 == 0 { "intent" } else { "done" });
        assert_eq!(v["at"], "2026-01-10T00:00:00Z");
        assert_eq!(v["clock"], "injected");
    }
    let x = &b[0];
    let n = lines
        .iter()
        .position(|l| l.contains(&x.sidecar.id))
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(&lines[n]).unwrap();
    assert_eq!(first["id"], x.sidecar.id.as_str());
    assert_eq!(first["class"], "logs");
    assert_eq!(first["created"], "2026-01-01T00:00:00Z");
    assert_eq!(first["deadline"], "2026-01-08T00:00:00Z");
    assert_eq!(first["reason"], "overdue");
    assert_eq!(first["path"], format!("backups/logs/{}.age", x.sidecar.id));
    assert_eq!(
        first["sidecar_path"],
        format!("backups/logs/{}.json", x.sidecar.id)
    );
    assert_eq!(
        first["ciphertext_sha256"],
        x.sidecar.ciphertext_sha256.as_str()
    );
    assert_eq!(first["sidecar_sha256"].as_str().unwrap().len(), 64);
    let surplus: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["reason"] == "surplus")
        .collect();
    assert_eq!(surplus.len(), 1);
    assert_eq!(surplus[0]["id"], b[3].sidecar.id.as_str());
    let done: serde_json::Value = serde_json::from_str(&lines[n + 1]).unwrap();
    assert_eq!(done["intent"], n as u64 + 1);
    assert_eq!(done["id"], x.sidecar.id.as_str());
    let head: serde_json::Value = serde_json::from_slice(
        &fs::read(repo.local_root().unwrap().join("journal/deletions.head")).unwrap(),
    )
    .unwrap();
    assert_eq!(head["seq"], 8);
    assert_eq!(head["sha256"], prev);

    // Now the repository passes, and a second prune deletes nothing.
    let v = verify_at(&repo, NOW);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.deletions.len(), 4);
    assert!(v.journal.intact);
    assert_eq!(prune_at(&repo, NOW).deleted.len(), 0);
    assert_eq!(journal_lines(&repo).len(), 8);
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--at", "2026-01-10"],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("PASS"));
}

/// Without the `test-hooks` feature the binary has no crash hook and the
/// crash test below is not built: say so, and fail where it must run.
#[cfg(not(feature = "test-hooks"))]
#[test]
fn the_crash_test_needs_the_test_hooks_feature() {
    let why = "a_prune_killed_between_its_steps_is_completed_by_the_next_run needs `--features test-hooks` (tests/run-all.sh passes it)";
    common::skip(why);
}

#[cfg(feature = "test-hooks")]
#[test]
fn a_prune_killed_between_its_steps_is_completed_by_the_next_run() {
    for step in ["after-intent", "after-data", "after-sidecar"] {
        let f = Fixture::new();
        let repo = f.with_classes(CLASSES);
        let old = seal_at(&repo, "logs", T0);
        let keep = seal_at(&repo, "logs", T0 + Duration::days(5));
        let o = cli(
            f.repo_path(),
            &["prune", "--at", "2026-01-10"],
            &[(retention::prune::CRASH_HOOK_ENV, step)],
        );
        assert!(!o.status.success(), "{step}: the prune must have died");
        assert_eq!(o.status.code(), None, "{step}: killed by a signal (abort)");
        // What a real crash leaves: an intent without done.
        let lines = journal_lines(&repo);
        assert_eq!(lines.len(), 1, "{step}");
        assert!(lines[0].contains("\"event\":\"intent\""), "{step}");
        assert_eq!(old.data_path.exists(), step == "after-intent", "{step}");
        assert_eq!(old.sidecar_path.exists(), step != "after-sidecar", "{step}");
        // verify says so, and what to do.
        let v = verify_at(&repo, NOW);
        assert!(
            kinds(&v).contains(&ProblemKind::DeletionPending),
            "{step}: {:?}",
            v.violations
        );
        assert!(
            v.violations
                .iter()
                .any(|p| p.detail.contains("run `nkbackup prune`"))
        );
        // The lock died with the process; the next prune completes it.
        let rep = prune_at(&repo, NOW);
        assert_eq!(rep.resumed.len(), 1, "{step}");
        assert_eq!(rep.resumed[0].id.as_deref(), Some(old.sidecar.id.as_str()));
        assert!(rep.deleted.is_empty(), "{step}: nothing deleted twice");
        assert!(
            !old.data_path.exists() && !old.sidecar_path.exists(),
            "{step}"
        );
        assert!(keep.data_path.exists());
        let lines = journal_lines(&repo);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("\"event\":\"done\"") && lines[1].contains("\"intent\":1"));
        let v = verify_at(&repo, NOW);
        assert!(v.passed(), "{step}: {:?}", v.violations);
        assert_eq!(v.deletions.len(), 1);
    }
}

#[test]
fn leftovers_of_interrupted_seals_are_removed_after_the_grace_period() {
    let f = Fixture::new();
    let repo = f.with_classes(CLASSES);
    let b = seal_at(&repo, "logs", T0 + Duration::days(400));
    let orphan = b.data_path.with_file_name("20260101T000000Z-0badf00d.age");
    fs::copy(&b.data_path, &orphan).unwrap();
    let partial = repo
        .local_root()
        .unwrap()
        .join("tmp")
        .join(".20260101T000000Z-0badf00d.x1y2.partial");
    fs::write(&partial, b"half a backup").unwrap();
    let half_sidecar = b
        .data_path
        .with_file_name(".20260101T000000Z-0badf00d.json.Ab12.tmp");
    fs::write(&half_sidecar, b"{\"format\":").unwrap();
    let now = OffsetDateTime::now_utc();

    // Within the grace period (a seal may have just died): left alone.
    let rep = prune_at(&repo, now + Duration::hours(23));
    assert!(rep.deleted.is_empty());
    assert!(orphan.exists() && partial.exists() && half_sidecar.exists());
    assert!(verify_at(&repo, now + Duration::hours(23)).passed());

    // Older than the grace period: orphans; prune removes and journals them.
    let later = now + Duration::hours(25);
    let v = verify_at(&repo, later);
    let mut k = kinds(&v);
    k.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        k,
        vec![
            ProblemKind::IncompleteWrite,
            ProblemKind::StalePartial,
            ProblemKind::StalePartial
        ]
    );
    let o = cli(
        f.repo_path(),
        &["retention", "check", "--at", &retention::rfc3339(later)],
        &[],
    );
    assert_eq!(o.status.code(), Some(7), "problems but nothing overdue");
    let rep = prune_at(&repo, later);
    assert_eq!(rep.deleted.len(), 3);
    assert!(!orphan.exists() && !partial.exists() && !half_sidecar.exists());
    assert!(b.data_path.exists(), "the committed backup stays");
    let text =
        fs::read_to_string(repo.local_root().unwrap().join("journal/deletions.jsonl")).unwrap();
    assert!(text.contains("\"reason\":\"incomplete-write\"") && text.contains("0badf00d.age"));
    assert!(text.contains("\"reason\":\"stale-partial\"") && text.contains(".partial"));
    assert!(verify_at(&repo, later).passed());
    // A shorter --grace on the command line.
    fs::write(&partial, b"again").unwrap();
    let o = cli(
        f.repo_path(),
        &[
            "prune",
            "--grace",
            "1s",
            "--at",
            &retention::rfc3339(now + Duration::minutes(5)),
        ],
        &[],
    );
    assert!(o.status.success());
    assert!(!partial.exists());
}

#[test]
fn a_tampered_or_truncated_journal_is_detected_and_prune_refuses_it() {
    let f = Fixture::new();
    let (repo, _) = scenario(&f);
    prune_at(&repo, NOW);
    let jp = repo.local_root().unwrap().join("journal/deletions.jsonl");
    let good = fs::read_to_string(&jp).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let check = |text: String, want: &str, line: u64| {
        fs::write(&jp, text).unwrap();
        let v = verify_at(&repo, NOW);
        assert!(!v.journal.intact);
        let d = v
            .journal
            .damage
            .iter()
            .find(|d| d.reason.contains(want))
            .unwrap_or_else(|| panic!("{want}: {:?}", v.journal.damage));
        assert_eq!(d.line, line, "{want}");
        assert!(kinds(&v).contains(&ProblemKind::JournalDamaged));
        // The CLI fails verify, and prune will not append to it.
        let o = cli(
            f.repo_path(),
            &["retention", "verify", "--at", "2026-01-10"],
            &[],
        );
        assert_eq!(o.status.code(), Some(6));
        assert!(String::from_utf8_lossy(&o.stdout).contains("journal-damaged"));
        let e = retention::prune(
            &repo,
            &PruneOptions {
                clock: at(NOW),
                ..PruneOptions::new()
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::JournalDamaged { .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(e.to_string().contains("move it aside"), "{e}");
        let o = cli(f.repo_path(), &["prune", "--at", "2026-01-10"], &[]);
        assert_eq!(
            o.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    // An altered time in line 2: the chain breaks at line 3.
    check(
        good.replacen(
            lines[1],
            &lines[1].replace("2026-01-10T00:00:00Z", "2026-01-07T00:00:00Z"),
            1,
        ),
        "prev does not match the SHA-256 of line 2",
        3,
    );
    // A removed line in the middle.
    check(
        good.replacen(&format!("{}\n", lines[2]), "", 1),
        "seq is 4 where 3 was expected",
        3,
    );
    // A truncated last line.
    check(good[..good.len() - 20].to_owned(), "truncated", 8);
    // The last line removed entirely: only the head can tell.
    check(
        good.replacen(&format!("{}\n", lines[7]), "", 1),
        "lines were removed from the end",
        8,
    );
    // The last line altered.
    check(
        good.replacen(lines[7], &lines[7].replace("\"done\"", "\"Done\""), 1),
        "not a valid journal record",
        8,
    );
    fs::write(&jp, &good).unwrap();
    assert!(verify_at(&repo, NOW).passed());

    // A crash between an append and the head update leaves the head one
    // line behind: that is not damage, and the next append repairs it.
    let hp = repo.local_root().unwrap().join("journal/deletions.head");
    let head = fs::read(&hp).unwrap();
    let seven = format!("{}\n", lines[6]);
    fs::write(
        &hp,
        format!(
            "{{\"seq\":7,\"sha256\":\"{}\"}}\n",
            hex::encode(Sha256::digest(seven.as_bytes()))
        ),
    )
    .unwrap();
    let st = journal::read(repo.storage().as_ref()).unwrap();
    assert!(st.damage.is_empty() && st.head_lagging, "{:?}", st.damage);
    assert!(verify_at(&repo, NOW).passed());
    fs::write(&hp, &head).unwrap();
}

#[test]
fn sidecars_that_disagree_with_their_data_are_reported_not_deleted() {
    let f = Fixture::new();
    let repo = f.with_classes(CLASSES);
    let flipped = seal_at(&repo, "logs", T0);
    let truncated = seal_at(&repo, "logs", T0 + Duration::hours(1));
    let escaping = seal_at(&repo, "logs", T0 + Duration::hours(2));
    let newest = seal_at(&repo, "archive", T0 + Duration::days(8));
    let older = seal_at(&repo, "archive", T0 + Duration::days(7));
    // Same length, different bytes: only the SHA-256 can tell.
    let mut bytes = fs::read(&flipped.data_path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x5a;
    fs::write(&flipped.data_path, &bytes).unwrap();
    fs::write(&newest.data_path, {
        let mut b = fs::read(&newest.data_path).unwrap();
        b[n / 3] ^= 1;
        b
    })
    .unwrap();
    let f2 = fs::File::options()
        .write(true)
        .open(&truncated.data_path)
        .unwrap();
    f2.set_len(10).unwrap();
    // A sidecar edited to point prune at a file outside the class directory.
    let victim = f.path("precious.txt");
    fs::write(&victim, "do not delete").unwrap();
    let text = fs::read_to_string(&escaping.sidecar_path).unwrap();
    fs::write(
        &escaping.sidecar_path,
        text.replace(&escaping.sidecar.data, "../../../precious.txt"),
    )
    .unwrap();

    let rep = prune_at(&repo, NOW);
    let by_subject = |id: &str| {
        rep.problems
            .iter()
            .find(|p| p.subject == id)
            .unwrap_or_else(|| panic!("{id}: {:?}", rep.problems))
    };
    assert_eq!(
        by_subject(&flipped.sidecar.id).kind,
        ProblemKind::DataMismatch
    );
    assert!(
        by_subject(&flipped.sidecar.id)
            .detail
            .contains("not deleted blindly")
    );
    assert_eq!(
        by_subject(&truncated.sidecar.id).kind,
        ProblemKind::DataMismatch
    );
    assert_eq!(
        by_subject(&escaping.sidecar.id).kind,
        ProblemKind::Misplaced
    );
    // The damaged newest archive backup is held; the older intact one is
    // kept as the newest restorable instead of being surplus.
    assert_eq!(
        by_subject(&newest.sidecar.id).kind,
        ProblemKind::DataMismatch
    );
    assert!(older.data_path.exists());
    // The escaping sidecar is refused when the repository is listed (it is
    // not evaluated at all), so two overdue backups are held.
    assert_eq!(rep.overdue_held, 2);
    assert!(rep.deleted.is_empty(), "{:?}", rep.deleted);
    for x in [&flipped, &truncated, &escaping, &newest, &older] {
        assert!(x.sidecar_path.exists(), "{}", x.sidecar.id);
    }
    assert!(
        victim.exists(),
        "never follows a sidecar out of its directory"
    );
    let o = cli(f.repo_path(), &["prune", "--at", "2026-01-10"], &[]);
    assert_eq!(o.status.code(), Some(6), "overdue backups remain");
    assert!(String::from_utf8_lossy(&o.stderr).contains("held"));
    // verify compares lengths; with --digests also the SHA-256.
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--json", "--at", "2025-12-01"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let subjects = |v: &serde_json::Value| -> Vec<String> {
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["subject"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!subjects(&v).contains(&flipped.sidecar.id));
    assert!(subjects(&v).contains(&truncated.sidecar.id));
    let o = cli(
        f.repo_path(),
        &[
            "retention",
            "verify",
            "--digests",
            "--json",
            "--at",
            "2025-12-01",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(6));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(subjects(&v).contains(&flipped.sidecar.id));
    assert!(subjects(&v).contains(&newest.sidecar.id));
}

#[test]
fn prune_takes_the_repository_lock() {
    let f = Fixture::new();
    let repo = f.with_classes(CLASSES);
    let b = seal_at(&repo, "logs", T0);
    let lock = repo.lock(std::time::Duration::from_secs(1)).unwrap();
    let e = retention::prune(
        &repo,
        &PruneOptions {
            clock: at(NOW),
            lock_wait: std::time::Duration::from_millis(200),
            ..PruneOptions::new()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    assert!(b.data_path.exists());
    // A dry run needs no lock.
    let rep = retention::prune(
        &repo,
        &PruneOptions {
            clock: at(NOW),
            dry_run: true,
            ..PruneOptions::new()
        },
    )
    .unwrap();
    assert_eq!(rep.deleted.len(), 1);
    drop(lock);
    assert_eq!(prune_at(&repo, NOW).deleted.len(), 1);
    assert!(!b.data_path.exists());
}

#[test]
fn a_journaled_deletion_that_reappears_is_a_violation() {
    let f = Fixture::new();
    let repo = f.with_classes(CLASSES);
    let b = seal_at(&repo, "logs", T0);
    let saved = fs::read(&b.data_path).unwrap();
    prune_at(&repo, NOW);
    fs::write(&b.data_path, saved).unwrap(); // restored from some other copy
    let v = verify_at(&repo, NOW);
    let p = v
        .violations
        .iter()
        .find(|p| p.kind == ProblemKind::NotDeleted)
        .unwrap();
    assert!(
        p.subject.ends_with(&format!("{}.age", b.sidecar.id)),
        "{}",
        p.subject
    );
    assert!(
        p.detail
            .contains("journaled as deleted at 2026-01-10T00:00:00Z"),
        "{}",
        p.detail
    );
}
