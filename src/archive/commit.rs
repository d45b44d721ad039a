//! The restore target: opening it, staging beside or inside it, and
//! committing the staged tree.
//!
//! Everything here works on directory descriptors, because a restore runs
//! as root into trees that service users can change while it runs:
//!
//! * the target is opened once, its last component with `O_NOFOLLOW` (a
//!   symlink there is refused); the staging directory is made relative to
//!   it (or to its parent), mode 0700, and written only through its own
//!   descriptor;
//! * a new target is committed with one `renameat2(RENAME_NOREPLACE)`:
//!   all of it appears at once or nothing does;
//! * an existing target (`--force`) is merged: each staged entry either
//!   moves in where nothing is (`RENAME_NOREPLACE`), or the entry in its way
//!   is first moved aside into a *replaced* directory, never followed, never
//!   deleted before the merge has finished; a staged directory meeting a
//!   target directory is merged into it, opened with `O_NOFOLLOW`, and its
//!   mode is set on that descriptor (`fchmod`), so a directory swapped for
//!   a symlink mid-restore is moved aside, not written through.
//!
//! A merge that fails part-way leaves the target partly restored; the
//! error ([`crate::Error::CommitFailed`]) says how much was changed, where
//! the replaced originals are (with an `index.txt` of what each was), and
//! what had not been moved yet.

use crate::beneath;
use crate::error::{Error, Result};
use rustix::fs::{AtFlags, FileType, Mode, RenameFlags};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where a restore goes.
pub(crate) enum Target {
    /// Nothing is there yet: `name` in the directory `parent`.
    New {
        parent: OwnedFd,
        name: OsString,
        path: PathBuf,
    },
    /// An existing directory (empty, or merged into with `--force`).
    Existing { fd: OwnedFd, path: PathBuf },
}

/// The staging directory of a restore, removed when dropped unless the
/// commit put it (or kept it) elsewhere.
pub(crate) struct Staging {
    holder: OwnedFd,
    name: String,
    fd: OwnedFd,
    path: PathBuf,
    keep: bool,
}

impl Staging {
    /// A new descriptor of the staging directory, for the extractor.
    pub(crate) fn fd(&self) -> Result<OwnedFd> {
        self.fd
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", self.path.display()), e))
    }

    /// Where it is, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = beneath::remove_tree(self.holder.as_fd(), OsStr::new(&self.name));
        }
    }
}

fn io_at(what: &str, path: &Path) -> impl Fn(io::Error) -> Error + use<> {
    let context = format!("{what} {}", path.display());
    move |e| Error::io(context.clone(), e)
}

fn not_a_dir(path: &Path, what: &str) -> Error {
    Error::io(
        format!("restoring into {}", path.display()),
        io::Error::new(io::ErrorKind::AlreadyExists, what.to_owned()),
    )
}

impl Target {
    /// Opens the restore target `path`. A missing target's parent is
    /// created; an existing one must be a directory (not a symlink to
    /// one), and empty unless `force`.
    pub(crate) fn open(path: &Path, force: bool) -> Result<Target> {
        let Some(name) = path.file_name() else {
            // `/`, `.` or `..`: only ever an existing directory.
            let fd = beneath::open_root(path).map_err(io_at("opening", path))?;
            return Self::existing(fd, path, force);
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_at("creating", &parent))?;
        let parent_fd = beneath::open_root(&parent).map_err(io_at("opening", &parent))?;
        match beneath::kind_at(parent_fd.as_fd(), name).map_err(io_at("reading", path))? {
            None => Ok(Target::New {
                parent: parent_fd,
                name: name.to_owned(),
                path: path.to_owned(),
            }),
            Some(FileType::Directory) => {
                let fd =
                    beneath::open_dir(parent_fd.as_fd(), name).map_err(io_at("opening", path))?;
                Self::existing(fd, path, force)
            }
            Some(FileType::Symlink) => Err(not_a_dir(
                path,
                "it is a symlink; give the directory it points to (a restore never follows a symlink as its target)",
            )),
            Some(_) => Err(not_a_dir(path, "it exists and is not a directory")),
        }
    }

    fn existing(fd: OwnedFd, path: &Path, force: bool) -> Result<Target> {
        if !force
            && !beneath::list(fd.as_fd())
                .map_err(io_at("reading", path))?
                .is_empty()
        {
            return Err(Error::TargetNotEmpty {
                path: path.to_owned(),
            });
        }
        Ok(Target::Existing {
            fd,
            path: path.to_owned(),
        })
    }

