//! Reading secrets: typed at the terminal without echo, or from files.
//! Never from argv. `NKBACKUP_RECOVERY_PASSPHRASE` exists for automation
//! and tests only (documented in docs/CLI.md).

use anyhow::{Result, bail};
use secrecy::SecretString;

/// Environment variable holding a recovery passphrase, for automation.
pub const PASSPHRASE_ENV: &str = "NKBACKUP_RECOVERY_PASSPHRASE";

/// Asks on the terminal, without echo.
pub fn prompt(label: &str, alternative: &str) -> Result<SecretString> {
    // A progress bar would draw over the prompt: hidden while asking.
    match crate::progress::suspend(|| rpassword::prompt_password(label)) {
        Ok(s) => Ok(SecretString::from(s)),
        Err(_) => bail!(
            "no terminal to ask for the {}; {alternative}",
            label.trim_end_matches([':', ' '])
        ),
    }
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
