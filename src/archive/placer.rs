//! Putting one restored file or symlink in place.
//!
//! A [`Placer`] belongs to one thread: the restore's main thread has one
//! for large files, and each thread of the [`Crew`](super::crew::Crew) has
//! its own for small files and symlinks. Every entry reaches it with the
//! open descriptor of its parent directory inside the staging tree and its
//! last name: the file is created relative to that descriptor with
//! `O_NOFOLLOW`, its owner and mode are set through the new file's own
//! descriptor (a symlink's owner with `fchownat(AT_SYMLINK_NOFOLLOW)`), so
//! no path is ever resolved again.

use crate::error::{Error, Result};
use crate::manifest::Entry;
use rustix::fs::{AtFlags, Mode, OFlags};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The owner to give a restored entry, already checked for range: `None`
/// leaves that id as the restoring user's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Owner {
    pub(super) uid: Option<u32>,
    pub(super) gid: Option<u32>,
}

impl Owner {
    /// The owner recorded for `e`, and a warning for an id that does not
    /// fit a Linux uid/gid (more than 32 bits, or the reserved -1): such an
    /// id is never truncated into another one (2^32 would become root).
    pub(super) fn of(e: &Entry) -> (Owner, Option<String>) {
        let fit = |v: Option<u64>| v.and_then(|v| u32::try_from(v).ok().filter(|&v| v != u32::MAX));
        let owner = Owner {
            uid: fit(e.uid),
            gid: fit(e.gid),
        };
        let bad =
            (e.uid.is_some() && owner.uid.is_none()) || (e.gid.is_some() && owner.gid.is_none());
        let warning = bad.then(|| {
            format!(
                "{}: owner {}:{} does not fit a Linux uid/gid; left as the restoring user's",
                e.path,
                e.uid.map_or("-".into(), |u| u.to_string()),
                e.gid.map_or("-".into(), |g| g.to_string())
            )
        });
        (owner, warning)
    }
}

/// Creates files and symlinks below a staging directory.
pub(super) struct Placer {
    /// The backup, named in errors about its stream.
    id: String,
    /// The staging directory, for messages.
    root: PathBuf,
    /// Whether owners and set-id bits are restored.
    as_root: bool,
    /// The process umask, if it alone decides the mode of a new file here:
    /// files are created with their final mode and changed afterwards only
    /// if the umask (or ownership) takes bits away. `None`: always set it.
    umask: Option<u32>,
}

/// Where a file's content comes from.
pub(super) enum Content<'a> {
    /// Already read, in memory.
    Bytes(&'a [u8]),
    /// Still in the stream, copied through `buf`.
    Stream(&'a mut dyn Read, &'a mut [u8]),
}

impl Placer {
    /// A placer for backup `id` writing below the staging directory `root`
    /// (open as `root_fd`).
    pub(super) fn new(id: &str, root: &Path, root_fd: BorrowedFd<'_>, as_root: bool) -> Self {
        Placer {
            id: id.to_owned(),
            root: root.to_owned(),
            as_root,
            umask: creation_mask(root_fd),
        }
    }

    /// A placer like this one (same backup, owners, mask) for another
    /// thread.
    pub(super) fn sibling(&self) -> Self {
        Placer {
            id: self.id.clone(),
            root: self.root.clone(),
            as_root: self.as_root,
            umask: self.umask,
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

    /// The staging directory, for messages.
    pub(super) fn root_path(&self) -> &Path {
        &self.root
    }

    /// Where `e` goes, for messages.
    pub(super) fn shown(&self, e: &Entry) -> PathBuf {
        self.root.join(e.path.as_path())
    }

    /// The permission bits to restore: set-id bits only as root.
    pub(super) fn mode(&self, m: u32) -> u32 {
        if self.as_root { m } else { m & 0o1777 }
    }

    /// Creates the regular file `name` in `parent` for `e` with `content`;
    /// returns the bytes written.
    pub(super) fn file(
        &self,
        e: &Entry,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        owner: Owner,
        content: Content,
    ) -> Result<u64> {
        let at = |err: io::Error| Error::io(format!("restoring {}", self.shown(e).display()), err);
        let mode = self.mode(e.mode);
        // Created with its final permission bits (an open for writing
        // succeeds whatever they are); set-id bits only after the owner,
        // which would clear them.
        let create_mode = mode & 0o777;
        let fd = rustix::fs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(create_mode),
        )
        .map_err(|err| at(err.into()))?;
        let mut f = File::from(fd);
        let n = match content {
            Content::Bytes(b) => f.write_all(b).map(|_| b.len() as u64).map_err(at)?,
            Content::Stream(r, buf) => copy_checked(r, &mut f, buf).map_err(|err| match err {
                CopyError::Read(e2) => super::reader::stream_error(&self.id, e2),
                CopyError::Write(e2) => at(e2),
            })?,
        };
        // Owner before mode: chown clears set-id bits.
        if self.as_root {
            rustix::fs::fchown(&f, owner.uid.map(uid), owner.gid.map(gid)).map_err(|err| {
                Error::io(
                    format!("setting the owner of {}", self.shown(e).display()),
                    err.into(),
                )
            })?;
        }
        if self.umask.is_none_or(|u| create_mode & !u != mode) {
            f.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(at)?;
        }
        let _ = f.set_modified(to_system_time(e.mtime));
        Ok(n)
    }

    /// Creates the symlink `name` in `parent` for `e`.
    pub(super) fn symlink(
        &self,
        e: &Entry,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        owner: Owner,
    ) -> Result<()> {
        let at = |err: io::Error| Error::io(format!("restoring {}", self.shown(e).display()), err);
        let target = e
            .target
            .as_ref()
            .ok_or_else(|| at(io::Error::other("a symlink without a target")))?;
        rustix::fs::symlinkat(target.as_path(), parent, name).map_err(|err| at(err.into()))?;
        if self.as_root {
            rustix::fs::chownat(
                parent,
                name,
                owner.uid.map(uid),
                owner.gid.map(gid),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|err| {
                Error::io(
                    format!("setting the owner of {}", self.shown(e).display()),
                    err.into(),
                )
            })?;
        }
        Ok(())
    }
}

fn uid(u: u32) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(u)
}

fn gid(g: u32) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(g)
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
fn creation_mask(root: BorrowedFd<'_>) -> Option<u32> {
    match rustix::fs::fgetxattr_query(root.as_fd(), "system.posix_acl_default") {
        Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => {}
        _ => return None,
    }
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// A modification time from the stream (times before 1970 become 1970,
/// times a file system cannot hold are left unset by the caller).
pub(super) fn to_system_time(mtime: i64) -> SystemTime {
    u64::try_from(mtime)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or(UNIX_EPOCH)
}
