//! [`CardIdentity`]: opens backups with an enrolled OpenPGP card.
//!
//! ## One card operation per backup
//!
//! A card is slow (an RSA decipher on a Nitrokey takes about a second) and
//! may need a touch per operation, so the identity makes exactly one
//! PSO:DECIPHER per backup, whatever the number of stanzas. Native X25519
//! stanzas do not say whom they are for, so it needs a hint: the sidecar's
//! `recipients` list is in stanza order (the seal writes one stanza per
//! recipient, in configuration order, and the age encryptor keeps that
//! order). [`crate::Opener::card`] passes the sidecar to
//! [`CardIdentity::use_sidecar`], which finds each enrolled token's entry
//! (same `type` and `key`) and so its stanza index.
//!
//! If the hint is wrong (a sidecar edited or swapped): a stanza index past
//! the header, a stanza of the wrong type, or an `nkbackup/openpgp` stanza
//! for another fingerprint is refused with [`CardError::HeaderMismatch`]
//! before any card operation; an X25519 stanza that does not authenticate
//! with the card's answer is refused after that one operation. No other
//! stanza is tried, so a tampered sidecar never costs more card operations
//! (or touches). Without a sidecar, the identity picks the stanza whose
//! fingerprint matches (`nkbackup/openpgp`) or the only X25519 stanza, and
//! otherwise refuses ([`CardError::AmbiguousStanza`]).
//!
//! ## A damaged stanza
//!
//! A stanza that is the token's but is damaged is reported as
//! [`CardError::DamagedStanza`] (an integrity error, like any damaged
//! backup), not as a card failure: a malformed stanza (before any card
//! operation), a ciphertext the card refuses as invalid input (status
//! `6A80`/`6700` after the PIN was accepted), or an `nkbackup/openpgp`
//! stanza whose card answer does not authenticate (it names the token's
//! key, so it is not a wrong hint). An X25519 stanza that does not
//! authenticate stays a [`CardError::HeaderMismatch`]: it names nobody, so
//! a wrong hint and damage look the same; both are integrity errors.

use super::key::{self, CardKey, KIND_OPENPGP, KIND_X25519};
use super::openpgp::{CardInput, OpenpgpStanza, StanzaProblem};
use super::pin::{self, PinKind, PinSource};
use super::x25519::X25519Stanza;
use crate::config::{Config, RecipientConfig};
use crate::error::CardError;
use crate::manifest::{RecipientInfo, Sidecar};
use age_core::format::{FileKey, Stanza};
use openpgp_card::ocard::crypto::Cryptogram;
use openpgp_card::ocard::{KeyType, StatusBytes};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How long to wait for an absent token by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a card another program holds is waited for at least: it is
/// there, and freeing it (`gpgconf --kill scdaemon`) takes a moment.
pub const BUSY_WAIT: Duration = Duration::from_secs(60);

/// One enrolled token, from a `card-x25519` / `card-openpgp` recipient.
#[derive(Debug, Clone)]
pub struct EnrolledCard {
    /// The recipient label (`alice-nk3`).
    pub label: String,
    /// The card's ident (`000F:1234ABCD`).
    pub ident: String,
    /// The recipient type.
    pub kind: String,
    /// The recipient's `key` value as configured (matched against sidecars).
    pub config_key: String,
    /// The decryption public key.
    pub key: CardKey,
}

impl EnrolledCard {
    /// The token a recipient entry describes; `None` for non-card types.
    pub(crate) fn from_recipient(r: &RecipientConfig) -> Option<Result<Self, CardError>> {
        if !r.kind.is_card() {
            return None;
        }
        Some((|| {
            let ident = r.ident.clone().ok_or_else(|| CardError::InvalidRecipient {
                label: r.label.clone(),
                reason: "it has no `ident` (MMMM:SSSSSSSS); enroll the card again with `nkbackup card enroll`".into(),
            })?;
            Ok(EnrolledCard {
                label: r.label.clone(),
                ident: ident.to_ascii_uppercase(),
                kind: r.kind.to_string(),
                config_key: r.key.clone(),
                key: key::from_recipient(r)?,
            })
        })())
    }

