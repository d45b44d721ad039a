//! Extracting entries into a staging directory, then committing it.
//!
//! The reader has already refused absolute paths, `..`, reserved names,
//! device nodes and entries that pass through a stored symlink, so every
//! entry names a place inside the staging directory. The staging directory
//! is fresh and only this extractor writes to it. Nothing becomes visible at
//! the target until the whole stream has been checked against the manifest:
//! then [`commit`] moves the staged tree into place.

use super::reader::EntrySink;
use crate::error::{Error, IoContext, Result};
use crate::manifest::{Entry, EntryKind, EntryPath};
use rustix::fs::{CWD, Mode, OFlags};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Writes entries below `root`, optionally only those under `filter`.
pub struct Extractor {
    id: String,
    root: PathBuf,
    filter: Option<EntryPath>,
    as_root: bool,
    dirs: Vec<(PathBuf, u32, i64)>,
    /// The copy buffer, reused for every file (a fresh zeroed buffer per
    /// file cost more than writing small files).
    buf: Vec<u8>,
    /// The directory the previous entry was put in, known to exist, and
    /// open: the stream lists a directory's entries together, so most
    /// entries skip `create_dir_all`, and files are created relative to it
    /// (one path component per lookup instead of the whole path).
    /// (Directories are never removed during a restore, and the reader
    /// refuses paths through symlinks.)
    parent: Option<(PathBuf, OwnedFd)>,
    /// The process umask, if it alone decides the mode of a new file here:
    /// files are created with their final mode and changed afterwards only
    /// if the umask (or ownership) takes bits away. `None`: always set it.
    umask: Option<u32>,
    /// Entries written.
    pub restored: u64,
    /// File bytes written.
    pub bytes: u64,
    /// Things that could not be restored exactly.
    pub warnings: Vec<String>,
}

impl Extractor {
    /// An extractor for backup `id` into the (existing, empty) directory
    /// `root`. Set-id bits are kept only when running as root.
    pub fn new(id: &str, root: &Path, filter: Option<EntryPath>) -> Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let as_root = fs::metadata(root)
            .ctx(|| format!("reading {}", root.display()))?
            .uid()
            == 0;
        Ok(Extractor {
            id: id.to_owned(),
            root: root.to_owned(),
            filter,
            as_root,
            dirs: Vec::new(),
            buf: vec![0; COPY_BUF],
            parent: None,
            umask: creation_mask(root),
            restored: 0,
            bytes: 0,
            warnings: Vec::new(),
        })
    }

    /// Applies directory modes and times, deepest first, after all entries.
    pub fn finish(&mut self) -> Result<()> {
        while let Some((dir, mode, mtime)) = self.dirs.pop() {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                .ctx(|| format!("setting permissions of {}", dir.display()))?;
            if let Ok(f) = File::open(&dir) {
                let _ = f.set_modified(to_system_time(mtime));
            }
        }
        Ok(())
    }

    /// Sets the owner of `dst`: on `file` when it is open (no second path
    /// lookup), else on the path without following a symlink.
    fn chown(&self, e: &Entry, dst: &Path, file: Option<&File>) -> Result<()> {
        let (uid, gid) = (e.uid.map(|u| u as u32), e.gid.map(|g| g as u32));
        match file {
            Some(f) => std::os::unix::fs::fchown(f, uid, gid),
            None => std::os::unix::fs::lchown(dst, uid, gid),
        }
        .ctx(|| format!("setting the owner of {}", dst.display()))
    }

    fn mode(&self, m: u32) -> u32 {
        if self.as_root { m } else { m & 0o1777 }
    }
}

