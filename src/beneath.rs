//! File operations relative to an open directory that never follow a
//! symlink.
//!
//! Two places handle trees that someone else may change while nkbackup
//! works in them: a repository (whoever can write a backup disk or bucket
//! can plant a symlink where a class directory was) and a restore target
//! (a service user can swap a directory for a symlink during a restore as
//! root). Both hold a descriptor of their top directory and reach
//! everything below it one component at a time with `O_NOFOLLOW`, so a
//! symlink anywhere on the way is an error (`ELOOP`/`ENOTDIR`), never a
//! detour. Renames (`renameat`) and removals (`unlinkat`) act on names in
//! directories already open; ownership and modes are set through
//! descriptors opened with `O_NOFOLLOW`, never by path.

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawMode};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Flags for opening a directory that must not be a symlink.
pub(crate) const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens the directory `path` as given by the caller (an administrator's
/// path: symlinks in it are followed, as any command would).
pub(crate) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(
        rustix::fs::CWD,
        path,
        flags,
        Mode::empty(),
    )?)
}

/// Opens the directory `name` in `dir`, refusing a symlink.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, name, DIR, Mode::empty())?)
}

/// Opens the directory reached from `base` through `components`, one at a
/// time, refusing symlinks. With `create`, missing directories are made
/// (mode 0777 less the umask). No components: a new descriptor of `base`.
pub(crate) fn open_path<'c>(
    base: BorrowedFd<'_>,
    components: impl IntoIterator<Item = &'c [u8]>,
    create: bool,
) -> io::Result<OwnedFd> {
    let mut cur = rustix::fs::openat(base, ".", DIR, Mode::empty())?;
    for c in components {
        let name = OsStr::from_bytes(c);
        if c.is_empty() || c == b"." || c == b".." || c.contains(&b'/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a path component is empty, '.', '..' or contains '/'",
            ));
        }
        cur = match open_dir(cur.as_fd(), name) {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o777)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open_dir(cur.as_fd(), name)?
            }
            r => r?,
        };
    }
    Ok(cur)
}

/// Opens the directory `rel` (a relative `/`-separated path) below
/// `base` in one `openat2` call that refuses symlinks and `..` anywhere on
/// the way (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`); where the kernel has
/// no `openat2` (before Linux 5.6, or a seccomp filter), one component at a
/// time as [`open_path`] does.
pub(crate) fn open_dir_path(base: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    use rustix::fs::ResolveFlags;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    if rel.is_empty() {
        return Ok(rustix::fs::openat(base, ".", DIR, Mode::empty())?);
    }
    match rustix::fs::openat2(base, OsStr::from_bytes(rel), DIR, Mode::empty(), resolve) {
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            open_path(base, rel.split(|&c| c == b'/'), false)
        }
        r => Ok(r?),
    }
}

/// What is at `name` in `dir`, without following a symlink; `None` if
/// nothing is.
pub(crate) fn kind_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<FileType>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode as RawMode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` from `dir` and, if it is a directory, everything below
/// it, never following a symlink (a symlink is removed, not its target).
/// Missing is not an error.
pub(crate) fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match kind_at(dir, name)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            let sub = open_dir(dir, name)?;
            empty_dir(sub.as_fd())?;
            ignore_missing(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR))
        }
        Some(_) => ignore_missing(rustix::fs::unlinkat(dir, name, AtFlags::empty())),
    }
}

/// Removes everything inside the open directory `dir`.
fn empty_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    loop {
        let names = list(dir)?;
        if names.is_empty() {
            return Ok(());
        }
        for n in &names {
            remove_tree(dir, OsStr::from_bytes(n))?;
        }
    }
}

/// The names in the open directory `dir` (without `.` and `..`), in the
/// order the filesystem gives them.
pub(crate) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let fd = rustix::fs::openat(dir, ".", DIR, Mode::empty())?;
    let d = rustix::fs::Dir::read_from(&fd)?;
    let mut out = Vec::new();
    for e in d {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    Ok(out)
}

fn ignore_missing(r: rustix::io::Result<()>) -> io::Result<()> {
    match r {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A name for a new temporary entry: `.<stem>.<12 random hex digits><suffix>`.
pub(crate) fn temp_name(stem: &str, suffix: &str) -> String {
    let mut r = [0u8; 6];
    crate::util::fill_random(&mut r);
    format!(".{stem}.{}{suffix}", hex::encode(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn never_follows_a_symlink_on_the_way() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir_all(outside.join("x")).unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("a")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a/link")).unwrap();
        let fd = open_root(&root).unwrap();
        let e = open_path(fd.as_fd(), [&b"a"[..], b"link", b"x"], false).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)),
            "{e}"
        );
        // Creating through it is refused too, and nothing appears outside.
        assert!(open_path(fd.as_fd(), [&b"a"[..], b"link", b"new"], true).is_err());
        assert!(!outside.join("new").exists());
        for bad in [&b".."[..], b".", b"", b"a/b"] {
            assert!(open_path(fd.as_fd(), [bad], true).is_err());
        }
        let made = open_path(fd.as_fd(), [&b"a"[..], b"b", b"c"], true).unwrap();
        drop(made);
        assert!(root.join("a/b/c").is_dir());
    }

    #[test]
    fn remove_tree_removes_links_not_their_targets() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep"), "k").unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("d/e")).unwrap();
        fs::write(root.join("d/e/f"), "f").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d/link")).unwrap();
        let fd = open_root(&root).unwrap();
        remove_tree(fd.as_fd(), OsStr::new("d")).unwrap();
        remove_tree(fd.as_fd(), OsStr::new("missing")).unwrap();
        assert!(!root.join("d").exists());
        assert!(outside.join("keep").exists());
    }
}
