//! Where PINs come from: a callback the caller supplies.
//!
//! The library never decides how to ask for a PIN; it calls a
//! [`PinSource`]. Provided sources, in the order [`default_source`] tries
//! them:
//!
//! 1. [`EnvPin`]: `NKBACKUP_PIN` (user PIN) / `NKBACKUP_ADMIN_PIN` (admin
//!    PIN). **For automation and tests only**: the environment of a process
//!    is visible to its owner and root.
//! 2. [`FilePin`]: the first line of a file (`--pin-file`), e.g. on a tmpfs.
//! 3. [`Pinentry`]: the `pinentry` program (GnuPG's PIN dialog), if installed
//!    and there is a terminal or display. Choosing Cancel there is
//!    [`CardError::PinCancelled`] (nothing else is asked); a pinentry that
//!    cannot show its dialog falls back to the terminal.
//! 4. [`TtyPin`]: a no-echo prompt on the terminal.
//!
//! A reader with a PIN pad takes the user PIN itself and no source is asked
//! (physical readers only; hw-tests/README.md, "Pinpad readers").
//!
//! PINs never appear on a command line (argv is world-readable in `/proc`).
//! They are held in [`SecretString`]s, which zeroize on drop and do not
//! print.

use crate::error::CardError;
use secrecy::{ExposeSecret as _, SecretString};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Which PIN is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// The user PIN (PW1), needed to decrypt.
    User,
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
            PinKind::User => "NKBACKUP_PIN",
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

/// GnuPG's `pinentry` program, spoken to over the Assuan protocol.
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
        let mut args = Vec::new();
        if std::io::IsTerminal::is_terminal(&std::io::stdin())
            && let Ok(tty) = std::fs::read_link("/proc/self/fd/0")
        {
            args.push("--ttyname".to_owned());
            args.push(tty.to_string_lossy().into_owned());
        }
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| unavailable(format!("cannot run {}: {e}", self.program.display())))?;
        let mut to = child.stdin.take().expect("piped");
        let mut from = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let expect_ok = |from: &mut BufReader<_>, line: &mut String| -> Result<(), CardError> {
            line.clear();
            from.read_line(line)
                .map_err(|e| unavailable(format!("pinentry: {e}")))?;
            if line.starts_with("OK") {
                Ok(())
            } else {
                Err(unavailable(format!("pinentry said {:?}", line.trim_end())))
            }
        };
        expect_ok(&mut from, &mut line)?;
        for cmd in [
            "SETTITLE nkbackup".to_owned(),
            format!("SETDESC {}", assuan_escape(&request.description())),
            "SETPROMPT PIN:".to_owned(),
        ] {
            writeln!(to, "{cmd}").map_err(|e| unavailable(format!("pinentry: {e}")))?;
            expect_ok(&mut from, &mut line)?;
        }
        writeln!(to, "GETPIN").map_err(|e| unavailable(format!("pinentry: {e}")))?;
        let mut pin = zeroize::Zeroizing::new(String::new());
        loop {
            let mut l = zeroize::Zeroizing::new(String::new());
            from.read_line(&mut l)
                .map_err(|e| unavailable(format!("pinentry: {e}")))?;
            if let Some(data) = l.strip_prefix("D ") {
                pin.push_str(&assuan_unescape(data.trim_end_matches('\n')));
            } else if l.starts_with("OK") {
                break;
            } else if l.starts_with('#') || l.starts_with("S ") {
                continue;
            } else {
                let _ = writeln!(to, "BYE");
                let _ = child.wait();
                if assuan_cancelled(&l) {
                    return Err(CardError::PinCancelled {
                        label: request.label.clone(),
                    });
                }
                return Err(unavailable(format!("pinentry: {}", l.trim_end())));
            }
        }
        let _ = writeln!(to, "BYE");
        drop(to);
        let _ = child.wait();
        if pin.is_empty() {
            return Err(unavailable("an empty PIN was entered".into()));
        }
        Ok(SecretString::from(pin.as_str().to_owned()))
    }
}

/// Whether an Assuan line is `ERR <code> …` with the libgpg-error code
/// GPG_ERR_CANCELED (99) or GPG_ERR_FULLY_CANCELED (198): the person
/// chose Cancel (the upper bits are the error source, e.g. 5 = pinentry).
fn assuan_cancelled(line: &str) -> bool {
    line.strip_prefix("ERR ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|code| code.parse::<u32>().ok())
        .is_some_and(|code| matches!(code & 0xFFFF, 99 | 198))
}

fn assuan_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn assuan_unescape(s: &str) -> zeroize::Zeroizing<String> {
    let b = s.as_bytes();
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(Ok(v)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    zeroize::Zeroizing::new(String::from_utf8_lossy(&out).into_owned())
}

/// A no-echo prompt on the controlling terminal (`/dev/tty`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TtyPin;

impl PinSource for TtyPin {
    fn pin(&mut self, request: &PinRequest) -> Result<SecretString, CardError> {
        let pin =
            rpassword::prompt_password(format!("{}: ", request.description())).map_err(|e| {
                CardError::PinUnavailable {
                    label: request.label.clone(),
                    reason: format!("no terminal to ask on ({e})"),
                }
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
pub fn default_source(pin_file: Option<PathBuf>) -> Box<dyn PinSource> {
    Box::new(move |req: &PinRequest| -> Result<SecretString, CardError> {
        if EnvPin::is_set(req.kind) {
            return EnvPin.pin(req);
        }
        if let (Some(f), PinKind::User) = (&pin_file, req.kind) {
            return FilePin(f.clone()).pin(req);
        }
        let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin())
            || std::env::var_os("DISPLAY").is_some()
            || std::env::var_os("WAYLAND_DISPLAY").is_some();
        if let Some(mut p) = Pinentry::find()
            && interactive
        {
            match p.pin(req) {
                Ok(pin) => return Ok(pin),
                // Cancel means cancel: no second prompt on the terminal.
                Err(e @ CardError::PinCancelled { .. }) => return Err(e),
                Err(e) => eprintln!("nkbackup: pinentry failed ({e}); asking on the terminal"),
            }
        }
        TtyPin.pin(req)
    })
}

/// Checks a PIN's shape before it is sent (OpenPGP cards take 6–127 bytes
/// for PW1 and 8–127 for PW3); a malformed PIN never costs a retry.
pub(crate) fn check_shape(pin: &SecretString, req: &PinRequest) -> Result<(), CardError> {
    let len = pin.expose_secret().len();
    let min = match req.kind {
        PinKind::User => 6,
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
    fn assuan_cancel_is_told_from_other_errors() {
        assert!(assuan_cancelled(
            "ERR 83886179 Operation cancelled <Pinentry>\n"
        ));
        assert!(assuan_cancelled("ERR 198 Operation fully cancelled"));
        assert!(!assuan_cancelled(
            "ERR 83918950 Inappropriate ioctl for device <Pinentry>"
        ));
        assert!(!assuan_cancelled("OK"));
    }

    #[test]
    fn assuan_percent_escapes_round_trip() {
        assert_eq!(assuan_unescape("12%2534%0A").as_str(), "12%34\n");
        assert_eq!(assuan_escape("a%b\nc"), "a%25b%0Ac");
        assert!(req().description().contains("3 tries left"));
    }
}
