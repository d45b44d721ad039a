//! What backups hold: the entries of one backup ([`Opener::entries`],
//! `nkbackup ls`) and the backups that hold matching paths ([`find`],
//! `nkbackup find`).
//!
//! Both read the authenticated inner manifest, which lies inside the
//! encryption (file names are personal data), so both need a key. A
//! backup whose payload has an index (format 2, compressed classes) is
//! read through it (in a bucket by range requests): the age header, the seek table
//! and the manifest's frames, nothing before them
//! ([`Opener::read_index`]). Otherwise it is read from start to end and
//! deep-verified on the way.
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! let backup = repo.find("latest")?;
//! let listing = nkbackup::Opener::new(&backup)
//!     .identity_file("key.txt".as_ref())?
//!     .entries(&["var/mail/alice".into()])?;
//! for e in &listing.entries {
//!     println!("{} {}", e.path, e.size);
//! }
//! # Ok(()) }
//! ```

use crate::archive::{Collect, EntrySink};
use crate::error::{Error, Result};
use crate::manifest::{Entry, EntryPath};
use crate::open::{IndexReport, Opener, VerifyReport};
use crate::repo::Repository;
use serde::Serialize;
use std::os::unix::ffi::OsStrExt;

/// The entries of one backup, as its inner manifest lists them.
#[derive(Debug, Clone, Serialize)]
pub struct EntryListing {
    /// The backup id.
    pub id: String,
    /// Its class.
    pub class: String,
    /// The entries at or below the paths asked for (all without any), in
    /// the manifest's order; objects the seal skipped have type `skipped`.
    pub entries: Vec<Entry>,
    /// What was read and checked to list them.
    pub read: HowRead,
}

/// How a listing was read.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum HowRead {
    /// Through the payload's index: only the manifest's part of it.
    Index(IndexReport),
    /// From start to end, with a deep verification.
    Sequential(VerifyReport),
}

impl HowRead {
    /// Ciphertext bytes read.
    pub fn ciphertext_read(&self) -> u64 {
        match self {
            HowRead::Index(r) => r.ciphertext_read,
            HowRead::Sequential(v) => v.ciphertext_bytes,
        }
    }
}

impl Opener<'_> {
    /// The entries at or below `paths` (every entry if empty), read from
    /// the authenticated inner manifest: through the payload's index where
    /// it has one ([`Opener::read_index`]), else reading the whole backup
    /// and checking every entry's content on the way, as
    /// [`Opener::verify_deep`] does ([`EntryListing::read`] says which).
    /// [`Error::PathNotInBackup`] for a path that names nothing.
    pub fn entries(&self, paths: &[String]) -> Result<EntryListing> {
        let wanted: Vec<EntryPath> = paths
            .iter()
            .map(|p| EntryPath::from_bytes(p.trim_matches('/').as_bytes()))
            .collect();
        let mut hit = vec![false; wanted.len()];
        let mut sink = Collect {
            keep: |e: &Entry| {
                if wanted.is_empty() {
                    return true;
                }
                let mut any = false;
                for (w, h) in wanted.iter().zip(hit.iter_mut()) {
                    if e.path.starts_with(w) {
                        *h = true;
                        any = true;
                    }
                }
                any
            },
            entries: Vec::new(),
        };
        let read = self.manifest_entries(&mut sink)?;
        let entries = sink.entries;
        let b = self.backup();
        if let Some(i) = hit.iter().position(|h| !h) {
            return Err(Error::PathNotInBackup {
                id: b.sidecar.id.clone(),
                path: wanted[i].to_string(),
            });
        }
        Ok(EntryListing {
            id: b.sidecar.id.clone(),
            class: b.sidecar.class.clone(),
            entries,
            read,
        })
    }

    /// Feeds the manifest's entries to `sink`, through the index where the
    /// backup has one, else reading it whole.
    fn manifest_entries(&self, sink: &mut dyn EntrySink) -> Result<HowRead> {
        match self.read_index(sink)? {
            Some(r) => Ok(HowRead::Index(r)),
            None => self.verify_with(sink).map(HowRead::Sequential),
        }
    }
}

