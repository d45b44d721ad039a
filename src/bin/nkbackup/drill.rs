//! `nkbackup drill`: restore drills with one token, and their status.

use crate::RepoArg;
use crate::keys::{self, KeyArgs};
use crate::output::{human_bytes, print_json, rfc3339};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use nkbackup::drill::{self, BackupChoice, DrillOptions, TokenChoice};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Exit code of `drill status` when a class or token is not drilled recently.
pub const EXIT_NOT_DRILLED: u8 = 8;

/// `drill` runs a drill; `drill status` reports.
#[derive(Args)]
#[command(subcommand_negates_reqs = true)]
pub struct DrillCmd {
    #[command(subcommand)]
    status: Option<DrillSub>,
    #[command(flatten)]
    run: DrillRun,
}

#[derive(Subcommand)]
enum DrillSub {
    /// Per class and per token: the last passed drill, and whether it is
    /// within [drill] max_interval. Exit 8 if any is stale or never drilled.
    Status {
        /// The repository: a directory, or s3://BUCKET[/PREFIX].
        #[arg(
            long = "repo",
            id = "status_repo",
            env = "NKBACKUP_REPO",
            value_name = "DIR"
        )]
        repo: String,
        /// Evaluate at this time instead of now (RFC 3339 or YYYY-MM-DD).
        #[arg(long, env = "NKBACKUP_NOW")]
        at: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DrillRun {
    /// The repository: a directory, or s3://BUCKET[/PREFIX].
    #[arg(long, env = "NKBACKUP_REPO", value_name = "DIR")]
    repo: Option<String>,
    /// Drill the newest backup of this class.
    #[arg(long, conflicts_with = "backup")]
    class: Option<String>,
    /// Drill this backup (id, prefix or latest).
    #[arg(long)]
    backup: Option<String>,
    /// Pick a random backup of the class instead of the newest.
    #[arg(long, requires = "class")]
    random: bool,
    /// Also restore the data into DIR (new or empty).
    #[arg(long, value_name = "DIR")]
    restore_to: Option<PathBuf>,
    /// Compare the backup with this live source tree and report differences.
    #[arg(long, value_name = "PATH")]
    compare: Option<PathBuf>,
    /// Print the journaled record as JSON (no progress bar).
    #[arg(long)]
    json: bool,
    /// Drill a k-of-n group: its members open the backup together (their
    /// cards with --card, their key files with -i); every member used is
    /// journaled.
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

pub fn run(cmd: DrillCmd, cx: &crate::Ctx) -> Result<std::process::ExitCode> {
    match cmd.status {
        Some(DrillSub::Status { repo, at, json }) => {
            status(cx, &RepoArg { repo }, at.as_deref(), json)
        }
        None => drill(cmd.run, cx).map(|_| std::process::ExitCode::SUCCESS),
    }
}

fn drill(d: DrillRun, cx: &crate::Ctx) -> Result<()> {
    let Some(repo) = d.repo.clone() else {
        bail!("the repository is not named: pass --repo DIR or set NKBACKUP_REPO");
    };
    let r = cx.open(&RepoArg { repo })?;
    let choice = match (&d.backup, d.random) {
        (Some(id), _) => BackupChoice::Id(id.clone()),
        (None, true) => BackupChoice::Random(d.class.clone()),
        (None, false) => BackupChoice::Newest(d.class.clone()),
    };
    let b = drill::choose_backup(&r, &choice)?;
    let tok = drill::choose_token(
        &r,
        &TokenChoice {
            identity_files: d.keys.identities.clone(),
            card: d.keys.card.card.clone(),
            recovery_key: d.keys.wants_recovery(),
            group: d.group.clone(),
        },
    )?;
    // One PIN entry: the PIN that opens the backup also signs the record.
    let (open_pins, sign_pins) = crate::pins::shared(crate::card::pin_source(&d.keys.card));
    let mut opener = keys::opener_with_pins(&r, &b, &d.keys, open_pins)?;
    let mut signer = match d.keys.card.card {
        Some(_) => drill::signature::signer_for(r.config(), &tok.label, sign_pins)?.map(|s| {
            s.allow_last_try(d.keys.card.i_know_the_last_try)
                .notify(crate::card::notice)
        }),
        None => None,
    };
    let bar = (!d.json && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(b.sidecar.ciphertext_bytes);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} drill {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_message(b.sidecar.id.clone());
        pb
    });
    if let Some(pb) = bar.clone() {
        opener = opener.on_progress(move |n| pb.set_position(n));
    }
    let opts = DrillOptions {
        restore_to: d.restore_to.clone(),
        compare: d.compare.clone(),
        started: None,
    };
    let res = drill::run_signed(
        &r,
        &b,
        opener,
        tok,
        &opts,
        signer.as_mut().map(|s| s as &mut dyn drill::RecordSigner),
    );
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let rec = match res {
        Ok(rec) => rec,
        Err(nkbackup::Error::DrillFailed {
            seq,
            backup_id,
            token,
            cause,
        }) => {
            if d.json
                && let Some(record) = drill::record(&r, seq)?
            {
                print_json(&record)?;
            }
            eprintln!("drill FAILED (journaled as #{seq}): backup {backup_id} with token {token}");
            return Err(anyhow::Error::new(*cause));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(why) = &rec.unsigned {
        crate::output::warn(format!(
            "the drill passed, but its record is unsigned: signing on the token failed ({why})"
        ));
    }
    if d.json {
        print_json(&rec)?;
    } else {
        println!(
            "drill PASSED (journaled as #{}): backup {} ({}, sealed {}) opened with {} ({}) in {:.1} s, {:.1} MiB/s; {} entries and {} verified",
            rec.seq,
            rec.backup_id,
            rec.class,
            rfc3339(rec.backup_created),
            rec.token.label,
            rec.token.kind,
            rec.duration_s,
            rec.throughput_mib_s,
            rec.entries_verified,
            human_bytes(rec.bytes_verified)
        );
        println!(
            "record {}",
            drill::signature::check(r.config(), &rec).describe()
        );
        if let Some(c) = &rec.compare {
            println!(
                "compared with {}: {} same, {} changed, {} missing from live, {} only in live",
                c.path, c.same, c.changed, c.missing, c.extra
            );
            for ex in &c.examples {
                println!("  {ex}");
            }
        }
    }
    Ok(())
}

fn status(
    cx: &crate::Ctx,
    repo: &RepoArg,
    at: Option<&str>,
    json: bool,
) -> Result<std::process::ExitCode> {
    let r = cx.open(repo)?;
    let now = nkbackup::retention::Clock::from_option(at)?.now();
    let st = drill::status(&r, now)?;
    if json {
        print_json(&st)?;
    } else {
        for d in &st.journal_damage {
            crate::output::warn(format!("drill journal damaged: {d}"));
        }
        println!(
            "drills as of {} (max interval {} days)",
            rfc3339(st.at),
            st.max_interval_s / 86400
        );
        for (title, lines) in [("class", &st.classes), ("token", &st.tokens)] {
            for l in lines {
                let last = l
                    .last_passed
                    .as_ref()
                    .map(|p| format!("{} ({}, with {})", rfc3339(p.at), p.backup_id, p.with))
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{title:<6} {:<20} {:<6} last passed: {last}",
                    l.name,
                    format!("{:?}", l.state).to_uppercase()
                );
            }
        }
        if st.failed > 0 {
            println!(
                "{} failed drill(s) recorded in {}",
                st.failed,
                drill::journal_location(&r)
            );
        }
    }
    Ok(if st.all_ok() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(EXIT_NOT_DRILLED)
    })
}
