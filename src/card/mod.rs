//! OpenPGP smartcards over PC/SC: list, enroll, open backups, generate keys.
//!
//! A card (Nitrokey 3/Pro/Start, YubiKey, any ISO 7816 OpenPGP card) holds
//! a decryption key that never leaves it. nkbackup uses it in three ways:
//!
//! * **enroll** ([`enroll`]): read the decryption *public* key (no PIN) and
//!   turn it into a recipient entry (`card-x25519` or `card-openpgp`,
//!   [`key`]). Sealing then needs only that entry, never the card.
//! * **open** ([`CardIdentity`]): an [`age::Identity`] that finds an
//!   enrolled token among all readers (asking for it and waiting if none is
//!   inserted), asks a caller-supplied [`PinSource`] for the PIN, and makes
//!   exactly **one** card operation per backup: the stanza it unwraps is
//!   chosen from the sidecar's recipient list (stanza order), see
//!   [`identity`].
//! * **generate** ([`generate()`], [`generate::generate_signing`]): a new
//!   decryption or signature key on the card (destructive; admin PIN).
//! * **sign** ([`CardSigner`]): a drill record signed with the card's
//!   signature key, if enrollment found one ([`signing`]); proof that the
//!   token itself was present.
//!
//! Stanzas: a Curve25519 card key gets age's native `X25519` stanza
//! ([`x25519`]); RSA and NIST ECDH keys get an `nkbackup/openpgp` stanza
//! holding an OpenPGP PKESK ([`openpgp`]). docs/FORMAT.md §8 specifies both.
//!
//! Disconnecting leaves the card as it is where no PIN was presented, so a
//! program sharing it (GnuPG's scdaemon) is not disturbed, and resets it
//! (PC/SC `SCARD_RESET_CARD`) where one was, so a verified PIN does not
//! linger for other processes ([`connection`]).

mod connection;
pub mod generate;
pub mod identity;
pub mod key;
pub mod openpgp;
pub mod pin;
pub mod signer;
pub mod signing;
pub mod x25519;

pub use crate::error::CardError;
pub use generate::generate;
pub use identity::CardIdentity;
pub use key::{CardKey, KeyAlgorithm};
pub use pin::{PinKind, PinRequest, PinSource};
pub use signer::{CardSignature, CardSigner};
pub use signing::{SignAlgorithm, SigningKey};

use connection::Connection;
use openpgp_card::Card;
use openpgp_card::ocard::KeyType;
use openpgp_card::state::{Open, Transaction};
use serde::Serialize;
use std::ffi::CString;

/// One OpenPGP card in one reader, as `card list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CardInfo {
    /// The PC/SC reader name.
    pub reader: String,
    /// `MMMM:SSSSSSSS`: manufacturer id and serial number, upper-case hex.
    pub ident: String,
    /// The manufacturer id (0x000F Nitrokey, 0x0006 Yubico, 0xFFFE test).
    pub manufacturer_id: u16,
    /// The manufacturer's name.
    pub manufacturer: String,
    /// OpenPGP card application version, e.g. `3.4`.
    pub version: String,
    /// The decryption slot's algorithm as the card reports it.
    pub algorithm: String,
    /// Whether the decryption slot holds a key (a fingerprint is stored).
    pub has_key: bool,
    /// The decryption key, if there is one and nkbackup can use it.
    pub key: Option<KeyInfo>,
    /// The signature key, if there is one and nkbackup can use it (drills
    /// with the card are then signed).
    pub signing_key: Option<SigningKeyInfo>,
    /// User PIN (PW1) tries left.
    pub user_pin_retries: u8,
    /// Admin PIN (PW3) tries left.
    pub admin_pin_retries: u8,
    /// Touch confirmation (UIF) for decryption: `off`, `on`, `fixed`,
    /// `cached`, `cached-fixed`, or `unsupported`.
    pub touch: String,
    /// Whether the card's KDF data object is set (GnuPG's `kdf-setup`):
    /// PINs are then hashed (iterated-salted S2K) before they are sent,
    /// which nkbackup does; the PIN typed is the same.
    pub kdf: bool,
}

