//! `nkbackup run`: the night's work from the configuration.
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! let report = nkbackup::run::run(&repo, &nkbackup::run::RunOptions::default())?;
//! println!("{:?}", report.outcome());
//! # Ok(()) }
//! ```
//!
//! In order: every due job of `[jobs]` (or the ones named), each sealed
//! on its own (a job that fails commits nothing, and the others still
//! run); then prune; then the retention check; then the drill status.
//! [`RunReport::outcome`] says which failure wins. docs/JOBS.md describes
//! the keys, the order and the exit codes.

pub mod command;

use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::retention::{Clock, PruneOptions};
use serde::Serialize;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these jobs (run whether due or not); empty: every due job.
    pub jobs: Vec<String>,
    /// Say what would be done; seal nothing, prune nothing.
    pub dry_run: bool,
    /// The clock prune, the check and drill status use (default: now).
    pub clock: Option<Clock>,
}

/// What happened to one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobStatus {
    /// Sealed and committed.
    Sealed,
    /// Failed; nothing was committed for it.
    Failed,
    /// Not due (its last backup is younger than `every`).
    NotDue,
    /// A dry run: it would be sealed.
    WouldRun,
}

/// One job's result.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The job's name.
    pub name: String,
    /// Its class.
    pub class: String,
    /// What happened.
    pub status: JobStatus,
    /// The backup made.
    pub id: Option<String>,
    /// How long the seal took (seconds).
    pub duration_s: f64,
    /// Ciphertext bytes stored.
    pub bytes: u64,
    /// Entries stored.
    pub files: u64,
    /// Objects the exclusions left out.
    pub excluded: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Each command's standard error (last 64 KiB, as the command wrote
    /// it: escape it before showing it on a terminal), by its name.
    pub stderr: Vec<(String, String)>,
    /// When its newest backup was made, before this run.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous: Option<OffsetDateTime>,
    /// Its newest backup after this run (the last successful seal).
    pub last_success: Option<LastSeal>,
}

/// A job's newest backup.
#[derive(Debug, Clone, Serialize)]
pub struct LastSeal {
    /// The backup id.
    pub id: String,
    /// When it was sealed.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Ciphertext bytes.
    pub bytes: u64,
    /// Entries.
    pub files: u64,
}

/// Prune's part.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneStep {
    /// Backups and leftovers deleted (or that would be).
    pub deleted: usize,
    /// Periods crypto-erased.
    pub erased: usize,
    /// Overdue backups held back by a problem.
    pub overdue_held: usize,
    /// Problems it reported.
    pub problems: Vec<String>,
    /// Why it could not run.
    pub error: Option<String>,
}

/// The retention check's part, after prune.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckStep {
    /// Overdue backups.
    pub overdue: usize,
    /// Problems (held backups, orphans, unreadable sidecars).
    pub problems: Vec<String>,
    /// Per class: backups, overdue, next deadline.
    pub classes: Vec<crate::retention::evaluate::ClassSummary>,
    /// Why it could not run.
    pub error: Option<String>,
}

/// Everything a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// When it ran.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// A dry run.
    pub dry_run: bool,
    /// Jobs in name order.
    pub jobs: Vec<JobReport>,
    /// Prune.
    pub prune: PruneStep,
    /// The retention check.
    pub check: CheckStep,
    /// The drill status (None if it could not be read: `drill_error`).
    pub drills: Option<crate::drill::DrillStatus>,
    /// Why the drill status could not be read.
    pub drill_error: Option<String>,
    /// The deletion, rewrap, erasure and drill journals: whether each
    /// verifies (hash chain and head).
    pub journals: Vec<(String, bool)>,
}

/// Which failure wins, first first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A job failed.
    JobFailed,
    /// Prune, the check or the drill status could not run.
    StepFailed,
    /// Backups are overdue after prune.
    Overdue,
    /// Problems were found (held backups, orphans, a pending erasure).
    Problems,
    /// A class or token was not drilled within the interval.
    DrillStale,
    /// Everything ran and everything holds.
    Ok,
}

