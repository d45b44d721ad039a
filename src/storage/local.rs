//! A repository in a local directory: each key is a file under the root.
//!
//! Small objects are written to a temporary name, fsynced, renamed and the
//! directory fsynced; uploads go to `tmp/.<name>.*.partial` and are renamed
//! into place on commit. After a crash a file is absent or complete.

use super::direct_file::DirectFile;
use super::{LockGuard, ObjectInfo, Storage, Upload, Versions};
use crate::error::{Error, IoContext, Result};
use crate::repo::{RepoLock, ensure_dir, fsync_dir, write_atomic, write_new};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A repository directory.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
    location: String,
}

impl LocalStorage {
    /// The directory `root` (which need not exist yet).
    pub fn new(root: &Path) -> Self {
        LocalStorage {
            root: root.to_owned(),
            location: root.display().to_string(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        key.split('/').fold(self.root.clone(), |p, c| p.join(c))
    }

    fn parent_of(&self, key: &str) -> PathBuf {
        let p = self.path(key);
        p.parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| self.root.clone())
    }

    fn walk(&self, dir: &Path, prefix: &str, out: &mut Vec<ObjectInfo>) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
        };
        for e in entries {
            let e = e.ctx(|| format!("reading {}", dir.display()))?;
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let key = format!("{prefix}{name}");
            let ft = e.file_type().ctx(|| format!("reading {}", dir.display()))?;
            if ft.is_dir() {
                self.walk(&e.path(), &format!("{key}/"), out)?;
            } else if ft.is_file() {
                let m = e
                    .metadata()
                    .ctx(|| format!("reading {}", e.path().display()))?;
                out.push(ObjectInfo {
                    key,
                    size: m.len(),
                    modified: m.modified().ok(),
                });
            }
        }
        Ok(())
    }
}

fn read_opt(p: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", p.display()), e)),
    }
}

impl Storage for LocalStorage {
    fn location(&self) -> &str {
        &self.location
    }

    fn describe(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn scratch_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        read_opt(&self.path(key))
    }

    fn open(&self, key: &str) -> Result<Option<Box<dyn Read + Send>>> {
        let p = self.path(key);
        match File::open(&p) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", p.display()), e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let dir = self.parent_of(key);
        ensure_dir(&dir)?;
        let name = key.rsplit('/').next().unwrap_or(key);
        write_atomic(&dir, name, bytes)
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool> {
        let dir = self.parent_of(key);
        ensure_dir(&dir)?;
        write_new(&dir, key.rsplit('/').next().unwrap_or(key), bytes)
    }

    fn upload(&self, key: &str) -> Result<Box<dyn Upload>> {
        let tmp_dir = self.scratch_dir();
        ensure_dir(&tmp_dir)?;
        let dest = self.path(key);
        ensure_dir(&self.parent_of(key))?;
        let name = key.rsplit('/').next().unwrap_or(key);
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.trim_end_matches(".age")))
            .suffix(".partial")
            .tempfile_in(&tmp_dir)
            .ctx(|| format!("creating a temporary file in {}", tmp_dir.display()))?;
        let file = tmp
            .reopen()
            .ctx(|| format!("opening {}", tmp.path().display()))?;
        Ok(Box::new(LocalUpload {
            out: DirectFile::new(file),
            tmp,
            tmp_dir,
            dest,
        }))
    }

    fn append(&self, key: &str, line: &[u8]) -> Result<()> {
        let p = self.path(key);
        let dir = self.parent_of(key);
        ensure_dir(&dir)?;
        let at = || format!("appending to {}", p.display());
        let created = !p.exists();
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p)
            .ctx(at)?;
        f.write_all(line).ctx(at)?;
        f.sync_all().ctx(at)?;
        if created {
            fsync_dir(&dir)?;
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let dir = self.path(prefix.trim_end_matches('/'));
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        self.walk(&dir, &prefix, &mut out)?;
        Ok(out)
    }

    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.stat(key)?.is_some())
    }

    fn stat(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let p = self.path(key);
        match fs::metadata(&p) {
            Ok(m) if m.is_file() => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: m.len(),
                modified: m.modified().ok(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot stat {}", p.display()), e)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let p = self.path(key);
        match fs::remove_file(&p) {
            Ok(()) => fsync_dir(&self.parent_of(key)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("deleting {}", p.display()), e)),
        }
    }

    fn versions(&self, _key: &str) -> Result<Versions> {
        Ok(Versions::NotVersioned {
            why: "a directory keeps no versions".into(),
        })
    }

    fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>> {
        Ok(Box::new(RepoLock::exclusive(&self.root, wait)?))
    }

    fn seal_locks(&self) -> bool {
        true
    }
}

/// A file being written under `tmp/`, renamed into place on commit.
struct LocalUpload {
    out: DirectFile,
    tmp: tempfile::NamedTempFile,
    tmp_dir: PathBuf,
    dest: PathBuf,
}

impl Write for LocalUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Upload for LocalUpload {
    fn commit(self: Box<Self>) -> Result<()> {
        let LocalUpload {
            out,
            tmp,
            tmp_dir,
            dest,
        } = *self;
        // Until the rename, the backup is only a temporary file, removed
        // when `tmp` is dropped on the way out.
        let at = || {
            format!(
                "writing {} (nothing was committed; the partial file is removed)",
                dest.display()
            )
        };
        let file = out.finish().ctx(at)?;
        file.sync_all().ctx(at)?;
        drop(file);
        tmp.persist(&dest).map_err(|e| Error::io(at(), e.error))?;
        if let Some(dir) = dest.parent() {
            fsync_dir(dir)?;
        }
        fsync_dir(&tmp_dir)
    }

    fn abort(self: Box<Self>) -> Result<()> {
        // Dropping the NamedTempFile removes the partial file.
        Ok(())
    }
}
