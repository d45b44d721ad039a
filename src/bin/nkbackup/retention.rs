//! `nkbackup retention check|verify` and `nkbackup prune`.
//!
//! Exit codes beyond the common ones (docs/CLI.md, docs/RETENTION.md):
//! 6 a promise is broken (overdue backups exist; for `verify`, any
//! violation) · 7 no backup is overdue, but something needs a person
//! (unknown class, unreadable or mismatched sidecar, orphan).

use super::RepoArg;
use crate::output::{human_bytes, print_json};
use anyhow::Result;
use clap::{Args, Subcommand};
use nkbackup::retention::{self, Action, AuditOptions, Clock, Period, PruneOptions, State};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: a retention promise is broken.
pub const EXIT_VIOLATION: u8 = 6;
/// Exit code: nothing overdue, but problems need a person.
pub const EXIT_PROBLEMS: u8 = 7;

#[derive(Args)]
pub struct ClockArgs {
    /// Evaluate at this time instead of now (RFC 3339, or YYYY-MM-DD for
    /// midnight UTC).
    #[arg(long, env = "NKBACKUP_NOW", value_name = "TIME")]
    at: Option<String>,
    /// Leave incomplete writes and partial files younger than this.
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    grace: String,
}

impl ClockArgs {
    fn clock(&self) -> Result<Clock> {
        Ok(Clock::from_option(self.at.as_deref())?)
    }
    fn grace(&self) -> Result<time::Duration> {
        Ok(Period::parse(&self.grace)?.to_duration())
    }
}

#[derive(Subcommand)]
pub enum RetentionCmd {
    /// Show every backup's deadline and state, and a summary per class.
    /// Needs no key. Exit 0: all within policy; 6: overdue backups exist;
    /// 7: problems (see stderr).
    Check {
        #[command(flatten)]
        repo: RepoArg,
        #[command(flatten)]
        clock: ClockArgs,
        /// Only this class.
        #[arg(long)]
        class: Option<String>,
        /// Only the per-class summary, not every backup.
        #[arg(long)]
        summary: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prove the state: journaled deletions are gone and were on time,
    /// nothing is overdue, every class has a deadline, nothing is
    /// orphaned, the journals extend the heads given; optionally write a
    /// compliance report. Exit 0 when all holds, 6 on any violation.
    Verify(VerifyArgs),
}

/// `nkbackup retention verify`.
#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(flatten)]
    clock: ClockArgs,
    /// Write a compliance report (FILE.md, with FILE.svg beside it, or
    /// FILE.html with the timeline inline).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Report deletions from this time on (default: the whole journal).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Also check every data file's SHA-256 against its sidecar (reads
    /// all backup data).
    #[arg(long)]
    digests: bool,
    /// A journal head kept from an earlier report: the journal must
    /// extend it (deletions, drills, rewraps or erasures; repeatable).
    #[arg(long, value_name = "JOURNAL=SEQ:SHA256", value_parser = parse_head)]
    expect_head: Vec<(String, nkbackup::journal::Head)>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `--expect-head deletions=12:ab…`.
fn parse_head(s: &str) -> std::result::Result<(String, nkbackup::journal::Head), String> {
    let (name, head) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write JOURNAL=SEQ:SHA256, as the report prints it"))?;
    if !retention::audit::JOURNALS.contains(&name) {
        return Err(format!(
            "no journal {name:?}: the journals are {}",
            retention::audit::JOURNALS.join(", ")
        ));
    }
    Ok((name.to_owned(), head.parse()?))
}

#[derive(Args)]
pub struct PruneArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(flatten)]
    clock: ClockArgs,
    /// Show what would be deleted; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait for another writer's lock.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    lock_wait: u64,
    /// Also delete what reaches its deadline within this time, so that a
    /// prune run this often never deletes late (0: only what is overdue).
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    ahead: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `--ahead`: a duration, or 0.
fn ahead(s: &str) -> Result<time::Duration> {
    if s.trim() == "0" {
        return Ok(time::Duration::ZERO);
    }
    Ok(Period::parse(s)?.to_duration())
}

fn t(x: Option<time::OffsetDateTime>) -> String {
    x.map(retention::rfc3339).unwrap_or_else(|| "-".into())
}

pub fn run(cmd: RetentionCmd, cx: &crate::Ctx) -> Result<ExitCode> {
    match cmd {
        RetentionCmd::Check {
            repo,
            clock,
            class,
            summary,
            json,
        } => check(cx, &repo, &clock, class, summary, json),
        RetentionCmd::Verify(a) => verify(cx, a),
    }
}

