//! `nkbackup card …` and the `--card` options of restore and verify.

use crate::RepoArg;
use crate::output::print_json;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use nkbackup::card::{self, CardIdentity, KeyAlgorithm};
use nkbackup::{Opener, Repository};
use std::path::PathBuf;
use std::time::Duration;

/// Options for opening a backup with a smartcard.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "Keys (what opens the backup)")]
pub struct CardArgs {
    /// Open with an enrolled OpenPGP card (any enrolled one present, or the
    /// one with this ident, e.g. 000F:1234ABCD). The PIN comes from
    /// NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal.
    #[arg(long, value_name = "IDENT", num_args = 0..=1, default_missing_value = "")]
    pub card: Option<String>,
    /// Read the card's user PIN from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Present the PIN even when only one try is left (a wrong PIN then
    /// locks the token).
    #[arg(long)]
    pub i_know_the_last_try: bool,
    /// Seconds to wait for an enrolled token to be inserted.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub card_timeout: u64,
}

impl CardArgs {
    /// Whether any card option was given.
    pub fn used(&self) -> bool {
        self.card.is_some() || self.pin_file.is_some() || self.i_know_the_last_try
    }
}

/// The card identity the options ask for: `None` without `--card`.
pub fn identity(repo: &Repository, args: &CardArgs) -> Result<Option<CardIdentity>> {
    identity_with(repo, args, pin_source(args))
}

/// Where PINs come from, as the options say.
pub fn pin_source(args: &CardArgs) -> Box<dyn card::PinSource> {
    crate::pins::default_source(args.pin_file.clone(), notice)
}

/// [`identity`], with PINs from `pins`.
pub fn identity_with(
    repo: &Repository,
    args: &CardArgs,
    pins: Box<dyn card::PinSource>,
) -> Result<Option<CardIdentity>> {
    let Some(ident) = &args.card else {
        if args.pin_file.is_some() || args.i_know_the_last_try {
            bail!("--pin-file and --i-know-the-last-try need --card");
        }
        return Ok(None);
    };
    let ident = (!ident.is_empty()).then_some(ident.as_str());
    let id = CardIdentity::from_config(repo.config(), ident, pins)?
        .timeout(Duration::from_secs(args.card_timeout))
        .allow_last_try(args.i_know_the_last_try)
        .notify(notice);
    Ok(Some(id))
}

/// What the library tells the person at the token ("touch the token",
/// "insert …"), on standard error.
pub fn notice(msg: &str) {
    eprintln!("nkbackup: {}", crate::output::safe(msg));
}

/// Adds the card identity to `o` if `--card` was given, PINs from `pins`.
pub fn add_identity<'a>(
    o: Opener<'a>,
    repo: &Repository,
    args: &CardArgs,
    pins: Box<dyn card::PinSource>,
) -> Result<Opener<'a>> {
    Ok(match identity_with(repo, args, pins)? {
        Some(id) => o.card(id),
        None => o,
    })
}

