//! Where PINs come from: a callback the caller supplies.
//!
//! The library never decides how to ask for a PIN, and never prompts
//! itself; it calls the [`PinSource`] its caller gave. Sources provided
//! here (the CLI chains them, then falls back to a no-echo prompt on the
//! terminal of its own):
//!
//! 1. [`EnvPin`]: `NKBACKUP_PIN` (user PIN) / `NKBACKUP_ADMIN_PIN` (admin
//!    PIN). **For automation and tests only**: the environment of a process
//!    is visible to its owner and root.
//! 2. [`FilePin`]: the first line of a file (`--pin-file`), e.g. on a tmpfs.
//! 3. [`Pinentry`]: the `pinentry` program (GnuPG's PIN dialog), if installed
//!    and there is a terminal or display. Choosing Cancel there is
//!    [`CardError::PinCancelled`] (nothing else is asked).
//!
//! A reader with a PIN pad takes the user PIN itself and no source is asked
//! (physical readers only; hw-tests/README.md, "Pinpad readers").
//!
//! PINs never appear on a command line (argv is world-readable in `/proc`).
//! They are held in [`SecretString`]s, which zeroize on drop and do not
//! print.

use crate::error::CardError;
use openpgp_card::Card;
use openpgp_card::ocard::StatusBytes;
use openpgp_card::state::Transaction;
use secrecy::{ExposeSecret as _, SecretString};
use std::path::PathBuf;

/// Which PIN is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// The user PIN (PW1), needed to decrypt.
    User,
    /// The user PIN (PW1) again, to sign a drill record with the card's
    /// signature key (cards verify PW1 separately for signing).
    Signing,
    /// The admin PIN (PW3), needed to generate keys.
    Admin,
}

/// What the PIN is for, shown to whoever types it.
#[derive(Debug, Clone)]
pub struct PinRequest {
    /// User or admin PIN.
    pub kind: PinKind,
    /// The token's label (`alice-nk3`) or, if not enrolled, its ident.
    pub label: String,
    /// The card's ident, `000F:1234ABCD`.
    pub ident: String,
    /// Tries left before the PIN locks.
    pub retries_left: u8,
}

impl PinRequest {
    /// A one-line description for prompts.
    pub fn description(&self) -> String {
        let which = match self.kind {
            PinKind::User => "PIN",
            PinKind::Signing => "PIN (to sign the drill record)",
            PinKind::Admin => "admin PIN",
        };
        format!(
            "{which} for token {} ({}), {} tries left",
            self.label, self.ident, self.retries_left
        )
    }
}

/// Supplies PINs. Implement it to ask in your own way (a GUI, a vault).
pub trait PinSource {
    /// Returns the PIN for `request`, or why there is none.
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError>;
}

impl<F> PinSource for F
where
    F: FnMut(&PinRequest) -> Result<SecretString, CardError>,
{
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError> {
        self(request)
    }
}

/// `NKBACKUP_PIN` / `NKBACKUP_ADMIN_PIN`, for automation and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvPin;

impl EnvPin {
    /// Whether the variable for `kind` is set.
    pub fn is_set(kind: PinKind) -> bool {
        std::env::var_os(Self::var(kind)).is_some()
    }

    fn var(kind: PinKind) -> &'static str {
        match kind {
            PinKind::User | PinKind::Signing => "NKBACKUP_PIN",
            PinKind::Admin => "NKBACKUP_ADMIN_PIN",
        }
    }
}

impl PinSource for EnvPin {
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError> {
        let var = Self::var(request.kind);
        std::env::var(var)
            .map(SecretString::from)
            .map_err(|_| CardError::PinUnavailable {
                label: request.label.clone(),
                reason: format!("{var} is not set"),
            })
    }
}

/// The first line of a file (`--pin-file`).
#[derive(Debug, Clone)]
pub struct FilePin(pub PathBuf);

impl PinSource for FilePin {
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError> {
        let unavailable = |reason: String| CardError::PinUnavailable {
            label: request.label.clone(),
            reason,
        };
        use std::io::Read;
        let limit = crate::limits::KEY_FILE_BYTES;
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        std::fs::File::open(&self.0)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
            .map_err(|e| unavailable(format!("cannot read {}: {e}", self.0.display())))?;
        if bytes.len() as u64 > limit {
            return Err(unavailable(format!(
                "{} is larger than {limit} bytes; a PIN file holds one line",
                self.0.display()
            )));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| unavailable(format!("{} is not UTF-8 text", self.0.display())))?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if line.is_empty() {
            return Err(unavailable(format!("{} is empty", self.0.display())));
        }
        Ok(SecretString::from(line.to_owned()))
    }
}

/// GnuPG's `pinentry` program, driven with the `pinentry` crate (which
/// speaks Assuan and zeroizes what it reads).
#[derive(Debug, Clone)]
pub struct Pinentry {
    program: PathBuf,
}

impl Pinentry {
    /// `pinentry` from `PATH`, if installed.
    pub fn find() -> Option<Self> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("pinentry"))
            .find(|p| p.is_file())
            .map(|program| Pinentry { program })
    }
}

impl PinSource for Pinentry {
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError> {
        let unavailable = |reason: String| CardError::PinUnavailable {
            label: request.label.clone(),
            reason,
        };
        let description = request.description();
        let mut input = pinentry::PassphraseInput::with_binary(&self.program)
            .ok_or_else(|| unavailable(format!("cannot run {}", self.program.display())))?;
        input
            .with_title("nkbackup")
            .with_description(&description)
            .with_prompt("PIN:");
        match input.interact() {
            Ok(pin) if pin.expose_secret().is_empty() => {
                Err(unavailable("an empty PIN was entered".into()))
            }
            Ok(pin) => Ok(pin),
            Err(e) if is_cancel(&e) => Err(CardError::PinCancelled {
                label: request.label.clone(),
            }),
            Err(e) => Err(unavailable(format!("pinentry: {e}"))),
        }
    }
}

