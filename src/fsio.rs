//! Durable file operations: write to a temporary name, fsync, rename, fsync
//! the directory. After a crash a file is either absent or complete.

use crate::error::{IoContext, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// fsyncs a directory so that renames and creations in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("syncing directory {}", dir.display()))
}

/// Writes `bytes` to `dir/name` atomically and durably.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let at = || format!("writing {}", dir.join(name).display());
    synced_temp(dir, name, bytes)?
        .persist(dir.join(name))
        .map_err(|e| e.error)
        .ctx(at)?;
    fsync_dir(dir)
}

/// Like [`write_atomic`], but only if `dir/name` does not exist yet;
/// `false` (nothing written) if it does.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<bool> {
    let at = || format!("writing {}", dir.join(name).display());
    match synced_temp(dir, name, bytes)?.persist_noclobber(dir.join(name)) {
        Ok(_) => fsync_dir(dir).map(|()| true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error).ctx(at),
    }
}

/// `bytes` in a fsynced temporary file `.<name>.*.tmp` in `dir`.
fn synced_temp(dir: &Path, name: &str, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let at = || format!("writing {}", dir.join(name).display());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .ctx(at)?;
    tmp.write_all(bytes).ctx(at)?;
    tmp.as_file().sync_all().ctx(at)?;
    Ok(tmp)
}

/// Creates `dir` (and parents) if needed, fsyncing the parent of a new one.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => fsync_dir(p),
        _ => fsync_dir(Path::new(".")),
    }
}
