//! Signing on the card: a message (a drill record's statement) signed
//! with the card's signature key, as one OpenPGP signature.
//!
//! [`CardSigner`] opens the enrolled token, checks that its signature slot
//! still holds the enrolled key, presents the user PIN for signing (cards
//! verify PW1 separately for signing, usually for one signature), and lets
//! sequoia build a v4 binary-document signature whose digest the card
//! signs (`PSO: COMPUTE DIGITAL SIGNATURE`). One card operation; the
//! connection is closed with a card reset.

use super::pin::{self, PinKind, PinSource};
use super::signing::SigningKey;
use crate::config::RecipientConfig;
use crate::error::CardError;
use base64::Engine as _;
use openpgp::crypto::{Signer, mpi};
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::packet::{Key, Packet};
use openpgp::serialize::MarshalInto as _;
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, SignatureType};
use openpgp_card::Card;
use openpgp_card::ocard::KeyType;
use openpgp_card::ocard::crypto::{HashAlgo, SigningAlgo};
use openpgp_card::state::Transaction;
use sequoia_openpgp as openpgp;

/// Signs with one enrolled card's signature key.
pub struct CardSigner {
    label: String,
    ident: String,
    key: SigningKey,
    pin: Box<dyn PinSource>,
    allow_last_try: bool,
    notify: Box<dyn Fn(&str)>,
}

impl std::fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("label", &self.label)
            .field("ident", &self.ident)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A signature made on a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSignature {
    /// The OpenPGP v4 fingerprint of the key that signed.
    pub key: String,
    /// Base64 (standard, padded) of the OpenPGP signature packet.
    pub signature: String,
}

impl CardSigner {
    /// A signer for the card recipient `r`, if its entry has a
    /// `signing_key`; PINs come from `pin`.
    pub fn from_recipient(
        r: &RecipientConfig,
        pin: Box<dyn PinSource>,
    ) -> crate::Result<Option<Self>> {
        let Some(key) = super::signing::from_recipient(r)? else {
            return Ok(None);
        };
        let Some(ident) = r.ident.clone() else {
            return Err(CardError::InvalidRecipient {
                label: r.label.clone(),
                reason: "it has a signing_key but no `ident`; enroll the card again".into(),
            }
            .into());
        };
        Ok(Some(CardSigner {
            label: r.label.clone(),
            ident: ident.to_ascii_uppercase(),
            key,
            pin,
            allow_last_try: false,
            notify: Box::new(|_| {}),
        }))
    }

    /// Present the PIN even when only one try is left.
    pub fn allow_last_try(mut self, yes: bool) -> Self {
        self.allow_last_try = yes;
        self
    }

    /// Where messages for the person at the token go ("touch the token").
    pub fn notify(mut self, f: impl Fn(&str) + 'static) -> Self {
        self.notify = Box::new(f);
        self
    }

    /// The enrolled signature key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs `message` on the card.
    pub fn sign(&mut self, message: &[u8]) -> crate::Result<CardSignature> {
        Ok(self.sign_on_card(message)?)
    }

