//! Where a caller's recovery key comes from, and turning it into the
//! repository's checked [`RecoveryKey`]: typed text, a key file, share
//! files of custodians, or the passphrase it was derived from.
//!
//! Every form is checked against the repository's `[recovery]` before it
//! is used, so a wrong key fails here, not after a long restore.

use super::{RecoveryError, RecoveryKey, setup};
use crate::config::RecoveryConfig;
use crate::error::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// One way to supply the recovery key.
pub enum RecoveryKeySource {
    /// The key's text (Matrix encoding, `EsT… …`), as typed.
    Typed(SecretString),
    /// A file holding the key's text.
    File(PathBuf),
    /// Files holding shares (one or more per file, `#` lines ignored); at
    /// least the threshold of them.
    ShareFiles(Vec<PathBuf>),
    /// The passphrase the key was derived from.
    Passphrase(SecretString),
}

impl std::fmt::Debug for RecoveryKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryKeySource::Typed(_) => f.write_str("Typed(..)"),
            RecoveryKeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            RecoveryKeySource::ShareFiles(p) => f.debug_tuple("ShareFiles").field(p).finish(),
            RecoveryKeySource::Passphrase(_) => f.write_str("Passphrase(..)"),
        }
    }
}

/// Reads the key from `source` and checks it against `cfg`.
pub fn load(cfg: &RecoveryConfig, source: &RecoveryKeySource) -> Result<RecoveryKey> {
    let key = match source {
        RecoveryKeySource::Typed(text) => RecoveryKey::from_encoded(text.expose_secret())?,
        RecoveryKeySource::File(path) => {
            let text = read_secret_file(path)?;
            RecoveryKey::from_encoded(&text).map_err(|e| Error::KeyFile {
                path: path.clone(),
                message: e.to_string(),
            })?
        }
        RecoveryKeySource::ShareFiles(paths) => {
            let mut lines = Vec::new();
            for path in paths {
                let text = read_secret_file(path)?;
                lines.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(|l| Zeroizing::new(l.to_owned())),
                );
            }
            let texts: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
            super::shares::combine_text(&texts)?
        }
        RecoveryKeySource::Passphrase(p) => {
            return match setup::derive_checked(cfg, p) {
                None => Err(RecoveryError::NotFromPassphrase.into()),
                Some(Err(e)) if e.is_wrong_key() => Err(RecoveryError::WrongPassphrase.into()),
                Some(k) => Ok(k?),
            };
        }
    };
    setup::check(cfg, &key)?;
    Ok(key)
}

/// Reads a whole secret file (key, share or passphrase file), trimmed, into
/// zeroizing memory; refuses one larger than any such file is
/// ([`crate::limits::KEY_FILE_BYTES`]) and one that is not UTF-8.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<String>> {
    let limit = crate::limits::KEY_FILE_BYTES;
    let bad = |message: String| Error::KeyFile {
        path: path.to_owned(),
        message,
    };
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(bad(format!(
            "it is larger than {limit} bytes, far more than a key, share or passphrase file; check that it is the right file"
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}