    /// The target as given.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Target::New { path, .. } | Target::Existing { path, .. } => path,
        }
    }

    /// The directory that will hold the staging directory: the target's
    /// parent for a new target, the target itself for an existing one.
    fn holder(&self) -> (BorrowedFd<'_>, PathBuf, String) {
        match self {
            Target::New { parent, name, path } => (
                parent.as_fd(),
                path.parent().map(Path::to_owned).unwrap_or_default(),
                format!(
                    ".{}.nkbackup-partial",
                    String::from_utf8_lossy(name.as_bytes())
                ),
            ),
            Target::Existing { fd, path } => {
                (fd.as_fd(), path.to_owned(), "nkbackup-restore".to_owned())
            }
        }
    }

    /// The identity (device, inode) of the directory restored into: the
    /// existing target, or the new target's parent.
    pub(crate) fn identity(&self) -> Result<(u64, u64)> {
        let fd = match self {
            Target::New { parent, .. } => parent.as_fd(),
            Target::Existing { fd, .. } => fd.as_fd(),
        };
        let st = rustix::fs::fstat(fd).map_err(|e| io_at("reading", self.path())(e.into()))?;
        Ok((st.st_dev, st.st_ino))
    }

    /// Makes a fresh staging directory (mode 0700).
    pub(crate) fn stage(&self) -> Result<Staging> {
        let (holder, holder_path, stem) = self.holder();
        let stem: String = stem.chars().take(200).collect();
        for _ in 0..16 {
            let name = beneath::temp_name(stem.trim_start_matches('.'), "");
            match rustix::fs::mkdirat(holder, name.as_str(), Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => {
                    return Err(io_at("creating a staging directory in", &holder_path)(
                        e.into(),
                    ));
                }
            }
            let path = holder_path.join(&name);
            let holder = rustix::fs::openat(holder, ".", beneath::DIR, Mode::empty())
                .map_err(|e| io_at("opening", &holder_path)(e.into()))?;
            let fd = beneath::open_dir(holder.as_fd(), OsStr::new(&name))
                .map_err(io_at("opening", &path))?;
            return Ok(Staging {
                holder,
                name,
                fd,
                path,
                keep: false,
            });
        }
        Err(io_at("creating a staging directory in", &holder_path)(
            io::Error::other("no free name"),
        ))
    }

    /// Puts the staged tree in place. `guarded` is the path of the
    /// repository below an existing target, if it lies there: a staged
    /// tree that would replace or merge into it is refused before anything
    /// changes.
    pub(crate) fn commit(&self, mut staging: Staging, guarded: Option<&[OsString]>) -> Result<()> {
        match self {
            Target::New { parent, name, path } => {
                let moved = match rustix::fs::renameat_with(
                    parent,
                    staging.name.as_str(),
                    parent,
                    name.as_os_str(),
                    RenameFlags::NOREPLACE,
                ) {
                    Err(rustix::io::Errno::INVAL) => {
                        if beneath::kind_at(parent.as_fd(), name)
                            .map_err(io_at("reading", path))?
                            .is_some()
                        {
                            Err(rustix::io::Errno::EXIST)
                        } else {
                            rustix::fs::renameat(
                                parent,
                                staging.name.as_str(),
                                parent,
                                name.as_os_str(),
                            )
                        }
                    }
                    r => r,
                };
                match moved {
                    Ok(()) => staging.keep = true,
                    Err(rustix::io::Errno::EXIST) => {
                        return Err(not_a_dir(
                            path,
                            "something appeared at the target during the restore; nothing was put in place",
                        ));
                    }
                    Err(e) => {
                        return Err(io_at(
                            &format!("moving the restored tree {} to", staging.path.display()),
                            path,
                        )(e.into()));
                    }
                }
                // Whoever can write the parent could have swapped the
                // staging directory for another under its name.
                let ours =
                    rustix::fs::fstat(&staging.fd).map_err(|e| io_at("reading", path)(e.into()))?;
                let there = rustix::fs::statat(parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io_at("reading", path)(e.into()))?;
                if (ours.st_dev, ours.st_ino) != (there.st_dev, there.st_ino) {
                    return Err(not_a_dir(
                        path,
                        "the staging directory was replaced by someone else during the restore; what is at the target now is not the restored tree: investigate who can write its parent directory",
                    ));
                }
                rustix::fs::fsync(parent).map_err(|e| io_at("syncing", path)(e.into()))
            }
            Target::Existing { fd, path } => {
                if let Some(chain) = guarded {
                    refuse_repository_overlap(&staging, chain, path)?;
                }
                let mut merge = Merge {
                    holder: staging.holder.as_fd(),
                    holder_path: &staging
                        .path
                        .parent()
                        .map(Path::to_owned)
                        .unwrap_or_default(),
                    replaced: None,
                    log: ChangeLog::default(),
                };
                let result = merge.dir(staging.fd.as_fd(), fd.as_fd(), Path::new(""));
                let replaced = merge.replaced.take();
                let log = merge.log;
                match result {
                    Ok(()) => {
                        if let Some(r) = replaced {
                            drop(r.index);
                            beneath::remove_tree(staging.holder.as_fd(), OsStr::new(&r.name))
                                .map_err(io_at("removing", &r.path))?;
                        }
                        // Empty now; dropping `staging` removes it.
                        rustix::fs::fsync(fd).map_err(|e| io_at("syncing", path)(e.into()))
                    }
                    Err((at, cause)) => {
                        staging.keep = true;
                        let replaced_path = replaced.map(|mut r| {
                            let _ = r.index.flush();
                            r.path
                        });
                        Err(Error::CommitFailed(Box::new(crate::error::CommitFailure {
                            target: path.to_owned(),
                            at: crate::text::escape_bytes(at.as_os_str().as_bytes()),
                            cause,
                            added: log.added,
                            replaced: log.replaced,
                            examples: if log.examples.is_empty() {
                                "none".into()
                            } else {
                                log.examples.join(", ")
                            },
                            originals: replaced_path.map_or_else(
                                || "(none were replaced)".into(),
                                |p| p.display().to_string(),
                            ),
                            staging: staging.path.clone(),
                        })))
                    }
                }
            }
        }
    }
}

