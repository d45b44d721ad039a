//! Walking a source tree into an [`ArchiveWriter`].
//!
//! Rules, in the order an administrator would ask about them:
//! * symlinks are stored as symlinks and never followed, including a source
//!   given on the command line that is itself a symlink;
//! * sockets, fifos and device nodes are not stored; each is listed in the
//!   manifest as `skipped` with the reason;
//! * a file or directory that cannot be opened fails the seal naming the
//!   path, unless `skip_unreadable` is set, in which case it is listed as
//!   `skipped`; so does a file of up to 64 KiB that cannot be read (it is
//!   read whole before its header is written), while a read error in a
//!   larger file, whose header is already in the stream, always fails;
//! * objects that vanish between listing and reading are listed as skipped;
//! * the repository itself, if it lies inside a source, is not descended into;
//! * what [`WalkOptions::exclusions`] excludes is not walked at all: no
//!   stat, no open; counted ([`Walker::excluded`]), and recorded as rules in
//!   the inner manifest's header (a mount point or tagged cache directory
//!   is stored as an empty directory);
//! * files with several hard links are stored once, then as hard links;
//! * directories are read in byte order of names, so output is reproducible.

use super::feed::{self, Feed, Item, WriterGone};
use super::writer::{ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};
use crate::limits::{DIRS_AND_SYMLINKS, PATH_BYTES};
use crate::manifest::EntryPath;
use rustix::fs::{Advice, AtFlags, FileType, Mode, OFlags, RawDir, RawMode, Stat};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::num::NonZeroU64;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc;

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
    /// Patterns, other file systems, cache directories left out.
    pub exclusions: super::Exclusions,
}

/// At most this many stale files are listed; all are counted.
const MAX_STALE_LISTED: usize = 1000;

/// Walks sources into an archive, remembering hard links across sources.
pub struct Walker {
    opts: WalkOptions,
    links: HashMap<(u64, u64), EntryPath>,
    stale: Vec<(EntryPath, i64)>,
    stale_count: u64,
    /// Directories and symlinks stored so far, across sources.
    dirs_and_symlinks: usize,
    /// Objects left out by the exclusions.
    excluded: u64,
}

impl Walker {
    /// Creates a walker.
    pub fn new(opts: WalkOptions) -> Self {
        Walker {
            opts,
            links: HashMap::new(),
            stale: Vec::new(),
            stale_count: 0,
            dirs_and_symlinks: 0,
            excluded: 0,
        }
    }

    /// How many objects the exclusions left out (an excluded directory
    /// counts once, whatever it holds).
    pub fn excluded(&self) -> u64 {
        self.excluded
    }

    /// Files older than [`WalkOptions::stale_before`]: how many, and the
    /// first thousand with their mtimes.
    pub fn stale(&self) -> (u64, &[(EntryPath, i64)]) {
        (self.stale_count, &self.stale)
    }

    /// Adds the tree at `src` under the name `name`. `ctx` names the output
    /// for I/O error messages.
    ///
    /// The walk runs on a thread of its own and hands batches of entries
    /// (with the content of small files) to this thread, which writes them
    /// into `aw`; see `archive/feed.rs`.
    pub fn add_tree<W: Write>(
        &mut self,
        aw: &mut ArchiveWriter<W>,
        src: &Path,
        name: &EntryPath,
        ctx: &dyn Fn() -> String,
    ) -> Result<()> {
        let (to_writer, from_walk) = mpsc::sync_channel(feed::QUEUE);
        let (recycle, recycled) = mpsc::channel();
        std::thread::scope(|s| {
            let walk = std::thread::Builder::new()
                .name("nkbackup-walk".into())
                .spawn_scoped(s, move || {
                    let mut feed = Feed::new(to_writer, recycled);
                    self.walk(&mut feed, src, name)?;
                    feed.finish().map_err(Stop::from)
                })
                .map_err(|e| Error::io(ctx(), e))?;
            let written = feed::write_batches(aw, from_walk, recycle, ctx);
            let walked = walk
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match (written, walked) {
                // The writer's error explains why the walk stopped.
                (Err(e), _) => Err(e),
                (Ok(()), Err(Stop::Failed(e))) => Err(e),
                (Ok(()), Err(Stop::WriterGone)) => Err(Error::io(
                    ctx(),
                    io::Error::other("the archive writer stopped before the walk ended"),
                )),
                (Ok(()), Ok(())) => Ok(()),
            }
        })
    }

