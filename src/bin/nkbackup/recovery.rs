//! `nkbackup recovery-key …`: make, check, export, split and combine the
//! offline recovery key.

use crate::RepoArg;
use crate::keys::{self, KeyArgs};
use crate::secrets;
use anyhow::Result;
use clap::Subcommand;
use nkbackup::enroll::{self, RecoveryKeyOptions};
use nkbackup::render::sheet::SheetFile;
use secrecy::ExposeSecret;
use std::path::PathBuf;

/// Recovery-key subcommands.
#[derive(Subcommand)]
pub enum RecoveryCmd {
    /// Make the recovery key, print it once, and seal every later backup to it.
    New {
        #[command(flatten)]
        repo: RepoArg,
        /// Derive the key from a passphrase (Matrix m.pbkdf2) instead of drawing it.
        #[arg(long)]
        passphrase: bool,
        /// Also write a printable page (HTML, with a QR code) to FILE.
        #[arg(long, value_name = "FILE")]
        sheet: Option<PathBuf>,
        /// Replace an existing recovery key.
        #[arg(long)]
        replace: bool,
    },
    /// Check a typed recovery key against the repository; opens no backup.
    Check {
        #[command(flatten)]
        repo: RepoArg,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Print the recovery key as an age identity (AGE-SECRET-KEY-1...), for
    /// restoring with stock `age`.
    ExportAge {
        #[command(flatten)]
        repo: RepoArg,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Split the recovery key into N shares, any K of which rebuild it.
    Split {
        #[command(flatten)]
        repo: RepoArg,
        /// Shares needed to rebuild the key.
        #[arg(long)]
        threshold: usize,
        /// Shares to make.
        #[arg(long)]
        shares: usize,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Rebuild the recovery key from shares and print it.
    Combine {
        #[command(flatten)]
        repo: RepoArg,
        /// Files holding shares (one or more per file).
        #[arg(long = "share-file", value_name = "FILE", required = true)]
        share_files: Vec<PathBuf>,
    },
}

pub fn run(cmd: RecoveryCmd, cx: &crate::Ctx) -> Result<()> {
    match cmd {
        RecoveryCmd::New {
            repo,
            passphrase,
            sheet: sheet_path,
            replace,
        } => {
            let mut r = cx.open(&repo)?;
            enroll::check_recovery_key_allowed(&r, replace)?;
            // Reserved first: a sheet path that cannot be written fails
            // before a key exists; removed again if the commit fails.
            let sheet = sheet_path.as_deref().map(SheetFile::reserve).transpose()?;
            let opts = RecoveryKeyOptions {
                passphrase: passphrase.then(|| secrets::passphrase(true)).transpose()?,
                replace,
            };
            let made = enroll::recovery_key(&mut r, &opts)?;
            let key = made.key();
            let key_id = &made.config().key_id;
            println!(
                "Recovery key for repository {} (key id {key_id}):\n",
                r.location()
            );
            println!("    {}\n", key.to_encoded().expose_secret());
            println!("Write it down or print it now: it is shown once and nkbackup keeps no copy.");
            println!("Every backup sealed from now on can also be opened with it.");
            if let (Some(file), Some(p)) = (sheet, sheet_path) {
                file.write(&r, &made)?;
                println!(
                    "Printable sheet: {} (print it, then delete the file)",
                    p.display()
                );
            }
            if replace {
                println!(
                    "Backups sealed before stay openable only with the previous recovery key."
                );
            }
        }
        RecoveryCmd::Check { repo, keys: k } => {
            let r = cx.open(&repo)?;
            let key = keys::recovery_key(&r, &k)?;
            println!(
                "OK: this is the recovery key of repository {} (key id {})",
                r.location(),
                key.key_id()
            );
        }
        RecoveryCmd::ExportAge { repo, keys: k } => {
            let r = cx.open(&repo)?;
            let key = keys::recovery_key(&r, &k)?;
            eprintln!("This is the secret recovery key as an age identity: keep it offline.");
            println!(
                "# nkbackup recovery key {} of repository {}",
                key.key_id(),
                r.config().repository.id
            );
            println!("{}", key.export_age().expose_secret());
        }
        RecoveryCmd::Split {
            repo,
            threshold,
            shares,
            keys: k,
        } => {
            let r = cx.open(&repo)?;
            let key = keys::recovery_key(&r, &k)?;
            let parts = nkbackup::recovery::shares::split(&key, threshold, shares)?;
            println!(
                "# {shares} shares of recovery key {} (repository {}); any {threshold} rebuild it.",
                key.key_id(),
                r.config().repository.id
            );
            println!("# Give one to each custodian; fewer than {threshold} reveal nothing.");
            for s in parts {
                println!("{}", s.to_text().expose_secret());
            }
        }
        RecoveryCmd::Combine { repo, share_files } => {
            let r = cx.open(&repo)?;
            let args = KeyArgs {
                recovery_shares: share_files,
                ..Default::default()
            };
            let key = keys::recovery_key(&r, &args)?;
            println!("{}", key.to_encoded().expose_secret());
        }
    }
    Ok(())
}
