//! Object keys: the checked names of a repository's objects.
//!
//! Every [`super::Storage`] method takes an [`ObjectKey`], and the only way
//! to make one is [`ObjectKey::new`], which refuses anything that could
//! name a place outside the repository or something other than one object:
//! an empty key, a leading `/`, empty, `.` or `..` components, NUL and
//! other control characters, and keys longer than [`MAX_KEY_LEN`] bytes.
//! Keys that come from the repository itself (a journal line, a bucket
//! listing) are therefore checked once, where they enter, and a backend
//! never has to wonder whether `backups/../../etc/passwd` reached it.

use std::fmt;

/// The longest key accepted, in bytes (S3's own limit is 1024).
pub const MAX_KEY_LEN: usize = 1024;

/// A relative, `/`-separated object name inside a repository, checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ObjectKey(String);

pub use crate::error::KeyError;

impl ObjectKey {
    /// Checks `s` and makes it a key.
    pub fn new(s: impl Into<String>) -> crate::Result<Self> {
        Ok(Self::parse(s)?)
    }

    /// [`ObjectKey::new`] with its own error.
    pub(crate) fn parse(s: impl Into<String>) -> Result<Self, KeyError> {
        let s = s.into();
        match problem(&s) {
            None => Ok(ObjectKey(s)),
            Some(reason) => Err(KeyError {
                key: s.chars().take(200).flat_map(char::escape_debug).collect(),
                reason,
            }),
        }
    }

    /// A key made from parts that are known to be well formed (constants
    /// and checked ids, class names and labels). Panics on a malformed
    /// key: that is a bug in nkbackup, not bad input.
    pub(crate) fn from_parts(parts: &[&str]) -> Self {
        let joined = parts.join("/");
        match Self::parse(joined) {
            Ok(k) => k,
            Err(e) => panic!("nkbackup built a malformed object key: {e}"),
        }
    }

    /// `self/name`, checked.
    pub fn join(&self, name: &str) -> crate::Result<Self> {
        Self::new(format!("{}/{name}", self.0))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Everything before the last component, if there is anything.
    pub fn parent(&self) -> Option<ObjectKey> {
        self.0
            .rsplit_once('/')
            .map(|(p, _)| ObjectKey(p.to_owned()))
    }

    /// Whether `self` lies below `dir` (`dir/…`).
    pub fn is_below(&self, dir: &ObjectKey) -> bool {
        self.0.len() > dir.0.len() + 1
            && self.0.starts_with(&dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
    }
}

fn problem(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        return Some("it is empty");
    }
    if s.len() > MAX_KEY_LEN {
        return Some("it is longer than 1024 bytes");
    }
    if s.starts_with('/') {
        return Some("it is absolute");
    }
    if s.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    for c in s.split('/') {
        match c {
            "" => return Some("it has an empty component"),
            "." | ".." => return Some("it has a '.' or '..' component"),
            _ => {}
        }
    }
    None
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_everything_that_is_not_one_object_inside() {
        for bad in [
            "",
            "/etc/passwd",
            "backups/../../x",
            "backups/./x",
            "..",
            ".",
            "a//b",
            "a/",
            "a\0b",
            "a\nb",
            "a\u{1b}[2Jb",
        ] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(ObjectKey::new("x".repeat(1025)).is_err());
        for good in [
            "nkbackup.toml",
            "backups/logs/20261122T052407Z-3fa9c1d2.age",
            "a..b/.hidden",
            "x".repeat(1024).as_str(),
        ] {
            assert_eq!(ObjectKey::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn parts_and_prefixes() {
        let k = ObjectKey::new("backups/logs/x.json").unwrap();
        assert_eq!(k.name(), "x.json");
        assert_eq!(k.parent().unwrap().as_str(), "backups/logs");
        assert!(k.is_below(&ObjectKey::new("backups").unwrap()));
        assert!(!k.is_below(&ObjectKey::new("back").unwrap()));
        assert!(!k.is_below(&k));
        assert_eq!(
            k.components().collect::<Vec<_>>(),
            ["backups", "logs", "x.json"]
        );
        let e = ObjectKey::new("a/../b").unwrap_err().to_string();
        assert!(e.contains("'..'"), "{e}");
    }
}
