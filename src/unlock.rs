//! [`Keys`]: every key a caller holds, turning a header's stanzas into
//! its file key.
//!
//! Opening a backup, an escrow item or rewrapping one all start the same
//! way: the caller's age identities (files, the recovery key), maybe an
//! OpenPGP card identity, and the recipient list that says which stanza
//! is whose (a sidecar's or an escrow item's, in stanza order; an
//! unauthenticated hint, see [`crate::card::identity`]). The order tried:
//!
//! 1. the age identities on the stanzas of recipients on their own: no
//!    PIN, no token;
//! 2. the age identities on the members' shares of each k-of-n group;
//! 3. cards: a token that is a recipient on its own (one card operation
//!    opens the backup) or a member of a group whose shares are still
//!    missing. Tokens are awaited one after another, or taken from
//!    several readers at once; each member's token makes one card
//!    operation; the person at the readers is told the group's progress
//!    ("group officers: 1 of 2 done (alice-nk3)") and told of a token that
//!    is not a member before any PIN is asked.
//!
//! A group whose threshold is reached gives its combined shares as the
//! file key ([`crate::group::combine`]); the header MAC, checked by the
//! caller (age, or a rewrap), proves it. Fewer members than the threshold
//! is [`Error::GroupIncomplete`], naming who is still needed.

use crate::card::CardIdentity;
use crate::card::identity::{Candidate, Waiting};
use crate::error::{Error, Result};
use crate::format::share_stanza::ShareStanza;
use crate::group::Share;
use crate::manifest::RecipientInfo;
use age_core::format::{FileKey, Stanza};
use std::cell::RefCell;

/// The keys a caller holds for opening: age identities and an optional
/// card identity.
#[derive(Default)]
pub struct Keys<'a> {
    software: Vec<Box<dyn age::Identity + 'a>>,
    card: Option<CardIdentity>,
    used: RefCell<Vec<String>>,
}

/// One share stanza found in a header, with whose it is.
struct Found<'s> {
    number: usize,
    share: ShareStanza,
    member: Option<&'s RecipientInfo>,
}

impl<'a> Keys<'a> {
    /// No keys yet.
    pub fn new() -> Self {
        Keys::default()
    }

    /// Adds an age identity (a key file's key, the recovery key…).
    pub fn add(&mut self, id: Box<dyn age::Identity + 'a>) {
        self.software.push(id);
    }

    /// Sets the card identity (its enrolled tokens, PIN source, timeout).
    pub fn set_card(&mut self, card: CardIdentity) {
        self.card = Some(card);
    }

    /// The card identity, if one was given.
    pub fn card(&self) -> Option<&CardIdentity> {
        self.card.as_ref()
    }

    /// Whether no key at all was given.
    pub fn is_empty(&self) -> bool {
        self.software.is_empty() && self.card.is_none()
    }

    /// The labels of the group members whose shares opened the last file
    /// key unwrapped through a group (empty otherwise): a drill journals
    /// every token it used.
    pub fn members_used(&self) -> Vec<String> {
        self.used.borrow().clone()
    }