    /// Walks the tree at `src` into `feed`.
    fn walk(&mut self, feed: &mut Feed, src: &Path, name: &EntryPath) -> Result<(), Stop> {
        // Every object is looked up relative to its directory's descriptor
        // (statat/openat), not by its full path: one path component per
        // lookup, and a directory renamed mid-walk cannot redirect it.
        let mut stack = vec![Pending {
            dir: None,
            hint: FileType::Unknown,
            name: src.as_os_str().to_owned(),
            entry: name.clone(),
            opened: None,
        }];
        let mut dirbuf = Vec::new();
        let mut held = 0;
        let mut root_dev = None;
        let patterns = self.opts.exclusions.has_patterns();
        let root_abs = if patterns {
            let abs = std::path::absolute(src).map_err(|e| {
                Stop::Failed(Error::Unreadable {
                    path: src.to_owned(),
                    source: e,
                })
            })?;
            Some(abs)
        } else {
            None
        };
        while let Some(Pending {
            dir,
            hint,
            name,
            entry,
            opened,
        }) = stack.pop()
        {
            let dirfd = dir.as_deref().map_or(rustix::fs::CWD, |d| d.fd.as_fd());
            // The full path, only needed for messages.
            let path = || {
                dir.as_ref()
                    .map_or_else(|| name.clone().into(), |d| d.path.join(&name))
            };
            held -= usize::from(opened.is_some());
            read_ahead(&mut stack, &mut held);
            // A name the directory listed as a regular file is opened
            // straight away and stat'ed through its descriptor: one path
            // lookup instead of two. Anything unexpected (it vanished, became
            // a symlink or something else since the listing) falls back to
            // the stat-first path below, which reports it.
            let opened = match opened {
                Some(o) => Some(o),
                None if hint == FileType::RegularFile => open_regular(dirfd, &name),
                None => None,
            };
            let stat = match &opened {
                Some((st, _)) => Ok(*st),
                None => rustix::fs::statat(dirfd, &name, AtFlags::SYMLINK_NOFOLLOW),
            };
            let st = match stat {
                Ok(m) => m,
                // The source itself must exist: a typo in a cron line must
                // not produce a backup that silently lacks the data.
                Err(e) if dir.is_none() => {
                    return Err(Stop::Failed(Error::Unreadable {
                        path: path(),
                        source: e.into(),
                    }));
                }
                Err(e) => {
                    self.failed(feed, &path(), entry, e.into())?;
                    continue;
                }
            };
            let meta = Meta::from_stat(&st);
            let em = meta.entry;
            let ft = meta.kind;
            let root_dev = *root_dev.get_or_insert(meta.dev);
            if dir.is_none()
                && let Some(abs) = &root_abs
                && self.opts.exclusions.matches(abs, ft == FileType::Directory)
            {
                self.excluded += 1;
                continue;
            }
            if ft == FileType::Directory {
                if self.opts.exclude.contains(&(meta.dev, meta.ino)) {
                    feed.push(Item::Skipped {
                        entry,
                        note: "the nkbackup repository itself is not backed up".into(),
                    })?;
                    continue;
                }
                let other_fs = self.opts.exclusions.one_file_system && meta.dev != root_dev;
                let (fd, mut children) = match open_dir_sorted(dirfd, &name, &mut dirbuf) {
                    Ok(c) => c,
                    Err(e) => {
                        self.unreadable(feed, &path(), entry, e)?;
                        continue;
                    }
                };
                self.count_dir_or_symlink()?;
                feed.push(Item::Dir {
                    entry: entry.clone(),
                    meta: em,
                })?;
                // A mount point or a tagged cache directory: stored empty.
                if other_fs
                    || (self.opts.exclusions.exclude_caches && is_tagged_cache(&fd, &children))
                {
                    self.excluded += 1;
                    continue;
                }
                let abs = match (&dir, &root_abs) {
                    (Some(d), _) => d.abs.as_ref().map(|a| a.join(&name)),
                    (None, r) => r.clone(),
                };
                let parent = Rc::new(Parent {
                    fd,
                    path: path(),
                    abs,
                });
                // Pop order must be byte order: push in reverse. A path a
                // restore could not create is recorded, not descended.
                let mut long = Vec::new();
                while let Some((child, hint)) = children.pop() {
                    if let Some(abs) = &parent.abs {
                        let is_dir = match hint {
                            FileType::Directory => true,
                            FileType::Unknown => {
                                rustix::fs::statat(&parent.fd, &child, AtFlags::SYMLINK_NOFOLLOW)
                                    .is_ok_and(|st| {
                                        FileType::from_raw_mode(st.st_mode) == FileType::Directory
                                    })
                            }
                            _ => false,
                        };
                        if self.opts.exclusions.matches(&abs.join(&child), is_dir) {
                            self.excluded += 1;
                            continue;
                        }
                    }
                    let child_entry = entry.join(child.as_bytes());
                    if child_entry.as_bytes().len() > PATH_BYTES {
                        long.push(child_entry);
                        continue;
                    }
                    stack.push(Pending {
                        dir: Some(Rc::clone(&parent)),
                        hint,
                        opened: None,
                        entry: child_entry,
                        name: child,
                    });
                }
                for entry in long.into_iter().rev() {
                    feed.push(Item::Skipped {
                        entry,
                        note: format!(
                            "its path is longer than {PATH_BYTES} bytes, more than a restore can create; not backed up"
                        ),
                    })?;
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
                        feed.push(Item::Hardlink {
                            entry,
                            meta: em,
                            first: first.clone(),
                        })?;
                        continue;
                    }
                    self.links.insert(key, entry.clone());
                }
                let open = match opened {
                    Some((_, f)) => Ok(f),
                    None => rustix::fs::openat(dirfd, &name, OPEN_FILE, Mode::empty()),
                };
                let file = match open {
                    Ok(f) => File::from(f),
                    Err(e) => {
                        self.failed(feed, &path(), entry, e.into())?;
                        continue;
                    }
                };
                match feed.body(file, meta.size, path) {
                    Ok(body) => feed.push(Item::File {
                        entry,
                        meta: em,
                        size: meta.size,
                        body,
                    })?,
                    Err(e) => self.unreadable(feed, &path(), entry, e)?,
                }
            } else if ft == FileType::Symlink {
                self.count_dir_or_symlink()?;
                match rustix::fs::readlinkat(dirfd, &name, Vec::new()) {
                    Ok(t) => feed.push(Item::Symlink {
                        entry,
                        meta: em,
                        target: EntryPath::from_bytes(t.into_bytes()),
                    })?,
                    Err(e) => self.unreadable(feed, &path(), entry, e.into())?,
                }
            } else {
                let what = match ft {
                    FileType::Socket => "socket",
                    FileType::Fifo => "fifo",
                    FileType::CharacterDevice => "character device",
                    FileType::BlockDevice => "block device",
                    _ => "special file",
                };
                feed.push(Item::Skipped {
                    entry,
                    note: format!("{what} not backed up"),
                })?;
            }
        }
        Ok(())
    }

    /// Counts a directory or symlink, failing the seal beyond what a
    /// reader accepts ([`DIRS_AND_SYMLINKS`]).
    fn count_dir_or_symlink(&mut self) -> Result<(), Stop> {
        self.dirs_and_symlinks += 1;
        if self.dirs_and_symlinks > DIRS_AND_SYMLINKS {
            return Err(Stop::Failed(Error::SourceTooLarge {
                reason: format!(
                    "the sources hold more than {DIRS_AND_SYMLINKS} directories and symlinks, more than one backup holds (docs/FORMAT.md §10); seal them as several backups"
                ),
            }));
        }
        Ok(())
    }

    /// A source object could not be stat'ed or opened: one that vanished
    /// is recorded as skipped, anything else is unreadable.
    fn failed(
        &self,
        feed: &mut Feed,
        path: &Path,
        entry: EntryPath,
        e: io::Error,
    ) -> Result<(), Stop> {
        if e.kind() == io::ErrorKind::NotFound {
            feed.push(Item::Skipped {
                entry,
                note: "vanished while being sealed".into(),
            })?;
            Ok(())
        } else {
            self.unreadable(feed, path, entry, e)
        }
    }

    /// A source object could not be read: skipped if the options say so,
    /// else the end of the seal.
    fn unreadable(
        &self,
        feed: &mut Feed,
        path: &Path,
        entry: EntryPath,
        e: io::Error,
    ) -> Result<(), Stop> {
        if self.opts.skip_unreadable {
            feed.push(Item::Skipped {
                entry,
                note: format!("unreadable: {e}"),
            })?;
            Ok(())
        } else {
            Err(Stop::Failed(Error::Unreadable {
                path: path.to_owned(),
                source: e,
            }))
        }
    }
}