/// A glob over entry paths, as `nkbackup find` takes it: a pattern without
/// `/` matches an entry's last name (`*.mbox`, `alice`), one with `/`
/// matches its whole path (`var/mail/*`, `**/inbox`); `*` and `?` stay
/// within a name, `**` crosses `/`.
#[derive(Debug, Clone)]
pub struct PathPattern {
    glob: globset::GlobMatcher,
    whole_path: bool,
}

impl PathPattern {
    /// Parses `pattern`; [`Error::InvalidName`] if it is not a valid glob.
    pub fn new(pattern: &str) -> Result<Self> {
        let trimmed = pattern.trim_start_matches('/');
        let glob = globset::GlobBuilder::new(trimmed)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| Error::InvalidName {
                what: "find pattern",
                value: crate::text::escape(pattern),
                reason: format!("{e} (a glob: *.mbox, var/mail/*, **/inbox)"),
            })?
            .compile_matcher();
        Ok(PathPattern {
            glob,
            whole_path: trimmed.contains('/'),
        })
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &EntryPath) -> bool {
        let bytes = path.as_bytes();
        let subject = if self.whole_path {
            bytes
        } else {
            bytes.rsplit(|&c| c == b'/').next().unwrap_or(bytes)
        };
        self.glob
            .is_match(std::path::Path::new(std::ffi::OsStr::from_bytes(subject)))
    }
}

/// What [`find`] found.
#[derive(Debug, Default, Serialize)]
pub struct FindReport {
    /// The backups holding matching entries (oldest first), each with them.
    pub found: Vec<EntryListing>,
    /// How many backups were searched.
    pub searched: usize,
    /// Backups that could not be searched (no key for them, damaged),
    /// with the reason: the search went on without them.
    pub problems: Vec<FindProblem>,
}

/// A backup [`find`] could not search.
#[derive(Debug, Serialize)]
pub struct FindProblem {
    /// The backup id.
    pub id: String,
    /// Why.
    pub error: String,
}

/// Searches every backup (of `class`, if given) for entries whose path
/// matches `pattern`, opening each with `keys`: one card operation per
/// backup at most. `progress` is told each backup before it is read.
pub fn find(
    repo: &Repository,
    keys: &crate::unlock::Keys<'_>,
    pattern: &PathPattern,
    class: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<FindReport> {
    if let Some(c) = class {
        repo.config().class(c)?;
    }
    if keys.is_empty() {
        return Err(Error::NoIdentity {
            id: "(every backup searched)".into(),
        });
    }
    let listing = repo.list()?;
    let mut out = FindReport::default();
    for b in listing
        .backups
        .iter()
        .filter(|b| class.is_none_or(|c| b.sidecar.class == c))
    {
        progress(&b.sidecar.id);
        out.searched += 1;
        let mut sink = Collect {
            keep: |e: &Entry| pattern.matches(&e.path),
            entries: Vec::new(),
        };
        match Opener::new(b).shared_keys(keys).manifest_entries(&mut sink) {
            Ok(read) => {
                if !sink.entries.is_empty() {
                    out.found.push(EntryListing {
                        id: b.sidecar.id.clone(),
                        class: b.sidecar.class.clone(),
                        entries: sink.entries,
                        read,
                    });
                }
            }
            Err(e) => out.problems.push(FindProblem {
                id: b.sidecar.id.clone(),
                error: e.to_string(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_or_whole_paths() {
        let p = |s: &str| EntryPath::from_bytes(s.as_bytes());
        let name = PathPattern::new("*.mbox").unwrap();
        assert!(name.matches(&p("var/mail/alice.mbox")));
        assert!(name.matches(&p("alice.mbox")));
        assert!(!name.matches(&p("var/mail.mbox/x")));
        let whole = PathPattern::new("/var/mail/*").unwrap();
        assert!(whole.matches(&p("var/mail/alice.mbox")));
        assert!(
            !whole.matches(&p("var/mail/alice/inbox")),
            "* stays in a name"
        );
        let deep = PathPattern::new("var/**/inbox").unwrap();
        assert!(deep.matches(&p("var/mail/alice/inbox")));
        assert!(PathPattern::new("a[").is_err());
    }
}
