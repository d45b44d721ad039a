//! `nkbackup ls` and `nkbackup find`: what backups hold, from their
//! authenticated inner manifests (the library's `catalog`).

use crate::keys::{self, KeyArgs};
use crate::output::{print_json, warn};
use crate::{Ctx, RepoArg};
use anyhow::Result;
use clap::Args;
use nkbackup::catalog::{self, EntryListing, PathPattern};
use nkbackup::manifest::{Entry, EntryKind};
use std::process::ExitCode;

/// `nkbackup ls`.
#[derive(Args)]
pub struct LsArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// Backup id, unique prefix, or `latest`.
    id: String,
    /// Only the entries at or below these paths (as the inner manifest
    /// names them, e.g. var/mail/alice).
    paths: Vec<String>,
    #[command(flatten)]
    keys: KeyArgs,
    /// Print JSON: the backup id and its entries as the inner manifest
    /// records them (path, type, size, mode, mtime, uid, gid, sha256,
    /// target).
    #[arg(long)]
    json: bool,
}

/// `nkbackup find`.
#[derive(Args)]
pub struct FindArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// A glob: without '/', matched against each entry's last name
    /// ('*.mbox', 'alice'); with '/', against its whole path
    /// ('var/mail/*', '**/inbox'). Quote it from the shell.
    pattern: String,
    /// Only backups of this class.
    #[arg(long)]
    class: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One line of `ls`: type, mode, size, mtime (UTC), path.
fn line(e: &Entry) -> String {
    let kind = match e.kind {
        EntryKind::File => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Hardlink => 'h',
        EntryKind::Skipped => '?',
    };
    let when = time::OffsetDateTime::from_unix_timestamp(e.mtime)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]"
            ))
            .ok()
        })
        .unwrap_or_else(|| e.mtime.to_string());
    let mut s = format!("{kind} {:04o} {:>12} {when} {}", e.mode, e.size, e.path);
    if let Some(t) = &e.target {
        s.push_str(&format!(" -> {t}"));
    }
    if let Some(n) = &e.note {
        s.push_str(&format!(" (skipped: {})", nkbackup::text::escape(n)));
    }
    s
}

fn print_entries(l: &EntryListing) {
    for e in &l.entries {
        println!("{}", line(e));
    }
}

/// `nkbackup ls ID [PATH…]`.
pub fn ls(a: LsArgs, cx: &Ctx) -> Result<ExitCode> {
    let r = cx.open(&a.repo)?;
    let b = r.find(&a.id)?;
    let l = keys::opener(&r, &b, &a.keys)?.entries(&a.paths)?;
    if a.json {
        print_json(&l)?;
    } else {
        print_entries(&l);
    }
    Ok(ExitCode::SUCCESS)
}

/// `nkbackup find PATTERN`.
pub fn find(a: FindArgs, cx: &Ctx) -> Result<ExitCode> {
    let pattern = PathPattern::new(&a.pattern)?;
    let r = cx.open(&a.repo)?;
    let k = keys::keys(&r, &a.keys)?;
    let rep = catalog::find(&r, &k, &pattern, a.class.as_deref(), &mut |_| {})?;
    if a.json {
        print_json(&rep)?;
    } else {
        for l in &rep.found {
            println!("{} ({}): {} match(es)", l.id, l.class, l.entries.len());
            for e in &l.entries {
                println!("  {}", line(e));
            }
        }
        println!(
            "{} of {} backup(s) hold entries matching {:?}",
            rep.found.len(),
            rep.searched,
            nkbackup::text::escape(&a.pattern)
        );
    }
    for p in &rep.problems {
        warn(format!("{} could not be searched: {}", p.id, p.error));
    }
    Ok(if !rep.problems.is_empty() {
        eprintln!(
            "nkbackup: {} backup(s) could not be searched (see the warnings): the answer may be incomplete",
            rep.problems.len()
        );
        ExitCode::from(3)
    } else if rep.found.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
