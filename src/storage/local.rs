//! A repository in a local directory: each key is a file under the root.
//!
//! Every operation opens the root directory and walks down to the key's
//! directory one component at a time without following symlinks
//! ([`crate::beneath`]); the file itself is opened with `O_NOFOLLOW`. A
//! symlink planted where a class directory, a sidecar or the lock should be
//! is therefore an error or a listed oddity, never a way out of the
//! repository.
//!
//! Small objects are written to a temporary name, fsynced, renamed and the
//! directory fsynced; uploads go to `tmp/.<name>.*.partial` and are renamed
//! into place on commit. After a crash a file is absent or complete.

use super::RepoLock;
use super::direct_file::DirectFile;
use super::{LockGuard, ObjectInfo, ObjectKey, ObjectKind, Storage, Upload, Versions};
use crate::beneath;
use crate::error::{Error, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawMode, RenameFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Name of the directory of partial writes and scratch files.
const TMP: &str = "tmp";

/// A repository directory.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
    location: String,
    /// The root directory, opened once (by the path given) and then used
    /// for every operation.
    root_fd: Arc<OnceLock<OwnedFd>>,
}

/// Flags for opening an object to read: never a symlink, never blocking
/// on a fifo planted in its place.
const READ: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC);
/// Flags for creating a new file.
const CREATE: OFlags = OFlags::WRONLY
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl LocalStorage {
    /// The directory `root` (which need not exist yet).
    pub fn new(root: &Path) -> Self {
        LocalStorage {
            root: root.to_owned(),
            location: root.display().to_string(),
            root_fd: Arc::new(OnceLock::new()),
        }
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        key.components().fold(self.root.clone(), |p, c| p.join(c))
    }

    /// An I/O error about `key`, saying that nkbackup does not follow
    /// symlinks inside a repository when that is why it failed.
    fn err(&self, action: &str, key: &ObjectKey, e: io::Error) -> Error {
        let path = self.path(key);
        let context = match e.raw_os_error() {
            Some(libc::ELOOP | libc::ENOTDIR) => format!(
                "{action} {}: a symlink or a file is where nkbackup expects a directory or file of the repository, and it never follows one there; remove it (or restore what was there)",
                path.display()
            ),
            _ => format!("{action} {}", path.display()),
        };
        Error::io(context, e)
    }

    /// The root directory's descriptor, opened on first use.
    fn root(&self) -> io::Result<BorrowedFd<'_>> {
        if let Some(fd) = self.root_fd.get() {
            return Ok(fd.as_fd());
        }
        let fd = beneath::open_root(&self.root)?;
        // Another thread may have set it meanwhile: either is the root.
        let _ = self.root_fd.set(fd);
        Ok(self.root_fd.get().expect("set above").as_fd())
    }

    /// The directory `dir` of the repository (`None`: the root), opened
    /// without following symlinks; created if `create`.
    fn dir(&self, dir: Option<&ObjectKey>, create: bool) -> io::Result<OwnedFd> {
        let root = self.root()?;
        let Some(dir) = dir else {
            return beneath::open_dir_path(root, b"");
        };
        match beneath::open_dir_path(root, dir.as_str().as_bytes()) {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                beneath::open_path(root, dir.components().map(str::as_bytes), true)
            }
            r => r,
        }
    }

    /// The directory holding `key`, and the key's last component.
    fn parent<'k>(&self, key: &'k ObjectKey, create: bool) -> io::Result<(OwnedFd, &'k OsStr)> {
        let fd = self.dir(key.parent().as_ref(), create)?;
        Ok((fd, OsStr::new(key.name())))
    }

    /// Opens `key` for reading: a regular file, or an error saying what is
    /// there instead. `None` if nothing is.
    fn open_file(&self, key: &ObjectKey) -> Result<Option<(File, u64)>> {
        let at = |e| self.err("reading", key, e);
        let (dir, name) = match self.parent(key, false) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(at(e)),
        };
        let fd = match rustix::fs::openat(&dir, name, READ, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => {
                return Err(not_a_file(&self.path(key), ObjectKind::Symlink));
            }
            Err(e) => return Err(at(e.into())),
        };
        let size = self.regular(key, &fd)?;
        // O_NONBLOCK does not change reads of a regular file.
        Ok(Some((File::from(fd), size)))
    }

    /// The size of the file open as `fd` for `key`, or an error saying
    /// what is there instead of a regular file.
    fn regular(&self, key: &ObjectKey, fd: &OwnedFd) -> Result<u64> {
        let st = rustix::fs::fstat(fd).map_err(|e| self.err("reading", key, e.into()))?;
        match kind_of(FileType::from_raw_mode(st.st_mode as RawMode)) {
            ObjectKind::Object => Ok(st.st_size as u64),
            kind => Err(not_a_file(&self.path(key), kind)),
        }
    }

    fn walk(&self, dir: BorrowedFd<'_>, prefix: &str, out: &mut Vec<ObjectInfo>) -> Result<()> {
        let here = || self.root.join(prefix);
        let read = |e: io::Error| Error::io(format!("reading {}", here().display()), e);
        for name in beneath::list(dir).map_err(read)? {
            // A name that cannot be a key (not UTF-8, a control character)
            // is nothing nkbackup wrote, and no operation can name it.
            let Some(key) = std::str::from_utf8(&name)
                .ok()
                .and_then(|n| ObjectKey::new(format!("{prefix}{n}")).ok())
            else {
                continue;
            };
            let os = OsStr::from_bytes(&name);
            let st = match rustix::fs::statat(dir, os, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Removed since the directory was read.
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(read(e.into())),
            };
            let kind = kind_of(FileType::from_raw_mode(st.st_mode as RawMode));
            let modified = u64::try_from(st.st_mtime)
                .ok()
                .map(|s| UNIX_EPOCH + Duration::new(s, st.st_mtime_nsec as u32));
            let info = ObjectInfo {
                key: key.clone(),
                size: st.st_size as u64,
                modified,
                etag: None,
                kind,
            };
            out.push(info);
            if kind == ObjectKind::Directory {
                match beneath::open_dir(dir, os) {
                    Ok(sub) => self.walk(sub.as_fd(), &format!("{key}/"), out)?,
                    // Swapped for something else since the stat: listed as a
                    // directory, its content is not reached.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {}
                    Err(e) => return Err(read(e)),
                }
            }
        }
        Ok(())
    }

    /// Writes `bytes` to a fresh temporary file in `dir`, fsynced; its name.
    fn synced_temp(&self, dir: BorrowedFd<'_>, key: &ObjectKey, bytes: &[u8]) -> Result<String> {
        let at = |e| self.err("writing", key, e);
        let tmp = beneath::temp_name(key.name(), ".tmp");
        let fd = rustix::fs::openat(dir, tmp.as_str(), CREATE, Mode::from_raw_mode(0o600))
            .map_err(|e| at(e.into()))?;
        let mut f = File::from(fd);
        if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
            let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
            return Err(at(e));
        }
        Ok(tmp)
    }

    /// A lock on the file `key` (created if needed), waiting up to `wait`.
    pub fn lock_file(&self, key: &ObjectKey, wait: Duration) -> Result<RepoLock> {
        let (dir, name) = self
            .parent(key, true)
            .map_err(|e| self.err("opening lock file", key, e))?;
        RepoLock::exclusive_at(dir.as_fd(), name, &self.path(key), wait)
    }
}