    /// Whether the sidecar entry of type `kind` with key `key` is this
    /// token's. A plain `age` recipient whose key is this card's
    /// Curve25519 key (as age-plugin-openpgp-card writes it, or as
    /// `--recipient` was given before the card was enrolled) is the card
    /// too: its stanza is an ordinary X25519 stanza the card unwraps.
    fn is_entry(&self, kind: &str, key: &str) -> bool {
        (kind == self.kind && key == self.config_key)
            || (kind == crate::config::RecipientKind::Age.as_str()
                && self.kind == KIND_X25519
                && key.eq_ignore_ascii_case(&self.config_key))
    }

    fn name(&self) -> String {
        format!("{} ({})", self.label, self.ident)
    }
}

/// Opens backups with any one of several enrolled OpenPGP cards.
pub struct CardIdentity {
    cards: Vec<EnrolledCard>,
    pin: RefCell<Box<dyn PinSource>>,
    timeout: Duration,
    allow_last_try: bool,
    notify: Box<dyn Fn(&str)>,
    hint: Option<Vec<Option<usize>>>,
    ops: Arc<AtomicU32>,
}

impl CardIdentity {
    /// An identity for the given tokens, asking `pin` for PINs.
    pub fn new(cards: Vec<EnrolledCard>, pin: Box<dyn PinSource>) -> Self {
        CardIdentity {
            cards,
            pin: RefCell::new(pin),
            timeout: DEFAULT_TIMEOUT,
            allow_last_try: false,
            notify: Box::new(|_| {}),
            hint: None,
            ops: Arc::new(AtomicU32::new(0)),
        }
    }

    /// An identity for every card recipient in `config`, or only the one
    /// with ident `ident`.
    pub fn from_config(
        config: &Config,
        ident: Option<&str>,
        pin: Box<dyn PinSource>,
    ) -> crate::Result<Self> {
        Ok(Self::from_config_typed(config, ident, pin)?)
    }

    fn from_config_typed(
        config: &Config,
        ident: Option<&str>,
        pin: Box<dyn PinSource>,
    ) -> Result<Self, CardError> {
        let mut cards = Vec::new();
        let mut enrolled = 0;
        for r in &config.recipients {
            if let Some(c) = EnrolledCard::from_recipient(r) {
                let c = c?;
                enrolled += 1;
                if ident.is_none_or(|i| i.eq_ignore_ascii_case(&c.ident)) {
                    cards.push(c);
                }
            }
        }
        if cards.is_empty() {
            return Err(match ident {
                Some(i) if enrolled > 0 => CardError::NotFound {
                    ident: format!("{} among the enrolled tokens", i.to_ascii_uppercase()),
                },
                _ => CardError::NoneEnrolled,
            });
        }
        Ok(Self::new(cards, pin))
    }

    /// How long to wait for an absent token (default 60 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Allow presenting a PIN when only one try is left (default: refuse,
    /// so nkbackup never locks a token).
    pub fn allow_last_try(mut self, yes: bool) -> Self {
        self.allow_last_try = yes;
        self
    }

    /// Where messages for the person at the token go ("insert token …",
    /// "touch your token …"). Default: standard error.
    pub fn notify(mut self, f: impl Fn(&str) + 'static) -> Self {
        self.notify = Box::new(f);
        self
    }

    /// Uses `sidecar`'s recipient list (stanza order) to find each token's
    /// stanza; see the module documentation.
    pub fn use_sidecar(&mut self, sidecar: &Sidecar) {
        self.use_recipients(&sidecar.recipients);
    }

    /// Uses a recipient list in stanza order (a backup sidecar's, or an
    /// escrow item's [`crate::escrow::EscrowItem::recipients`]) to find
    /// each token's stanza. It is an unauthenticated hint: a wrong one is
    /// refused, never costing more than the one card operation.
    pub fn use_recipients(&mut self, recipients: &[RecipientInfo]) {
        self.hint = Some(
            self.cards
                .iter()
                .map(|c| {
                    // A group member's stanza holds a share, not the file
                    // key: groups are opened by `crate::unlock`.
                    recipients
                        .iter()
                        .position(|r| r.group.is_none() && c.is_entry(&r.kind, &r.key))
                })
                .collect(),
        );
    }

