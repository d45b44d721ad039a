//! Generating a decryption or signature key on a card (destructive).

use super::key::{CardKey, KeyAlgorithm};
use super::pin::{PinKind, PinRequest, PinSource};
use super::signing::SigningKey;
use crate::error::CardError;
use openpgp_card::Error as OcError;
use openpgp_card::ocard::algorithm::AlgoSimple;
use openpgp_card::ocard::crypto::PublicKeyMaterial;
use openpgp_card::ocard::data::{Fingerprint, KeyGenerationTime};
use openpgp_card::ocard::{KeyType, StatusBytes};

/// Generates a new decryption key of `algo` on card `ident`, replacing the
/// one there (the old key is gone for good: backups sealed only to it can
/// no longer be opened with this card). Needs the admin PIN, from `pin`.
/// Returns the new key, with its OpenPGP fingerprint stored on the card.
pub fn generate(
    ident: &str,
    algo: KeyAlgorithm,
    pin: &mut dyn PinSource,
) -> crate::Result<CardKey> {
    let (ident, public, time) = generate_key(ident, algo, KeyType::Decryption, pin)?;
    Ok(CardKey::from_card(&public, time)
        .map_err(|algorithm| CardError::UnsupportedAlgorithm { ident, algorithm })?)
}

/// Generates a new signature key on card `ident`, replacing the one there:
/// Ed25519 for `cv25519`, ECDSA on the curve for `nistp*`, RSA of that
/// size for `rsa*`. Drills with the card are signed with it once the card
/// is enrolled (again). Needs the admin PIN, from `pin`.
pub fn generate_signing(
    ident: &str,
    algo: KeyAlgorithm,
    pin: &mut dyn PinSource,
) -> crate::Result<SigningKey> {
    let (ident, public, time) = generate_key(ident, algo, KeyType::Signing, pin)?;
    Ok(SigningKey::from_card(&public, time)
        .map_err(|algorithm| CardError::UnsupportedAlgorithm { ident, algorithm })?)
}

fn generate_key(
    ident: &str,
    algo: KeyAlgorithm,
    slot: KeyType,
    pin: &mut dyn PinSource,
) -> Result<(String, PublicKeyMaterial, u32), CardError> {
    let (_reader, mut card) = super::open_one(Some(ident))?;
    let mut tx = card.transaction().map_err(|e| CardError::card(ident, e))?;
    let ident = tx
        .application_identifier()
        .map_err(|e| CardError::card(ident, e))?
        .ident();
    let err = |e: OcError| CardError::card(&ident, e);
    let left = tx.pw_status_bytes().map_err(err)?.err_count_pw3();
    if left <= 1 {
        return Err(CardError::Card {
            ident: ident.clone(),
            message: format!(
                "the admin PIN has {left} tries left; nkbackup does not risk locking the card (check the admin PIN with another tool first)"
            ),
        });
    }
    let req = PinRequest {
        kind: PinKind::Admin,
        label: ident.clone(),
        ident: ident.clone(),
        retries_left: left,
    };
    let admin_pin = pin.pin(&req)?;
    super::pin::check_shape(&admin_pin, &req)?;
    if let Err(e) = tx.verify_admin_pin(admin_pin) {
        return Err(match e {
            OcError::CardStatus(
                StatusBytes::PasswordNotChecked(_) | StatusBytes::SecurityStatusNotSatisfied,
            ) => {
                let _ = tx.invalidate_cache();
                CardError::WrongAdminPin {
                    ident: ident.clone(),
                    retries_left: tx.pw_status_bytes().map(|p| p.err_count_pw3()).unwrap_or(0),
                }
            }
            other => err(other),
        });
    }
    let simple = match algo {
        KeyAlgorithm::Cv25519 => AlgoSimple::Curve25519,
        KeyAlgorithm::Rsa(2048) => AlgoSimple::RSA2k,
        KeyAlgorithm::Rsa(3072) => AlgoSimple::RSA3k,
        KeyAlgorithm::Rsa(4096) => AlgoSimple::RSA4k,
        KeyAlgorithm::NistP256 => AlgoSimple::NIST256,
        KeyAlgorithm::NistP384 => AlgoSimple::NIST384,
        KeyAlgorithm::NistP521 => AlgoSimple::NIST521,
        KeyAlgorithm::Rsa(bits) => {
            return Err(CardError::UnsupportedAlgorithm {
                ident,
                algorithm: format!("rsa{bits}"),
            });
        }
    };
    let mut admin = tx.as_admin_card(None).map_err(err)?;
    admin.set_algorithm(slot, simple).map_err(err)?;
    let (public, time) = admin.generate_key(fingerprint, slot).map_err(err)?;
    Ok((ident, public, time.get()))
}

/// The OpenPGP v4 fingerprint the card stores with a generated key.
pub(crate) fn fingerprint(
    public: &PublicKeyMaterial,
    time: KeyGenerationTime,
    slot: KeyType,
) -> Result<Fingerprint, OcError> {
    let bytes = if slot == KeyType::Signing {
        SigningKey::from_card(public, time.get())
            .map_err(OcError::UnsupportedAlgo)?
            .fingerprint_bytes()
    } else {
        CardKey::from_card(public, time.get())
            .map_err(OcError::UnsupportedAlgo)?
            .fingerprint_bytes()
    };
    Ok(Fingerprint::from(bytes))
}