impl RunReport {
    /// The run's outcome: the first of job failed, a step that could not
    /// run, overdue backups, problems, stale drills, in that order.
    pub fn outcome(&self) -> Outcome {
        if self.jobs.iter().any(|j| j.status == JobStatus::Failed) {
            Outcome::JobFailed
        } else if self.prune.error.is_some()
            || self.check.error.is_some()
            || self.drill_error.is_some()
        {
            Outcome::StepFailed
        } else if self.check.overdue > 0 || self.prune.overdue_held > 0 {
            Outcome::Overdue
        } else if !self.prune.problems.is_empty()
            || !self.check.problems.is_empty()
            || self.journals.iter().any(|(_, ok)| !ok)
        {
            Outcome::Problems
        } else if self.drills.as_ref().is_some_and(|d| !d.all_ok()) {
            Outcome::DrillStale
        } else {
            Outcome::Ok
        }
    }
}

/// Runs the night's work; see the module documentation.
pub fn run(repo: &Repository, opts: &RunOptions) -> Result<RunReport> {
    let clock = opts.clock.unwrap_or(Clock::System);
    let at = clock.now();
    let cfg = repo.config();
    for j in &opts.jobs {
        if !cfg.jobs.contains_key(j) {
            return Err(Error::InvalidName {
                what: "job",
                value: j.clone(),
                reason: format!(
                    "no [jobs.{j}] in nkbackup.toml (jobs: {})",
                    cfg.jobs.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    let listing = repo.list()?;
    let mut jobs = Vec::new();
    for (name, job) in &cfg.jobs {
        let previous = listing
            .backups
            .iter()
            .filter(|b| b.sidecar.job.as_deref() == Some(name))
            .map(|b| b.sidecar.created)
            .max();
        let named = opts.jobs.contains(name);
        if !opts.jobs.is_empty() && !named {
            continue;
        }
        let due = named || is_due(job, previous, at)?;
        let mut r = JobReport {
            name: name.clone(),
            class: job.class.clone(),
            status: JobStatus::NotDue,
            id: None,
            duration_s: 0.0,
            bytes: 0,
            files: 0,
            excluded: 0,
            error: None,
            stderr: Vec::new(),
            previous,
            last_success: None,
        };
        if due {
            if opts.dry_run {
                r.status = JobStatus::WouldRun;
            } else {
                seal_job(repo, name, job, &mut r);
            }
        }
        jobs.push(r);
    }
    if let Ok(after) = repo.list() {
        for j in &mut jobs {
            j.last_success = after
                .backups
                .iter()
                .filter(|b| b.sidecar.job.as_deref() == Some(j.name.as_str()))
                .max_by_key(|b| b.sidecar.created)
                .map(|b| LastSeal {
                    id: b.sidecar.id.clone(),
                    created: b.sidecar.created,
                    bytes: b.sidecar.ciphertext_bytes,
                    files: b.sidecar.entries,
                });
        }
    }
    let prune = prune_step(repo, &clock, opts.dry_run);
    let check = check_step(repo, at);
    let (drills, drill_error) = match crate::drill::status(repo, at) {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(RunReport {
        at,
        dry_run: opts.dry_run,
        jobs,
        prune,
        check,
        drills,
        drill_error,
        journals: journals(repo),
    })
}

/// Whether a job whose newest backup is `previous` is due at `at`: always
/// without `every`; else when `previous + every` has passed, less a tenth
/// of `every` (at most an hour), so a timer that fires a little early
/// still runs a daily job.
fn is_due(job: &JobConfig, previous: Option<OffsetDateTime>, at: OffsetDateTime) -> Result<bool> {
    let (Some(every), Some(prev)) = (job.every_period()?, previous) else {
        return Ok(true);
    };
    let slack = (every.as_secs() / 10).min(3600) as i64;
    let due = prev + every.to_duration() - time::Duration::seconds(slack);
    Ok(due <= at)
}

fn seal_job(repo: &Repository, name: &str, job: &JobConfig, r: &mut JobReport) {
    let start = Instant::now();
    let mut s = crate::Sealer::new(repo, &job.class)
        .job(name)
        .excludes(&job.exclude)
        .one_file_system(job.one_file_system)
        .exclude_caches(job.exclude_caches)
        .skip_unreadable(job.skip_unreadable);
    for p in &job.paths {
        s = s.path(p);
    }
    let mut stderrs = Vec::new();
    let mut started = Ok(());
    for c in &job.commands {
        let timeout = c
            .timeout_secs()
            .unwrap_or(crate::config::job::DEFAULT_TIMEOUT);
        match command::CommandReader::start(&c.run, Duration::from_secs(timeout)) {
            Ok((reader, stderr)) => {
                stderrs.push((c.name.clone(), stderr));
                s = s.reader(&c.name, reader);
            }
            Err(e) => {
                started = Err(format!("command {:?}: {e}", c.name));
                break;
            }
        }
    }
    let result = match started {
        Ok(()) => s.seal().map_err(|e| match e {
            // A command source's failure is the command's, not a file's.
            Error::Unreadable { path, source }
                if job
                    .commands
                    .iter()
                    .any(|c| path.as_os_str() == c.name.as_str()) =>
            {
                format!("command {}: {source}", path.display())
            }
            e => e.to_string(),
        }),
        Err(e) => {
            drop(s);
            Err(e)
        }
    };
    r.duration_s = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    r.stderr = stderrs
        .into_iter()
        .map(|(n, e)| {
            let bytes = e.collect();
            (n, String::from_utf8_lossy(&bytes).into_owned())
        })
        .filter(|(_, e)| !e.is_empty())
        .collect();
    match result {
        Ok(rep) => {
            r.status = JobStatus::Sealed;
            r.id = Some(rep.sidecar.id.clone());
            r.bytes = rep.sidecar.ciphertext_bytes;
            r.files = rep.sidecar.entries;
            r.excluded = rep.excluded;
        }
        Err(e) => {
            r.status = JobStatus::Failed;
            r.error = Some(format!("{e}; nothing was committed for job {name}"));
        }
    }
}

fn prune_step(repo: &Repository, clock: &Clock, dry_run: bool) -> PruneStep {
    let opts = PruneOptions {
        clock: *clock,
        dry_run,
        ..PruneOptions::new()
    };
    match crate::retention::prune(repo, &opts) {
        Ok(p) => PruneStep {
            deleted: p.deleted.len() + p.resumed.len(),
            erased: p.erasures.len(),
            overdue_held: p.overdue_held,
            problems: p
                .problems
                .iter()
                .map(|x| format!("{}: {}", x.subject, x.detail))
                .collect(),
            error: None,
        },
        Err(e) => PruneStep {
            error: Some(e.to_string()),
            ..Default::default()
        },
    }
}

fn check_step(repo: &Repository, at: OffsetDateTime) -> CheckStep {
    let listing = match repo.list() {
        Ok(l) => l,
        Err(e) => {
            return CheckStep {
                error: Some(e.to_string()),
                ..Default::default()
            };
        }
    };
    let eval = crate::retention::evaluate(
        repo,
        &listing,
        repo.policy(),
        at,
        crate::retention::DEFAULT_GRACE,
        &mut |_| Ok(()),
    );
    CheckStep {
        overdue: eval.classes.iter().map(|c| c.overdue).sum(),
        problems: eval
            .problems
            .iter()
            .map(|x| format!("{}: {}", x.subject, x.detail))
            .collect(),
        classes: eval.classes,
        error: None,
    }
}

/// Whether each journal's chain and head verify (absent journals do).
fn journals(repo: &Repository) -> Vec<(String, bool)> {
    let s = repo.storage().as_ref();
    vec![
        (
            "deletions".into(),
            crate::retention::journal::read(s).is_ok_and(|j| j.damage.is_empty()),
        ),
        (
            "drills".into(),
            crate::drill::read_journal(repo).is_ok_and(|j| j.damage.is_empty()),
        ),
        (
            "rewraps".into(),
            crate::rewrap::journal(repo).is_ok_and(|j| j.damage.is_empty()),
        ),
        (
            "erasures".into(),
            crate::retention::erasure::journal(repo).is_ok_and(|j| j.damage.is_empty()),
        ),
    ]
}