/// Why the walk ended early.
enum Stop {
    /// The walk failed.
    Failed(Error),
    /// The writer stopped; its error is the one to report.
    WriterGone,
}

impl From<WriterGone> for Stop {
    fn from(_: WriterGone) -> Self {
        Stop::WriterGone
    }
}

/// A directory whose entries are being visited: its descriptor, and its
/// path for messages.
struct Parent {
    fd: OwnedFd,
    path: PathBuf,
    /// Its absolute path, when exclude patterns need one.
    abs: Option<PathBuf>,
}

/// Whether the directory `fd`, whose entries are `children`, holds a
/// `CACHEDIR.TAG` that starts with the standard signature.
fn is_tagged_cache(fd: &OwnedFd, children: &[(OsString, FileType)]) -> bool {
    use std::io::Read;
    let tag = OsStr::new("CACHEDIR.TAG");
    if !children.iter().any(|(n, _)| n == tag) {
        return false;
    }
    let Ok(f) = rustix::fs::openat(fd, tag, OPEN_FILE, Mode::empty()) else {
        return false;
    };
    let mut head = Vec::new();
    let n = super::CACHEDIR_SIGNATURE.len() as u64;
    File::from(f).take(n).read_to_end(&mut head).is_ok() && head == super::CACHEDIR_SIGNATURE
}

