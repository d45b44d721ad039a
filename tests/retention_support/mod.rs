//! The prune and report tests' shared scenario: classes with deadlines,
//! backups sealed at fixed times, prune and audit at fixed times.
#![allow(dead_code, unused_imports)]

pub use crate::common::{Fixture, nkbackup};
pub use nkbackup::retention::{
    self, AuditOptions, Clock, PruneOptions, evaluate::ProblemKind, journal,
};
pub use nkbackup::{Error, ErrorKind, Repository};
pub use sha2::{Digest, Sha256};
pub use std::fs;
pub use std::path::Path;
pub use std::process::Output;
pub use time::macros::datetime;
pub use time::{Duration, OffsetDateTime};

pub const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

/// The scenario prunes days after the deadlines on purpose (its tests are
/// about the journal and the proof of absence), so its logs class allows
/// that; late deletions as violations: tests/retention_promises.rs.
pub const CLASSES: &str = "[classes.logs]\nmax_age = \"7d\"\ndeletion_tolerance = \"7d\"\npromise = \"Logs are deleted after 7 days.\"\n[classes.archive]\nmax_age = \"90d\"\nkeep_daily = 1\n";

pub fn seal_at(repo: &Repository, class: &str, t: OffsetDateTime) -> nkbackup::BackupInfo {
    repo.find(&crate::common::seal_at(repo, class, t)).unwrap()
}

pub fn at(t: OffsetDateTime) -> Clock {
    Clock::Fixed(t)
}

/// Prunes at `t` exactly: only what is overdue or surplus then (no
/// `ahead`; the scenarios place their prunes after the deadlines they
/// test, and tests/retention_promises.rs tests `ahead`).
pub fn prune_at(repo: &Repository, t: OffsetDateTime) -> retention::PruneReport {
    retention::prune(
        repo,
        &PruneOptions {
            clock: at(t),
            ahead: Duration::ZERO,
            ..PruneOptions::new()
        },
    )
    .unwrap()
}

pub fn verify_at(repo: &Repository, t: OffsetDateTime) -> retention::AuditReport {
    retention::audit(
        repo,
        &AuditOptions {
            clock: at(t),
            ..Default::default()
        },
    )
    .unwrap()
}

pub fn cli(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = nkbackup();
    c.args(args)
        .arg("--repo")
        .arg(repo)
        .env_remove("NKBACKUP_NOW");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn journal_lines(repo: &Repository) -> Vec<String> {
    fs::read_to_string(repo.local_root().unwrap().join("journal/deletions.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn kinds(r: &retention::AuditReport) -> Vec<ProblemKind> {
    r.violations.iter().map(|v| v.kind).collect()
}

/// Three overdue logs, two archive backups of which the older is surplus.
pub fn scenario(f: &Fixture) -> (Repository, Vec<nkbackup::BackupInfo>) {
    let repo = f.with_classes(CLASSES);
    let b = vec![
        seal_at(&repo, "logs", T0),
        seal_at(&repo, "logs", T0 + Duration::days(1)),
        seal_at(&repo, "logs", T0 + Duration::days(2)),
        seal_at(&repo, "archive", T0),
        seal_at(&repo, "archive", T0 + Duration::days(2)),
        seal_at(&repo, "logs", T0 + Duration::days(9)),
    ];
    (repo, b)
}

pub const NOW: OffsetDateTime = datetime!(2026-01-10 00:00:00 UTC);