/// The decryption key of a card.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// `cv25519`, `rsa2048`, `nistp256`…
    pub algorithm: String,
    /// The fingerprint the card stores (hex), if any.
    pub card_fingerprint: Option<String>,
    /// The OpenPGP v4 fingerprint nkbackup computes for this key.
    pub fingerprint: String,
    /// Creation time stored on the card (RFC 3339).
    pub created: String,
    /// The recipient type it would be enrolled as.
    pub recipient_type: String,
}

/// The signature key of a card.
#[derive(Debug, Clone, Serialize)]
pub struct SigningKeyInfo {
    /// `ed25519`, `rsa2048`, `nistp256`…
    pub algorithm: String,
    /// The OpenPGP v4 fingerprint nkbackup computes for this key.
    pub fingerprint: String,
}

/// The [`CardError`] a [`CardIdentity`] passed through age (as
/// `DecryptError::Io`), or `e` unchanged if it is not one.
pub(crate) fn from_decrypt_error(e: age::DecryptError) -> Result<CardError, age::DecryptError> {
    match e {
        age::DecryptError::Io(io) if io.get_ref().is_some_and(|i| i.is::<CardError>()) => {
            let inner = io.into_inner().expect("checked above");
            Ok(*inner.downcast::<CardError>().expect("checked above"))
        }
        other => Err(other),
    }
}

/// Lists every OpenPGP card in every PC/SC reader. Reads only; no PIN. A
/// card another program holds exclusively is not listed
/// ([`list_readers`] names it).
pub fn list() -> crate::Result<Vec<CardInfo>> {
    Ok(list_readers()?.cards)
}

/// Every PC/SC reader, by what it holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReaderList {
    /// The OpenPGP cards present.
    pub cards: Vec<CardInfo>,
    /// Readers whose card another program holds exclusively (GnuPG's
    /// scdaemon by default): the card is there but cannot be read now.
    pub busy: Vec<String>,
    /// Readers without a card, or with a card without the OpenPGP
    /// application.
    pub empty: Vec<String>,
}

/// Lists every reader: its OpenPGP card, or that it is busy or empty.
/// Reads only; no PIN.
pub fn list_readers() -> crate::Result<ReaderList> {
    let mut out = ReaderList::default();
    for reader in reader_names()? {
        match connect(&reader)? {
            Slot::Card(mut card) => {
                let mut tx = card
                    .transaction()
                    .map_err(|e| CardError::card(&reader, e))?;
                out.cards.push(info(&mut tx, &reader)?);
            }
            Slot::Busy => out.busy.push(reader),
            Slot::Empty => out.empty.push(reader),
        }
    }
    Ok(out)
}

/// What a reader holds.
enum Slot {
    /// An OpenPGP card, connected (shared) and its application selected.
    Card(Card<Open>),
    /// A card that another program holds exclusively.
    Busy,
    /// No card, or one without the OpenPGP application.
    Empty,
}

/// Connects (shared) to the card in `reader`, telling a busy reader from
/// an empty one.
fn connect(reader: &str) -> Result<Slot, CardError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| CardError::NoPcsc {
        message: e.to_string(),
    })?;
    let name = CString::new(reader).map_err(|e| CardError::card(reader, e))?;
    let mode = pcsc::ShareMode::Shared;
    let card = match ctx.connect(&name, mode, pcsc::Protocols::ANY) {
        Ok(c) => c,
        Err(pcsc::Error::SharingViolation) => return Ok(Slot::Busy),
        Err(_) => return Ok(Slot::Empty),
    };
    let backend = Connection::new(reader, mode, card);
    Ok(Card::new(backend).map_or(Slot::Empty, Slot::Card))
}

/// The PC/SC reader names (empty if there are none).
pub fn readers() -> crate::Result<Vec<String>> {
    Ok(reader_names()?)
}

