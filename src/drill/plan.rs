//! Planning a drill: which backup it opens and which one token it proves.
//! A drill proves a single token, so the keys a caller names must point to
//! exactly one recipient the repository knows.

use super::TokenInfo;
use crate::error::{Error, Hint, Result};
use crate::repo::{BackupInfo, Repository};
use std::path::PathBuf;

/// Which backup to drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupChoice {
    /// This backup (id, unique prefix, or `latest`).
    Id(String),
    /// The newest backup, of this class if one is named.
    Newest(Option<String>),
    /// A backup drawn at random, of this class if one is named.
    Random(Option<String>),
}

/// The keys a drill is given, to name its one token.
#[derive(Debug, Clone, Default)]
pub struct TokenChoice {
    /// age identity files; each key in them must be a recipient.
    pub identity_files: Vec<PathBuf>,
    /// A card: `Some("")` for the only enrolled card, `Some(ident)` for
    /// the card with that ident.
    pub card: Option<String>,
    /// The recovery key (in whichever form it is supplied).
    pub recovery_key: bool,
}

/// Picks the backup `choice` names.
pub fn choose_backup(repo: &Repository, choice: &BackupChoice) -> Result<BackupInfo> {
    let class = match choice {
        BackupChoice::Id(id) => return repo.find(id),
        BackupChoice::Newest(c) | BackupChoice::Random(c) => c,
    };
    let mut all = repo.list()?.backups;
    if let Some(c) = class {
        repo.config().class(c)?;
        all.retain(|b| &b.sidecar.class == c);
    }
    if all.is_empty() {
        return Err(Error::NothingToDrill {
            class: class.clone(),
        });
    }
    Ok(match choice {
        BackupChoice::Random(_) => all.swap_remove(crate::util::random_below(all.len())),
        _ => all.pop().expect("not empty"),
    })
}

fn token_error(reason: &str, hint: Hint) -> Error {
    Error::DrillToken {
        reason: reason.to_owned(),
        hint,
    }
}

/// The one token `choice` names, as the configuration knows it.
pub fn choose_token(repo: &Repository, choice: &TokenChoice) -> Result<TokenInfo> {
    let cfg = repo.config();
    let mut tokens = Vec::new();
    for f in &choice.identity_files {
        for id in crate::identity::load_x25519(f)? {
            let pk = id.to_public().to_string();
            let label = cfg
                .sealing_recipients()
                .into_iter()
                .find(|x| x.key == pk)
                .map(|x| x.label)
                .ok_or_else(|| Error::IdentityFile {
                    path: f.clone(),
                    message: "its key is not a recipient of this repository".into(),
                })?;
            tokens.push(TokenInfo {
                label,
                kind: "age".into(),
                ident: None,
                fingerprint: None,
            });
        }
    }
    if let Some(ident) = &choice.card {
        // A drill proves one token: it must be clear which card that is.
        let cards: Vec<_> = cfg
            .recipients
            .iter()
            .filter(|x| x.ident.is_some())
            .filter(|x| {
                ident.is_empty()
                    || x.ident
                        .as_deref()
                        .is_some_and(|i| i.eq_ignore_ascii_case(ident))
            })
            .collect();
        match cards.as_slice() {
            [c] => tokens.push(TokenInfo {
                label: c.label.clone(),
                kind: c.kind.to_string(),
                ident: c.ident.clone(),
                fingerprint: c.fingerprint.clone(),
            }),
            [] if ident.is_empty() => {
                return Err(token_error(
                    "no card is enrolled in this repository",
                    Hint::EnrollCard,
                ));
            }
            [] => {
                return Err(token_error(
                    &format!("no enrolled card has ident {}", crate::text::escape(ident)),
                    Hint::ListRecipients,
                ));
            }
            _ => {
                return Err(token_error("several cards are enrolled", Hint::NameCard));
            }
        }
    }
    if choice.recovery_key {
        tokens.push(TokenInfo {
            label: crate::config::RECOVERY_LABEL.into(),
            kind: "recovery".into(),
            ident: None,
            fingerprint: Some(repo.recovery()?.key_id.clone()),
        });
    }
    match tokens.len() {
        1 => Ok(tokens.pop().expect("one")),
        0 => Err(token_error(
            "no token is named (a drill tests one token)",
            Hint::NameOneToken,
        )),
        _ => Err(token_error(
            "a drill tests one token at a time",
            Hint::NameOneToken,
        )),
    }
}