fn check(
    cx: &crate::Ctx,
    repo: &RepoArg,
    clock: &ClockArgs,
    class: Option<String>,
    summary: bool,
    json: bool,
) -> Result<ExitCode> {
    let r = cx.open(repo)?;
    if let Some(c) = &class {
        r.config().class(c)?;
    }
    let policy = r.policy();
    let listing = r.list()?;
    crate::output::warn_cache(&listing);
    let mut ev = retention::evaluate(
        &r,
        &listing,
        policy,
        clock.clock()?.now(),
        clock.grace()?,
        &mut |_| Ok(()),
    );
    if let Some(c) = &class {
        ev.backups.retain(|a| &a.class == c);
        ev.classes.retain(|s| &s.class == c);
    }
    for p in &ev.problems {
        eprintln!(
            "problem: {}",
            crate::output::safe(&format!("{}{}", subject(&p.subject), p.detail))
        );
    }
    if json {
        print_json(&ev)?;
    } else {
        if !summary {
            println!(
                "{:<25} {:<12} {:<20} {:<20} {:<13} ACTION",
                "ID", "CLASS", "CREATED", "DEADLINE", "STATE"
            );
            for a in &ev.backups {
                let mut state = a.state.label().to_owned();
                if let (Some(_), Some(old)) = (a.policy_change, a.sealed_deadline) {
                    state.push_str(&format!(
                        " (policy {}; deadline when sealed: {})",
                        match a.policy_change {
                            Some(retention::evaluate::PolicyChange::Shortened) => "shortened",
                            _ => "lengthened",
                        },
                        retention::rfc3339(old)
                    ));
                }
                let action = match a.action {
                    Action::Keep => format!("keep ({})", a.reason),
                    Action::Delete => format!("delete ({})", a.reason),
                    Action::Hold => "hold (see problems)".into(),
                };
                println!(
                    "{:<25} {:<12} {:<20} {:<20} {:<13} {action}",
                    a.id,
                    a.class,
                    retention::rfc3339(a.created),
                    t(a.deadline),
                    state
                );
            }
            println!();
        }
        println!(
            "{:<12} {:>7} {:>8} {:>5} {:>8} {:>7} {:>7} {:>9} {:<20} PROMISE",
            "CLASS",
            "MAX_AGE",
            "BACKUPS",
            "OK",
            "DUE SOON",
            "OVERDUE",
            "SURPLUS",
            "SIZE",
            "NEXT DEADLINE"
        );
        for c in &ev.classes {
            println!(
                "{:<12} {:>7} {:>8} {:>5} {:>8} {:>7} {:>7} {:>9} {:<20} {}",
                c.class,
                match (&c.max_age, &c.forever, c.keeps_forever) {
                    (Some(m), _, _) => m.as_str(),
                    (None, Some(_), _) => "forever",
                    (None, None, true) => "NONE",
                    (None, None, false) => "-",
                },
                c.backups,
                c.ok,
                c.due_soon,
                c.overdue,
                c.surplus,
                human_bytes(c.bytes),
                t(c.next_deadline),
                c.promise.as_deref().unwrap_or(if c.configured {
                    ""
                } else {
                    "(class not in nkbackup.toml)"
                })
            );
        }
    }
    // A backup whose deadline comes within a day is deleted late unless a
    // prune runs before it (the nightly one does, with --ahead 24h).
    let horizon = ev
        .at
        .checked_add(retention::prune::DEFAULT_AHEAD)
        .unwrap_or(ev.at);
    let soon: Vec<_> = ev
        .backups
        .iter()
        .filter(|a| a.state != State::Overdue && a.action != Action::Delete)
        .filter_map(|a| a.deadline.filter(|d| *d <= horizon).map(|d| (a, d)))
        .collect();
    if let Some((first, d)) = soon.iter().min_by_key(|(_, d)| *d) {
        eprintln!(
            "warning: {} backup(s) reach their deadline within 24h (first {} at {}): they are deleted late unless prune runs before (a nightly `nkbackup run` or `nkbackup prune` deletes them ahead)",
            soon.len(),
            first.id,
            retention::rfc3339(*d)
        );
    }
    let overdue = ev
        .backups
        .iter()
        .filter(|a| a.state == State::Overdue)
        .count();
    if overdue > 0 {
        eprintln!(
            "{overdue} backup(s) OVERDUE at {}: run `nkbackup prune`",
            retention::rfc3339(ev.at)
        );
        return Ok(ExitCode::from(EXIT_VIOLATION));
    }
    if !ev.problems.is_empty() {
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

fn subject(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("{s}: ")
    }
}

fn verify(cx: &crate::Ctx, a: VerifyArgs) -> Result<ExitCode> {
    let VerifyArgs {
        repo,
        clock,
        report,
        since,
        digests,
        expect_head,
        json,
    } = a;
    let repo = &repo;
    let clock = &clock;
    let expect_heads = expect_head.into_iter().collect();
    let r = cx.open(repo)?;
    let opts = AuditOptions {
        clock: clock.clock()?,
        grace: clock.grace()?,
        since: since.as_deref().map(retention::parse_time).transpose()?,
        digests,
        expect_heads,
    };
    let rep = retention::audit(&r, &opts)?;
    let written = match &report {
        Some(p) => nkbackup::render::report::write(&rep, p)?,
        None => Vec::new(),
    };
    if json {
        print_json(&rep)?;
    } else {
        for v in &rep.violations {
            println!(
                "VIOLATION {}: {}{}",
                serde_json::to_value(v.kind)?.as_str().unwrap_or(""),
                subject(&v.subject),
                v.detail
            );
        }
        println!(
            "{}: {} backup(s) in {} class(es); journal {} ({} line(s), {} deletion(s)); {} violation(s)",
            if rep.passed() { "PASS" } else { "FAIL" },
            rep.evaluation.backups.len(),
            rep.evaluation.classes.len(),
            if rep.journal.intact {
                "intact"
            } else {
                "DAMAGED"
            },
            rep.journal.lines,
            rep.journal.deletions,
            rep.violations.len()
        );
        println!(
            "journal heads (keep them; check later with --expect-head): {}",
            rep.heads
                .iter()
                .map(|h| format!("{}={}", h.journal, h.head))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    for p in written {
        eprintln!("wrote {}", p.display());
    }
    if !rep.passed() {
        return Ok(ExitCode::from(EXIT_VIOLATION));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn prune(a: PruneArgs, cx: &crate::Ctx) -> Result<ExitCode> {
    let r = cx.open(&a.repo)?;
    let opts = PruneOptions {
        clock: a.clock.clock()?,
        dry_run: a.dry_run,
        grace: a.clock.grace()?,
        lock_wait: std::time::Duration::from_secs(a.lock_wait),
        ahead: ahead(&a.ahead)?,
    };
    let rep = retention::prune(&r, &opts)?;
    for p in &rep.problems {
        eprintln!(
            "problem: {}",
            crate::output::safe(&format!("{}{}", subject(&p.subject), p.detail))
        );
    }
    if a.json {
        print_json(&rep)?;
    } else {
        let verb = if rep.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for d in &rep.resumed {
            println!(
                "{} {} (completing an interrupted prune)",
                if rep.dry_run {
                    "would complete"
                } else {
                    "completed"
                },
                d.id.as_deref().unwrap_or(&d.path)
            );
        }
        for d in &rep.deleted {
            let lead = match (d.deadline, d.done_at.or((rep.dry_run).then_some(rep.at))) {
                (Some(dl), Some(at)) if at <= dl => {
                    format!(", {} before it", nkbackup::config::duration::span(dl - at))
                }
                (Some(dl), Some(at)) => {
                    format!(", {} LATE", nkbackup::config::duration::span(at - dl))
                }
                _ => String::new(),
            };
            println!(
                "{verb} {} {} ({}, created {}, deadline {}{lead})",
                d.class.as_deref().unwrap_or("-"),
                d.id.as_deref().unwrap_or(&d.path),
                serde_json::to_value(d.reason)?.as_str().unwrap_or(""),
                t(d.created),
                t(d.deadline)
            );
        }
        for e in &rep.erasures {
            println!(
                "{} period key {}/{} ({} backup(s) of the period, all past their deadline)",
                if rep.dry_run {
                    "would crypto-erase"
                } else {
                    "crypto-erased"
                },
                e.class,
                e.period,
                e.backups.len()
            );
        }
        println!(
            "{} {} backup(s) and leftover(s), kept {}{}",
            verb,
            rep.deleted.len(),
            rep.kept,
            if rep.dry_run {
                "; nothing was changed (dry run)".to_owned()
            } else {
                format!(
                    "; journal: {}",
                    r.storage().describe(&nkbackup::retention::journal::key())
                )
            }
        );
    }
    if rep.overdue_held > 0 {
        eprintln!(
            "{} overdue backup(s) were held because of the problems above; the promise is broken until they are resolved",
            rep.overdue_held
        );
        return Ok(ExitCode::from(EXIT_VIOLATION));
    }
    if !rep.problems.is_empty() {
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}