/// Whether pinentry said the person chose Cancel: GPG_ERR_CANCELED (99,
/// which the crate names) or GPG_ERR_FULLY_CANCELED (198).
fn is_cancel(e: &pinentry::Error) -> bool {
    match e {
        pinentry::Error::Cancelled => true,
        pinentry::Error::Gpg(g) => g.code() == 198,
        _ => false,
    }
}

/// Checks a PIN's shape before it is sent (OpenPGP cards take 6–127 bytes
/// for PW1 and 8–127 for PW3); a malformed PIN never costs a retry.
pub(crate) fn check_shape(pin: &SecretString, req: &PinRequest) -> Result<(), CardError> {
    let len = pin.expose_secret().len();
    let min = match req.kind {
        PinKind::User | PinKind::Signing => 6,
        PinKind::Admin => 8,
    };
    if len < min || len > 127 {
        return Err(CardError::PinUnavailable {
            label: req.label.clone(),
            reason: format!(
                "the PIN given has {len} characters; OpenPGP cards take {min} to 127, so it was not tried (no retry used)"
            ),
        });
    }
    Ok(())
}

/// The token a PIN is presented to, and how.
pub(crate) struct Presenting<'a> {
    /// Its label (`alice-nk3`).
    pub label: &'a str,
    /// Its ident.
    pub ident: &'a str,
    /// [`PinKind::User`] to decrypt, [`PinKind::Signing`] to sign.
    pub kind: PinKind,
    /// Present the PIN even with one try left.
    pub allow_last_try: bool,
}

/// Presents the user PIN (PW1) for decryption or signing: refuses a
/// blocked PIN and (unless allowed) the last try, takes the PIN from the
/// reader's pinpad or from `pins`, checks its shape, and tells a wrong PIN
/// (with the tries left) from other failures. `card_err` maps other card
/// errors (a pulled card).
pub(crate) fn present_pw1(
    tx: &mut Card<Transaction<'_>>,
    who: &Presenting<'_>,
    pins: &mut dyn PinSource,
    notify: &dyn Fn(&str),
    card_err: &dyn Fn(&str, openpgp_card::Error) -> CardError,
) -> Result<(), CardError> {
    let (label, ident) = (who.label.to_owned(), who.ident.to_owned());
    let retries = tx
        .pw_status_bytes()
        .map_err(|e| card_err("reading the PIN retry counter", e))?
        .err_count_pw1();
    match retries {
        0 => return Err(CardError::PinBlocked { label, ident }),
        1 if !who.allow_last_try => return Err(CardError::LastPinTry { label, ident }),
        _ => {}
    }
    let req = PinRequest {
        kind: who.kind,
        label: label.clone(),
        ident: ident.clone(),
        retries_left: retries,
    };
    let signing = who.kind == PinKind::Signing;
    let verified = if tx.feature_pinpad_verify() {
        notify(&format!(
            "enter the PIN of token {label} ({ident}) on the reader's pinpad{} ({retries} tries left)",
            if signing {
                " to sign the drill record"
            } else {
                ""
            }
        ));
        if signing {
            tx.verify_user_signing_pinpad(&|| {})
        } else {
            tx.verify_user_pinpad(&|| {})
        }
    } else {
        let pin = pins.pin(&req)?;
        check_shape(&pin, &req)?;
        if signing {
            tx.verify_user_signing_pin(pin)
        } else {
            tx.verify_user_pin(pin)
        }
    };
    match verified {
        Ok(()) => Ok(()),
        Err(openpgp_card::Error::CardStatus(
            StatusBytes::PasswordNotChecked(_)
            | StatusBytes::SecurityStatusNotSatisfied
            | StatusBytes::AuthenticationMethodBlocked,
        )) => {
            let _ = tx.invalidate_cache();
            let left = tx.pw_status_bytes().map(|p| p.err_count_pw1()).unwrap_or(0);
            Err(if left == 0 {
                CardError::PinBlocked { label, ident }
            } else {
                CardError::WrongPin {
                    label,
                    ident,
                    retries_left: left,
                }
            })
        }
        Err(other) => Err(card_err("verifying the PIN", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> PinRequest {
        PinRequest {
            kind: PinKind::User,
            label: "alice-nk3".into(),
            ident: "000F:12345678".into(),
            retries_left: 3,
        }
    }

    #[test]
    fn file_pin_reads_the_first_line_only() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pin");
        std::fs::write(&f, "123456\nignored\n").unwrap();
        let pin = FilePin(f.clone()).pin(&req()).unwrap();
        assert_eq!(pin.expose_secret(), "123456");
        std::fs::write(&f, "\n").unwrap();
        let err = FilePin(f).pin(&req()).unwrap_err().to_string();
        assert!(err.contains("empty") && err.contains("alice-nk3"), "{err}");
    }

    #[test]
    fn short_pins_are_refused_before_costing_a_retry() {
        let err = check_shape(&SecretString::from("123".to_owned()), &req())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no retry used"), "{err}");
        assert!(
            !err.contains("123 "),
            "the PIN itself is never shown: {err}"
        );
        check_shape(&SecretString::from("123456".to_owned()), &req()).unwrap();
    }

    #[test]
    fn cancel_is_told_from_other_pinentry_errors() {
        assert!(is_cancel(&pinentry::Error::Cancelled));
        assert!(!is_cancel(&pinentry::Error::Timeout));
        assert!(req().description().contains("3 tries left"));
    }
}
