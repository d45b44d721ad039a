//! Private keys a caller holds in files: age identity files
//! (`AGE-SECRET-KEY-1…`, as `age-keygen` writes them), read once, bounded
//! and zeroized, for opening backups and escrow items alike.

use crate::error::{Error, Result};

/// An age identity, as the `age` crate hands it out of a file.
pub type Identity = Box<dyn age::Identity>;

/// Reads every identity in the age identity file at `path`. A file larger
/// than any key file ([`crate::limits::KEY_FILE_BYTES`]), one that is not
/// an identity file and one holding no key are refused, naming the file
/// and never its content.
pub fn load_file(path: &std::path::Path) -> Result<Vec<Identity>> {
    let bad = |message: String| Error::IdentityFile {
        path: path.to_owned(),
        message,
    };
    let text = read_text(path)?;
    let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let ids = file.into_identities().map_err(|e| {
        bad(format!(
            "{e}; expected age-keygen output (AGE-SECRET-KEY-1...)"
        ))
    })?;
    if ids.is_empty() {
        return Err(bad("it holds no keys".into()));
    }
    Ok(ids)
}

/// Reads the native X25519 keys (`AGE-SECRET-KEY-1…` lines) of the age
/// identity file at `path`, for callers that need their public halves
/// (a drill naming its token). Other lines are ignored.
pub fn load_x25519(path: &std::path::Path) -> Result<Vec<age::x25519::Identity>> {
    let text = read_text(path)?;
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .map(|l| {
            l.parse().map_err(|e: &str| Error::IdentityFile {
                path: path.to_owned(),
                message: e.to_owned(),
            })
        })
        .collect()
}

/// The file's text, bounded and zeroized, with a refusal named as an
/// identity file's.
fn read_text(path: &std::path::Path) -> Result<zeroize::Zeroizing<String>> {
    crate::recovery::read_secret_file(path).map_err(|e| match e {
        Error::KeyFile { message, .. } => Error::IdentityFile {
            path: path.to_owned(),
            message,
        },
        other => other,
    })
}
