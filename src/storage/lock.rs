//! The repository write lock.
//!
//! Writers (seal, config changes) take an exclusive `flock` on
//! `<repo>/lock`, waiting up to a limit; the holder writes its pid, host
//! and start time into the file so a waiting admin can see who it is. The
//! kernel drops the lock when the process dies, so a killed seal never
//! leaves the repository locked. The file is opened relative to the
//! repository directory with `O_NOFOLLOW`: a symlink planted as `lock` is
//! refused, never truncated through.

use crate::error::{Error, IoContext, Result};
use rustix::fs::{FileType, Mode, OFlags, RawMode};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct RepoLock {
    file: File,
}

/// How much of a lock file's holder line is shown.
const HOLDER_BYTES: u64 = 512;

impl RepoLock {
    /// Takes an exclusive lock on the file `name` in the directory `dir`
    /// (created if needed; `path` names it in messages), waiting up to
    /// `wait`.
    pub fn exclusive_at(
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        wait: Duration,
    ) -> Result<Self> {
        let at = || format!("opening lock file {}", path.display());
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644)).map_err(|e| {
            let e = std::io::Error::from(e);
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::NotAFile {
                    path: path.to_owned(),
                    kind: "a symlink",
                }
            } else {
                Error::io(at(), e)
            }
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(at(), e.into()))?;
        if FileType::from_raw_mode(st.st_mode as RawMode) != FileType::RegularFile {
            return Err(Error::NotAFile {
                path: path.to_owned(),
                kind: "a special file",
            });
        }
        let mut file = File::from(fd);
        let root = path.parent().unwrap_or(Path::new("."));
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = Vec::new();
                    let _ = (&file).take(HOLDER_BYTES).read_to_end(&mut holder);
                    return Err(Error::Locked {
                        path: root.to_owned(),
                        holder: crate::text::escape(&String::from_utf8_lossy(&holder))
                            .trim()
                            .to_owned(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(at(), e)),
            }
        }
        let who = format!(
            "pid {} on {} since {}",
            std::process::id(),
            crate::util::host_name(),
            crate::util::now_rfc3339()
        );
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(who.as_bytes()))
            .ctx(|| format!("writing lock file {}", path.display()))?;
        Ok(RepoLock { file })
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

impl super::LockGuard for RepoLock {}
