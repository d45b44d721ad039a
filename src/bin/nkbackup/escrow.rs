//! `nkbackup escrow …`: seal a service's own small secrets to the same
//! recipients as its backups.

use crate::RepoArg;
use crate::keys::{self, KeyArgs};
use crate::output::{print_json, rfc3339};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use nkbackup::escrow;
use secrecy::{ExposeSecret, SecretSlice};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// Escrow subcommands.
#[derive(Subcommand)]
pub enum EscrowCmd {
    /// Seal the secret read from standard input under NAME.
    Seal {
        #[command(flatten)]
        repo: RepoArg,
        /// Name of the secret, e.g. synapse-signing-key.
        #[arg(long)]
        name: String,
    },
    /// Open the newest version of NAME (or --id) and write it out.
    Open {
        #[command(flatten)]
        repo: RepoArg,
        /// Name of the secret.
        #[arg(long)]
        name: String,
        /// A specific version.
        #[arg(long)]
        id: Option<String>,
        /// Write to FILE (created with mode 0600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// List escrowed secrets: names and dates, never contents.
    List {
        #[command(flatten)]
        repo: RepoArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: EscrowCmd, cx: &crate::Ctx) -> Result<()> {
    match cmd {
        EscrowCmd::Seal { repo, name } => {
            let r = cx.open(&repo)?;
            let mut buf = zeroize::Zeroizing::new(Vec::new());
            std::io::stdin()
                .take(escrow::MAX_SECRET as u64 + 1)
                .read_to_end(&mut buf)
                .context("reading the secret from standard input")?;
            if buf.is_empty() {
                bail!(
                    "standard input was empty: pipe the secret in, e.g. `nkbackup escrow seal --name k < key.pem`"
                );
            }
            let secret = SecretSlice::from(buf.to_vec());
            let item = escrow::seal(&r, &name, &secret)?;
            println!(
                "escrowed {} (version {}) to {} recipients",
                item.name,
                item.id,
                item.recipients.len()
            );
        }
        EscrowCmd::Open {
            repo,
            name,
            id,
            out,
            keys: k,
        } => {
            let r = cx.open(&repo)?;
            let item = escrow::find(&r, &name, id.as_deref())?;
            let ids = keys::keys(&r, &k)?;
            let secret = escrow::open(&item, &ids)?;
            match out {
                Some(p) => {
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&p)
                        .with_context(|| {
                            format!("cannot create {} (it must not exist yet)", p.display())
                        })?;
                    f.write_all(secret.expose_secret())?;
                    f.sync_all()?;
                    eprintln!(
                        "wrote {} (version {}) to {}",
                        item.name,
                        item.id,
                        p.display()
                    );
                }
                None => std::io::stdout().write_all(secret.expose_secret())?,
            }
        }
        EscrowCmd::List { repo, json } => {
            let items = escrow::list(&cx.open(&repo)?)?;
            if json {
                print_json(&items)?;
            } else if items.is_empty() {
                println!("nothing escrowed");
            } else {
                for i in items {
                    let labels: Vec<_> = i.recipients.iter().map(|r| r.label.as_str()).collect();
                    println!(
                        "{:<28} {:<25} {}  to {}",
                        i.name,
                        i.id,
                        rfc3339(i.created),
                        labels.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}