/// Refuses a staged tree that holds the repository's path (below the
/// target) or one of its ancestors: committing it would replace the
/// repository or write into it.
fn refuse_repository_overlap(staging: &Staging, chain: &[OsString], target: &Path) -> Result<()> {
    let mut dir = staging.fd()?;
    let mut rel = PathBuf::new();
    for c in chain {
        rel.push(c);
        match beneath::kind_at(dir.as_fd(), c).map_err(io_at("reading", &staging.path))? {
            None => return Ok(()),
            Some(kind) => {
                if kind != FileType::Directory {
                    return Err(Error::TargetHoldsRepository {
                        target: target.to_owned(),
                        entry: rel,
                    });
                }
                dir = beneath::open_dir(dir.as_fd(), c).map_err(io_at("reading", &staging.path))?;
            }
        }
    }
    Err(Error::TargetHoldsRepository {
        target: target.to_owned(),
        entry: rel,
    })
}

/// What a merge changed in the target.
#[derive(Default)]
struct ChangeLog {
    added: u64,
    replaced: u64,
    /// The first few changes, for the error message.
    examples: Vec<String>,
}

impl ChangeLog {
    fn note(&mut self, what: &str, path: &Path) {
        if self.examples.len() < 10 {
            self.examples.push(format!(
                "{what} {}",
                crate::text::escape_bytes(path.as_os_str().as_bytes())
            ));
        }
    }
}

/// Where replaced entries go: a directory beside the staging directory,
/// with an index of what each was.
struct Replaced {
    name: String,
    path: PathBuf,
    fd: OwnedFd,
    index: BufWriter<File>,
    next: u64,
}

struct Merge<'a> {
    holder: BorrowedFd<'a>,
    holder_path: &'a Path,
    replaced: Option<Replaced>,
    log: ChangeLog,
}

/// A merge error: where it happened, and why.
type MergeError = (PathBuf, Error);

