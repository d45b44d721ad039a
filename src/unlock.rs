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
use crate::manifest::RecipientInfo;
use age_core::format::{FileKey, Stanza};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use zeroize::Zeroizing;

/// The keys a caller holds for opening: age identities and an optional
/// card identity.
#[derive(Default)]
pub struct Keys<'a> {
    software: Vec<Box<dyn age::Identity + 'a>>,
    card: Option<CardIdentity>,
    used: RefCell<Vec<String>>,
    /// Period keys opened with these keys, by key item place: a second
    /// backup of the same period costs no card operation.
    periods: RefCell<HashMap<String, age::x25519::Identity>>,
}

/// One share stanza found in a header: whose it is, and its value once a
/// key opened it.
struct Found<'s> {
    number: usize,
    share: ShareStanza,
    member: Option<&'s RecipientInfo>,
    value: Option<FileKey>,
}

impl Found<'_> {
    fn label(&self) -> String {
        self.member.map_or_else(
            || format!("member #{}", self.share.index),
            |m| m.label.clone(),
        )
    }
}

/// The groups of `found`, in header order, with their thresholds.
fn groups(found: &[Found<'_>]) -> Vec<(String, u8)> {
    let mut out: Vec<(String, u8)> = Vec::new();
    for f in found {
        if !out.iter().any(|(g, _)| *g == f.share.group) {
            out.push((f.share.group.clone(), f.share.threshold));
        }
    }
    out
}

/// The labels of the opened shares of group `g`.
fn opened<'f>(found: &'f [Found<'_>], g: &str) -> Vec<&'f Found<'f>> {
    found
        .iter()
        .filter(|f| f.share.group == g && f.value.is_some())
        .collect()
}

impl<'a> Keys<'a> {
    /// No keys yet.
    pub fn new() -> Self {
        Keys::default()
    }

    /// A period key these keys opened before, by its key item's place
    /// (`<class>/<period>/<key id>`).
    pub fn period_key(&self, place: &str) -> Option<age::x25519::Identity> {
        self.periods.borrow().get(place).cloned()
    }

    /// Remembers a period key opened with these keys (for as long as they
    /// live; the identity zeroizes itself when dropped).
    pub fn remember_period_key(&self, place: &str, key: age::x25519::Identity) {
        self.periods.borrow_mut().insert(place.to_owned(), key);
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

    /// The labels (from the recipient list) of the recipients whose
    /// stanzas opened the last file key: one recipient on its own, or
    /// every group member whose share was used. A drill journals them; a
    /// rewrap records them.
    pub fn opened_with(&self) -> Vec<String> {
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
        let label = |i: usize| hint.get(i).map(|r| r.label.clone());
        // 1. Age identities on the stanzas of recipients on their own
        //    (share stanzas have a tag of their own, which they ignore).
        for (i, s) in stanzas.iter().enumerate() {
            for id in &self.software {
                match id.unwrap_stanza(s) {
                    Some(Ok(fk)) => return Ok(Some(self.opened(fk, label(i)))),
                    Some(Err(e)) => return Err(from_age(e)),
                    None => {}
                }
            }
        }
        // 2. Age identities on group shares.
        let mut found = shares(stanzas, hint)?;
        for f in &mut found {
            f.value = self
                .software
                .iter()
                .find_map(|id| id.unwrap_stanza(&f.share.inner).and_then(|r| r.ok()));
        }
        if let Some(fk) = self.complete(&found) {
            return Ok(Some(fk));
        }
        // 3. Cards: on their own, or as members of groups not yet complete.
        let Some(card) = &self.card else {
            return self.incomplete(&found).map(|()| None);
        };
        if hint.is_empty() {
            // No hint (a header alone): the card's own choice of stanza.
            return match age::Identity::unwrap_stanzas(card, stanzas) {
                Some(Ok(fk)) => Ok(Some(fk)),
                Some(Err(e)) => Err(from_age(e)),
                None => Ok(None),
            };
        }
        let own = own_stanzas(card, stanzas, hint)?;
        loop {
            // Candidates: the card's own stanzas, then the shares still
            // missing whose member is an enrolled card.
            let mut cands = own.clone();
            let mut roles: Vec<Option<usize>> = vec![None; cands.len()];
            for (fi, f) in found.iter().enumerate() {
                let member_card = f.member.and_then(|m| card.card_for(&m.kind, &m.key));
                if let (None, Some(ci)) = (&f.value, member_card) {
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
            let (n, value) = match card.unwrap_any(&cands, &waiting(&found)) {
                Ok(x) => x,
                Err(crate::card::CardError::TokenAbsent { .. })
                    if found.iter().any(|f| f.value.is_some()) =>
                {
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            let Some(fi) = roles[n] else {
                return Ok(Some(self.opened(value, label(cands[n].number - 1))));
            };
            found[fi].value = Some(value);
            if let Some(fk) = self.complete(&found) {
                return Ok(Some(fk));
            }
        }
        self.incomplete(&found).map(|()| None)
    }

    /// Records who opened `fk` and returns it.
    fn opened(&self, fk: FileKey, label: Option<String>) -> FileKey {
        *self.used.borrow_mut() = label.into_iter().collect();
        fk
    }

    /// The file key of the first group with enough opened shares.
    fn complete(&self, found: &[Found<'_>]) -> Option<FileKey> {
        for (g, t) in groups(found) {
            let mine = opened(found, &g);
            if mine.len() >= usize::from(t) {
                *self.used.borrow_mut() = mine.iter().map(|f| f.label()).collect();
                let shares: Vec<(u8, &FileKey)> = mine
                    .iter()
                    .filter_map(|f| Some((f.share.index, f.value.as_ref()?)))
                    .collect();
                return crate::group::combine(&shares);
            }
        }
        None
    }

    /// `Ok` if no group was started (nothing opened); otherwise the
    /// error naming the group with most shares and who is still needed.
    fn incomplete(&self, found: &[Found<'_>]) -> Result<()> {
        let groups = groups(found);
        let Some((g, t)) = groups.iter().max_by_key(|(g, _)| opened(found, g).len()) else {
            return Ok(());
        };
        let done: Vec<String> = opened(found, g).iter().map(|f| f.label()).collect();
        if done.is_empty() && self.card.is_none() {
            return Ok(());
        }
        let missing: Vec<String> = found
            .iter()
            .filter(|f| f.share.group == *g && f.value.is_none())
            .map(Found::label)
            .collect();
        Err(Error::GroupIncomplete {
            group: g.clone(),
            threshold: *t,
            opened: if done.is_empty() {
                "none of its tokens opened its share".into()
            } else {
                format!("opened {}: {}", done.len(), done.join(", "))
            },
            more: t.saturating_sub(done.len() as u8),
            missing: missing.join(", "),
        })
    }
}

/// The stanzas of the enrolled cards that are recipients on their own,
/// found through the hint; a hint past the header is refused before any
/// card operation.
fn own_stanzas<'s>(
    card: &CardIdentity,
    stanzas: &'s [Stanza],
    hint: &[RecipientInfo],
) -> Result<Vec<Candidate<'s>>> {
    let mut own = Vec::new();
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
    Ok(own)
}

/// What the person at the readers is told while the next token is
/// awaited: each started group's progress, and that a token present but
/// not awaited is no member still needed.
fn waiting(found: &[Found<'_>]) -> Waiting {
    let groups = groups(found);
    let progress: Vec<String> = groups
        .iter()
        .filter_map(|(g, t)| {
            let done: Vec<String> = opened(found, g).iter().map(|f| f.label()).collect();
            (!done.is_empty()).then(|| {
                format!(
                    "group {g}: {} of {t} done ({})",
                    done.len(),
                    done.join(", ")
                )
            })
        })
        .collect();
    Waiting {
        prefix: (!progress.is_empty())
            .then(|| format!("{}; insert the next token", progress.join("; "))),
        not_needed: (!groups.is_empty()).then(|| {
            let names: Vec<String> = groups.iter().map(|(g, _)| format!("group {g}")).collect();
            format!(
                "is not a member of {} still needed here (or was used already)",
                names.join(" or ")
            )
        }),
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

/// An error of [`Keys::unwrap`] as a command reports it for the item
/// `id`: a malformed stanza is a damaged backup (or escrow item).
pub(crate) fn in_context(e: Error, id: &str) -> Error {
    match e {
        Error::Malformed { what, reason } => Error::Damaged {
            id: id.to_owned(),
            detail: format!("its header holds a malformed {what} ({reason})"),
        },
        other => other,
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
/// whose group matches), refusing a malformed one.
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
            value: None,
        });
    }
    Ok(out)
}

/// Opens a small age file (an escrow or key item, at most a few KiB) with
/// `keys`; `hint` is its recipient list in stanza order, `what` names it
/// in errors and `labels` lists its recipients for "no key matches".
pub fn decrypt_small(
    what: &str,
    blob: &[u8],
    keys: &Keys<'_>,
    hint: &[RecipientInfo],
    labels: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let damaged = |detail: String| Error::Damaged {
        id: what.to_owned(),
        detail,
    };
    if keys.is_empty() {
        return Err(Error::NoIdentity {
            id: what.to_owned(),
        });
    }
    // A bounded header first: the age crate's own reading is quadratic in
    // the number of header lines.
    let mut rest = blob;
    crate::format::age_header::read_prefix(&mut rest).map_err(|_| {
        damaged(format!(
            "its age header is longer than {} bytes or {} lines",
            crate::limits::AGE_HEADER_BYTES,
            crate::limits::AGE_HEADER_LINES
        ))
    })?;
    let no_match = || Error::NoMatchingIdentity {
        id: what.to_owned(),
        labels: labels.to_owned(),
    };
    let dec = age::Decryptor::new_buffered(blob).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => no_match(),
        other => damaged(other.to_string()),
    })?;
    let hinted = keys.with_hint(hint);
    let mut r = dec
        .decrypt(std::iter::once(&hinted as &dyn age::Identity))
        .map_err(|e| match from_decrypt_error(e) {
            // A wrong PIN, an absent token, a group short of tokens… stay
            // what they are.
            Ok(err) => in_context(err, what),
            Err(age::DecryptError::NoMatchingKeys) => no_match(),
            Err(other) => damaged(format!("its age header is invalid ({other})")),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    r.read_to_end(&mut plain).map_err(|e| {
        damaged(format!(
            "it fails authentication (tampered or truncated): {e}"
        ))
    })?;
    Ok(plain)
}
