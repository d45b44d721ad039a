//! Putting one restored file or symlink in place.
//!
//! A [`Placer`] belongs to one thread: the restore's main thread has one
//! for large files, and each thread of the [`Crew`](super::crew::Crew) has
//! its own for small files and symlinks. It keeps the directory of the
//! previous entry open, so that files are created relative to it (one path
//! component per lookup instead of the whole path). The parent directory
//! of every entry exists before the entry reaches a placer: the main thread
//! creates it.

use crate::error::{Error, IoContext, Result};
use crate::manifest::Entry;
use rustix::fs::{CWD, Mode, OFlags};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Creates files and symlinks below a staging directory.
pub(super) struct Placer {
    /// The backup, named in errors about its stream.
    id: String,
    /// Whether owners and set-id bits are restored.
    as_root: bool,
    /// The process umask, if it alone decides the mode of a new file here:
    /// files are created with their final mode and changed afterwards only
    /// if the umask (or ownership) takes bits away. `None`: always set it.
    umask: Option<u32>,
    /// The directory the previous entry was put in, and open.
    /// (Directories are never removed during a restore, and the reader
    /// refuses paths through symlinks.)
    parent: Option<(PathBuf, OwnedFd)>,
}

/// Where a file's content comes from.
pub(super) enum Content<'a> {
    /// Already read, in memory.
    Bytes(&'a [u8]),
    /// Still in the stream, copied through `buf`.
    Stream(&'a mut dyn Read, &'a mut [u8]),
}

impl Placer {
    /// A placer for backup `id` writing below `root`.
    pub(super) fn new(id: &str, root: &Path, as_root: bool) -> Self {
        Placer {
            id: id.to_owned(),
            as_root,
            umask: creation_mask(root),
            parent: None,
        }
    }

    /// A placer like this one (same backup, owners, mask) for another
    /// thread.
    pub(super) fn sibling(&self) -> Self {
        Placer {
            id: self.id.clone(),
            as_root: self.as_root,
            umask: self.umask,
            parent: None,
        }
    }

    /// The backup this placer restores.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// Whether owners and set-id bits are restored.
    pub(super) fn as_root(&self) -> bool {
        self.as_root
    }

    /// The permission bits to restore: set-id bits only as root.
    pub(super) fn mode(&self, m: u32) -> u32 {
        if self.as_root { m } else { m & 0o1777 }
    }

    fn parent(&mut self, dst: &Path) -> io::Result<&OwnedFd> {
        let parent = dst.parent().expect("entries lie below the root");
        if self.parent.as_ref().is_none_or(|(p, _)| p != parent) {
            self.parent = None;
            let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(CWD, parent, dir, Mode::empty())?;
            self.parent = Some((parent.to_owned(), fd));
        }
        Ok(&self.parent.as_ref().expect("set above").1)
    }

    /// Creates the regular file `dst` for `e` with `content`; returns the
    /// bytes written.
    pub(super) fn file(&mut self, e: &Entry, dst: &Path, content: Content) -> Result<u64> {
        let at = || format!("restoring {}", dst.display());
        let mode = self.mode(e.mode);
        // Created with its final permission bits (an open for writing
        // succeeds whatever they are); set-id bits only after the owner,
        // which would clear them.
        let create_mode = mode & 0o777;
        let name = dst.file_name().expect("entry paths have a last component");
        let parent = self.parent(dst).ctx(at)?;
        let create = || {
            rustix::fs::openat(
                parent,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(create_mode),
            )
            .map(File::from)
            .map_err(io::Error::from)
        };
        // Something is in the way only if the stream repeats a path.
        let mut f = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                remove_non_dir(dst).and_then(|_| create()).ctx(at)?
            }
            r => r.ctx(at)?,
        };
        let n = match content {
            Content::Bytes(b) => f.write_all(b).map(|_| b.len() as u64).ctx(at)?,
            Content::Stream(r, buf) => copy_checked(r, &mut f, buf).map_err(|err| match err {
                CopyError::Read(e2) => super::reader::stream_error(&self.id, e2),
                CopyError::Write(e2) => Error::io(at(), e2),
            })?,
        };
        // Owner before mode: chown clears set-id bits.
        if self.as_root {
            chown(e, dst, Some(&f))?;
        }
        if self.umask.is_none_or(|u| create_mode & !u != mode) {
            f.set_permissions(fs::Permissions::from_mode(mode))
                .ctx(at)?;
        }
        let _ = f.set_modified(to_system_time(e.mtime));
        Ok(n)
    }

    /// Creates the symlink `dst` for `e`, replacing a non-directory.
    pub(super) fn symlink(&self, e: &Entry, dst: &Path) -> Result<()> {
        let at = || format!("restoring {}", dst.display());
        remove_non_dir(dst).ctx(at)?;
        let target = e.target.as_ref().expect("reader sets symlink targets");
        std::os::unix::fs::symlink(target.as_path(), dst).ctx(at)?;
        if self.as_root {
            chown(e, dst, None)?;
        }
        Ok(())
    }
}

/// Sets the owner of `dst`: on `file` when it is open (no second path
/// lookup), else on the path without following a symlink.
pub(super) fn chown(e: &Entry, dst: &Path, file: Option<&File>) -> Result<()> {
    let (uid, gid) = (e.uid.map(|u| u as u32), e.gid.map(|g| g as u32));
    match file {
        Some(f) => std::os::unix::fs::fchown(f, uid, gid),
        None => std::os::unix::fs::lchown(dst, uid, gid),
    }
    .ctx(|| format!("setting the owner of {}", dst.display()))
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

fn copy_checked(r: &mut dyn Read, w: &mut dyn Write, buf: &mut [u8]) -> Result<u64, CopyError> {
    let mut n = 0u64;
    loop {
        let k = match r.read(buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        w.write_all(&buf[..k]).map_err(CopyError::Write)?;
        n += k as u64;
    }
}

/// The mask new files below `root` get: the process umask, unless `root`
/// has a default ACL (inherited by every directory the restore creates),
/// which replaces the umask; then `None`. The umask is read from
/// `/proc/self/status` (Linux 4.7 and later): reading it with `umask(2)`
/// would have to set it, racing other threads of a service that uses this
/// library.
fn creation_mask(root: &Path) -> Option<u32> {
    match rustix::fs::getxattr_query(root, "system.posix_acl_default") {
        Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => {}
        _ => return None,
    }
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// Removes what is at `p` unless it is a directory (then fails).
pub(super) fn remove_non_dir(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a directory is in the way",
        )),
        Ok(_) => fs::remove_file(p),
        Err(_) => Ok(()),
    }
}

/// A modification time from the stream (times before 1970 become 1970).
pub(super) fn to_system_time(mtime: i64) -> SystemTime {
    if mtime >= 0 {
        UNIX_EPOCH + Duration::from_secs(mtime as u64)
    } else {
        UNIX_EPOCH
    }
}
