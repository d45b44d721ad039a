//! Binding a recovery key to a repository.
//!
//! The repository stores only public data about its recovery key: the X25519
//! public key every backup is sealed to, a short key id, and a Matrix-style
//! key check that lets a typed key be verified offline. A typed key is
//! accepted only if both its id and the key check match.

use super::{KeyCheck, PassphraseParams, RecoveryError, RecoveryKey};
use crate::config::RecoveryConfig;
use secrecy::SecretString;

/// The `[recovery]` configuration for `key`.
pub fn config_for(key: &RecoveryKey, passphrase: Option<PassphraseParams>) -> RecoveryConfig {
    RecoveryConfig {
        key_id: key.key_id().to_string(),
        recipient: key.recipient().to_string(),
        created: crate::now_rfc3339(),
        check: KeyCheck::new(key),
        passphrase,
    }
}

/// Checks that `key` is the repository's recovery key.
pub fn check_key(cfg: &RecoveryConfig, key: &RecoveryKey) -> crate::Result<()> {
    Ok(check(cfg, key)?)
}

pub(crate) fn check(cfg: &RecoveryConfig, key: &RecoveryKey) -> Result<(), RecoveryError> {
    if key.key_id().to_string() != cfg.key_id || key.recipient().to_string() != cfg.recipient {
        return Err(RecoveryError::KeyCheckMismatch);
    }
    cfg.check.verify_key(key)
}

/// Derives the key from a passphrase with the repository's parameters and
/// checks it. `None` if the key was not made from a passphrase.
pub fn key_from_passphrase(
    cfg: &RecoveryConfig,
    passphrase: &SecretString,
) -> Option<crate::Result<RecoveryKey>> {
    derive_checked(cfg, passphrase).map(|r| r.map_err(Into::into))
}

pub(crate) fn derive_checked(
    cfg: &RecoveryConfig,
    passphrase: &SecretString,
) -> Option<Result<RecoveryKey, RecoveryError>> {
    let params = cfg.passphrase.as_ref()?;
    Some(super::passphrase::derive(passphrase, params).and_then(|k| check(cfg, &k).map(|_| k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_key_passes_and_another_fails() {
        let k = RecoveryKey::generate();
        let cfg = config_for(&k, None);
        check(&cfg, &k).unwrap();
        let other = RecoveryKey::generate();
        assert!(check(&cfg, &other).unwrap_err().is_wrong_key());
        // A config whose check was made for another key is caught too.
        let mut forged = cfg.clone();
        forged.check = KeyCheck::new(&other);
        assert!(check(&forged, &k).unwrap_err().is_wrong_key());
        assert!(derive_checked(&cfg, &SecretString::from("x")).is_none());
    }

    #[test]
    fn passphrase_keys_are_rederived_and_checked() {
        let params = PassphraseParams {
            iterations: 1000,
            ..PassphraseParams::generate()
        };
        let pass = SecretString::from("correct horse battery staple");
        let k = RecoveryKey::from_passphrase(&pass, &params).unwrap();
        let cfg = config_for(&k, Some(params));
        let again = derive_checked(&cfg, &pass).unwrap().unwrap();
        assert_eq!(again.key_id(), k.key_id());
        let wrong = derive_checked(&cfg, &SecretString::from("wrong")).unwrap();
        assert!(wrong.unwrap_err().is_wrong_key());
    }
}