/// An object still to visit: `name` relative to the directory `dir`
/// (`None`: the source itself, `name` is its path).
struct Pending {
    dir: Option<Rc<Parent>>,
    /// The type the directory listing gave (`Unknown` if it gave none).
    hint: FileType,
    /// The file, already opened by [`read_ahead`], and its stat.
    opened: Option<(Stat, OwnedFd)>,
    name: OsString,
    entry: EntryPath,
}

/// Flags for opening a source file: never follow a symlink swapped in
/// since the stat, never become the controlling terminal.
const OPEN_FILE: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// How many files ahead of the one being archived are kept open with their
/// first blocks requested from the disk.
const AHEAD_FILES: usize = 16;
/// How much of each file ahead is requested; the kernel's own read-ahead
/// takes over for the rest of a large file once it is read in sequence.
const AHEAD_BYTES: u64 = 128 * 1024;

/// Opens the next regular files the walk will visit (the top of `stack`)
/// and asks the kernel to start reading them (`POSIX_FADV_WILLNEED`), so
/// that on a cold cache the disk works on several files while one is
/// archived, instead of one small read at a time. `held` counts the open
/// descriptors parked in `stack`; it never exceeds [`AHEAD_FILES`], however
/// deep the tree. A file that fails to open here is left to the walk, which
/// reports it.
fn read_ahead(stack: &mut [Pending], held: &mut usize) {
    for p in stack.iter_mut().rev().take(AHEAD_FILES) {
        if *held >= AHEAD_FILES {
            break;
        }
        let Some(dir) = &p.dir else { continue };
        if p.hint != FileType::RegularFile || p.opened.is_some() {
            continue;
        }
        match open_regular(dir.fd.as_fd(), &p.name) {
            Some((st, fd)) => {
                let len = (st.st_size as u64).min(AHEAD_BYTES);
                if let Some(len) = NonZeroU64::new(len) {
                    // Only a hint: a failure costs speed, not correctness.
                    let _ = rustix::fs::fadvise(&fd, 0, Some(len), Advice::WillNeed);
                }
                p.opened = Some((st, fd));
                *held += 1;
            }
            None => p.hint = FileType::Unknown,
        }
    }
}

