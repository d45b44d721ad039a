//! Comparing a backup, as it streams, with the live source tree.
//!
//! Backup paths start with the source's name (`prosody/…`). A live path
//! whose last component is that name stands for the source itself
//! (`--compare /var/lib/prosody`); any other live path is taken as the
//! parent of all sources (`--compare /var/lib`). Files are compared by
//! SHA-256, symlinks by target. Afterwards the live tree is walked for
//! files the backup does not hold; for that the backup's paths are kept in
//! memory (one entry per path — a drill, not the nightly seal).

use super::record::CompareSummary;
use crate::archive::EntrySink;
use crate::digest::{HashingReader, digest_reader};
use crate::error::Result;
use crate::manifest::{Entry, EntryKind};
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const MAX_EXAMPLES: usize = 50;

/// A sink that compares entries with a live tree, then passes them on.
pub struct CompareSink<'a> {
    live: PathBuf,
    inner: &'a mut dyn EntrySink,
    seen: HashSet<Vec<u8>>,
    tops: HashSet<Vec<u8>>,
    /// What was found.
    pub summary: CompareSummary,
}

impl<'a> CompareSink<'a> {
    /// Compares with `live`, forwarding every entry to `inner`.
    pub fn new(live: &Path, inner: &'a mut dyn EntrySink) -> Self {
        CompareSink {
            live: live.to_owned(),
            inner,
            seen: HashSet::new(),
            tops: HashSet::new(),
            summary: CompareSummary {
                path: live.display().to_string(),
                ..Default::default()
            },
        }
    }

    fn live_path(&self, entry: &[u8]) -> PathBuf {
        let (top, rest) = match entry.iter().position(|&c| c == b'/') {
            Some(i) => (&entry[..i], Some(&entry[i + 1..])),
            None => (entry, None),
        };
        if self.live.file_name().map(|n| n.as_bytes()) == Some(top) {
            match rest {
                Some(r) => self.live.join(std::ffi::OsStr::from_bytes(r)),
                None => self.live.clone(),
            }
        } else {
            self.live.join(std::ffi::OsStr::from_bytes(entry))
        }
    }

    fn differ(&mut self, what: String, missing: bool) {
        if missing {
            self.summary.missing += 1;
        } else {
            self.summary.changed += 1;
        }
        if self.summary.examples.len() < MAX_EXAMPLES {
            self.summary.examples.push(what);
        }
    }

    /// Walks the live tree for files the backup does not hold.
    pub fn finish(mut self) -> CompareSummary {
        let roots: Vec<PathBuf> = self
            .tops
            .iter()
            .map(|t| self.live_path(t))
            .filter(|p| p.exists())
            .collect();
        let mut stack = roots;
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                if let Ok(ft) = e.file_type() {
                    if ft.is_dir() {
                        stack.push(p.clone());
                    }
                    if !self.seen.contains(p.as_os_str().as_bytes()) {
                        self.summary.extra += 1;
                        if self.summary.examples.len() < MAX_EXAMPLES {
                            self.summary.examples.push(format!(
                                "{}: in the live tree, not in the backup",
                                p.display()
                            ));
                        }
                    }
                }
            }
        }
        self.summary
    }
}

impl EntrySink for CompareSink<'_> {
    fn entry(&mut self, e: &Entry, data: &mut dyn Read) -> Result<()> {
        let live = self.live_path(e.path.as_bytes());
        self.seen.insert(live.as_os_str().as_bytes().to_vec());
        let top = e
            .path
            .as_bytes()
            .split(|&c| c == b'/')
            .next()
            .unwrap_or_default();
        self.tops.insert(top.to_vec());
        let meta = fs::symlink_metadata(&live);
        let name = e.path.to_string();
        match (e.kind, meta) {
            (_, Err(_)) => self.differ(format!("{name}: missing from the live tree"), true),
            (EntryKind::Dir, Ok(m)) if m.is_dir() => self.summary.same += 1,
            (EntryKind::Symlink, Ok(m)) if m.file_type().is_symlink() => {
                let t = fs::read_link(&live).ok();
                if t.as_deref().map(|t| t.as_os_str().as_bytes())
                    == e.target.as_ref().map(|t| t.as_bytes())
                {
                    self.summary.same += 1;
                } else {
                    self.differ(format!("{name}: symlink points elsewhere"), false);
                }
            }
            (EntryKind::File | EntryKind::Hardlink, Ok(m)) if m.is_file() => {
                // Hash the backup's bytes as they pass to the inner sink.
                if e.kind == EntryKind::File {
                    let mut h = HashingReader::new(&mut *data);
                    self.inner.entry(e, &mut h)?;
                    std::io::copy(&mut h, &mut std::io::sink())
                        .map_err(|err| crate::archive::stream_error(&name, err))?;
                    let backup = h.finish();
                    let same = fs::File::open(&live)
                        .and_then(digest_reader)
                        .is_ok_and(|d| d == backup);
                    if same {
                        self.summary.same += 1;
                    } else {
                        self.differ(format!("{name}: content differs from the live file"), false);
                    }
                    return Ok(());
                }
                self.summary.same += 1;
            }
            (_, Ok(_)) => self.differ(
                format!("{name}: a different kind of object in the live tree"),
                false,
            ),
        }
        self.inner.entry(e, data)
    }
}
