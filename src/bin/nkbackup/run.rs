//! `nkbackup run`: the configured jobs, then prune, the retention check
//! and the drill status (docs/JOBS.md).

use crate::RepoArg;
use crate::output::{human_bytes, print_json, safe};
use anyhow::Result;
use clap::Args;
use nkbackup::run::{JobStatus, Outcome, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when a job failed.
pub const EXIT_JOB_FAILED: u8 = 9;

/// `nkbackup run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// Say what would be sealed and pruned; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write Prometheus metrics to FILE (atomically), for node_exporter's
    /// textfile collector.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Evaluate prune, the check and drills at this time (for tests).
    #[arg(long, hide = true)]
    pub at: Option<String>,
    /// Only these jobs (run whether due or not). Default: every due job.
    pub jobs: Vec<String>,
}

/// The exit code of an outcome (docs/JOBS.md).
pub fn code(o: Outcome) -> u8 {
    match o {
        Outcome::JobFailed => EXIT_JOB_FAILED,
        Outcome::StepFailed => 1,
        Outcome::Overdue => crate::retention::EXIT_VIOLATION,
        Outcome::Problems => crate::retention::EXIT_PROBLEMS,
        Outcome::DrillStale => crate::drill::EXIT_NOT_DRILLED,
        Outcome::Ok => 0,
    }
}

pub fn run(a: RunArgs, cx: &crate::Ctx) -> Result<ExitCode> {
    let r = cx.open(&a.repo)?;
    let opts = RunOptions {
        jobs: a.jobs,
        dry_run: a.dry_run,
        clock: match &a.at {
            Some(t) => Some(nkbackup::retention::Clock::from_option(Some(t))?),
            None => None,
        },
    };
    let rep = nkbackup::run::run(&r, &opts)?;
    if let Some(p) = &a.metrics_file {
        nkbackup::render::metrics::write(p, &rep)?;
    }
    let outcome = rep.outcome();
    if a.json {
        print_json(&serde_json::json!({
            "report": rep,
            "outcome": outcome,
            "exit_code": code(outcome),
        }))?;
        return Ok(ExitCode::from(code(outcome)));
    }
    for j in &rep.jobs {
        match j.status {
            JobStatus::Sealed => println!(
                "job {} ({}): sealed {}: {} entries{}, {} stored, {:.1}s",
                j.name,
                j.class,
                j.id.as_deref().unwrap_or("-"),
                j.files,
                if j.excluded > 0 {
                    format!(" ({} excluded)", j.excluded)
                } else {
                    String::new()
                },
                human_bytes(j.bytes),
                j.duration_s
            ),
            JobStatus::Failed => println!(
                "job {} ({}): FAILED: {}",
                j.name,
                j.class,
                safe(j.error.as_deref().unwrap_or(""))
            ),
            JobStatus::NotDue => println!(
                "job {} ({}): not due (last backup {})",
                j.name,
                j.class,
                j.previous
                    .map(crate::output::rfc3339)
                    .unwrap_or_else(|| "-".into())
            ),
            JobStatus::WouldRun => println!("job {} ({}): would seal", j.name, j.class),
        }
        for (name, err) in &j.stderr {
            for line in err.lines() {
                eprintln!("  {} stderr ({name}): {}", j.name, safe(line));
            }
        }
    }
    let p = &rep.prune;
    match &p.error {
        Some(e) => println!("prune: FAILED: {}", safe(e)),
        None => println!(
            "prune: {} {} backup(s) and leftover(s), {} period(s) crypto-erased",
            if rep.dry_run {
                "would delete"
            } else {
                "deleted"
            },
            p.deleted,
            p.erased
        ),
    }
    for x in &p.problems {
        eprintln!("  prune problem: {}", safe(x));
    }
    let c = &rep.check;
    match &c.error {
        Some(e) => println!("retention: FAILED: {}", safe(e)),
        None => println!(
            "retention: {} overdue, {} problem(s)",
            c.overdue,
            c.problems.len()
        ),
    }
    for x in &c.problems {
        eprintln!("  retention problem: {}", safe(x));
    }
    match (&rep.drills, &rep.drill_error) {
        (Some(d), _) => {
            let stale: Vec<String> = d
                .classes
                .iter()
                .chain(&d.tokens)
                .filter(|l| l.state != nkbackup::drill::DrillState::Ok)
                .map(|l| l.name.clone())
                .collect();
            if stale.is_empty() {
                println!("drills: every class and token drilled within the interval");
            } else {
                println!("drills: not drilled lately: {}", stale.join(", "));
            }
        }
        (None, Some(e)) => println!("drills: FAILED: {}", safe(e)),
        (None, None) => {}
    }
    for (name, ok) in &rep.journals {
        if !ok {
            println!("journal {name}: DAMAGED (run `nkbackup retention verify`)");
        }
    }
    let sev = code(outcome);
    println!(
        "outcome: {} (exit {sev})",
        serde_json::to_value(outcome)?.as_str().unwrap_or("")
    );
    Ok(ExitCode::from(sev))
}
