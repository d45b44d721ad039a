//! Planning a drill: which backup it opens and which one token it proves.
//! A drill proves a single token, so the keys a caller names must point to
//! exactly one recipient the repository knows.

use super::TokenInfo;

/// The `type` of a drill's token when it is a k-of-n group.
pub const GROUP_KIND: &str = "group";
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
    /// A k-of-n group: the drill proves the group, its members opening it
    /// together with the identity files and cards given.
    pub group: Option<String>,
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

/// The one token `choice` names, as the configuration knows it (for a
/// group: the group, type `group`).
pub fn choose_token(repo: &Repository, choice: &TokenChoice) -> Result<TokenInfo> {
    let cfg = repo.config();
    if let Some(g) = &choice.group {
        let Some(group) = cfg.group(g) else {
            return Err(token_error(
                &format!("there is no group {}", crate::text::escape(g)),
                Hint::ListRecipients,
            ));
        };
        if choice.recovery_key {
            return Err(token_error(
                "the recovery key opens every backup alone: a group drill takes only its members' keys and cards",
                Hint::NameOneToken,
            ));
        }
        return Ok(TokenInfo {
            label: group.name.clone(),
            kind: GROUP_KIND.into(),
            ident: None,
            fingerprint: None,
        });
    }
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

/// The members of group `token` that opened a backup (the labels
/// [`crate::Opener::opened_with`] gives), as the configuration knows
/// them; an error unless they are at least the group's threshold of its
/// members (a key that opens alone does not prove the group).
pub(crate) fn group_members(
    repo: &Repository,
    token: &TokenInfo,
    opened_with: &[String],
) -> Result<Vec<TokenInfo>> {
    let cfg = repo.config();
    let group = cfg.group(&token.label);
    let members: Vec<TokenInfo> = cfg
        .recipients
        .iter()
        .filter(|r| r.group.as_deref() == Some(token.label.as_str()))
        .filter(|r| opened_with.contains(&r.label))
        .map(|r| TokenInfo {
            label: r.label.clone(),
            kind: r.kind.to_string(),
            ident: r.ident.clone(),
            fingerprint: r.fingerprint.clone(),
        })
        .collect();
    match group {
        Some(g) if members.len() >= usize::from(g.threshold) => Ok(members),
        _ => Err(token_error(
            &format!(
                "the backup was opened by {}, not by {} members of group {}: a group drill proves the group only with its members' keys",
                if opened_with.is_empty() {
                    "a key given".to_owned()
                } else {
                    opened_with.join(", ")
                },
                group.map_or(0, |g| g.threshold),
                token.label
            ),
            Hint::NameOneToken,
        )),
    }
}
