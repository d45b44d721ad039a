//! Reading secrets: typed at the terminal without echo, or from files.
//! Never from argv. `NKBACKUP_RECOVERY_PASSPHRASE` exists for automation
//! and tests only (documented in docs/CLI.md).

use anyhow::{Context, Result, bail};
use secrecy::SecretString;
use std::path::Path;
use zeroize::Zeroizing;

/// Environment variable holding a recovery passphrase, for automation.
pub const PASSPHRASE_ENV: &str = "NKBACKUP_RECOVERY_PASSPHRASE";

/// Asks on the terminal, without echo.
pub fn prompt(label: &str, alternative: &str) -> Result<SecretString> {
    match rpassword::prompt_password(label) {
        Ok(s) => Ok(SecretString::from(s)),
        Err(_) => bail!(
            "no terminal to ask for the {}; {alternative}",
            label.trim_end_matches([':', ' '])
        ),
    }
}

/// Reads a whole secret file (trimmed), refusing one larger than any key
/// file is ([`nkbackup::limits::KEY_FILE_BYTES`]).
pub fn read_file(path: &Path) -> Result<Zeroizing<String>> {
    use std::io::Read;
    let limit = nkbackup::limits::KEY_FILE_BYTES;
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{} is larger than {limit} bytes, far more than a key, share or passphrase file; check that it is the right file",
            path.display()
        );
    }
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}

/// A passphrase from the environment, or typed (twice when `confirm`).
pub fn passphrase(confirm: bool) -> Result<SecretString> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(SecretString::from(p));
    }
    let alt = format!("set {PASSPHRASE_ENV} for unattended use");
    let p = prompt("Recovery passphrase: ", &alt)?;
    if confirm {
        use secrecy::ExposeSecret;
        let again = prompt("Repeat the passphrase: ", &alt)?;
        if p.expose_secret() != again.expose_secret() {
            bail!("the two passphrases differ; nothing was changed");
        }
    }
    Ok(p)
}
