//! Output helpers for the CLI.

use anyhow::Result;
use serde::Serialize;

/// Prints `v` as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub use nkbackup::util::rfc3339;

/// What is said for a hint this CLI has no wording for (a test keeps
/// every hint worded).
const FALLBACK_HINT: &str = "see docs/CLI.md";

/// A library hint worded as what to type.
pub fn hint(h: nkbackup::Hint) -> &'static str {
    match h {
        nkbackup::Hint::UseRecoveryKey => {
            "use --recovery-key (or --recovery-key-file, --recovery-shares)"
        }
        nkbackup::Hint::LongerPassphrase => "choose a longer one (a few words)",
        nkbackup::Hint::EnrollCard => {
            "enroll one with `nkbackup card enroll`; a card already used through an age recipient (age-plugin-openpgp-card) is taken over with `nkbackup card enroll --adopt LABEL`"
        }
        nkbackup::Hint::ListRecipients => "`nkbackup recipient list` shows the enrolled ones",
        nkbackup::Hint::NameCard => "name the one to drill with --card IDENT",
        nkbackup::Hint::NameOneToken => "give exactly one of -i KEYFILE, --card or --recovery-key…",
        nkbackup::Hint::InitRepository => {
            "create one with `nkbackup init --repo DIR`, or point --repo / NKBACKUP_REPO at an existing one"
        }
        nkbackup::Hint::AddRecipient => "add one with `nkbackup recipient add --repo DIR age1...`",
        nkbackup::Hint::ListBackups => "`nkbackup list` shows the ids",
        nkbackup::Hint::SkipUnreadable => {
            "or seal with --skip-unreadable to record it and continue"
        }
        nkbackup::Hint::ForceRestore => {
            "or pass --force to replace the backup's top-level entries in the target"
        }
        nkbackup::Hint::ReplaceRecoveryKey => "pass --replace to make a new one",
        nkbackup::Hint::MakeRecoveryKey => "make one with `nkbackup recovery-key new --repo DIR`",
        nkbackup::Hint::ListEscrow => "`nkbackup escrow list` shows what is escrowed",
        nkbackup::Hint::AuditJournals => "`nkbackup retention verify` lists every damaged line",
        nkbackup::Hint::SealWithoutStrict => "or seal without --strict to only warn",
        nkbackup::Hint::ListCards => "`nkbackup card list` shows the cards present",
        nkbackup::Hint::ChooseCard => "choose one with --ident (or --card IDENT)",
        nkbackup::Hint::LongerCardTimeout => "--card-timeout sets how long to wait",
        nkbackup::Hint::GenerateCardKey => {
            "`nkbackup card generate --ident IDENT --algo cv25519 --yes` makes one"
        }
        nkbackup::Hint::AllowLastPinTry => "run again with --i-know-the-last-try",
        nkbackup::Hint::GivePin => "or with --pin-file, or for automation in NKBACKUP_PIN",
        nkbackup::Hint::VerifyBackup => {
            "`nkbackup verify ID` checks the ciphertext against the sidecar"
        }
        _ => FALLBACK_HINT,
    }
}

/// `s` safe for a terminal: control characters other than newline and tab
/// escaped (the library escapes the names it puts in messages; this
/// catches whatever else reaches the screen).
pub fn safe(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let keep = !c.is_control() || c == '\n' || c == '\t';
            let esc: Vec<char> = if keep {
                vec![c]
            } else {
                format!("\\u{{{:x}}}", c as u32).chars().collect()
            };
            esc
        })
        .collect()
}

/// Prints a warning on standard error, made safe for a terminal.
pub fn warn(msg: impl std::fmt::Display) {
    eprintln!("warning: {}", safe(&msg.to_string()));
}

/// Warns if a listing could not write the sidecar cache.
pub fn warn_cache(l: &nkbackup::repo::Listing) {
    if let Some(p) = &l.cache_problem {
        warn(format!(
            "the sidecar cache was not written ({p}); the listing is complete, but the next one fetches every new sidecar again: give --cache-dir a writable directory, or --no-cache"
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_hint_is_worded_as_a_command() {
        for h in nkbackup::Hint::ALL {
            assert_ne!(super::hint(*h), super::FALLBACK_HINT, "{h:?}");
        }
    }

    #[test]
    fn safe_keeps_lines_and_escapes_the_rest() {
        assert_eq!(super::safe("a\nb\tc\u{1b}[2J"), "a\nb\tc\\u{1b}[2J");
    }
}