    /// An age identity over these keys for a header whose recipients are
    /// `hint` (stanza order).
    pub fn with_hint<'k>(&'k self, hint: &'k [RecipientInfo]) -> Hinted<'k, 'a> {
        Hinted { keys: self, hint }
    }

    /// The file key from `stanzas`, or `None` if none of the keys opens
    /// any stanza (the caller says "none of the given keys can open it").
    pub fn unwrap(&self, stanzas: &[Stanza], hint: &[RecipientInfo]) -> Result<Option<FileKey>> {
        self.used.borrow_mut().clear();
        let plain: Vec<Stanza> = stanzas
            .iter()
            .filter(|s| s.tag != crate::format::share_stanza::TAG)
            .map(copy)
            .collect();
        // 1. Age identities on the stanzas of recipients on their own.
        for id in &self.software {
            match id.unwrap_stanzas(&plain) {
                Some(Ok(fk)) => return Ok(Some(fk)),
                Some(Err(e)) => return Err(from_age(e)),
                None => {}
            }
        }
        let found = shares(stanzas, hint)?;
        let mut groups: Vec<(String, u8)> = Vec::new();
        for f in &found {
            if !groups.iter().any(|(g, _)| *g == f.share.group) {
                groups.push((f.share.group.clone(), f.share.threshold));
            }
        }
        // 2. Age identities on group shares.
        let mut got: Vec<(String, Share, String)> = Vec::new();
        for f in &found {
            for id in &self.software {
                if let Some(Ok(value)) = id.unwrap_stanza(&f.share.inner) {
                    got.push((f.share.group.clone(), share(f, value), label(f)));
                    break;
                }
            }
        }
        if let Some(fk) = self.complete(&groups, &got) {
            return Ok(Some(fk));
        }
        // 3. Cards: on their own, or as members of groups not yet complete.
        let Some(card) = &self.card else {
            return self.incomplete(&groups, &found, &got).map(|()| None);
        };
        let mut own: Vec<Candidate<'_>> = Vec::new();
        for (i, r) in hint.iter().enumerate() {
            let Some(ci) = card.card_for(&r.kind, &r.key).filter(|_| r.group.is_none()) else {
                continue;
            };
            let stanza = stanzas
                .get(i)
                .ok_or_else(|| crate::card::CardError::HeaderMismatch {
                    detail: format!(
                        "the sidecar lists {} as recipient #{} but the header has {} stanzas",
                        r.label,
                        i + 1,
                        stanzas.len()
                    ),
                    ops: 0,
                })?;
            own.push(Candidate {
                card: ci,
                stanza,
                number: i + 1,
            });
        }
        if hint.is_empty() {
            // No hint (a header alone): the card's own choice of stanza.
            match age::Identity::unwrap_stanzas(card, &plain) {
                Some(Ok(fk)) => return Ok(Some(fk)),
                Some(Err(e)) => return Err(from_age(e)),
                None => {}
            }
        }
        loop {
            let mut cands: Vec<Candidate<'_>> = own.iter().map(copy_candidate).collect();
            let mut roles: Vec<Option<usize>> = vec![None; cands.len()];
            for (fi, f) in found.iter().enumerate() {
                let done = got
                    .iter()
                    .any(|(g, s, _)| *g == f.share.group && s.index == f.share.index);
                let Some(m) = f.member else { continue };
                if done {
                    continue;
                }
                if let Some(ci) = card.card_for(&m.kind, &m.key) {
                    cands.push(Candidate {
                        card: ci,
                        stanza: &f.share.inner,
                        number: f.number,
                    });
                    roles.push(Some(fi));
                }
            }
            if cands.is_empty() {
                break;
            }
            let progress: Vec<String> = groups
                .iter()
                .filter_map(|(g, t)| {
                    let done: Vec<&str> = got
                        .iter()
                        .filter(|(gg, _, _)| gg == g)
                        .map(|(_, _, l)| l.as_str())
                        .collect();
                    (!done.is_empty()).then(|| {
                        format!(
                            "group {g}: {} of {t} done ({})",
                            done.len(),
                            done.join(", ")
                        )
                    })
                })
                .collect();
            let waiting = Waiting {
                prefix: (!progress.is_empty())
                    .then(|| format!("{}; insert the next token", progress.join("; "))),
                not_needed: (!groups.is_empty()).then(|| {
                    format!(
                        "is not a member of {} still needed here (or was used already)",
                        groups
                            .iter()
                            .map(|(g, _)| format!("group {g}"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )
                }),
            };
            let (n, value) = match card.unwrap_any(&cands, &waiting) {
                Ok(x) => x,
                Err(crate::card::CardError::TokenAbsent { .. }) if !got.is_empty() => break,
                Err(e) => return Err(e.into()),
            };
            match roles[n] {
                None => return Ok(Some(value)),
                Some(fi) => {
                    let f = &found[fi];
                    got.push((f.share.group.clone(), share(f, value), label(f)));
                    if let Some(fk) = self.complete(&groups, &got) {
                        return Ok(Some(fk));
                    }
                }
            }
        }
        self.incomplete(&groups, &found, &got).map(|()| None)
    }

    /// The file key of the first group with enough shares.
    fn complete(
        &self,
        groups: &[(String, u8)],
        got: &[(String, Share, String)],
    ) -> Option<FileKey> {
        for (g, t) in groups {
            let mine: Vec<&(String, Share, String)> =
                got.iter().filter(|(gg, _, _)| gg == g).collect();
            if mine.len() >= usize::from(*t) {
                let shares: Vec<Share> = mine
                    .iter()
                    .map(|(_, s, _)| Share {
                        index: s.index,
                        value: copy_key(&s.value),
                    })
                    .collect();
                *self.used.borrow_mut() = mine.iter().map(|(_, _, l)| l.clone()).collect();
                return crate::group::combine(&shares);
            }
        }
        None
    }

    /// `Ok` if no group was started (nothing opened); otherwise the
    /// error naming the group with most shares and who is still needed.
    fn incomplete(
        &self,
        groups: &[(String, u8)],
        found: &[Found<'_>],
        got: &[(String, Share, String)],
    ) -> Result<()> {
        let best = groups
            .iter()
            .max_by_key(|(g, _)| got.iter().filter(|(gg, _, _)| gg == g).count());
        let Some((g, t)) = best else { return Ok(()) };
        let opened: Vec<&str> = got
            .iter()
            .filter(|(gg, _, _)| gg == g)
            .map(|(_, _, l)| l.as_str())
            .collect();
        if opened.is_empty() && self.card.is_none() {
            return Ok(());
        }
        let missing: Vec<String> = found
            .iter()
            .filter(|f| f.share.group == *g && !opened.contains(&label(f).as_str()))
            .map(label)
            .collect();
        Err(Error::GroupIncomplete {
            group: g.clone(),
            threshold: *t,
            opened: if opened.is_empty() {
                "none of its tokens opened its share".into()
            } else {
                format!("opened {}: {}", opened.len(), opened.join(", "))
            },
            more: t.saturating_sub(opened.len() as u8),
            missing: missing.join(", "),
        })
    }
}

/// [`Keys`] with the recipient list of one header: an age identity.
pub struct Hinted<'k, 'a> {
    keys: &'k Keys<'a>,
    hint: &'k [RecipientInfo],
}

impl age::Identity for Hinted<'_, '_> {
    fn unwrap_stanza(
        &self,
        stanza: &Stanza,
    ) -> Option<std::result::Result<FileKey, age::DecryptError>> {
        self.unwrap_stanzas(std::slice::from_ref(stanza))
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[Stanza],
    ) -> Option<std::result::Result<FileKey, age::DecryptError>> {
        match self.keys.unwrap(stanzas, self.hint) {
            Ok(Some(fk)) => Some(Ok(fk)),
            Ok(None) => None,
            Err(e) => Some(Err(age::DecryptError::Io(std::io::Error::other(e)))),
        }
    }
}

/// The library error an age identity of [`Keys`] reported through age
/// (`DecryptError::Io`), or the age error itself.
pub(crate) fn from_decrypt_error(
    e: age::DecryptError,
) -> std::result::Result<Error, age::DecryptError> {
    let e = match crate::card::from_decrypt_error(e) {
        Ok(card) => return Ok(Error::Card(card)),
        Err(e) => e,
    };
    match e {
        age::DecryptError::Io(io) if io.get_ref().is_some_and(|i| i.is::<Error>()) => {
            let inner = io.into_inner().expect("checked above");
            Ok(*inner.downcast::<Error>().expect("checked above"))
        }
        other => Err(other),
    }
}

fn from_age(e: age::DecryptError) -> Error {
    match from_decrypt_error(e) {
        Ok(e) => e,
        Err(other) => Error::Malformed {
            what: "age header",
            reason: other.to_string(),
        },
    }
}

/// The share stanzas of `stanzas`, each with its hint entry (a member
/// whose group and type match), refusing a malformed one.
fn shares<'s>(stanzas: &[Stanza], hint: &'s [RecipientInfo]) -> Result<Vec<Found<'s>>> {
    let mut out = Vec::new();
    for (i, s) in stanzas.iter().enumerate() {
        let Some(parsed) = ShareStanza::parse(s) else {
            continue;
        };
        let share = parsed.map_err(|reason| Error::Malformed {
            what: "nkbackup/share stanza",
            reason: format!("stanza #{}: {reason}", i + 1),
        })?;
        let member = hint
            .get(i)
            .filter(|r| r.group.as_deref() == Some(share.group.as_str()));
        out.push(Found {
            number: i + 1,
            share,
            member,
        });
    }
    Ok(out)
}

fn label(f: &Found<'_>) -> String {
    f.member
        .map_or_else(|| format!("member #{}", f.share.index), |m| m.label.clone())
}

fn share(f: &Found<'_>, value: FileKey) -> Share {
    Share {
        index: f.share.index,
        value,
    }
}

fn copy(s: &Stanza) -> Stanza {
    Stanza {
        tag: s.tag.clone(),
        args: s.args.clone(),
        body: s.body.clone(),
    }
}

fn copy_candidate<'s>(c: &Candidate<'s>) -> Candidate<'s> {
    Candidate {
        card: c.card,
        stanza: c.stanza,
        number: c.number,
    }
}

fn copy_key(k: &FileKey) -> FileKey {
    use age_core::secrecy::ExposeSecret;
    FileKey::init_with_mut(|v| v.copy_from_slice(k.expose_secret()))
}
