//! Extracting entries into a staging directory.
//!
//! The reader has already refused absolute paths, `..`, reserved names,
//! device nodes, repeated paths and entries below a stored symlink or file,
//! so every entry names a new place inside the staging directory. The
//! staging directory is fresh, mode 0700, and reached only through its open
//! descriptor: every directory below it is opened relative to its parent
//! without following symlinks, every file and symlink created relative to
//! its open parent. Nothing becomes visible at the target until the whole
//! stream has been checked against the manifest; then `super::commit`
//! moves the staged tree into place.

use super::crew::{Crew, INLINE_MAX};
use super::placer::{Content, Owner, Placer, to_system_time};
use super::reader::{EntrySink, stream_error};
use crate::beneath;
use crate::error::{Error, Result};
use crate::manifest::{Entry, EntryKind, EntryPath};
use rustix::fs::{AtFlags, FileType, Mode, RawMode};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Threads creating small files next to the main thread (which parses,
/// checks, and writes large files). Creating files is kernel work that
/// scales with cores; more threads than cores only contend.
fn crew_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// A directory whose mode and time are applied at the end.
struct DirMode {
    path: EntryPath,
    mode: u32,
    mtime: i64,
}

/// Writes entries below a staging directory, optionally only those under
/// `filter`.
///
/// Small files and symlinks are put in place by a crew of threads; call
/// [`Extractor::finish`] after the last entry to wait for them and to
/// apply directory modes and times. Dropping an extractor without
/// `finish` (after an error) stops the crew and drops what is still
/// queued.
pub(crate) struct Extractor {
    root: Arc<OwnedFd>,
    filter: Option<EntryPath>,
    dirs: Vec<DirMode>,
    /// The copy buffer for large files, reused for every file (a fresh
    /// zeroed buffer per file cost more than writing small files).
    buf: Vec<u8>,
    /// The directory the previous entry was put in, and its descriptor:
    /// the stream lists a directory's entries together, so most entries
    /// open nothing.
    parent: Option<(Vec<u8>, Arc<OwnedFd>)>,
    /// Places large files, on this thread.
    placer: Placer,
    crew: Option<Crew>,
    /// Entries written.
    pub(crate) restored: u64,
    /// File bytes written.
    pub(crate) bytes: u64,
    /// Things that could not be restored exactly.
    pub(crate) warnings: Vec<String>,
}

impl Extractor {
    /// An extractor for backup `id` into the (empty) staging directory open
    /// as `root` (`path` names it in messages). Owners and set-id bits are
    /// restored only when running as root.
    pub(crate) fn new(
        id: &str,
        root: OwnedFd,
        path: PathBuf,
        filter: Option<EntryPath>,
    ) -> Result<Self> {
        let as_root = rustix::fs::fstat(&root)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e.into()))?
            .st_uid
            == 0;
        let placer = Placer::new(id, &path, root.as_fd(), as_root);
        Ok(Extractor {
            root: Arc::new(root),
            filter,
            dirs: Vec::new(),
            buf: vec![0; COPY_BUF],
            parent: None,
            crew: Some(Crew::start(&placer, crew_size())?),
            placer,
            restored: 0,
            bytes: 0,
            warnings: Vec::new(),
        })
    }

    /// Waits until every entry is in place, then applies directory modes
    /// and times, deepest first.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if let Some(crew) = self.crew.take() {
            crew.finish()?;
        }
        self.parent = None;
        while let Some(d) = self.dirs.pop() {
            let shown = self.placer.root_path().join(d.path.as_path());
            let at =
                |e: io::Error| Error::io(format!("setting permissions of {}", shown.display()), e);
            let f = File::from(
                beneath::open_dir_path(self.root.as_fd(), d.path.as_bytes()).map_err(at)?,
            );
            f.set_permissions(std::fs::Permissions::from_mode(d.mode))
                .map_err(at)?;
            let _ = f.set_modified(to_system_time(d.mtime));
        }
        Ok(())
    }

    /// The open directory that holds `path`, created if missing (a filtered
    /// restore skips the entries of its parents).
    fn parent_of(&mut self, path: &EntryPath) -> Result<Arc<OwnedFd>> {
        let p = path.as_bytes();
        let parent = p
            .iter()
            .rposition(|&c| c == b'/')
            .map_or(&p[..0], |i| &p[..i]);
        if let Some((cached, fd)) = &self.parent
            && cached == parent
        {
            return Ok(Arc::clone(fd));
        }
        let fd = if parent.is_empty() {
            Arc::clone(&self.root)
        } else {
            let open = match beneath::open_dir_path(self.root.as_fd(), parent) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    beneath::open_path(self.root.as_fd(), parent.split(|&c| c == b'/'), true)
                }
                r => r,
            };
            Arc::new(open.map_err(|e| {
                Error::io(
                    format!(
                        "restoring {}",
                        self.placer.root_path().join(path.as_path()).display()
                    ),
                    e,
                )
            })?)
        };
        self.parent = Some((parent.to_vec(), Arc::clone(&fd)));
        Ok(fd)
    }

    fn crew(&mut self) -> Result<&mut Crew> {
        self.crew
            .as_mut()
            .ok_or_else(|| Error::io("restoring", io::Error::other("the restore is finished")))
    }

    fn owner(&mut self, e: &Entry) -> Owner {
        if !self.placer.as_root() {
            return Owner::default();
        }
        let (owner, warning) = Owner::of(e);
        self.warnings.extend(warning);
        owner
    }

    fn dir(&mut self, e: &Entry, parent: &OwnedFd, name: &OsStr, owner: Owner) -> Result<()> {
        let shown = self.placer.shown(e);
        let at = |err: io::Error| Error::io(format!("restoring {}", shown.display()), err);
        match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            // Made already as the parent of an entry of a filtered restore.
            Err(rustix::io::Errno::EXIST)
                if beneath::kind_at(parent.as_fd(), name).map_err(at)?
                    == Some(FileType::Directory) => {}
            Err(err) => return Err(at(err.into())),
        }
        if self.placer.as_root() {
            let fd = beneath::open_dir(parent.as_fd(), name).map_err(at)?;
            rustix::fs::fchown(
                &fd,
                owner.uid.map(rustix::fs::Uid::from_raw),
                owner.gid.map(rustix::fs::Gid::from_raw),
            )
            .map_err(|err| {
                Error::io(
                    format!("setting the owner of {}", shown.display()),
                    err.into(),
                )
            })?;
        }
        self.dirs.push(DirMode {
            path: e.path.clone(),
            mode: self.placer.mode(e.mode),
            mtime: e.mtime,
        });
        Ok(())
    }

    /// A hard link to an entry restored before; a warning (not an error)
    /// when the target was not restored (a filtered restore) or is not a
    /// regular file.
    fn hardlink(&mut self, e: &Entry, parent: &OwnedFd, name: &OsStr) -> Result<bool> {
        let shown = self.placer.shown(e);
        let Some(target) = e.target.clone() else {
            return Err(Error::io(
                format!("restoring {}", shown.display()),
                io::Error::other("a hard link without a target"),
            ));
        };
        // The link's target may still be queued.
        self.crew()?.sync()?;
        let t = target.as_bytes();
        let (tdir, tname) = match t.iter().rposition(|&c| c == b'/') {
            Some(i) => (&t[..i], &t[i + 1..]),
            None => (&t[..0], t),
        };
        let tname = OsStr::from_bytes(tname);
        let found = beneath::open_dir_path(self.root.as_fd(), tdir)
            .ok()
            .filter(|d| {
                rustix::fs::statat(d, tname, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                    FileType::from_raw_mode(st.st_mode as RawMode) == FileType::RegularFile
                })
            });
        let Some(tparent) = found else {
            self.warnings.push(format!(
                "{}: not restored, its hard-link target {} was not restored as a file",
                e.path, target
            ));
            return Ok(false);
        };
        rustix::fs::linkat(&tparent, tname, parent, name, AtFlags::empty())
            .map(|()| true)
            .map_err(|err| Error::io(format!("restoring {}", shown.display()), err.into()))
    }
}