/// `nkbackup card …`.
#[derive(Subcommand)]
pub enum CardCmd {
    /// List PC/SC readers' OpenPGP cards: ident, maker, key, PIN retries, touch.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a card's decryption key as a recipient, with its signature key if
    /// it has one (reads public keys; no PIN). Again under the same label:
    /// updates the signature key only.
    Enroll {
        #[command(flatten)]
        repo: RepoArg,
        /// The card, MMMM:SSSSSSSS (default: the only card present).
        #[arg(long)]
        ident: Option<String>,
        /// A label for messages and sidecars, e.g. alice-nk3 (with --adopt:
        /// default the adopted recipient's label).
        #[arg(long, required_unless_present = "adopt")]
        label: Option<String>,
        /// Enroll it as a member of this k-of-n group (`nkbackup group
        /// add`): it then opens backups only with the group's threshold.
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// Take over the age recipient LABEL whose key is this card's (the
        /// recipient age-plugin-openpgp-card printed): the entry becomes
        /// this card's, and backups sealed to it open with --card.
        #[arg(long, value_name = "LABEL", conflicts_with = "group")]
        adopt: Option<String>,
    },
    /// Generate a new decryption (or, with --slot sign, signature) key on a
    /// card. DESTROYS the key there.
    /// Needs the admin PIN (NKBACKUP_ADMIN_PIN for automation, else asked).
    Generate {
        /// The card, MMMM:SSSSSSSS.
        #[arg(long)]
        ident: String,
        /// cv25519, rsa2048, rsa3072, rsa4096, nistp256, nistp384 or nistp521
        /// (for the signature slot cv25519 means Ed25519).
        #[arg(long)]
        algo: String,
        /// Which key: `decrypt` (opens backups) or `sign` (signs drill
        /// records; enroll the card again afterwards).
        #[arg(long, value_name = "SLOT", default_value = "decrypt", value_parser = ["decrypt", "sign"])]
        slot: String,
        /// Confirm that the card's current key in that slot may be destroyed.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs `nkbackup card …`.
pub fn run(cmd: CardCmd, cx: &crate::Ctx) -> Result<()> {
    match cmd {
        CardCmd::List { json } => {
            let all = card::list_readers()?;
            let cards = &all.cards;
            // A busy reader is news in both forms (JSON stays the card
            // list it always was).
            for r in &all.busy {
                notice(&card::CardError::Busy { reader: r.clone() }.to_string());
            }
            if json {
                print_json(cards)?;
            } else {
                if all.empty.is_empty() && all.busy.is_empty() && cards.is_empty() {
                    println!("no PC/SC reader found (is the token plugged in, and pcscd running?)");
                }
                for r in &all.busy {
                    println!("{r:?}: a card, in use by another program (see above)");
                }
                for r in &all.empty {
                    println!("{r:?}: no OpenPGP card");
                }
                for c in cards {
                    println!("{} in {:?}", c.ident, c.reader);
                    println!(
                        "  maker {:04X} {}, OpenPGP card {}",
                        c.manufacturer_id, c.manufacturer, c.version
                    );
                    match &c.key {
                        Some(k) => println!(
                            "  decryption key {} {} (created {}; enrolls as {})",
                            k.algorithm, k.fingerprint, k.created, k.recipient_type
                        ),
                        None if c.has_key => println!(
                            "  decryption key {} (nkbackup cannot use this algorithm)",
                            c.algorithm
                        ),
                        None => println!("  decryption key: none (slot set to {})", c.algorithm),
                    }
                    match &c.signing_key {
                        Some(k) => println!(
                            "  signature key {} {} (drills with this card are signed)",
                            k.algorithm, k.fingerprint
                        ),
                        None => println!("  signature key: none (drills are unsigned)"),
                    }
                    println!(
                        "  PIN tries left: user {}, admin {}; touch: {}; KDF: {}",
                        c.user_pin_retries,
                        c.admin_pin_retries,
                        c.touch,
                        if c.kdf { "on" } else { "off" }
                    );
                }
            }
        }
        CardCmd::Enroll {
            repo,
            ident,
            label,
            group,
            adopt,
        } => {
            let mut r = cx.open(&repo)?;
            let label = label.or_else(|| adopt.clone()).unwrap_or_default();
            let rc = nkbackup::enroll::card(
                &mut r,
                &nkbackup::enroll::CardOptions {
                    ident,
                    label: label.clone(),
                    group: group.clone(),
                    adopt: adopt.clone(),
                },
            )?;
            let signs = match &rc.signing_fingerprint {
                Some(s) => format!("; drills with it are signed by its signature key {s}"),
                None => "; it has no signature key, so drills with it are unsigned".into(),
            };
            let (kind, fp, id) = (
                rc.kind,
                rc.fingerprint.unwrap_or_default(),
                rc.ident.unwrap_or_default(),
            );
            let role = group.map_or_else(String::new, |g| format!(" in group {g}"));
            match adopt {
                Some(old) => println!(
                    "token {label} ({id}) took over age recipient {old:?} as {kind}, key {fp}: backups sealed to {old:?} open with it, and so will every backup sealed from now on{signs}"
                ),
                None => println!(
                    "enrolled token {label} ({id}) as {kind}{role}, key {fp}; backups sealed from now on open with it (sealing never needs the card); `nkbackup rewrap` gives it the existing ones{signs}"
                ),
            }
        }
        CardCmd::Generate {
            ident,
            algo,
            slot,
            yes,
        } => {
            let Some(a) = KeyAlgorithm::parse(&algo) else {
                bail!(
                    "unknown --algo {algo:?}: use cv25519, rsa2048, rsa3072, rsa4096, nistp256, nistp384 or nistp521"
                );
            };
            let id = ident.to_ascii_uppercase();
            let mut pins = crate::pins::default_source(None, notice);
            if slot == "sign" {
                if !yes {
                    bail!(
                        "`card generate --slot sign` destroys the signature key on {ident}; drills it signed can then no longer be verified against it. Add --yes if that is what you want"
                    );
                }
                let key = card::generate::generate_signing(&ident, a, pins.as_mut())
                    .with_context(|| format!("generating a {a} signature key on {ident}"))?;
                println!(
                    "generated {} signature key {} on {id}; enroll the card (again) with `nkbackup card enroll --ident {id} --label NAME` so drills with it are signed",
                    key.algorithm(),
                    key.fingerprint_hex(),
                );
                return Ok(());
            }
            if !yes {
                bail!(
                    "`card generate` destroys the decryption key on {ident}; backups sealed only to it could never be opened again. Add --yes if that is what you want"
                );
            }
            let key = card::generate(&ident, a, pins.as_mut())
                .with_context(|| format!("generating a {a} key on {ident}"))?;
            println!(
                "generated {a} decryption key {} on {}; enroll it with `nkbackup card enroll --ident {} --label NAME`",
                key.fingerprint_hex(),
                ident.to_ascii_uppercase(),
                ident.to_ascii_uppercase()
            );
        }
    }
    Ok(())
}