pub(crate) fn reader_names() -> Result<Vec<String>, CardError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| CardError::NoPcsc {
        message: e.to_string(),
    })?;
    match ctx.list_readers_owned() {
        Ok(r) => Ok(r
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(CardError::NoPcsc {
            message: e.to_string(),
        }),
    }
}

/// Connects to the card in `reader` and selects the OpenPGP application
/// ([`CardError::Busy`] if another program holds it exclusively).
pub(crate) fn open_reader(reader: &str) -> Result<Card<Open>, CardError> {
    match connect(reader)? {
        Slot::Card(c) => Ok(c),
        Slot::Busy => Err(CardError::Busy {
            reader: reader.to_owned(),
        }),
        Slot::Empty => Err(CardError::card(reader, "no OpenPGP card in this reader")),
    }
}

/// The OpenPGP cards present, and the busy readers.
pub(crate) struct Present {
    /// `(reader, ident)` of each OpenPGP card that could be read.
    pub(crate) cards: Vec<(String, String)>,
    /// Readers whose card another program holds exclusively.
    pub(crate) busy: Vec<String>,
}

impl Present {
    /// The error for a card not found among these: a busy reader may hold
    /// it, so that is said rather than `otherwise`.
    fn missing(&self, otherwise: CardError) -> CardError {
        match self.busy.first() {
            Some(reader) => CardError::Busy {
                reader: reader.clone(),
            },
            None => otherwise,
        }
    }
}

/// The ident of the card in each reader that has an OpenPGP card, and the
/// readers another program holds.
pub(crate) fn present() -> Result<Present, CardError> {
    let mut out = Present {
        cards: Vec::new(),
        busy: Vec::new(),
    };
    for reader in reader_names()? {
        match connect(&reader)? {
            Slot::Card(mut card) => {
                if let Ok(tx) = card.transaction()
                    && let Ok(aid) = tx.application_identifier()
                {
                    out.cards.push((reader, aid.ident()));
                }
            }
            Slot::Busy => out.busy.push(reader),
            Slot::Empty => {}
        }
    }
    Ok(out)
}