fn kind_of(t: FileType) -> ObjectKind {
    match t {
        FileType::RegularFile => ObjectKind::Object,
        FileType::Directory => ObjectKind::Directory,
        FileType::Symlink => ObjectKind::Symlink,
        _ => ObjectKind::Special,
    }
}

fn not_a_file(path: &Path, kind: ObjectKind) -> Error {
    Error::NotAFile {
        path: path.to_owned(),
        kind: kind.describe(),
    }
}

impl Storage for LocalStorage {
    fn location(&self) -> &str {
        &self.location
    }

    fn describe(&self, key: &ObjectKey) -> String {
        self.path(key).display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn scratch_file(&self) -> Result<File> {
        let tmp = ObjectKey::from_parts(&[TMP]);
        let at = |e| self.err("creating a scratch file in", &tmp, e);
        let dir = self.dir(Some(&tmp), true).map_err(at)?;
        let flags = OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC;
        match rustix::fs::openat(&dir, ".", flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => Ok(File::from(fd)),
            // Filesystems without O_TMPFILE: a named file, unlinked at once.
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR) => {
                let name = beneath::temp_name("scratch", ".tmp");
                let flags = OFlags::RDWR
                    | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(0o600))
                    .map_err(|e| at(e.into()))?;
                rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty())
                    .map_err(|e| at(e.into()))?;
                Ok(File::from(fd))
            }
            Err(e) => Err(at(e.into())),
        }
    }

    fn get(&self, key: &ObjectKey, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some((file, size)) = self.open_file(key)? else {
            return Ok(None);
        };
        let what = self.describe(key);
        if size > limit {
            return Err(Error::TooLarge { what, limit });
        }
        super::read_limited(file, limit, &what).map(Some)
    }

    fn open(&self, key: &ObjectKey) -> Result<Option<Box<dyn Read + Send>>> {
        Ok(self
            .open_file(key)?
            .map(|(f, _)| Box::new(f) as Box<dyn Read + Send>))
    }

    fn open_seekable(&self, key: &ObjectKey) -> Result<Option<Box<dyn super::ReadSeek>>> {
        Ok(self
            .open_file(key)?
            .map(|(f, _)| Box::new(f) as Box<dyn super::ReadSeek>))
    }

    fn put(&self, key: &ObjectKey, bytes: &[u8]) -> Result<()> {
        let at = |e| self.err("writing", key, e);
        let (dir, name) = self.parent(key, true).map_err(at)?;
        let tmp = self.synced_temp(dir.as_fd(), key, bytes)?;
        if let Err(e) = rustix::fs::renameat(&dir, tmp.as_str(), &dir, name) {
            let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), AtFlags::empty());
            return Err(at(e.into()));
        }
        rustix::fs::fsync(&dir).map_err(|e| at(e.into()))
    }

    fn put_new(&self, key: &ObjectKey, bytes: &[u8]) -> Result<bool> {
        let at = |e| self.err("writing", key, e);
        let (dir, name) = self.parent(key, true).map_err(at)?;
        let tmp = self.synced_temp(dir.as_fd(), key, bytes)?;
        let placed =
            match rustix::fs::renameat_with(&dir, tmp.as_str(), &dir, name, RenameFlags::NOREPLACE)
            {
                // A filesystem without RENAME_NOREPLACE: a hard link fails the
                // same way when the name is taken.
                Err(rustix::io::Errno::INVAL) => {
                    rustix::fs::linkat(&dir, tmp.as_str(), &dir, name, AtFlags::empty())
                }
                r => r,
            };
        let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), AtFlags::empty());
        match placed {
            Ok(()) => rustix::fs::fsync(&dir)
                .map(|()| true)
                .map_err(|e| at(e.into())),
            Err(rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(at(e.into())),
        }
    }

    fn upload(&self, key: &ObjectKey) -> Result<Box<dyn Upload>> {
        let tmp_key = ObjectKey::from_parts(&[TMP]);
        let tmp_dir = self
            .dir(Some(&tmp_key), true)
            .map_err(|e| self.err("creating", &tmp_key, e))?;
        let (dest_dir, dest_name) = self
            .parent(key, true)
            .map_err(|e| self.err("creating the directory of", key, e))?;
        let stem = key.name().trim_end_matches(".age");
        let tmp_name = beneath::temp_name(stem, ".partial");
        let fd = rustix::fs::openat(
            &tmp_dir,
            tmp_name.as_str(),
            CREATE,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| self.err("creating a temporary file in", &tmp_key, e.into()))?;
        Ok(Box::new(LocalUpload {
            out: Some(DirectFile::new(File::from(fd))),
            tmp_dir,
            tmp_name,
            dest_dir,
            dest_name: dest_name.to_owned().into_string().unwrap_or_default(),
            dest: self.path(key),
        }))
    }

    fn append(&self, key: &ObjectKey, line: &[u8], _limit: u64) -> Result<()> {
        let at = |e| self.err("appending to", key, e);
        let (dir, name) = self.parent(key, true).map_err(at)?;
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let (fd, created) = match rustix::fs::openat(&dir, name, flags, Mode::empty()) {
            Ok(fd) => (fd, false),
            Err(rustix::io::Errno::NOENT) => {
                let fd = rustix::fs::openat(
                    &dir,
                    name,
                    CREATE | OFlags::APPEND,
                    Mode::from_raw_mode(0o644),
                )
                .map_err(|e| at(e.into()))?;
                (fd, true)
            }
            Err(rustix::io::Errno::LOOP) => {
                return Err(not_a_file(&self.path(key), ObjectKind::Symlink));
            }
            Err(e) => return Err(at(e.into())),
        };
        self.regular(key, &fd)?;
        let mut f = File::from(fd);
        f.write_all(line).and_then(|()| f.sync_all()).map_err(at)?;
        if created {
            rustix::fs::fsync(&dir).map_err(|e| at(e.into()))?;
        }
        Ok(())
    }

    fn list(&self, dir: Option<&ObjectKey>) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let fd = match self.dir(dir, false) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(match dir {
                    Some(d) => self.err("listing", d, e),
                    None => Error::io(format!("listing {}", self.root.display()), e),
                });
            }
        };
        let prefix = dir.map_or_else(String::new, |d| format!("{d}/"));
        self.walk(fd.as_fd(), &prefix, &mut out)?;
        Ok(out)
    }

    fn exists(&self, key: &ObjectKey) -> Result<bool> {
        Ok(self.stat(key)?.is_some())
    }

    fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>> {
        let at = |e| self.err("cannot stat", key, e);
        let (dir, name) = match self.parent(key, false) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(at(e)),
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(ObjectInfo {
                key: key.clone(),
                size: st.st_size as u64,
                modified: u64::try_from(st.st_mtime)
                    .ok()
                    .map(|s| UNIX_EPOCH + Duration::new(s, st.st_mtime_nsec as u32))
                    .or(Some(SystemTime::UNIX_EPOCH)),
                etag: None,
                kind: kind_of(FileType::from_raw_mode(st.st_mode as RawMode)),
            })),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(at(e.into())),
        }
    }

    fn delete(&self, key: &ObjectKey) -> Result<()> {
        let at = |e| self.err("deleting", key, e);
        let (dir, name) = match self.parent(key, false) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(at(e)),
        };
        match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Ok(()) => rustix::fs::fsync(&dir).map_err(|e| at(e.into())),
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(at(e.into())),
        }
    }

    fn versions(&self, _key: &ObjectKey) -> Result<Versions> {
        Ok(Versions::NotVersioned {
            why: "a directory keeps no versions".into(),
        })
    }

    fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>> {
        let root = self
            .root()
            .map_err(|e| Error::io(format!("opening repository {}", self.root.display()), e))?;
        let path = self.root.join("lock");
        Ok(Box::new(RepoLock::exclusive_at(
            root,
            OsStr::new("lock"),
            &path,
            wait,
        )?))
    }

    fn lock_object(&self, key: &ObjectKey, wait: Duration) -> Result<Box<dyn LockGuard>> {
        Ok(Box::new(self.lock_file(key, wait)?))
    }

    fn seal_locks(&self) -> bool {
        true
    }

    fn appends_in_place(&self) -> bool {
        true
    }
}

