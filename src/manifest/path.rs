//! Entry paths as stored in manifests.
//!
//! Unix file names are bytes, JSON strings are Unicode. A path that is valid
//! UTF-8 is written as a JSON string; any other path as `{"hex": "…"}`
//! holding its bytes, so no name is ever mangled or refused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A relative path inside a backup, as raw bytes with `/` separators.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryPath(Vec<u8>);

impl EntryPath {
    /// Wraps raw bytes.
    pub fn from_bytes(b: impl Into<Vec<u8>>) -> Self {
        EntryPath(b.into())
    }

    /// The path's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path as a filesystem path (relative).
    pub fn as_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.0))
    }

    /// `self/name`.
    pub fn join(&self, name: &[u8]) -> Self {
        let mut v = Vec::with_capacity(self.0.len() + 1 + name.len());
        v.extend_from_slice(&self.0);
        v.push(b'/');
        v.extend_from_slice(name);
        EntryPath(v)
    }

    /// Whether `self` equals `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &EntryPath) -> bool {
        let p = prefix.0.strip_suffix(b"/").unwrap_or(&prefix.0);
        self.0 == p || (self.0.starts_with(p) && self.0.get(p.len()) == Some(&b'/'))
    }
}

/// For messages: control characters and bytes that are not UTF-8 are
/// escaped and very long paths cut (see [`crate::text::escape_bytes`]), so
/// a name from a backup or a source tree cannot act on a terminal.
impl fmt::Display for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::escape_bytes(&self.0))
    }
}

/// Like [`Display`](fmt::Display), in quotes.
impl fmt::Debug for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", crate::text::escape_bytes(&self.0))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Hex { hex: String },
}

impl Serialize for EntryPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Same shapes as `Repr`, without copying the text.
        #[derive(Serialize)]
        struct Hex<'a> {
            hex: &'a str,
        }
        match std::str::from_utf8(&self.0) {
            Ok(t) => s.serialize_str(t),
            Err(_) => Hex {
                hex: &hex::encode(&self.0),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for EntryPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(EntryPath(t.into_bytes())),
            Repr::Hex { hex } => hex::decode(hex)
                .map(EntryPath)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_raw_paths_round_trip() {
        for p in [&b"prosody/data.db"[..], &b"bad\xffname"[..]] {
            let e = EntryPath::from_bytes(p);
            let j = serde_json::to_string(&e).unwrap();
            let back: EntryPath = serde_json::from_str(&j).unwrap();
            assert_eq!(back, e, "{j}");
        }
        assert_eq!(
            serde_json::to_string(&EntryPath::from_bytes(&b"a\xff"[..])).unwrap(),
            r#"{"hex":"61ff"}"#
        );
    }

    #[test]
    fn names_are_shown_escaped() {
        let p = EntryPath::from_bytes(&b"logs/\x1b]0;owned\x07x\xff"[..]);
        assert_eq!(p.to_string(), "logs/\\u{1b}]0;owned\\u{7}x\\xff");
        assert_eq!(format!("{p:?}"), "\"logs/\\u{1b}]0;owned\\u{7}x\\xff\"");
    }

    #[test]
    fn prefix_matches_whole_components() {
        let p = EntryPath::from_bytes("logs/x.log");
        assert!(p.starts_with(&EntryPath::from_bytes("logs")));
        assert!(p.starts_with(&EntryPath::from_bytes("logs/")));
        assert!(p.starts_with(&EntryPath::from_bytes("logs/x.log")));
        assert!(!p.starts_with(&EntryPath::from_bytes("log")));
    }
}