/// Opens the card `ident`, or the only card present when `ident` is `None`.
pub(crate) fn open_one(ident: Option<&str>) -> Result<(String, Card<Open>), CardError> {
    let present = present()?;
    let cards = &present.cards;
    let reader = match ident {
        Some(want) => cards
            .iter()
            .find(|(_, i)| i.eq_ignore_ascii_case(want))
            .map(|(r, _)| r.clone())
            .ok_or_else(|| {
                present.missing(CardError::NotFound {
                    ident: want.to_ascii_uppercase(),
                })
            })?,
        None => match cards.as_slice() {
            [] => return Err(present.missing(CardError::NoCards)),
            [(r, _)] => r.clone(),
            more => {
                return Err(CardError::SeveralCards {
                    idents: more
                        .iter()
                        .map(|(_, i)| i.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        },
    };
    Ok((reader.clone(), open_reader(&reader)?))
}

/// Reads [`CardInfo`] through an open transaction.
pub(crate) fn info(tx: &mut Card<Transaction<'_>>, reader: &str) -> Result<CardInfo, CardError> {
    let aid = tx
        .application_identifier()
        .map_err(|e| CardError::card(reader, e))?;
    let ident = aid.ident();
    let err = |e: openpgp_card::Error| CardError::card(&ident, e);
    let attrs = tx.algorithm_attributes(KeyType::Decryption).map_err(err)?;
    let algorithm = KeyAlgorithm::from_attributes(&attrs)
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("{attrs:?}"));
    let card_fp = tx.fingerprint(KeyType::Decryption).map_err(err)?;
    let has_key = card_fp.is_some();
    let key = match card_fp {
        None => None,
        Some(fp) => read_key(tx, &ident).ok().map(|k| KeyInfo {
            algorithm: k.algorithm.to_string(),
            card_fingerprint: Some(hex::encode_upper(fp.as_bytes())),
            fingerprint: k.fingerprint_hex(),
            created: key::rfc3339(k.created),
            recipient_type: k.algorithm.recipient_kind().into(),
        }),
    };
    let signing_key = signer::read_signing_key(tx, &ident)
        .ok()
        .flatten()
        .map(|k| SigningKeyInfo {
            algorithm: k.algorithm().to_string(),
            fingerprint: k.fingerprint_hex(),
        });
    let pw = tx.pw_status_bytes().map_err(err)?;
    let touch = match tx.user_interaction_flag(KeyType::Decryption) {
        Ok(Some(uif)) => touch_name(uif.touch_policy()),
        _ => "unsupported".into(),
    };
    // A card without the data object (or one that refuses GET DATA for
    // it) has no KDF.
    let kdf = tx.kdf_do().is_ok_and(|k| k.kdf_algo() != 0);
    let v = aid.version();
    Ok(CardInfo {
        reader: reader.to_owned(),
        ident: ident.clone(),
        manufacturer_id: aid.manufacturer(),
        manufacturer: aid.manufacturer_name().to_owned(),
        version: format!("{}.{}", v >> 8, v & 0xff),
        algorithm,
        has_key,
        key,
        signing_key,
        user_pin_retries: pw.err_count_pw1(),
        admin_pin_retries: pw.err_count_pw3(),
        touch,
        kdf,
    })
}

fn touch_name(p: openpgp_card::ocard::data::TouchPolicy) -> String {
    use openpgp_card::ocard::data::TouchPolicy as T;
    match p {
        T::Off => "off".into(),
        T::On => "on".into(),
        T::Fixed => "fixed".into(),
        T::Cached => "cached".into(),
        T::CachedFixed => "cached-fixed".into(),
        T::Unknown(v) => format!("unknown ({v})"),
    }
}

/// Reads the decryption public key (no PIN needed).
pub(crate) fn read_key(tx: &mut Card<Transaction<'_>>, ident: &str) -> Result<CardKey, CardError> {
    if tx
        .fingerprint(KeyType::Decryption)
        .map_err(|e| CardError::card(ident, e))?
        .is_none()
    {
        return Err(CardError::NoDecryptionKey {
            ident: ident.to_owned(),
        });
    }
    let public = tx
        .public_key_material(KeyType::Decryption)
        .map_err(|e| CardError::card(ident, e))?;
    let created = tx
        .key_generation_time(KeyType::Decryption)
        .map_err(|e| CardError::card(ident, e))?
        .map(|t| t.get())
        .unwrap_or(0);
    CardKey::from_card(&public, created).map_err(|algorithm| CardError::UnsupportedAlgorithm {
        ident: ident.to_owned(),
        algorithm,
    })
}

/// Reads the decryption public key of card `ident` (or of the only card
/// present) and returns the recipient entry for it, labelled `label`; a
/// signature key on the card goes into the entry too (`signing_key`), so
/// drills with the card are signed. No PIN is needed; the card is not
/// changed.
pub fn enroll(ident: Option<&str>, label: &str) -> crate::Result<crate::config::RecipientConfig> {
    Ok(enroll_card(ident, label)?)
}

fn enroll_card(
    ident: Option<&str>,
    label: &str,
) -> Result<crate::config::RecipientConfig, CardError> {
    let (reader, mut card) = open_one(ident)?;
    let mut tx = card
        .transaction()
        .map_err(|e| CardError::card(&reader, e))?;
    let ident = tx
        .application_identifier()
        .map_err(|e| CardError::card(&reader, e))?
        .ident();
    let key = read_key(&mut tx, &ident)?;
    let mut entry = key.recipient_config(label, &ident);
    // A signature key nkbackup cannot use leaves drills unsigned, as a
    // card without one.
    if let Ok(Some(sig)) = signer::read_signing_key(&mut tx, &ident) {
        entry.signing_key = Some(sig.config_value());
        entry.signing_fingerprint = Some(sig.fingerprint_hex());
    }
    Ok(entry)
}
