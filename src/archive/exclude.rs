//! What a seal leaves out: gitignore-style patterns, other file systems,
//! and cache directories tagged with `CACHEDIR.TAG`.
//!
//! Patterns are matched by the `ignore` crate's gitignore matcher against
//! the absolute path of every object the walk reaches, as if a
//! `.gitignore` lay at `/`: `*.tmp` matches a name anywhere,
//! `/var/lib/app/cache` one path, `cache/` only directories, `!keep.tmp`
//! re-includes. An excluded directory is not walked at all.
//! `one_file_system` stores a mount point below a source as an empty
//! directory, `exclude_caches` stores a directory holding a valid
//! `CACHEDIR.TAG` (<https://bford.info/cachedir/>) as an empty directory.
//! [`Exclusions::describe`] is what the inner manifest's header records.

use crate::error::{Error, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::path::Path;

/// Most patterns one seal takes.
pub const MAX_PATTERNS: usize = 1000;
/// Longest pattern accepted.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// The first bytes of a valid `CACHEDIR.TAG`.
pub const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// What a seal leaves out.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    patterns: Vec<String>,
    matcher: Option<Gitignore>,
    /// Do not descend into other file systems.
    pub one_file_system: bool,
    /// Leave out the content of directories tagged `CACHEDIR.TAG`.
    pub exclude_caches: bool,
}

impl Exclusions {
    /// Builds the matcher for `patterns` (gitignore syntax, one per item;
    /// empty items and `#` comments are ignored).
    pub fn new(patterns: &[String], one_file_system: bool, exclude_caches: bool) -> Result<Self> {
        let bad = |p: &str, reason: String| Error::InvalidName {
            what: "exclude pattern",
            value: crate::text::escape(p).to_string(),
            reason,
        };
        let kept: Vec<String> = patterns
            .iter()
            .map(|p| p.trim_end_matches(['\n', '\r']).to_owned())
            .filter(|p| !p.trim().is_empty() && !p.starts_with('#'))
            .collect();
        if kept.len() > MAX_PATTERNS {
            return Err(bad(
                "",
                format!("more than {MAX_PATTERNS} patterns; combine them with wildcards"),
            ));
        }
        let mut b = GitignoreBuilder::new("/");
        for p in &kept {
            if p.len() > MAX_PATTERN_BYTES || p.chars().any(char::is_control) {
                return Err(bad(
                    p,
                    format!("longer than {MAX_PATTERN_BYTES} bytes or holds control characters"),
                ));
            }
            b.add_line(None, p).map_err(|e| bad(p, e.to_string()))?;
        }
        let matcher = if kept.is_empty() {
            None
        } else {
            Some(b.build().map_err(|e| bad("", e.to_string()))?)
        };
        Ok(Exclusions {
            patterns: kept,
            matcher,
            one_file_system,
            exclude_caches,
        })
    }

    /// Reads patterns from a file, one per line (gitignore syntax).
    pub fn read_patterns(path: &Path) -> Result<Vec<String>> {
        use std::io::Read;
        let ctx = || format!("reading the exclude file {}", path.display());
        let mut text = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(1 << 20).read_to_end(&mut text))
            .map_err(|e| Error::io(ctx(), e))?;
        let text = String::from_utf8(text).map_err(|_| Error::InvalidName {
            what: "exclude file",
            value: path.display().to_string(),
            reason: "it is not UTF-8 text".into(),
        })?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// Whether nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none() && !self.one_file_system && !self.exclude_caches
    }

    /// Whether patterns were given (the walk then needs absolute paths).
    pub fn has_patterns(&self) -> bool {
        self.matcher.is_some()
    }

    /// Whether the object at absolute path `abs` is excluded by a pattern.
    pub fn matches(&self, abs: &Path, is_dir: bool) -> bool {
        self.matcher
            .as_ref()
            .is_some_and(|m| m.matched(abs, is_dir).is_ignore())
    }

    /// The rules, as the inner manifest's header records them: each
    /// pattern, then `--one-file-system` and `--exclude-caches` if set.
    pub fn describe(&self) -> Vec<String> {
        let mut out = self.patterns.clone();
        if self.one_file_system {
            out.push("--one-file-system".into());
        }
        if self.exclude_caches {
            out.push("--exclude-caches".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_semantics_on_absolute_paths() {
        let e = Exclusions::new(
            &[
                "*.tmp".into(),
                "/srv/app/cache".into(),
                "logs/".into(),
                "!keep.tmp".into(),
                "# a comment".into(),
            ],
            false,
            false,
        )
        .unwrap();
        assert!(e.matches(Path::new("/srv/app/x.tmp"), false));
        assert!(!e.matches(Path::new("/srv/app/keep.tmp"), false));
        assert!(e.matches(Path::new("/srv/app/cache"), true));
        assert!(!e.matches(Path::new("/srv/other/cache"), true));
        assert!(e.matches(Path::new("/srv/app/logs"), true));
        assert!(!e.matches(Path::new("/srv/app/logs"), false));
        assert_eq!(e.describe().len(), 4);
        assert!(Exclusions::new(&["a\u{1b}b".into()], false, false).is_err());
    }
}
