//! The repository write lock.
//!
//! Writers (seal, config changes) take an exclusive `flock` on
//! `<repo>/lock`, waiting up to a limit; the holder writes its pid, host
//! and start time into the file so a waiting admin can see who it is. The
//! kernel drops the lock when the process dies, so a killed seal never
//! leaves the repository locked.

use crate::error::{Error, IoContext, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct RepoLock {
    file: File,
}

impl RepoLock {
    /// Takes the exclusive lock of the repository at `root`, waiting up to
    /// `wait`.
    pub fn exclusive(root: &Path, wait: Duration) -> Result<Self> {
        Self::exclusive_file(&root.join("lock"), wait)
    }

    /// Takes an exclusive lock on the file `path` (created if needed),
    /// waiting up to `wait`. For locks narrower than the repository's.
    pub fn exclusive_file(path: &Path, wait: Duration) -> Result<Self> {
        let root = path.parent().unwrap_or(Path::new("."));
        let at = || format!("opening lock file {}", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ctx(at)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(Error::Locked {
                        path: root.to_owned(),
                        holder: holder.trim().to_owned(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(at(), e)),
            }
        }
        let who = format!(
            "pid {} on {} since {}",
            std::process::id(),
            crate::host_name(),
            crate::now_rfc3339()
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

impl crate::storage::LockGuard for RepoLock {}