/// Opens `name`, which the directory listing called a regular file, and
/// stats it through the descriptor. `None` if that fails or it is not a
/// regular file after all: the caller then takes the stat-first path.
/// `O_NONBLOCK` keeps a fifo swapped in since the listing from blocking the
/// open; it does not change reads of a regular file.
fn open_regular(dirfd: BorrowedFd<'_>, name: &OsStr) -> Option<(Stat, OwnedFd)> {
    let fd = rustix::fs::openat(dirfd, name, OPEN_FILE | OFlags::NONBLOCK, Mode::empty()).ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    (FileType::from_raw_mode(st.st_mode as RawMode) == FileType::RegularFile).then_some((st, fd))
}

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

/// Directory listings are read in `getdents64` calls of this many bytes.
const DIR_BUF: usize = 32 * 1024;

/// Opens directory `name` (not following a symlink) and reads its entry
/// names, with the type each entry claims, in byte order. `buf` is scratch
/// space kept between calls.
fn open_dir_sorted(
    dirfd: BorrowedFd<'_>,
    name: &OsStr,
    buf: &mut Vec<MaybeUninit<u8>>,
) -> io::Result<(OwnedFd, Vec<(OsString, FileType)>)> {
    let fd = rustix::fs::openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    buf.resize(DIR_BUF, MaybeUninit::uninit());
    let mut names = Vec::new();
    // The descriptor is fresh, so the listing starts at its beginning; the
    // walk later uses it only for *at calls, which ignore its position.
    let mut dir = RawDir::new(&fd, buf);
    while let Some(e) = dir.next() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push((OsString::from_vec(n.to_vec()), e.file_type()));
        }
    }
    names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok((fd, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(dir: &Rc<Parent>, name: &str) -> Pending {
        Pending {
            dir: Some(Rc::clone(dir)),
            hint: FileType::RegularFile,
            name: name.into(),
            entry: EntryPath::from_bytes(name),
            opened: None,
        }
    }

    #[test]
    fn read_ahead_opens_the_next_files_and_never_holds_more_than_its_window() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..40 {
            std::fs::write(t.path().join(format!("f{i:02}")), b"x").unwrap();
        }
        let dir = Rc::new(Parent {
            fd: File::open(t.path()).unwrap().into(),
            path: t.path().to_owned(),
            abs: None,
        });
        // The walk pops from the end, so the last entries are the next ones.
        let mut stack: Vec<Pending> = (0..40)
            .rev()
            .map(|i| pending(&dir, &format!("f{i:02}")))
            .collect();
        stack.push(pending(&dir, "vanished"));
        let mut held = 0;
        read_ahead(&mut stack, &mut held);
        assert_eq!(held, AHEAD_FILES - 1);
        let top = stack.pop().unwrap();
        assert!(top.opened.is_none(), "a missing file is left to the walk");
        assert_eq!(top.hint, FileType::Unknown);
        let opened: Vec<bool> = stack.iter().rev().map(|p| p.opened.is_some()).collect();
        assert_eq!(opened.iter().filter(|&&o| o).count(), AHEAD_FILES - 1);
        assert!(opened[..AHEAD_FILES - 1].iter().all(|&o| o));

        // Later calls top the window up to its size and no further, even
        // when the parked files are not consumed (a subdirectory in between).
        read_ahead(&mut stack, &mut held);
        read_ahead(&mut stack, &mut held);
        assert_eq!(held, AHEAD_FILES);
        assert_eq!(
            stack.iter().filter(|p| p.opened.is_some()).count(),
            AHEAD_FILES
        );
    }
}
