//! The shape rules of a backup's entry list, checked in one pass with
//! bounded memory.
//!
//! nkbackup writes each source as a depth-first walk: a directory, then its
//! entries in byte order of their names, each subdirectory's entries right
//! after it. A reader can hold that shape to account with a stack of the
//! directories it is in:
//!
//! * an entry below a stored directory must be a child of the directory
//!   last entered, and come after its previous sibling in byte order; so no
//!   path appears twice, and nothing lies below a symlink or a file (only
//!   directories are ever entered);
//! * an entry that is no stored directory's child starts a source (a
//!   *root*): no two roots are equal or one below the other;
//! * a hard link's target must not be a stored directory or symlink, nor
//!   lie below a stored symlink.
//!
//! Directories, symlinks, roots and the ancestors of roots are remembered
//! as 64-bit keyed hashes (SipHash with a per-process random key, so a
//! forged stream cannot aim for a collision), each set bounded
//! ([`DIRS_AND_SYMLINKS`], [`SOURCES`]). Checking a path costs time linear
//! in its length.

use crate::limits::{DIRS_AND_SYMLINKS, SOURCE_NAME_COMPONENTS, SOURCES};
use crate::manifest::{EntryKind, EntryPath};
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// A hasher for keys that are already random 64-bit hashes.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashedSet = HashSet<u64, BuildHasherDefault<Passthrough>>;

/// A directory being walked: its path and the name of its last child.
struct Open {
    path: Vec<u8>,
    last_child: Option<Vec<u8>>,
}

/// Why an entry is refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// It would be written through a symlink stored earlier.
    ThroughSymlink,
    /// It breaks the shape of a stream nkbackup writes.
    Shape(String),
}

/// Checks entries against the shape rules, in stream order.
pub(super) struct Order {
    keys: RandomState,
    stack: Vec<Open>,
    roots: HashedSet,
    root_ancestors: HashedSet,
    dirs: HashedSet,
    symlinks: HashedSet,
}

impl Order {
    pub(super) fn new() -> Self {
        Order {
            keys: RandomState::new(),
            stack: Vec::new(),
            roots: HashedSet::default(),
            root_ancestors: HashedSet::default(),
            dirs: HashedSet::default(),
            symlinks: HashedSet::default(),
        }
    }

