//! `retention check` on many backups: builds N sidecars (and 1-byte data
//! files) by hand and measures listing + evaluation and the CLI.
//!
//! By default N = 10 000 so `cargo test` stays quick. The figure in
//! docs/RETENTION.md is for 100 000:
//! `NKBACKUP_SCALE=100000 cargo test --release --test retention_scale -- --nocapture`

mod common;

use common::{Fixture, nkbackup};
use nkbackup::Sealer;
use nkbackup::retention::{self, DEFAULT_GRACE, Policy, State};
use std::fs;
use std::time::Instant;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

#[test]
fn check_is_fast_on_many_backups() {
    let n: usize = std::env::var("NKBACKUP_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let f = Fixture::new();
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        // Every class gets the deadline `init` leaves commented (logs: 7d).
        text.replace("#max_age", "max_age")
            .replace("[classes.logs]\n", "[classes.logs]\nkeep_daily = 7\n"),
    )
    .unwrap();
    let repo = nkbackup::Repository::open(f.repo_path()).unwrap();
    // One real sidecar as the template.
    let t0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    let real = Sealer::new(&repo, "logs")
        .bytes("x", b"x".to_vec())
        .created_at(t0)
        .seal()
        .unwrap();
    fs::remove_file(&real.data_path).unwrap();
    fs::remove_file(&real.sidecar_path).unwrap();
    let dir = repo.local_root().unwrap().join("backups/logs");
    let start = Instant::now();
    for i in 0..n {
        let created = t0 + Duration::minutes(i as i64);
        let mut sc = real.sidecar.clone();
        sc.id = format!(
            "{}-{:08x}",
            &nkbackup::BackupId::new(created).as_str()[..16],
            i
        );
        sc.created = created;
        sc.deadline = Some(created + Duration::days(7));
        sc.data = format!("{}.age", sc.id);
        sc.ciphertext_bytes = 1;
        fs::write(dir.join(&sc.data), b"x").unwrap();
        fs::write(
            dir.join(format!("{}.json", sc.id)),
            serde_json::to_vec_pretty(&sc).unwrap(),
        )
        .unwrap();
    }
    eprintln!("built {n} backups in {:.1}s", start.elapsed().as_secs_f64());
    let at = t0 + Duration::minutes(n as i64);

    let start = Instant::now();
    let listing = repo.list().unwrap();
    let listed = start.elapsed();
    let policy = Policy::from_config(repo.config()).unwrap();
    let ev = retention::evaluate(&repo, &listing, &policy, at, DEFAULT_GRACE, &mut |_| Ok(()));
    let total = start.elapsed();
    eprintln!(
        "library: list {n} sidecars {:.2}s, list + evaluate {:.2}s",
        listed.as_secs_f64(),
        total.as_secs_f64()
    );
    assert_eq!(ev.backups.len(), n);
    let overdue = ev
        .backups
        .iter()
        .filter(|a| a.state == State::Overdue)
        .count();
    assert_eq!(
        overdue,
        (n + 1).saturating_sub(7 * 24 * 60),
        "created + 7d <= at"
    );
    assert!(ev.problems.is_empty(), "{:?}", &ev.problems[..1]);

    let start = Instant::now();
    let o = nkbackup()
        .args(["retention", "check", "--summary", "--repo"])
        .arg(f.repo_path())
        .args(["--at", &retention::rfc3339(at)])
        .output()
        .unwrap();
    let cli = start.elapsed();
    eprintln!(
        "cli: retention check --summary on {n} backups {:.2}s",
        cli.as_secs_f64()
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("{n}")), "{out}");
    assert_eq!(o.status.code(), Some(if overdue > 0 { 6 } else { 0 }));
    // Generous bound for a debug build on a shared machine; the point is
    // that nothing is quadratic.
    assert!(
        total.as_secs_f64() < 2e-3 * n as f64 + 5.0,
        "evaluation took {total:?} for {n}"
    );
}
