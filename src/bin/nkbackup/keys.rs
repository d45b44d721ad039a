//! The options that say how to open a backup, turned into identities.

use crate::secrets;
use anyhow::Result;
use clap::Args;
use nkbackup::recovery::{RecoveryKey, RecoveryKeySource};
use nkbackup::{Opener, Repository};
use std::path::PathBuf;

/// How to open: age identity files and/or the recovery key in one of its
/// forms. Secrets are typed or read from files, never given on argv.
#[derive(Args, Default)]
#[command(next_help_heading = "Keys (what opens the backup)")]
pub struct KeyArgs {
    /// An age identity file (AGE-SECRET-KEY-1...); may be repeated.
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Ask for the recovery key (typed without echo).
    #[arg(long)]
    pub recovery_key: bool,
    /// Read the recovery key from FILE.
    #[arg(long, value_name = "FILE")]
    pub recovery_key_file: Option<PathBuf>,
    /// Rebuild the recovery key from share files (at least the threshold).
    #[arg(long, value_name = "FILE", num_args = 1.., value_delimiter = ',')]
    pub recovery_shares: Vec<PathBuf>,
    /// Derive the recovery key from its passphrase (asked without echo).
    #[arg(long)]
    pub recovery_passphrase: bool,
    #[command(flatten)]
    pub card: crate::card::CardArgs,
}

impl KeyArgs {
    /// Whether any recovery-key option was given.
    pub fn wants_recovery(&self) -> bool {
        self.recovery_key
            || self.recovery_key_file.is_some()
            || !self.recovery_shares.is_empty()
            || self.recovery_passphrase
    }

    /// Whether any key at all was given.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && !self.wants_recovery() && !self.card.used()
    }
}

/// Reads the recovery key as the options say (prompting when none does)
/// and checks it against the repository.
pub fn recovery_key(repo: &Repository, args: &KeyArgs) -> Result<RecoveryKey> {
    let cfg = repo.recovery()?;
    let source = if let Some(f) = &args.recovery_key_file {
        RecoveryKeySource::File(f.clone())
    } else if !args.recovery_shares.is_empty() {
        RecoveryKeySource::ShareFiles(args.recovery_shares.clone())
    } else if args.recovery_passphrase {
        RecoveryKeySource::Passphrase(secrets::passphrase(false)?)
    } else {
        RecoveryKeySource::Typed(secrets::prompt(
            "Recovery key: ",
            "use --recovery-key-file FILE",
        )?)
    };
    Ok(nkbackup::recovery::source::load(cfg, &source)?)
}

/// An opener for `b` with every key the options name.
pub fn opener<'a>(
    repo: &Repository,
    b: &'a nkbackup::BackupInfo,
    args: &KeyArgs,
) -> Result<Opener<'a>> {
    opener_with_pins(repo, b, args, crate::card::pin_source(&args.card))
}

/// [`opener`], a card's PINs coming from `pins`.
pub fn opener_with_pins<'a>(
    repo: &Repository,
    b: &'a nkbackup::BackupInfo,
    args: &KeyArgs,
    pins: Box<dyn nkbackup::card::PinSource>,
) -> Result<Opener<'a>> {
    let mut o = Opener::new(b);
    for f in &args.identities {
        o = o.identity_file(f)?;
    }
    if args.wants_recovery() {
        o = o.recovery_key(&recovery_key(repo, args)?);
    }
    crate::card::add_identity(o, repo, &args.card, pins)
}

/// Keys for escrow and rewrap: the same options as [`opener`].
pub fn keys(repo: &Repository, args: &KeyArgs) -> Result<nkbackup::unlock::Keys<'static>> {
    let mut out = nkbackup::unlock::Keys::new();
    for f in &args.identities {
        for id in nkbackup::identity::load_file(f)? {
            out.add(id);
        }
    }
    if args.wants_recovery() {
        out.add(Box::new(recovery_key(repo, args)?.to_age_identity()));
    }
    if let Some(card) = crate::card::identity(repo, &args.card)? {
        out.set_card(card);
    }
    Ok(out)
}
