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

/// A library hint worded as what to type.
pub fn hint(h: nkbackup::Hint) -> &'static str {
    match h {
        nkbackup::Hint::UseRecoveryKey => {
            "use --recovery-key (or --recovery-key-file, --recovery-shares)"
        }
        nkbackup::Hint::LongerPassphrase => "choose a longer one (a few words)",
        nkbackup::Hint::EnrollCard => "`nkbackup card enroll` adds one",
        nkbackup::Hint::ListRecipients => "`nkbackup recipient list` shows the enrolled ones",
        nkbackup::Hint::NameCard => "name the one to drill with --card IDENT",
        nkbackup::Hint::NameOneToken => "give exactly one of -i KEYFILE, --card or --recovery-key…",
        _ => "see docs/CLI.md",
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

#[cfg(test)]
mod tests {
    #[test]
    fn safe_keeps_lines_and_escapes_the_rest() {
        assert_eq!(super::safe("a\nb\tc\u{1b}[2J"), "a\nb\tc\\u{1b}[2J");
    }
}