    fn sign_on_card(&mut self, message: &[u8]) -> Result<CardSignature, CardError> {
        let (label, ident) = (self.label.clone(), self.ident.clone());
        let removed = |during: &str| CardError::Removed {
            label: label.clone(),
            ident: ident.clone(),
            during: during.to_owned(),
        };
        let classify = |during: &str, e: openpgp_card::Error| match e {
            openpgp_card::Error::Smartcard(_) => removed(during),
            other => CardError::card(&ident, other),
        };
        let (_reader, mut card) = super::open_one(Some(&ident))?;
        let mut tx = card.transaction().map_err(|e| classify("connecting", e))?;
        let on_card = read_signing_key(&mut tx, &ident)?.ok_or_else(|| CardError::Card {
            ident: ident.clone(),
            message: format!(
                "token {label} has no signature key any more; enroll it again (`nkbackup card enroll`) to drill unsigned"
            ),
        })?;
        if !on_card.same_material(&self.key) {
            return Err(CardError::KeyMismatch {
                label: label.clone(),
                ident: ident.clone(),
                enrolled: self.key.fingerprint_hex(),
            });
        }
        pin::present_pw1(
            &mut tx,
            &pin::Presenting {
                label: &label,
                ident: &ident,
                kind: PinKind::Signing,
                allow_last_try: self.allow_last_try,
            },
            self.pin.as_mut(),
            &*self.notify,
            &classify,
        )?;
        if let Ok(Some(uif)) = tx.user_interaction_flag(KeyType::Signing)
            && uif.touch_policy().touch_required()
        {
            (self.notify)(&format!(
                "touch your token {label} ({ident}) to sign the drill record"
            ));
        }
        let mut signer = OnCard {
            tx: &mut tx,
            public: self.key.openpgp_key().clone(),
            error: None,
        };
        let made = SignatureBuilder::new(SignatureType::Binary)
            .set_hash_algo(HashAlgorithm::SHA256)
            .sign_message(&mut signer, message);
        let sig = match (made, signer.error.take()) {
            (Ok(sig), _) => sig,
            (Err(_), Some(e)) => return Err(e),
            (Err(e), None) => {
                return Err(CardError::Card {
                    ident: ident.clone(),
                    message: format!("building the signature failed: {e}"),
                });
            }
        };
        let bytes = Packet::from(sig)
            .to_vec()
            .expect("serializing a signature to memory cannot fail");
        Ok(CardSignature {
            key: self.key.fingerprint_hex(),
            signature: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    }
}

/// Reads the signature-slot public key (no PIN); `None` if the slot is
/// empty.
pub(crate) fn read_signing_key(
    tx: &mut Card<Transaction<'_>>,
    ident: &str,
) -> Result<Option<SigningKey>, CardError> {
    let err = |e: openpgp_card::Error| CardError::card(ident, e);
    if tx.fingerprint(KeyType::Signing).map_err(err)?.is_none() {
        return Ok(None);
    }
    let public = tx.public_key_material(KeyType::Signing).map_err(err)?;
    let created = tx
        .key_generation_time(KeyType::Signing)
        .map_err(err)?
        .map(|t| t.get())
        .unwrap_or(0);
    SigningKey::from_card(&public, created)
        .map(Some)
        .map_err(|algorithm| CardError::UnsupportedAlgorithm {
            ident: ident.to_owned(),
            algorithm: format!("{algorithm} (signature key)"),
        })
}

/// sequoia's [`Signer`] over an open card transaction: the digest goes to
/// the card, the card's answer becomes the signature MPIs.
struct OnCard<'a, 'b> {
    tx: &'a mut Card<Transaction<'b>>,
    public: Key<PublicParts, UnspecifiedRole>,
    /// The card's own error, kept (sequoia's error type would lose it).
    error: Option<CardError>,
}

impl Signer for OnCard<'_, '_> {
    fn public(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.public
    }

    fn acceptable_hashes(&self) -> &[HashAlgorithm] {
        &[HashAlgorithm::SHA256]
    }

    fn sign(&mut self, hash_algo: HashAlgorithm, digest: &[u8]) -> openpgp::Result<mpi::Signature> {
        let rsa = matches!(self.public.mpis(), mpi::PublicKey::RSA { .. });
        let algo = match rsa {
            true => SigningAlgo::RSA(match hash_algo {
                HashAlgorithm::SHA256 => HashAlgo::SHA256,
                HashAlgorithm::SHA384 => HashAlgo::SHA384,
                HashAlgorithm::SHA512 => HashAlgo::SHA512,
                other => {
                    return Err(openpgp::Error::InvalidOperation(format!(
                        "hash {other} is not offered"
                    ))
                    .into());
                }
            }),
            false => SigningAlgo::ECC,
        };
        let ident = self
            .tx
            .application_identifier()
            .map(|a| a.ident())
            .unwrap_or_default();
        let raw = match self.tx.card().signature_for_hash(algo, digest) {
            Ok(raw) => raw,
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(CardError::card(&ident, e));
                return Err(openpgp::Error::InvalidOperation(msg).into());
            }
        };
        let half = |raw: &[u8]| -> openpgp::Result<(mpi::MPI, mpi::MPI)> {
            if raw.is_empty() || !raw.len().is_multiple_of(2) {
                return Err(openpgp::Error::InvalidOperation(format!(
                    "the card returned a {}-byte signature",
                    raw.len()
                ))
                .into());
            }
            let (r, s) = raw.split_at(raw.len() / 2);
            Ok((mpi::MPI::new(r), mpi::MPI::new(s)))
        };
        Ok(match self.public.pk_algo() {
            PublicKeyAlgorithm::EdDSA => {
                let (r, s) = half(&raw)?;
                mpi::Signature::EdDSA { r, s }
            }
            PublicKeyAlgorithm::ECDSA => {
                let (r, s) = half(&raw)?;
                mpi::Signature::ECDSA { r, s }
            }
            _ => mpi::Signature::RSA {
                s: mpi::MPI::new(&raw),
            },
        })
    }
}
