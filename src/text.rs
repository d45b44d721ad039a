//! Making untrusted names safe to show.
//!
//! File names from a source tree or a backup, labels and host names from a
//! sidecar, a lock holder's line: all of them end up in messages that an
//! administrator reads in a terminal, where an escape sequence could clear
//! the screen, rewrite earlier lines or retitle the window, and in logs,
//! where a newline forges a line. Every such string passes through
//! [`escape`] or [`escape_bytes`] before it is put in a message: control
//! characters (C0, DEL, C1) and the Unicode bidirectional overrides are
//! written as `\u{…}`, bytes that are not UTF-8 as `\xNN`, and very long
//! names are cut.

use std::fmt::Write as _;

/// At most this many bytes of a name are shown; the rest is summarized.
pub const SHOWN_BYTES: usize = 512;

/// Whether `c` must not reach a terminal as it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character and bidirectional override escaped.
pub fn escape(s: &str) -> String {
    if !s.chars().any(needs_escape) && s.len() <= SHOWN_BYTES {
        return s.to_owned();
    }
    escape_bytes(s.as_bytes())
}

/// Raw name bytes as safe text: UTF-8 where they are, `\xNN` where not,
/// control characters escaped, cut after [`SHOWN_BYTES`] bytes with the
/// full length said.
pub fn escape_bytes(b: &[u8]) -> String {
    let shown = &b[..b.len().min(SHOWN_BYTES)];
    let mut out = String::with_capacity(shown.len());
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            if needs_escape(c) {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    if b.len() > shown.len() {
        let _ = write!(out, "…({} bytes in all)", b.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escape("logs/x.log"), "logs/x.log");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("line\nforged"), "line\\u{a}forged");
        assert_eq!(escape("x\u{202E}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(escape_bytes(b"caf\xe9"), "caf\\xe9");
        let long = escape_bytes(&vec![b'a'; 10_000]);
        assert!(long.len() < 600, "{}", long.len());
        assert!(long.ends_with("…(10000 bytes in all)"), "{long}");
    }
}