impl Merge<'_> {
    fn replaced(&mut self) -> Result<&mut Replaced> {
        if self.replaced.is_none() {
            let name = beneath::temp_name("nkbackup-replaced", "");
            let path = self.holder_path.join(&name);
            let at = io_at("creating", &path);
            rustix::fs::mkdirat(self.holder, name.as_str(), Mode::from_raw_mode(0o700))
                .map_err(|e| at(e.into()))?;
            let fd = beneath::open_dir(self.holder, OsStr::new(&name)).map_err(&at)?;
            let index = rustix::fs::openat(
                &fd,
                "index.txt",
                rustix::fs::OFlags::WRONLY
                    | rustix::fs::OFlags::CREATE
                    | rustix::fs::OFlags::EXCL
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| at(e.into()))?;
            self.replaced = Some(Replaced {
                name,
                path,
                fd,
                index: BufWriter::new(File::from(index)),
                next: 0,
            });
        }
        Ok(self.replaced.as_mut().expect("made above"))
    }

    /// Merges the staged directory `from` into the target directory `to`;
    /// `rel` is their path below the target.
    fn dir(
        &mut self,
        from: BorrowedFd<'_>,
        to: BorrowedFd<'_>,
        rel: &Path,
    ) -> Result<(), MergeError> {
        let mut names = beneath::list(from).map_err(|e| {
            (
                rel.to_owned(),
                Error::io("reading the staging directory", e),
            )
        })?;
        names.sort();
        for name in names {
            let os = OsStr::from_bytes(&name);
            let here = rel.join(os);
            self.entry(from, to, os, &here)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        from: BorrowedFd<'_>,
        to: BorrowedFd<'_>,
        name: &OsStr,
        here: &Path,
    ) -> Result<(), MergeError> {
        let fail = |e: io::Error| {
            (
                here.to_owned(),
                Error::io("moving the restored entry into place", e),
            )
        };
        let ours = beneath::kind_at(from, name).map_err(fail)?;
        if ours.is_none() {
            return Ok(());
        }
        // Someone else may change the target between each look and act:
        // look again, a few times, rather than act on a stale look.
        for _ in 0..8 {
            let theirs = beneath::kind_at(to, name).map_err(fail)?;
            match (ours, theirs) {
                (Some(FileType::Directory), Some(FileType::Directory)) => {
                    let sub_to = match beneath::open_dir(to, name) {
                        Ok(fd) => fd,
                        // Swapped for something else since the look.
                        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                            continue;
                        }
                        Err(e) => return Err(fail(e)),
                    };
                    let sub_from = beneath::open_dir(from, name).map_err(fail)?;
                    self.dir(sub_from.as_fd(), sub_to.as_fd(), here)?;
                    let st = rustix::fs::fstat(&sub_from).map_err(|e| fail(e.into()))?;
                    rustix::fs::fchmod(&sub_to, Mode::from_raw_mode(st.st_mode & 0o7777))
                        .map_err(|e| fail(e.into()))?;
                    rustix::fs::unlinkat(from, name, AtFlags::REMOVEDIR)
                        .map_err(|e| fail(e.into()))?;
                    return Ok(());
                }
                (_, None) => match move_in(from, to, name) {
                    Ok(()) => {
                        self.log.added += 1;
                        self.log.note("added", here);
                        return Ok(());
                    }
                    Err(rustix::io::Errno::EXIST) => continue,
                    Err(e) => return Err(fail(e.into())),
                },
                (_, Some(_)) => {
                    let r = self.replaced().map_err(|e| (here.to_owned(), e))?;
                    let slot = r.next.to_string();
                    match rustix::fs::renameat(to, name, &r.fd, slot.as_str()) {
                        Ok(()) => {}
                        Err(rustix::io::Errno::NOENT) => continue,
                        Err(e) => return Err(fail(e.into())),
                    }
                    r.next += 1;
                    let _ = writeln!(
                        r.index,
                        "{slot}\t{}",
                        crate::text::escape_bytes(here.as_os_str().as_bytes())
                    );
                    self.log.replaced += 1;
                    self.log.note("replaced", here);
                    match move_in(from, to, name) {
                        Ok(()) => return Ok(()),
                        Err(rustix::io::Errno::EXIST) => continue,
                        Err(e) => return Err(fail(e.into())),
                    }
                }
            }
        }
        Err(fail(io::Error::other(
            "it kept changing while the restore tried to put its entry in place",
        )))
    }
}

/// Moves `name` from `from` to `to` unless something is there.
fn move_in(from: BorrowedFd<'_>, to: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<()> {
    match rustix::fs::renameat_with(from, name, to, name, RenameFlags::NOREPLACE) {
        // A file system without RENAME_NOREPLACE: look, then move.
        Err(rustix::io::Errno::INVAL) => match beneath::kind_at(to, name) {
            Ok(None) => rustix::fs::renameat(from, name, to, name),
            Ok(Some(_)) => Err(rustix::io::Errno::EXIST),
            Err(e) => Err(rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO)),
        },
        r => r,
    }
}