    /// A counter of card operations (PSO:DECIPHER) this identity made.
    pub fn operations(&self) -> Arc<AtomicU32> {
        self.ops.clone()
    }

    /// The enrolled tokens.
    pub fn cards(&self) -> &[EnrolledCard] {
        &self.cards
    }

    /// (card index, stanza index) pairs to consider.
    fn candidates(
        &self,
        stanzas: &[Stanza],
        whole_header: bool,
    ) -> Result<Vec<(usize, usize)>, CardError> {
        if let (Some(h), true) = (&self.hint, whole_header) {
            return Ok(h
                .iter()
                .enumerate()
                .filter_map(|(c, s)| s.map(|s| (c, s)))
                .collect());
        }
        let mut out = Vec::new();
        let x25519: Vec<usize> = (0..stanzas.len())
            .filter(|&i| stanzas[i].tag == super::x25519::STANZA_TAG)
            .collect();
        for (ci, c) in self.cards.iter().enumerate() {
            if c.kind == KIND_OPENPGP {
                let fp = c.key.fingerprint_hex();
                if let Some(si) = stanzas.iter().position(|s| {
                    s.tag == super::openpgp::STANZA_TAG
                        && s.args.first().is_some_and(|a| a.eq_ignore_ascii_case(&fp))
                }) {
                    out.push((ci, si));
                }
            } else {
                match x25519.as_slice() {
                    [] => {}
                    [one] => out.push((ci, *one)),
                    more => {
                        return Err(CardError::AmbiguousStanza {
                            label: c.label.clone(),
                            count: more.len(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Waits until one of `wanted` (card indices) is in a reader. Between
    /// scans it sleeps in PC/SC's SCardGetStatusChange, so a token is seen
    /// as soon as it is inserted, and other cards are not reconnected (and
    /// so not reset) while nothing changes.
    fn wait_for(&self, wanted: &[usize], waiting: &Waiting) -> Result<(usize, String), CardError> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        // A busy card is there: it is waited for at least a minute.
        let busy_deadline = started + self.timeout.max(BUSY_WAIT);
        let mut told_busy = std::collections::HashSet::new();
        let mut told = false;
        let mut told_about = std::collections::HashSet::new();
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| CardError::NoPcsc {
            message: e.to_string(),
        })?;
        loop {
            // Snapshot the readers' states before scanning, so a change
            // during the scan is not missed.
            let mut states = vec![pcsc::ReaderState::new(
                pcsc::PNP_NOTIFICATION(),
                pcsc::State::UNAWARE,
            )];
            for r in super::reader_names()? {
                if let Ok(name) = std::ffi::CString::new(r) {
                    states.push(pcsc::ReaderState::new(name, pcsc::State::UNAWARE));
                }
            }
            let _ = ctx.get_status_change(Duration::ZERO, &mut states);
            for s in &mut states {
                s.sync_current_state();
            }
            let found = super::present()?;
            for &ci in wanted {
                if let Some((reader, _)) = found
                    .cards
                    .iter()
                    .find(|(_, i)| i.eq_ignore_ascii_case(&self.cards[ci].ident))
                {
                    return Ok((ci, reader.clone()));
                }
            }
            // A card another program holds may be the one: say so, and
            // wait for it to be freed (longer than for an insertion).
            for reader in &found.busy {
                if told_busy.insert(reader.clone()) {
                    (self.notify)(&format!(
                        "{}; waiting for it to be free (up to {} s; Ctrl-C to stop)",
                        CardError::Busy {
                            reader: reader.clone()
                        },
                        busy_deadline.duration_since(started).as_secs()
                    ));
                }
            }
            // Say so of a token that is there but not needed, before any
            // PIN is asked.
            if let Some(why) = &waiting.not_needed {
                for (reader, ident) in &found.cards {
                    if told_about.insert(ident.to_ascii_uppercase()) {
                        let name = self
                            .cards
                            .iter()
                            .find(|c| c.ident.eq_ignore_ascii_case(ident))
                            .map_or_else(|| ident.clone(), EnrolledCard::name);
                        (self.notify)(&format!("token {name} in {reader:?} {why}"));
                    }
                }
            }
            let names = wanted
                .iter()
                .map(|&ci| self.cards[ci].name())
                .collect::<Vec<_>>()
                .join(" or ");
            let now = Instant::now();
            if let Some(reader) = found.busy.first() {
                if now >= busy_deadline {
                    return Err(CardError::Busy {
                        reader: reader.clone(),
                    });
                }
            } else if now >= deadline {
                return Err(CardError::TokenAbsent {
                    wanted: names,
                    waited_secs: self.timeout.as_secs(),
                });
            }
            if !told && found.busy.is_empty() {
                let prefix = waiting
                    .prefix
                    .as_ref()
                    .map_or_else(String::new, |p| format!("{p}: "));
                (self.notify)(&format!(
                    "{prefix}insert token {names} (waiting up to {} s; Ctrl-C to stop)",
                    self.timeout.as_secs()
                ));
                told = true;
            }
            // Wake on any reader change (card in/out, reader plugged), at
            // the deadline, or after 2 s at most (a reader that does not
            // report changes).
            // A busy card changes no reader state when it is freed: poll.
            let until = if found.busy.is_empty() {
                deadline
            } else {
                busy_deadline
            };
            let cap = if found.busy.is_empty() { 2000 } else { 500 };
            let wait = until
                .saturating_duration_since(now)
                .min(Duration::from_millis(cap));
            match ctx.get_status_change(wait, &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(300).min(wait)),
            }
        }
    }

    fn unwrap(&self, stanzas: &[Stanza], whole_header: bool) -> Result<Option<FileKey>, CardError> {
        let candidates = self.candidates(stanzas, whole_header)?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut list = Vec::new();
        for &(ci, si) in &candidates {
            let c = &self.cards[ci];
            let stanza = stanzas.get(si).ok_or_else(|| CardError::HeaderMismatch {
                detail: format!(
                    "the sidecar lists {} as recipient #{} but the header has {} stanzas",
                    c.label,
                    si + 1,
                    stanzas.len()
                ),
                ops: 0,
            })?;
            list.push(Candidate {
                card: ci,
                stanza,
                number: si + 1,
            });
        }
        self.unwrap_any(&list, &Waiting::default())
            .map(|(_, fk)| Some(fk))
    }

    /// The enrolled card a sidecar entry of this type and key is (its own
    /// entry, or an `age` entry of its X25519 key: [`EnrolledCard::is_entry`]).
    pub(crate) fn card_for(&self, kind: &str, key: &str) -> Option<usize> {
        self.cards.iter().position(|c| c.is_entry(kind, key))
    }

    /// Opens one of `candidates` with its card: checks every candidate
    /// stanza before touching a card, waits for any of their tokens
    /// (telling the person at the readers what `waiting` says), and makes
    /// one card operation. Returns the index of the candidate used and
    /// what its stanza wrapped.
    pub(crate) fn unwrap_any(
        &self,
        candidates: &[Candidate<'_>],
        waiting: &Waiting,
    ) -> Result<(usize, FileKey), CardError> {
        let mut parsed = Vec::new();
        for (n, cand) in candidates.iter().enumerate() {
            let (ci, si, stanza) = (cand.card, cand.number - 1, cand.stanza);
            let c = &self.cards[ci];
            let mismatch = |detail: String| CardError::HeaderMismatch { detail, ops: 0 };
            let p = if c.kind == KIND_X25519 {
                X25519Stanza::parse_raw(stanza)
                    .map(|r| r.map(Parsed::X25519).map_err(StanzaProblem::Malformed))
            } else {
                OpenpgpStanza::parse(stanza, &c.key).map(|r| r.map(Parsed::Openpgp))
            };
            match p {
                None => {
                    return Err(mismatch(format!(
                        "stanza #{} is a {:?} stanza, but {} ({}) needs {}",
                        si + 1,
                        stanza.tag,
                        c.label,
                        c.kind,
                        if c.kind == KIND_X25519 {
                            "X25519"
                        } else {
                            super::openpgp::STANZA_TAG
                        }
                    )));
                }
                Some(Err(StanzaProblem::OtherKey(detail))) => {
                    return Err(mismatch(format!(
                        "stanza #{} ({}): {detail}",
                        si + 1,
                        c.label
                    )));
                }
                Some(Err(StanzaProblem::Malformed(detail))) => {
                    return Err(CardError::DamagedStanza {
                        stanza: si + 1,
                        label: c.label.clone(),
                        ident: c.ident.clone(),
                        detail: format!("is malformed: {detail}"),
                        ops: 0,
                    });
                }
                Some(Ok(p)) => parsed.push((n, ci, si, p)),
            }
        }
        let wanted: Vec<usize> = parsed.iter().map(|(_, ci, _, _)| *ci).collect();
        let (ci, reader) = self.wait_for(&wanted, waiting)?;
        let (n, _, si, stanza) = parsed
            .into_iter()
            .find(|(_, c, _, _)| *c == ci)
            .expect("wait_for returns a wanted card");
        self.with_card(ci, si, &reader, &stanza).map(|fk| (n, fk))
    }

    /// One session with card `ci`: check its key, verify the PIN, one
    /// decipher; the connection is closed with a card reset.
    fn with_card(
        &self,
        ci: usize,
        si: usize,
        reader: &str,
        stanza: &Parsed,
    ) -> Result<FileKey, CardError> {
        let c = &self.cards[ci];
        let removed = |during: &str| CardError::Removed {
            label: c.label.clone(),
            ident: c.ident.clone(),
            during: during.to_owned(),
        };
        let classify = |during: &str, e: openpgp_card::Error| match e {
            openpgp_card::Error::Smartcard(_) => removed(during),
            other => CardError::card(&c.ident, other),
        };
        let mut card = super::open_reader(reader).map_err(|e| match e {
            e @ CardError::Busy { .. } => e,
            _ => removed("connecting"),
        })?;
        let mut tx = card.transaction().map_err(|e| classify("connecting", e))?;
        let ident = tx
            .application_identifier()
            .map_err(|e| classify("reading its identity", e))?
            .ident();
        if !ident.eq_ignore_ascii_case(&c.ident) {
            return Err(removed("connecting (another card is in its reader now)"));
        }
        let on_card = super::read_key(&mut tx, &c.ident)?;
        if !on_card.same_material(&c.key) {
            return Err(CardError::KeyMismatch {
                label: c.label.clone(),
                ident: c.ident.clone(),
                enrolled: c.key.fingerprint_hex(),
            });
        }
        pin::present_pw1(
            &mut tx,
            &pin::Presenting {
                label: &c.label,
                ident: &c.ident,
                kind: PinKind::User,
                allow_last_try: self.allow_last_try,
            },
            self.pin.borrow_mut().as_mut(),
            &*self.notify,
            &classify,
        )?;
        if let Ok(Some(uif)) = tx.user_interaction_flag(KeyType::Decryption)
            && uif.touch_policy().touch_required()
        {
            (self.notify)(&format!(
                "touch your token {} to confirm the decryption",
                c.name()
            ));
        }
        let damaged = |detail: String| CardError::DamagedStanza {
            stanza: si + 1,
            label: c.label.clone(),
            ident: c.ident.clone(),
            detail,
            ops: 1,
        };
        let mut decipher = |input: CardInput<'_>| -> Result<Zeroizing<Vec<u8>>, CardError> {
            self.ops.fetch_add(1, Ordering::SeqCst);
            let res = match input {
                CardInput::Ecdh(p) => tx.card().decipher(Cryptogram::ECDH(p)),
                CardInput::Rsa(p) => tx.card().decipher(Cryptogram::RSA(p)),
            };
            res.map(Zeroizing::new).map_err(|e| match e {
                // The key is the enrolled one and the PIN was accepted: a
                // card that refuses the data refuses the stanza's
                // ciphertext (an RSA block that does not unpad, a point not
                // on the curve).
                openpgp_card::Error::CardStatus(
                    st @ (StatusBytes::IncorrectParametersCommandDataField
                    | StatusBytes::WrongLength),
                ) => damaged(format!("was refused by the card as invalid input ({st})")),
                other => classify("decrypting", other),
            })
        };
        let fk = match stanza {
            Parsed::X25519(s) => {
                let shared = decipher(CardInput::Ecdh(&s.ephemeral))?;
                // An X25519 stanza does not say whom it is for: a wrong
                // sidecar hint and a damaged stanza look the same.
                s.unwrap(&shared, &c.key.public)
                    .ok_or_else(|| CardError::HeaderMismatch {
                        detail: format!(
                            "stanza #{} did not open with the key of token {} (an X25519 stanza does not name its recipient, so a wrong sidecar entry and a damaged stanza look the same)",
                            si + 1,
                            c.name()
                        ),
                        ops: 1,
                    })?
            }
            // The stanza names this token's key, so if the card's answer
            // does not authenticate, the stanza is damaged.
            Parsed::Openpgp(s) => s.unwrap(&c.key, &mut decipher)?.ok_or_else(|| {
                damaged(
                    "does not authenticate with the card's answer (its ciphertext was changed)"
                        .into(),
                )
            })?,
        };
        // Dropping the transaction and card disconnects with SCARD_RESET_CARD:
        // the verified PIN does not outlive this call.
        drop(tx);
        drop(card);
        Ok(fk)
    }
}

/// A stanza an enrolled card may open.
#[derive(Clone, Copy)]
pub(crate) struct Candidate<'s> {
    /// Index of the card among the identity's enrolled ones.
    pub card: usize,
    /// The stanza (for a group member: the inner stanza of its share).
    pub stanza: &'s Stanza,
    /// Its number in the header, from 1, for messages.
    pub number: usize,
}

/// What the person at the readers is told while a card is awaited.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    /// Said before "insert token …" (a group's progress).
    pub prefix: Option<String>,
    /// Said of a token that is present but not awaited ("is not a member
    /// of group officers"); `None`: nothing is said.
    pub not_needed: Option<String>,
}

enum Parsed {
    X25519(X25519Stanza),
    Openpgp(OpenpgpStanza),
}

impl age::Identity for CardIdentity {
    /// One stanza alone: the sidecar hint (which indexes the whole header)
    /// does not apply; the stanza is used if it can only be this card's.
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        to_age(self.unwrap(std::slice::from_ref(stanza), false))
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        to_age(self.unwrap(stanzas, true))
    }
}

fn to_age(r: Result<Option<FileKey>, CardError>) -> Option<Result<FileKey, age::DecryptError>> {
    match r {
        Ok(Some(fk)) => Some(Ok(fk)),
        Ok(None) => None,
        // The Opener turns this back into `Error::Card` (see open.rs).
        Err(e) => Some(Err(age::DecryptError::Io(std::io::Error::other(e)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolled(kind: &str, key: &str) -> EnrolledCard {
        EnrolledCard {
            label: "nk".into(),
            ident: "FFFE:00000001".into(),
            kind: kind.into(),
            config_key: key.into(),
            key: CardKey {
                algorithm: key::KeyAlgorithm::Cv25519,
                public: vec![0; 32],
                exponent: Vec::new(),
                created: 0,
            },
        }
    }

    #[test]
    fn an_age_entry_of_the_cards_key_is_the_card() {
        // Any age1 string will do: entries are matched on their text.
        let k = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";
        let c = enrolled(KIND_X25519, k);
        assert!(c.is_entry(KIND_X25519, k));
        assert!(c.is_entry("age", k));
        assert!(c.is_entry("age", &k.to_ascii_uppercase()));
        assert!(!c.is_entry("recovery", k));
        assert!(!c.is_entry("age", "age1other"));
        // An OpenPGP card's key is never an age recipient.
        let o = enrolled(KIND_OPENPGP, k);
        assert!(!o.is_entry("age", k));
        assert!(o.is_entry(KIND_OPENPGP, k));
    }
}
