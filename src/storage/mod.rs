//! Where a repository's objects live: a local directory or an
//! S3-compatible bucket.
//!
//! A repository is a set of named objects ("keys"): `nkbackup.toml`,
//! `backups/<class>/<id>.age`, `backups/<class>/<id>.json`,
//! `journal/<name>.jsonl`… Keys are [`ObjectKey`]s: relative, `/`-separated
//! UTF-8 strings without empty, `.` or `..` components, checked once where
//! they are made. [`Storage`] is the small set of
//! operations the repository needs on them; [`LocalStorage`] keeps them as
//! files under a directory, [`S3Storage`] as objects under a bucket prefix.
//! docs/STORAGE.md describes both layouts and their guarantees.
//!
//! The guarantees every backend gives:
//! * [`Storage::put`] and a committed [`Upload`] make an object appear
//!   whole or not at all;
//! * an [`Upload`] that is dropped or aborted leaves no object;
//! * errors name the repository location, never a credential;
//! * nothing outside the repository is ever read or written: a local
//!   repository reaches its files through directory descriptors without
//!   following symlinks (see `crate::beneath`), and a symlink or special
//!   file where an object should be is reported, not followed;
//! * [`Storage::get`] reads at most the limit it is given.

mod direct_file;
mod get_many;
mod key;
mod local;
mod location;
mod lock;
mod object_lock;
mod ranged;
pub mod retention;
mod s3;
mod s3_api;
mod s3_error;
mod s3_settings;

pub use get_many::{Got, Wanted, get_many};
pub use key::{KeyError, MAX_KEY_LEN, ObjectKey};
pub use local::LocalStorage;
pub use location::Location;
pub use lock::RepoLock;
pub use object_lock::LOCK_LEASE;
pub use retention::{LockSupport, Retention};
pub use s3::S3Storage;
pub use s3_settings::S3Settings;

use crate::error::Result;
use serde::Serialize;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    /// Its key, relative to the repository.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, if the backend says.
    #[serde(skip)]
    pub modified: Option<SystemTime>,
    /// The store's entity tag, if it gives one (a bucket does; it changes
    /// whenever the object is written again).
    #[serde(skip)]
    pub etag: Option<String>,
    /// What it is: an object store holds only objects, a directory can
    /// also hold symlinks and special files where objects should be.
    pub kind: ObjectKind,
}

/// What a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    /// An object (a regular file in a directory).
    Object,
    /// A directory (directory repositories only; its content is listed
    /// too).
    Directory,
    /// A symlink (directory repositories only). Never followed: reading
    /// it fails.
    Symlink,
    /// A fifo, socket or device node (directory repositories only).
    Special,
}

impl ObjectKind {
    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            ObjectKind::Object => "a file",
            ObjectKind::Directory => "a directory",
            ObjectKind::Symlink => "a symlink",
            ObjectKind::Special => "a special file",
        }
    }
}

/// What a backend can say about older versions of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Versions {
    /// The backend keeps no versions (a directory, or a bucket without
    /// versioning support).
    NotVersioned {
        /// Why there are none, for the report.
        why: String,
    },
    /// The backend lists versions; these version ids of the key remain
    /// (noncurrent versions and delete markers are not counted as data
    /// unless they hold bytes).
    Listed {
        /// Version ids that still hold the object's bytes.
        remaining: Vec<String>,
    },
}

/// A streaming write of one object that appears only when committed.
pub trait Upload: Write + Send {
    /// Finishes the write durably and makes the object visible under its
    /// key.
    fn commit(self: Box<Self>) -> Result<()>;
    /// Abandons the write, removing whatever was stored of it.
    fn abort(self: Box<Self>) -> Result<()>;
}

/// A held repository lock; released when dropped.
pub trait LockGuard: Send + fmt::Debug {}

/// The operations a repository needs from where it is stored.
pub trait Storage: Send + Sync + fmt::Debug {
    /// The repository's location for messages: a directory path or
    /// `s3://bucket/prefix` (never credentials).
    fn location(&self) -> &str;

    /// Where `key` is, for messages: a file path or an object URL.
    fn describe(&self, key: &ObjectKey) -> String;

    /// The directory, for a local repository.
    fn local_root(&self) -> Option<&Path>;

    /// A new anonymous scratch file (for spilled manifests and spooled
    /// streams, which are encrypted before they reach it): in the
    /// repository's `tmp/` when local, else in the system's temporary
    /// directory (`TMPDIR`). It has no name and vanishes when closed.
    fn scratch_file(&self) -> Result<std::fs::File>;

    /// Reads a small object whole; `None` if it does not exist;
    /// [`crate::Error::TooLarge`] if it holds more than `limit` bytes
    /// (nothing beyond the limit is read).
    fn get(&self, key: &ObjectKey, limit: u64) -> Result<Option<Vec<u8>>>;

    /// Opens an object for streaming; `None` if it does not exist.
    fn open(&self, key: &ObjectKey) -> Result<Option<Box<dyn Read + Send>>>;

    /// Opens an object for reading at any offset, where this storage can
    /// (a file; a bucket object by range requests); `Ok(None)` if it cannot
    /// or the object does not exist.
    fn open_seekable(&self, key: &ObjectKey) -> Result<Option<Box<dyn ReadSeek>>> {
        let _ = key;
        Ok(None)
    }

    /// Writes a small object atomically and durably, replacing any.
    fn put(&self, key: &ObjectKey, bytes: &[u8]) -> Result<()>;

