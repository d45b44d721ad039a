//! Walking a source tree into an [`ArchiveWriter`].
//!
//! Rules, in the order an administrator would ask about them:
//! * symlinks are stored as symlinks and never followed, including a source
//!   given on the command line that is itself a symlink;
//! * sockets, fifos and device nodes are not stored; each is listed in the
//!   manifest as `skipped` with the reason;
//! * a file or directory that cannot be opened fails the seal naming the
//!   path, unless `skip_unreadable` is set, in which case it is listed as
//!   `skipped`;
//! * objects that vanish between listing and reading are listed as skipped;
//! * the repository itself, if it lies inside a source, is not descended into;
//! * files with several hard links are stored once, then as hard links;
//! * directories are read in byte order of names, so output is reproducible.

use super::writer::{AddFileError, ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};
use crate::manifest::EntryPath;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Options for [`Walker`].
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Record unreadable objects as skipped instead of failing.
    pub skip_unreadable: bool,
    /// `(dev, ino)` of directories never to descend into (the repository).
    pub exclude: Vec<(u64, u64)>,
    /// Regular files modified before this time (seconds since the epoch)
    /// are counted and listed as stale (retention's `source_max_age`).
    pub stale_before: Option<i64>,
}

/// At most this many stale files are listed; all are counted.
const MAX_STALE_LISTED: usize = 1000;

/// Walks sources into an archive, remembering hard links across sources.
pub struct Walker {
    opts: WalkOptions,
    links: HashMap<(u64, u64), EntryPath>,
    stale: Vec<(EntryPath, i64)>,
    stale_count: u64,
}

impl Walker {
    /// Creates a walker.
    pub fn new(opts: WalkOptions) -> Self {
        Walker {
            opts,
            links: HashMap::new(),
            stale: Vec::new(),
            stale_count: 0,
        }
    }

    /// Files older than [`WalkOptions::stale_before`]: how many, and the
    /// first thousand with their mtimes.
    pub fn stale(&self) -> (u64, &[(EntryPath, i64)]) {
        (self.stale_count, &self.stale)
    }

    /// Adds the tree at `src` under the name `name`. `ctx` names the output
    /// for I/O error messages.
    pub fn add_tree<W: Write>(
        &mut self,
        aw: &mut ArchiveWriter<W>,
        src: &Path,
        name: &EntryPath,
        ctx: &dyn Fn() -> String,
    ) -> Result<()> {
        let out = |e: io::Error| Error::io(ctx(), e);
        // The source itself must exist: a typo in a cron line must not
        // produce a backup that silently lacks the data.
        if let Err(e) = fs::symlink_metadata(src) {
            return Err(Error::Unreadable {
                path: src.to_owned(),
                source: e,
            });
        }
        let mut stack: Vec<(PathBuf, EntryPath)> = vec![(src.to_owned(), name.clone())];
        while let Some((path, entry)) = stack.pop() {
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.failed(aw, &path, &entry, e, ctx)?;
                    continue;
                }
            };
            let em = EntryMeta::from_metadata(&meta);
            let ft = meta.file_type();
            if ft.is_dir() {
                if self.opts.exclude.contains(&(meta.dev(), meta.ino())) {
                    aw.add_skipped(&entry, "the nkbackup repository itself is not backed up")
                        .map_err(out)?;
                    continue;
                }
                let mut children = match read_dir_sorted(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        self.unreadable(aw, &path, &entry, e, ctx)?;
                        continue;
                    }
                };
                aw.add_dir(&entry, &em).map_err(out)?;
                // Pop order must be byte order: push in reverse.
                while let Some(child) = children.pop() {
                    stack.push((path.join(&child), entry.join(child.as_bytes())));
                }
            } else if ft.is_file() {
                if self.opts.stale_before.is_some_and(|t| meta.mtime() < t) {
                    self.stale_count += 1;
                    if self.stale.len() < MAX_STALE_LISTED {
                        self.stale.push((entry.clone(), meta.mtime()));
                    }
                }
                if meta.nlink() > 1 {
                    let key = (meta.dev(), meta.ino());
                    if let Some(first) = self.links.get(&key) {
                        aw.add_hardlink(&entry, &em, first).map_err(out)?;
                        continue;
                    }
                    self.links.insert(key, entry.clone());
                }
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        self.failed(aw, &path, &entry, e, ctx)?;
                        continue;
                    }
                };
                match aw.add_file(&entry, &em, meta.len(), file) {
                    Ok(_) => {}
                    Err(AddFileError::Output(e)) => return Err(out(e)),
                    // The header is already in the stream: a read error in the
                    // middle of a file cannot be skipped, it fails the seal.
                    Err(AddFileError::Source(e)) => {
                        return Err(Error::Unreadable { path, source: e });
                    }
                }
            } else if ft.is_symlink() {
                match fs::read_link(&path) {
                    Ok(t) => aw
                        .add_symlink(
                            &entry,
                            &em,
                            &EntryPath::from_bytes(t.as_os_str().as_bytes()),
                        )
                        .map_err(out)?,
                    Err(e) => self.unreadable(aw, &path, &entry, e, ctx)?,
                }
            } else {
                let what = if ft.is_socket() {
                    "socket"
                } else if ft.is_fifo() {
                    "fifo"
                } else if ft.is_char_device() {
                    "character device"
                } else if ft.is_block_device() {
                    "block device"
                } else {
                    "special file"
                };
                aw.add_skipped(&entry, format!("{what} not backed up"))
                    .map_err(out)?;
            }
        }
        Ok(())
    }

    /// A source object could not be stat'ed or opened: one that vanished
    /// is recorded as skipped, anything else is unreadable.
    fn failed<W: Write>(
        &self,
        aw: &mut ArchiveWriter<W>,
        path: &Path,
        entry: &EntryPath,
        e: io::Error,
        ctx: &dyn Fn() -> String,
    ) -> Result<()> {
        if e.kind() == io::ErrorKind::NotFound {
            aw.add_skipped(entry, "vanished while being sealed")
                .map_err(|e| Error::io(ctx(), e))
        } else {
            self.unreadable(aw, path, entry, e, ctx)
        }
    }

    fn unreadable<W: Write>(
        &self,
        aw: &mut ArchiveWriter<W>,
        path: &Path,
        entry: &EntryPath,
        e: io::Error,
        ctx: &dyn Fn() -> String,
    ) -> Result<()> {
        if self.opts.skip_unreadable {
            aw.add_skipped(entry, format!("unreadable: {e}"))
                .map_err(|e| Error::io(ctx(), e))
        } else {
            Err(Error::Unreadable {
                path: path.to_owned(),
                source: e,
            })
        }
    }
}

fn read_dir_sorted(path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names = fs::read_dir(path)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}
