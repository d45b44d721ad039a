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
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawMode, Stat};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

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
        // Every object is looked up relative to its directory's descriptor
        // (statat/openat), not by its full path: one path component per
        // lookup, and a directory renamed mid-walk cannot redirect it.
        let mut stack = vec![Pending {
            dir: None,
            name: src.as_os_str().to_owned(),
            path: src.to_owned(),
            entry: name.clone(),
        }];
        while let Some(Pending {
            dir,
            name,
            path,
            entry,
        }) = stack.pop()
        {
            let dirfd = dir.as_deref().map_or(rustix::fs::CWD, |d| d.as_fd());
            let st = match rustix::fs::statat(dirfd, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(m) => m,
                // The source itself must exist: a typo in a cron line must
                // not produce a backup that silently lacks the data.
                Err(e) if dir.is_none() => {
                    return Err(Error::Unreadable {
                        path,
                        source: e.into(),
                    });
                }
                Err(e) => {
                    self.failed(aw, &path, &entry, e.into(), ctx)?;
                    continue;
                }
            };
            let meta = Meta::from_stat(&st);
            let em = meta.entry;
            let ft = meta.kind;
            if ft == FileType::Directory {
                if self.opts.exclude.contains(&(meta.dev, meta.ino)) {
                    aw.add_skipped(&entry, "the nkbackup repository itself is not backed up")
                        .map_err(out)?;
                    continue;
                }
                let (fd, mut children) = match open_dir_sorted(dirfd, &name) {
                    Ok(c) => c,
                    Err(e) => {
                        self.unreadable(aw, &path, &entry, e, ctx)?;
                        continue;
                    }
                };
                aw.add_dir(&entry, &em).map_err(out)?;
                let fd = Rc::new(fd);
                // Pop order must be byte order: push in reverse.
                while let Some(child) = children.pop() {
                    stack.push(Pending {
                        dir: Some(Rc::clone(&fd)),
                        path: path.join(&child),
                        entry: entry.join(child.as_bytes()),
                        name: child,
                    });
                }
            } else if ft == FileType::RegularFile {
                if self.opts.stale_before.is_some_and(|t| meta.mtime < t) {
                    self.stale_count += 1;
                    if self.stale.len() < MAX_STALE_LISTED {
                        self.stale.push((entry.clone(), meta.mtime));
                    }
                }
                if meta.nlink > 1 {
                    let key = (meta.dev, meta.ino);
                    if let Some(first) = self.links.get(&key) {
                        aw.add_hardlink(&entry, &em, first).map_err(out)?;
                        continue;
                    }
                    self.links.insert(key, entry.clone());
                }
                let file = match rustix::fs::openat(dirfd, &name, OPEN_FILE, Mode::empty()) {
                    Ok(f) => File::from(f),
                    Err(e) => {
                        self.failed(aw, &path, &entry, e.into(), ctx)?;
                        continue;
                    }
                };
                match aw.add_file(&entry, &em, meta.size, file) {
                    Ok(_) => {}
                    Err(AddFileError::Output(e)) => return Err(out(e)),
                    // The header is already in the stream: a read error in the
                    // middle of a file cannot be skipped, it fails the seal.
                    Err(AddFileError::Source(e)) => {
                        return Err(Error::Unreadable { path, source: e });
                    }
                }
            } else if ft == FileType::Symlink {
                match rustix::fs::readlinkat(dirfd, &name, Vec::new()) {
                    Ok(t) => aw
                        .add_symlink(&entry, &em, &EntryPath::from_bytes(t.as_bytes()))
                        .map_err(out)?,
                    Err(e) => self.unreadable(aw, &path, &entry, e.into(), ctx)?,
                }
            } else {
                let what = match ft {
                    FileType::Socket => "socket",
                    FileType::Fifo => "fifo",
                    FileType::CharacterDevice => "character device",
                    FileType::BlockDevice => "block device",
                    _ => "special file",
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

/// An object still to visit: `name` relative to the directory `dir`
/// (`None`: the source itself, `name` is its path).
struct Pending {
    dir: Option<Rc<OwnedFd>>,
    name: OsString,
    path: PathBuf,
    entry: EntryPath,
}

/// Flags for opening a source file: never follow a symlink swapped in
/// since the stat, never become the controlling terminal.
const OPEN_FILE: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// What the walk needs from a `stat`.
struct Meta {
    kind: FileType,
    entry: EntryMeta,
    mtime: i64,
    dev: u64,
    ino: u64,
    nlink: u64,
    size: u64,
}

impl Meta {
    // Field widths differ between architectures; the casts are lossless.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn from_stat(st: &Stat) -> Self {
        let mtime = st.st_mtime as i64;
        Meta {
            kind: FileType::from_raw_mode(st.st_mode as RawMode),
            entry: EntryMeta {
                mode: (st.st_mode as u32) & 0o7777,
                mtime,
                uid: u64::from(st.st_uid),
                gid: u64::from(st.st_gid),
            },
            mtime,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlink: st.st_nlink as u64,
            size: st.st_size as u64,
        }
    }
}

/// Opens directory `name` (not following a symlink) and reads its entry
/// names in byte order.
fn open_dir_sorted(dirfd: BorrowedFd<'_>, name: &OsStr) -> io::Result<(OwnedFd, Vec<OsString>)> {
    let fd = rustix::fs::openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&fd)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from_vec(n.to_vec()));
        }
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok((fd, names))
}