    /// Writes `bytes` under `key` only if no object is there; `false` if
    /// one is (nothing written).
    fn put_new(&self, key: &ObjectKey, bytes: &[u8]) -> Result<bool>;

    /// Starts a streaming write of a (large) object.
    fn upload(&self, key: &ObjectKey) -> Result<Box<dyn Upload>>;

    /// Appends `line` to the object `key`, creating it if needed. Callers
    /// hold the repository lock; an object store rewrites the object
    /// (which may then hold at most `limit` bytes before the append).
    fn append(&self, key: &ObjectKey, line: &[u8], limit: u64) -> Result<()>;

    /// Whether [`Storage::append`] appends in place (a file opened for
    /// appending) rather than rewriting the object. Journals keep one
    /// object where it does, segments where it does not.
    fn appends_in_place(&self) -> bool {
        false
    }

    /// Gets many small objects its own way (a bucket: several requests in
    /// flight as tasks on its runtime), or `None` to let [`get_many`] call
    /// [`Storage::get`] for each.
    fn get_many_native(&self, keys: &[Wanted<'_>], limit: u64) -> Option<Vec<Got>> {
        let _ = (keys, limit);
        None
    }

    /// Every object below `dir` (`None`: the whole repository), in any
    /// order. In a directory repository, symlinks, special files and
    /// directories are listed too, with their [`ObjectKind`].
    fn list(&self, dir: Option<&ObjectKey>) -> Result<Vec<ObjectInfo>>;

    /// Whether an object exists, found by listing: this needs only the
    /// right to list, which a sealing host has where it may not read.
    fn exists(&self, key: &ObjectKey) -> Result<bool>;

    /// The object's size and time; `None` if nothing is there. In a
    /// directory repository a symlink or special file is reported with its
    /// kind, not followed.
    fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>>;

    /// Deletes an object (in a directory: a file, symlink or special
    /// file, never a directory); deleting a missing one is not an error.
    fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// Older versions of `key` that still hold its bytes, where the
    /// backend keeps versions.
    fn versions(&self, key: &ObjectKey) -> Result<Versions>;

    /// Takes the exclusive repository lock, waiting up to `wait`.
    fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>>;

    /// Takes a lock narrower than the repository's, on the object `key`
    /// (a directory locks that file; an object store, which has no
    /// narrower lock, takes the repository's).
    fn lock_object(&self, key: &ObjectKey, wait: Duration) -> Result<Box<dyn LockGuard>>;

    /// Whether sealing takes the repository lock. A directory does (its
    /// seals are serialized); an object store does not, because a seal
    /// only creates objects under a fresh random id and the sealing host
    /// may hold no right to the lock object.
    fn seal_locks(&self) -> bool;

    /// Deletes every version of `key` but the current one (a bucket that
    /// keeps versions keeps the bytes an overwrite replaced). Versions the
    /// store refuses to delete because an Object Lock holds them stay:
    /// the latest date such a lock runs to is returned. A store without
    /// versions has nothing to do.
    fn delete_noncurrent(&self, key: &ObjectKey) -> Result<Option<time::OffsetDateTime>> {
        let _ = key;
        Ok(None)
    }

    /// Whether the store keeps versions and enforces S3 Object Lock here
    /// (docs/STORAGE.md, "Object Lock"). A directory does neither.
    fn lock_support(&self) -> Result<LockSupport> {
        Ok(LockSupport::Missing(
            "a directory has no Object Lock: it is for bucket repositories".into(),
        ))
    }

    /// Gives the current version of `key` the retention `r` (S3 Object
    /// Lock). Only stores whose [`Storage::lock_support`] is
    /// [`LockSupport::Enabled`] can.
    fn retain(&self, key: &ObjectKey, r: &Retention) -> Result<()> {
        let _ = r;
        Err(crate::Error::Storage {
            location: self.location().to_owned(),
            action: format!("locking {}", self.describe(key)),
            problem: "this store has no Object Lock".into(),
            hint: "object_lock is for bucket repositories (docs/STORAGE.md)".into(),
        })
    }

    /// The retention the current version of `key` holds, if any.
    fn retention(&self, key: &ObjectKey) -> Result<Option<Retention>> {
        let _ = key;
        Ok(None)
    }
}

/// Opens the storage a `--repo` argument names: `s3://bucket[/prefix]`
/// (with `settings` and the `AWS_*` environment) or a directory path.
pub fn open(repo: &str, settings: &S3Settings) -> Result<Arc<dyn Storage>> {
    Ok(match Location::parse(repo)? {
        Location::Local(p) => Arc::new(LocalStorage::new(&p)),
        Location::S3 {
            bucket,
            prefix,
            endpoint,
            region,
        } => {
            let mut s = settings.clone();
            s.endpoint = endpoint.or(s.endpoint);
            s.region = region.or(s.region);
            Arc::new(S3Storage::new(&bucket, &prefix, &s)?)
        }
    })
}

/// Reads `r` to its end, or fails with [`crate::Error::TooLarge`] naming
/// `what` once it yields more than `limit` bytes (only `limit + 1` bytes
/// are ever read).
/// An object opened for reading at any offset.
pub trait ReadSeek: Read + std::io::Seek + Send {}

impl<T: Read + std::io::Seek + Send> ReadSeek for T {}

pub(crate) fn read_limited(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| crate::Error::io(format!("reading {what}"), e))?;
    if out.len() as u64 > limit {
        return Err(crate::Error::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    Ok(out)
}