impl EntrySink for Extractor {
    fn entry(&mut self, e: &Entry, data: &mut dyn Read) -> Result<()> {
        if let Some(f) = &self.filter
            && !e.path.starts_with(f)
        {
            return Ok(());
        }
        let dst = self.root.join(e.path.as_path());
        let at = || format!("restoring {}", dst.display());
        let parent = dst.parent().expect("entries lie below the root");
        if self.parent.as_ref().is_none_or(|(p, _)| p != parent) {
            self.parent = None;
            fs::create_dir_all(parent).ctx(at)?;
            let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(CWD, parent, dir, Mode::empty());
            self.parent = Some((parent.to_owned(), fd.map_err(io::Error::from).ctx(at)?));
        }
        match e.kind {
            EntryKind::Dir => {
                match fs::symlink_metadata(&dst) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => remove_non_dir(&dst)
                        .and_then(|_| fs::create_dir(&dst))
                        .ctx(at)?,
                    Err(_) => fs::create_dir(&dst).ctx(at)?,
                }
                self.dirs.push((dst.clone(), self.mode(e.mode), e.mtime));
            }
            EntryKind::File => {
                let mode = self.mode(e.mode);
                // Created with its final permission bits (an open for
                // writing succeeds whatever they are); set-id bits only
                // after the owner, which would clear them.
                let create_mode = mode & 0o777;
                let (_, parent) = self.parent.as_ref().expect("set above");
                let name = dst.file_name().expect("entry paths have a last component");
                let create = || {
                    rustix::fs::openat(
                        parent,
                        name,
                        OFlags::WRONLY
                            | OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(create_mode),
                    )
                    .map(File::from)
                    .map_err(io::Error::from)
                };
                // Something is in the way only if the stream repeats a path.
                let mut f = match create() {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        remove_non_dir(&dst).and_then(|_| create()).ctx(at)?
                    }
                    r => r.ctx(at)?,
                };
                let n = copy_checked(data, &mut f, &mut self.buf).map_err(|err| match err {
                    CopyError::Read(e2) => super::reader::stream_error(&self.id, e2),
                    CopyError::Write(e2) => Error::io(at(), e2),
                })?;
                // Owner before mode: chown clears set-id bits.
                if self.as_root {
                    self.chown(e, &dst, Some(&f))?;
                }
                if self.umask.is_none_or(|u| create_mode & !u != mode) {
                    f.set_permissions(fs::Permissions::from_mode(mode))
                        .ctx(at)?;
                }
                let _ = f.set_modified(to_system_time(e.mtime));
                self.bytes += n;
            }
            EntryKind::Symlink => {
                remove_non_dir(&dst).ctx(at)?;
                let target = e.target.as_ref().expect("reader sets symlink targets");
                std::os::unix::fs::symlink(target.as_path(), &dst).ctx(at)?;
            }
            EntryKind::Hardlink => {
                let target = e.target.as_ref().expect("reader sets link targets");
                let src = self.root.join(target.as_path());
                if fs::symlink_metadata(&src).is_err() {
                    self.warnings.push(format!(
                        "{}: not restored, its hard-link target {} was not restored",
                        e.path, target
                    ));
                    return Ok(());
                }
                remove_non_dir(&dst).ctx(at)?;
                fs::hard_link(&src, &dst).ctx(at)?;
            }
            EntryKind::Skipped => return Ok(()),
        }
        if self.as_root && matches!(e.kind, EntryKind::Dir | EntryKind::Symlink) {
            self.chown(e, &dst, None)?;
        }
        self.restored += 1;
        Ok(())
    }
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Bytes per read and write when restoring a file.
const COPY_BUF: usize = 256 * 1024;

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

fn remove_non_dir(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a directory is in the way",
        )),
        Ok(_) => fs::remove_file(p),
        Err(_) => Ok(()),
    }
}

fn to_system_time(mtime: i64) -> SystemTime {
    if mtime >= 0 {
        UNIX_EPOCH + Duration::from_secs(mtime as u64)
    } else {
        UNIX_EPOCH
    }
}

/// Moves everything in `staging` into `target`, merging directories: an
/// entry of the backup replaces what is at the same path in `target`, a
/// symlink in `target` is replaced, never followed; other files in `target`
/// stay. `staging` is removed.
pub fn commit(staging: &Path, target: &Path) -> Result<()> {
    merge(staging, target)?;
    fs::remove_dir(staging).ctx(|| format!("removing {}", staging.display()))?;
    crate::repo::fsync_dir(target)
}

fn merge(from: &Path, to: &Path) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(from)
        .ctx(|| format!("reading {}", from.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .ctx(|| format!("reading {}", from.display()))?;
    names.sort();
    for name in names {
        let src = from.join(&name);
        let dst = to.join(&name);
        let at = || format!("moving restored {} into place", dst.display());
        let s = fs::symlink_metadata(&src).ctx(at)?;
        match fs::symlink_metadata(&dst) {
            Ok(d) if d.is_dir() && s.is_dir() => {
                merge(&src, &dst)?;
                let perm = s.permissions();
                fs::remove_dir(&src).ctx(at)?;
                fs::set_permissions(&dst, perm).ctx(at)?;
                continue;
            }
            Ok(d) if d.is_dir() => fs::remove_dir_all(&dst).ctx(at)?,
            Ok(_) => fs::remove_file(&dst).ctx(at)?,
            Err(_) => {}
        }
        fs::rename(&src, &dst).ctx(at)?;
    }
    Ok(())
}
