//! `nkbackup erase` and `nkbackup copy`.

use crate::RepoArg;
use crate::output::print_json;
use anyhow::{Result, bail};
use clap::Args;
use nkbackup::retention::erasure::{self, Erasure, Selection};
use std::io::IsTerminal;
use std::process::ExitCode;

/// `nkbackup erase`: crypto-erase periods now.
#[derive(Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// The class (required with --period).
    #[arg(long)]
    pub class: Option<String>,
    /// The period, as `nkbackup keyring list` and sidecars name it
    /// (20261126T000000Z-7d).
    #[arg(long, required_unless_present = "before")]
    pub period: Option<String>,
    /// Every period that started before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub before: Option<String>,
    /// Do not ask: erase what is selected (for scripts).
    #[arg(long)]
    pub yes: bool,
    /// Journal this time instead of now (for tests; as prune's --at).
    #[arg(long, hide = true)]
    pub at: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nkbackup copy`: replicate backups to another repository.
#[derive(Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// The replica: a directory or s3://BUCKET[/PREFIX], made if absent.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub to: String,
    /// Only backups of this class.
    #[arg(long)]
    pub class: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub progress: crate::progress::ProgressArgs,
}

fn list(e: &Erasure) -> String {
    let n = e.unreadable.len();
    let shown: Vec<&str> = e.unreadable.iter().take(20).map(String::as_str).collect();
    format!(
        "{}/{}: {n} backup(s) in the repository become unreadable{}{}",
        e.class,
        e.period,
        if n > 0 { ": " } else { "" },
        shown.join(", ") + if n > 20 { ", …" } else { "" }
    )
}

pub fn erase(a: EraseArgs, cx: &crate::Ctx) -> Result<ExitCode> {
    let r = cx.open(&a.repo)?;
    let sel = Selection {
        class: a.class.clone(),
        period: a.period.clone(),
        before: a
            .before
            .as_deref()
            .map(nkbackup::retention::parse_time)
            .transpose()?,
    };
    let plan = erasure::plan(&r, &sel)?;
    if plan.is_empty() {
        bail!(
            "no period key matches; `nkbackup keyring list --repo {}` shows the periods with keys",
            a.repo.repo
        );
    }
    if !a.yes {
        eprintln!(
            "Crypto-erasing deletes these period keys from every keyring location ({}); every copy of their backups, replicas included, can never be opened again:",
            r.keyring().describe()
        );
        for e in &plan {
            eprintln!("  {}", crate::output::safe(&list(e)));
        }
        if !std::io::stdin().is_terminal() {
            bail!("not erasing without confirmation: run it at a terminal, or add --yes");
        }
        let ok = dialoguer::Confirm::new()
            .with_prompt("Erase them now?")
            .default(false)
            .interact()?;
        if !ok {
            bail!("nothing was erased");
        }
    }
    let clock = nkbackup::retention::Clock::from_option(a.at.as_deref())?;
    let (done, problems) = erasure::erase(&r, &sel, &clock, nkbackup::repo::DEFAULT_LOCK_WAIT)?;
    for p in &problems {
        eprintln!(
            "problem: {}: {}",
            crate::output::safe(&p.subject),
            crate::output::safe(&p.detail)
        );
    }
    if a.json {
        print_json(&serde_json::json!({ "erased": done, "problems": problems }))?;
    } else {
        for e in &done {
            println!(
                "crypto-erased {}/{} ({} backup(s)); absent from {}",
                e.class,
                e.period,
                e.backups.len(),
                e.locations
                    .iter()
                    .map(|l| l.location.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::retention::EXIT_PROBLEMS)
    })
}

pub fn copy(a: CopyArgs, cx: &crate::Ctx) -> Result<ExitCode> {
    let r = cx.open(&a.repo)?;
    let to = nkbackup::storage::open(&a.to, &cx.s3_settings()?)?;
    let json = a.json;
    let bar = a
        .progress
        .bar(json, &format!("copying to {}", a.to), Some(0));
    let mut copy = nkbackup::copy::Copy::new(&r, to)
        .class(a.class)
        .on_item(|i| {
            if !json && i.copied {
                crate::progress::suspend(|| {
                    eprintln!(
                        "copied {} {} ({})",
                        i.class,
                        i.id,
                        crate::output::human_bytes(i.bytes)
                    )
                });
            }
        });
    if let Some(pb) = bar.clone() {
        copy = copy.on_progress(move |done, total| crate::progress::advance(&pb, done, total));
    }
    let rep = copy.run();
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let rep = rep?;
    for w in &rep.warnings {
        eprintln!("warning: {}", crate::output::safe(w));
    }
    if json {
        print_json(&rep)?;
    } else {
        println!(
            "{}: {} backup(s) copied ({}), {} already there{}{}",
            rep.to,
            rep.copied.len(),
            crate::output::human_bytes(rep.bytes),
            rep.up_to_date,
            if rep.created { "; replica created" } else { "" },
            if rep.erasure_journal {
                "; erasure journal updated"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `nkbackup keyring …`.
#[derive(clap::Subcommand)]
pub enum KeyringCmd {
    /// List the period keys in every keyring location (no secret is read).
    List {
        #[command(flatten)]
        repo: RepoArg,
        /// Only this class.
        #[arg(long)]
        class: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn keyring(cmd: KeyringCmd, cx: &crate::Ctx) -> Result<ExitCode> {
    let KeyringCmd::List { repo, class, json } = cmd;
    let r = cx.open(&repo)?;
    let items = r.keyring().items(class.as_deref())?;
    if json {
        let rows: Vec<_> = items
            .iter()
            .map(|s| serde_json::json!({ "location": s.location, "item": s.item }))
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        println!(
            "no period keys in {} (a class gets them with erasure_period)",
            r.keyring().describe()
        );
    }
    for s in &items {
        println!(
            "{:<10} {:<22} {}  {}  {}",
            s.item.class,
            s.item.period,
            s.item.key_id,
            s.location,
            s.item.labels()
        );
    }
    Ok(ExitCode::SUCCESS)
}
