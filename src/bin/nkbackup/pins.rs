//! Where the CLI gets PINs: `NKBACKUP_PIN`/`NKBACKUP_ADMIN_PIN`, the PIN
//! file, pinentry (the library's sources), else a no-echo prompt on the
//! terminal, which is the CLI's own: the library never prompts.

use nkbackup::card::CardError;
use nkbackup::card::pin::{EnvPin, FilePin, PinKind, PinRequest, PinSource, Pinentry};
use secrecy::SecretString;
use std::path::PathBuf;

/// A no-echo prompt on the controlling terminal (`/dev/tty`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TtyPin;

impl PinSource for TtyPin {
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError> {
        // A progress bar would draw over the prompt: hidden while asking.
        let pin = crate::progress::suspend(|| {
            rpassword::prompt_password(format!("{}: ", request.description()))
        })
        .map_err(|e| CardError::PinUnavailable {
            label: request.label.clone(),
            reason: format!("no terminal to ask on ({e})"),
        })?;
        let pin = zeroize::Zeroizing::new(pin);
        if pin.is_empty() {
            return Err(CardError::PinUnavailable {
                label: request.label.clone(),
                reason: "an empty PIN was entered".into(),
            });
        }
        Ok(SecretString::from(pin.as_str().to_owned()))
    }
}

/// The default chain: `NKBACKUP_PIN`/`NKBACKUP_ADMIN_PIN` if set, else the
/// PIN file if given, else pinentry if installed, else the terminal.
/// `notify` hears why a step was passed over (pinentry failed).
pub fn default_source(
    pin_file: Option<PathBuf>,
    notify: impl Fn(&str) + 'static,
) -> Box<dyn PinSource> {
    Box::new(move |req: &PinRequest| -> Result<SecretString, CardError> {
        if EnvPin::is_set(req.kind) {
            return EnvPin.pin(req);
        }
        if let (Some(f), PinKind::User | PinKind::Signing) = (&pin_file, req.kind) {
            return FilePin(f.clone()).pin(req);
        }
        let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin())
            || std::env::var_os("DISPLAY").is_some()
            || std::env::var_os("WAYLAND_DISPLAY").is_some();
        if let Some(mut p) = Pinentry::find()
            && interactive
        {
            match crate::progress::suspend(|| p.pin(req)) {
                Ok(pin) => return Ok(pin),
                // Cancel means cancel: no second prompt on the terminal.
                Err(e @ CardError::PinCancelled { .. }) => return Err(e),
                Err(e) => notify(&format!("pinentry failed ({e}); asking on the terminal")),
            }
        }
        TtyPin.pin(req)
    })
}

/// Two handles on one PIN source, for a drill: the user PIN that opened
/// the backup is remembered (in a [`SecretString`], zeroized when the
/// drill ends) and answers the request to sign the drill record with the
/// same token, so the PIN is typed once. Every other request goes to
/// `inner`.
pub fn shared(inner: Box<dyn PinSource>) -> (Box<dyn PinSource>, Box<dyn PinSource>) {
    use secrecy::ExposeSecret as _;
    use std::cell::RefCell;
    use std::rc::Rc;
    struct Shared {
        inner: Box<dyn PinSource>,
        user: Option<(String, SecretString)>,
    }
    let state = Rc::new(RefCell::new(Shared { inner, user: None }));
    let handle = |state: Rc<RefCell<Shared>>| -> Box<dyn PinSource> {
        Box::new(move |req: &PinRequest| -> Result<SecretString, CardError> {
            let mut s = state.borrow_mut();
            if req.kind == PinKind::Signing
                && let Some((ident, pin)) = &s.user
                && ident.eq_ignore_ascii_case(&req.ident)
            {
                return Ok(SecretString::from(pin.expose_secret().to_owned()));
            }
            let pin = s.inner.pin(req)?;
            if req.kind == PinKind::User {
                s.user = Some((
                    req.ident.clone(),
                    SecretString::from(pin.expose_secret().to_owned()),
                ));
            }
            Ok(pin)
        })
    };
    (handle(state.clone()), handle(state))
}