/// A file being written under `tmp/`, renamed into place on commit and
/// removed if dropped before.
struct LocalUpload {
    out: Option<DirectFile>,
    tmp_dir: OwnedFd,
    tmp_name: String,
    dest_dir: OwnedFd,
    dest_name: String,
    /// For messages.
    dest: PathBuf,
}

impl Write for LocalUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Some(o) => o.write(buf),
            None => Err(io::Error::other("the upload is finished")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Upload for LocalUpload {
    fn commit(mut self: Box<Self>) -> Result<()> {
        // Until the rename, the backup is only a temporary file, removed
        // when `self` is dropped on the way out.
        let at = |e| {
            Error::io(
                format!(
                    "writing {} (nothing was committed; the partial file is removed)",
                    self.dest.display()
                ),
                e,
            )
        };
        let out = self.out.take().expect("committed once");
        let file = out.finish().map_err(at)?;
        file.sync_all().map_err(at)?;
        drop(file);
        rustix::fs::renameat(
            &self.tmp_dir,
            self.tmp_name.as_str(),
            &self.dest_dir,
            self.dest_name.as_str(),
        )
        .map_err(|e| at(e.into()))?;
        self.tmp_name.clear();
        rustix::fs::fsync(&self.dest_dir).map_err(|e| at(e.into()))?;
        rustix::fs::fsync(&self.tmp_dir).map_err(|e| at(e.into()))
    }

    fn abort(self: Box<Self>) -> Result<()> {
        // Dropping removes the partial file.
        Ok(())
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if !self.tmp_name.is_empty() {
            let _ = rustix::fs::unlinkat(&self.tmp_dir, self.tmp_name.as_str(), AtFlags::empty());
        }
    }
}
