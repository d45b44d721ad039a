//! Adding a key to a repository: an OpenPGP card ([`card`]) or the
//! recovery key ([`recovery_key`]).
//!
//! [`recovery_key`] checks the policy (an existing key is only replaced
//! when asked, a passphrase is long enough), makes the key, and commits
//! its public half to `nkbackup.toml` under the write lock. Only the
//! committed result, [`NewRecoveryKey`], can be shown or printed
//! ([`crate::render::sheet::SheetFile`]), so a failure never leaves a
//! printed secret for a key the repository does not know.

use crate::config::{RecipientConfig, RecipientKind, RecoveryConfig};
use crate::error::{Error, RecoveryError, Result};
use crate::recovery::{PassphraseParams, RecoveryKey, setup};
use crate::repo::Repository;
use secrecy::{ExposeSecret, SecretString};

/// The shortest passphrase a recovery key may be derived from.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// How to make the recovery key.
#[derive(Default)]
pub struct RecoveryKeyOptions {
    /// Derive the key from this passphrase (Matrix `m.pbkdf2`) instead of
    /// drawing it at random.
    pub passphrase: Option<SecretString>,
    /// Replace an existing recovery key (backups sealed before stay
    /// openable only with the old one).
    pub replace: bool,
}

/// A recovery key the repository has committed.
pub struct NewRecoveryKey {
    key: RecoveryKey,
    config: RecoveryConfig,
    replaced: Option<String>,
}

impl NewRecoveryKey {
    /// The secret key, to be shown once.
    pub fn key(&self) -> &RecoveryKey {
        &self.key
    }

    /// What the repository now records of it (public data only).
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// The key id of the key it replaced, if any.
    pub fn replaced(&self) -> Option<&str> {
        self.replaced.as_deref()
    }
}

/// Refuses before anything is asked or made: a repository that has a
/// recovery key keeps it unless `replace` is set.
pub fn check_recovery_key_allowed(repo: &Repository, replace: bool) -> Result<()> {
    match (&repo.config().recovery, replace) {
        (Some(old), false) => Err(Error::RecoveryKeyExists {
            path: repo.location().into(),
            key_id: old.key_id.clone(),
        }),
        _ => Ok(()),
    }
}

/// Makes the recovery key and commits it to `repo`.
pub fn recovery_key(repo: &mut Repository, opts: &RecoveryKeyOptions) -> Result<NewRecoveryKey> {
    check_recovery_key_allowed(repo, opts.replace)?;
    let replaced = repo.config().recovery.as_ref().map(|r| r.key_id.clone());
    let (key, params) = match &opts.passphrase {
        Some(p) => {
            if p.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
                return Err(RecoveryError::PassphraseTooShort {
                    min: MIN_PASSPHRASE_CHARS,
                }
                .into());
            }
            let params = PassphraseParams::generate();
            (RecoveryKey::from_passphrase(p, &params)?, Some(params))
        }
        None => (RecoveryKey::generate(), None),
    };
    let config = setup::config_for(&key, params);
    repo.set_recovery(config.clone(), opts.replace)?;
    Ok(NewRecoveryKey {
        key,
        config,
        replaced,
    })
}

/// Which card to enroll, and under what label.
#[derive(Debug, Clone, Default)]
pub struct CardOptions {
    /// The card's ident (`MMMM:SSSSSSSS`); `None` for the only card present.
    pub ident: Option<String>,
    /// The recipient label, unique in the repository.
    pub label: String,
    /// Enroll it as a member of this k-of-n group (not on its own).
    pub group: Option<String>,
    /// Take over this `age` recipient, whose key must be the card's (as
    /// age-plugin-openpgp-card's recipient is): the entry becomes the
    /// card's, in its place, under [`CardOptions::label`].
    pub adopt: Option<String>,
}

/// Reads the decryption public key of the card (no PIN; the card is not
/// changed) and adds it to `repo` as a recipient; returns the entry. Every
/// backup sealed from now on opens with the card; sealing never needs it.
pub fn card(repo: &mut Repository, opts: &CardOptions) -> Result<RecipientConfig> {
    let mut rc = crate::card::enroll(opts.ident.as_deref(), &opts.label)?;
    rc.group = opts.group.clone();
    // The same card under the same label again: its signature key (new,
    // regenerated or gone) is brought up to date; nothing else changes.
    if let Some(old) = repo.config().recipients.iter().find(|x| {
        x.label == rc.label && x.kind == rc.kind && x.key == rc.key && x.group == rc.group
    }) {
        let mut updated = old.clone();
        if old.signing_key != rc.signing_key {
            let key = rc.signing_key.clone().zip(rc.signing_fingerprint.clone());
            repo.set_signing_key(&rc.label, key)?;
        }
        updated.signing_key = rc.signing_key;
        updated.signing_fingerprint = rc.signing_fingerprint;
        return Ok(updated);
    }
    let age = repo
        .config()
        .recipients
        .iter()
        .find(|x| x.kind == RecipientKind::Age && x.key.eq_ignore_ascii_case(&rc.key))
        .map(|x| x.label.clone());
    match (&opts.adopt, age) {
        (Some(wanted), Some(label)) if *wanted == label => {
            repo.replace_recipient(&label, rc.clone())?;
            return Ok(rc);
        }
        (None, Some(label)) => return Err(Error::CardKeyIsRecipient { label }),
        (Some(wanted), _) => {
            let reason = match repo.config().recipients.iter().find(|x| x.label == *wanted) {
                None => "there is no recipient with this label",
                Some(x) if x.kind != RecipientKind::Age => "it is not an `age` recipient",
                Some(_) => "its key is not this card's decryption key",
            };
            return Err(Error::CannotAdopt {
                label: wanted.clone(),
                reason,
            });
        }
        (None, None) => {}
    }
    repo.add_recipient(rc.clone())?;
    Ok(rc)
}
