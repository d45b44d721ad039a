//! `nkbackup rewrap`, `recipient revoke` and `group …`.

use crate::RepoArg;
use crate::keys::{self, KeyArgs};
use crate::output::print_json;
use crate::progress::{self, ProgressArgs};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use nkbackup::Repository;
use nkbackup::config::GroupConfig;
use nkbackup::rewrap::{Action, ItemReport, Rewrap, RewrapReport};

/// `nkbackup rewrap`: which backups, and the key that opens them.
#[derive(Args)]
pub struct RewrapArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// Only backups of this class (escrow items are left alone).
    #[arg(long)]
    pub class: Option<String>,
    /// Say what would be rewrapped; use no key, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
    /// Only these backups (ids, unique prefixes or `latest`; escrow items
    /// are left alone). Default: every backup and escrow item.
    pub ids: Vec<String>,
}

/// `nkbackup group …`.
#[derive(Subcommand)]
pub enum GroupCmd {
    /// Define a k-of-n group; enroll its members after with
    /// `card enroll --group NAME` or `recipient add --group NAME`.
    Add {
        #[command(flatten)]
        repo: RepoArg,
        /// The group's name, e.g. officers.
        name: String,
        /// How many members must be present to open a backup (2 or more).
        #[arg(long)]
        threshold: u8,
    },
    /// List groups and their members.
    List {
        #[command(flatten)]
        repo: RepoArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a group that has no members left.
    Remove {
        #[command(flatten)]
        repo: RepoArg,
        /// The group's name.
        name: String,
    },
}

/// Runs `nkbackup rewrap`.
pub fn run(args: RewrapArgs, cx: &crate::Ctx) -> Result<()> {
    let repo = cx.open(&args.repo)?;
    let keys = if args.dry_run {
        nkbackup::unlock::Keys::new()
    } else {
        need_keys(&args.keys)?;
        keys::keys(&repo, &args.keys)?
    };
    let rewrap = Rewrap::new(&repo, &keys)
        .class(args.class)
        .ids(args.ids)
        .dry_run(args.dry_run);
    // A dry run reads nothing: no bar.
    let bar = if args.dry_run {
        None
    } else {
        args.progress.bar(args.json, "rewrapping", Some(0))
    };
    let report = run_with(rewrap, bar, args.json).context(
        "rewrap stopped; what was rewrapped stays so, and running it again goes on from there",
    )?;
    summary(&report, args.json)
}

/// A rewrap needs a key that opens the backups as they are.
fn need_keys(k: &KeyArgs) -> Result<()> {
    if k.is_empty() {
        bail!(
            "a rewrap opens each backup's header: give a key that opens them now (--card, -i KEYFILE or a --recovery-key option)"
        );
    }
    Ok(())
}

fn line(i: &ItemReport) {
    let what = match i.action {
        Action::Rewrapped => "rewrapped",
        Action::Finished => "finished an interrupted rewrap of",
        Action::UpToDate => "up to date:",
        Action::WouldRewrap => "would rewrap",
    };
    println!("{what} {} {} ({})", i.item, i.id, i.class);
    if let Some(t) = i.old_version_locked_until {
        println!(
            "  its old version stays in the bucket, locked until {} (Object Lock): the old recipients can open it until then",
            nkbackup::util::rfc3339(t)
        );
    }
}

fn summary(r: &RewrapReport, json: bool) -> Result<()> {
    if json {
        return print_json(r);
    }
    let new = r
        .items
        .first()
        .map(|i| i.new_recipients.join(", "))
        .unwrap_or_default();
    println!(
        "{} rewrapped, {} finished, {} already up to date; they open with: {}",
        r.rewrapped,
        r.finished,
        r.up_to_date,
        if new.is_empty() {
            "(nothing selected)".into()
        } else {
            new
        }
    );
    Ok(())
}

/// `recipient revoke LABEL KEYS`: remove, then rewrap everything.
pub fn revoke(repo: &RepoArg, label: &str, k: &KeyArgs, json: bool, cx: &crate::Ctx) -> Result<()> {
    need_keys(k)?;
    let mut r = cx.open(repo)?;
    // The keys are read first: a missing key file or card must not leave
    // a removed recipient with unrewrapped backups.
    let keys = keys::keys(&r, k)?;
    r.remove_recipient(label)?;
    let report = rewrap_all(&r, &keys, json).with_context(|| {
        format!(
            "{label} was removed from the configuration, but not every backup was rewrapped yet; run `nkbackup rewrap` again to finish the revocation"
        )
    })?;
    summary(&report, json)?;
    if !json {
        println!("revoked {label}: no backup or escrow item opens with its key any more");
    }
    Ok(())
}

/// `recipient add --rewrap`: the new recipient gets the existing backups.
pub fn rewrap_after_add(repo: &Repository, k: &KeyArgs, json: bool) -> Result<()> {
    need_keys(k)?;
    let keys = keys::keys(repo, k)?;
    let report = rewrap_all(repo, &keys, json).context(
        "the recipient was added; run `nkbackup rewrap` again to give it the remaining backups",
    )?;
    summary(&report, json)
}

fn rewrap_all(
    repo: &Repository,
    keys: &nkbackup::unlock::Keys<'_>,
    json: bool,
) -> Result<RewrapReport> {
    let bar = ProgressArgs::default().bar(json, "rewrapping", Some(0));
    run_with(Rewrap::new(repo, keys), bar, json)
}

/// Runs a rewrap, printing a line per item (above the bar, if one is
/// drawn) unless the output is JSON.
fn run_with(
    rewrap: Rewrap<'_>,
    bar: Option<indicatif::ProgressBar>,
    json: bool,
) -> Result<RewrapReport> {
    let mut rewrap = rewrap.on_item(move |i| {
        if !json {
            progress::suspend(|| line(i));
        }
    });
    if let Some(pb) = bar.clone() {
        rewrap = rewrap.on_progress(move |done, total| progress::advance(&pb, done, total));
    }
    let report = rewrap.run();
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    Ok(report?)
}

/// Runs `nkbackup group …`.
pub fn group(cmd: GroupCmd, cx: &crate::Ctx) -> Result<()> {
    match cmd {
        GroupCmd::Add {
            repo,
            name,
            threshold,
        } => {
            let mut r = cx.open(&repo)?;
            r.add_group(GroupConfig {
                name: name.clone(),
                threshold,
            })?;
            println!(
                "added group {name} (any {threshold} members open a backup); enroll members with `nkbackup card enroll --group {name}` or `nkbackup recipient add --group {name}`; seals fail until it has {threshold}"
            );
        }
        GroupCmd::List { repo, json } => {
            let r = cx.open(&repo)?;
            let cfg = r.config();
            let members = |g: &str| -> Vec<String> {
                cfg.recipients
                    .iter()
                    .filter(|x| x.group.as_deref() == Some(g))
                    .map(|x| x.label.clone())
                    .collect()
            };
            if json {
                let v: Vec<_> = cfg
                    .groups
                    .iter()
                    .map(|g| {
                        serde_json::json!({
                            "name": g.name, "threshold": g.threshold, "members": members(&g.name)
                        })
                    })
                    .collect();
                print_json(&v)?;
            } else if cfg.groups.is_empty() {
                println!("no groups configured");
            } else {
                for g in &cfg.groups {
                    println!(
                        "{}: {} of {}",
                        g.name,
                        g.threshold,
                        members(&g.name).join(", ")
                    );
                }
            }
        }
        GroupCmd::Remove { repo, name } => {
            cx.open(&repo)?.remove_group(&name)?;
            println!("removed group {name}");
        }
    }
    Ok(())
}