    fn hash(&self, b: &[u8]) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write(b);
        h.finish()
    }

    /// The hashes of the proper prefixes of `p` that end before a `/`,
    /// shortest first, and the hash of `p` itself.
    fn prefixes(&self, p: &[u8]) -> (Vec<u64>, u64) {
        let mut h = self.keys.build_hasher();
        let mut out = Vec::new();
        let mut from = 0;
        for (i, &c) in p.iter().enumerate() {
            if c == b'/' {
                h.write(&p[from..i]);
                out.push(h.clone().finish());
                from = i;
            }
        }
        h.write(&p[from..]);
        (out, h.finish())
    }

    /// Admits the next entry of the stream, or says why not.
    pub(super) fn admit(&mut self, path: &EntryPath, kind: EntryKind) -> Result<(), Refusal> {
        self.admit_shape(path, kind).map_err(|why| {
            let (ancestors, _) = self.prefixes(path.as_bytes());
            if ancestors.iter().any(|a| self.symlinks.contains(a)) {
                Refusal::ThroughSymlink
            } else {
                Refusal::Shape(why)
            }
        })
    }

    fn admit_shape(&mut self, path: &EntryPath, kind: EntryKind) -> Result<(), String> {
        let p = path.as_bytes();
        while let Some(top) = self.stack.last() {
            let inside =
                p.len() > top.path.len() && p.starts_with(&top.path) && p[top.path.len()] == b'/';
            if inside {
                break;
            }
            self.stack.pop();
        }
        if let Some(top) = self.stack.last_mut() {
            let rest = &p[top.path.len() + 1..];
            if rest.contains(&b'/') {
                return Err(format!(
                    "it lies below {} without its parent directory stored in between (entries out of order, or below a symlink or file)",
                    crate::text::escape_bytes(&top.path)
                ));
            }
            if top.last_child.as_deref().is_some_and(|last| rest <= last) {
                return Err(
                    "it repeats an earlier path or is out of order (nkbackup stores a directory's entries once, in byte order)"
                        .into(),
                );
            }
            top.last_child = Some(rest.to_vec());
        } else {
            self.admit_root(p)?;
        }
        match kind {
            EntryKind::Dir => {
                self.remember(true, p)?;
                self.stack.push(Open {
                    path: p.to_vec(),
                    last_child: None,
                });
            }
            EntryKind::Symlink => self.remember(false, p)?,
            _ => {}
        }
        Ok(())
    }

    fn admit_root(&mut self, p: &[u8]) -> Result<(), String> {
        let (ancestors, whole) = self.prefixes(p);
        if self.roots.contains(&whole) || self.root_ancestors.contains(&whole) {
            return Err("it repeats or contains an earlier top-level entry".into());
        }
        if ancestors.iter().any(|a| self.roots.contains(a)) {
            return Err(
                "it lies below an earlier top-level entry that is not a directory stored before it"
                    .into(),
            );
        }
        if self.roots.len() >= SOURCES
            || self.root_ancestors.len() + ancestors.len() > SOURCES * SOURCE_NAME_COMPONENTS
        {
            return Err(format!(
                "the backup has more than {SOURCES} top-level entries, more than nkbackup writes"
            ));
        }
        self.roots.insert(whole);
        self.root_ancestors.extend(ancestors);
        Ok(())
    }

    fn remember(&mut self, dir: bool, p: &[u8]) -> Result<(), String> {
        if self.dirs.len() + self.symlinks.len() >= DIRS_AND_SYMLINKS {
            return Err(format!(
                "the backup has more than {DIRS_AND_SYMLINKS} directories and symlinks, more than nkbackup reads"
            ));
        }
        let h = self.hash(p);
        if dir {
            self.dirs.insert(h);
        } else {
            self.symlinks.insert(h);
        }
        Ok(())
    }

    /// Checks a hard link's (already safe) target.
    pub(super) fn hardlink_target(&self, target: &EntryPath) -> Result<(), &'static str> {
        let (ancestors, whole) = self.prefixes(target.as_bytes());
        if self.dirs.contains(&whole) {
            return Err("hard link to a directory");
        }
        if self.symlinks.contains(&whole) || ancestors.iter().any(|a| self.symlinks.contains(a)) {
            return Err("hard link to or through a symlink");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(entries: &[(&str, EntryKind)]) -> Result<(), Refusal> {
        let mut o = Order::new();
        for (p, k) in entries {
            o.admit(&EntryPath::from_bytes(*p), *k)?;
        }
        Ok(())
    }

    use EntryKind::{Dir, File, Symlink};

    #[test]
    fn what_the_walk_writes_is_admitted() {
        run(&[
            ("svc", Dir),
            ("svc/a", Dir),
            ("svc/a/x", File),
            ("svc/a/y", Symlink),
            ("svc/b", File),
            ("svc/c", Dir),
            ("svc/c/d", Dir),
            ("svc/z", File),
            ("chat.sql", File),
            ("dumps/x/one.sql", File),
            ("dumps/x/two", Dir),
            ("dumps/x/two/f", File),
            ("dumps/y.sql", File),
        ])
        .unwrap();
    }

    #[test]
    fn repeats_disorder_and_paths_below_non_directories_are_refused() {
        for bad in [
            vec![("a", Dir), ("a/x", File), ("a/x", File)],
            vec![("a", Dir), ("a/y", File), ("a/x", File)],
            vec![("a", Dir), ("a/x", Dir), ("a/x", Dir)],
            vec![("a", File), ("a", File)],
            vec![("a", Dir), ("b", File), ("a", Dir)],
            vec![("a", Dir), ("a/f", File), ("a/f/x", File)],
            vec![("a", Dir), ("a/x/y", File)],
            vec![("a/b", File), ("a", Dir)],
            vec![("a", File), ("a/b", File)],
        ] {
            assert!(matches!(run(&bad), Err(Refusal::Shape(_))), "{bad:?}");
        }
        for through in [
            vec![("a", Symlink), ("a/x", File)],
            vec![("a", Dir), ("a/l", Symlink), ("a/l/x", File)],
            vec![("a", Dir), ("a/l", Symlink), ("a/l/x/y", Dir)],
        ] {
            assert_eq!(run(&through), Err(Refusal::ThroughSymlink), "{through:?}");
        }
    }

    #[test]
    fn hard_links_to_directories_and_symlinks_are_refused() {
        let mut o = Order::new();
        for (p, k) in [("a", Dir), ("a/d", Dir), ("a/f", File), ("a/l", Symlink)] {
            o.admit(&EntryPath::from_bytes(p), k).unwrap();
        }
        let t = |p: &str| o.hardlink_target(&EntryPath::from_bytes(p));
        assert!(t("a/f").is_ok());
        assert!(t("a/d").is_err());
        assert!(t("a").is_err());
        assert!(t("a/l").is_err());
        assert!(t("a/l/x").is_err());
        assert!(
            t("a/other").is_ok(),
            "a missing target is the restore's to report"
        );
    }

    #[test]
    fn prefix_hashes_equal_whole_hashes() {
        let o = Order::new();
        let (prefixes, whole) = o.prefixes(b"ab/cd/e");
        assert_eq!(whole, o.hash(b"ab/cd/e"));
        assert_eq!(prefixes, vec![o.hash(b"ab"), o.hash(b"ab/cd")]);
    }
}