impl EntrySink for Extractor {
    fn entry(&mut self, e: &Entry, data: &mut dyn Read) -> Result<()> {
        if let Some(f) = &self.filter
            && !e.path.starts_with(f)
        {
            return Ok(());
        }
        let parent = self.parent_of(&e.path)?;
        let p = e.path.as_bytes();
        let name = OsStr::from_bytes(p.rsplit(|&c| c == b'/').next().unwrap_or(p));
        let owner = self.owner(e);
        match e.kind {
            EntryKind::Dir => self.dir(e, &parent, name, owner)?,
            EntryKind::File if e.size <= INLINE_MAX => {
                let id = self.placer.id().to_owned();
                self.crew()?.push(e, &parent, name, owner, |buf| {
                    buf.reserve(e.size as usize);
                    data.take(INLINE_MAX)
                        .read_to_end(buf)
                        .map(|_| ())
                        .map_err(|err| stream_error(&id, err))
                })?;
                self.bytes += e.size;
            }
            EntryKind::File => {
                let content = Content::Stream(data, &mut self.buf);
                self.bytes += self.placer.file(e, parent.as_fd(), name, owner, content)?;
            }
            EntryKind::Symlink => self.crew()?.push(e, &parent, name, owner, |_| Ok(()))?,
            EntryKind::Hardlink => {
                if !self.hardlink(e, &parent, name)? {
                    return Ok(());
                }
            }
            EntryKind::Skipped => return Ok(()),
        }
        self.restored += 1;
        Ok(())
    }
}

/// Bytes per read and write when restoring a large file.
const COPY_BUF: usize = 256 * 1024;
