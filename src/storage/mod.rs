//! Where a repository's objects live: a local directory or an
//! S3-compatible bucket.
//!
//! A repository is a set of named objects ("keys"): `nkbackup.toml`,
//! `backups/<class>/<id>.age`, `backups/<class>/<id>.json`,
//! `journal/<name>.jsonl`… Keys are relative, `/`-separated UTF-8 strings
//! without `.` or `..` components. [`Storage`] is the small set of
//! operations the repository needs on them; [`LocalStorage`] keeps them as
//! files under a directory, [`S3Storage`] as objects under a bucket prefix.
//! docs/STORAGE.md describes both layouts and their guarantees.
//!
//! The guarantees every backend gives:
//! * [`Storage::put`] and a committed [`Upload`] make an object appear
//!   whole or not at all;
//! * an [`Upload`] that is dropped or aborted leaves no object;
//! * errors name the repository location, never a credential.

mod direct_file;
mod local;
mod location;
mod object_lock;
mod s3;
mod s3_error;
mod s3_settings;

pub use local::LocalStorage;
pub use location::Location;
pub use object_lock::LOCK_LEASE;
pub use s3::S3Storage;
pub use s3_settings::S3Settings;

use crate::error::Result;
use serde::Serialize;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    /// Its key, relative to the repository.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, if the backend says.
    #[serde(skip)]
    pub modified: Option<SystemTime>,
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
    fn describe(&self, key: &str) -> String;

    /// The directory, for a local repository.
    fn local_root(&self) -> Option<&Path>;

    /// A local directory for scratch files (spilled manifests, spooled
    /// streams): the repository's `tmp/` when local, else the system's
    /// temporary directory (`TMPDIR`).
    fn scratch_dir(&self) -> PathBuf;

    /// Reads a small object whole; `None` if it does not exist.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Opens an object for streaming; `None` if it does not exist.
    fn open(&self, key: &str) -> Result<Option<Box<dyn Read + Send>>>;

    /// Writes a small object atomically and durably, replacing any.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;

    /// Writes `bytes` under `key` only if no object is there; `false` if
    /// one is (nothing written).
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool>;

    /// Starts a streaming write of a (large) object.
    fn upload(&self, key: &str) -> Result<Box<dyn Upload>>;

    /// Appends `line` to the object `key`, creating it if needed. Callers
    /// hold the repository lock; an object store rewrites the object.
    fn append(&self, key: &str, line: &[u8]) -> Result<()>;

    /// Every object whose key starts with `prefix` (a directory-like
    /// prefix ending in `/`), in any order.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// Whether an object exists, found by listing: this needs only the
    /// right to list, which a sealing host has where it may not read.
    fn exists(&self, key: &str) -> Result<bool>;

    /// The object's size and time; `None` if it does not exist.
    fn stat(&self, key: &str) -> Result<Option<ObjectInfo>>;

    /// Deletes an object; deleting a missing one is not an error.
    fn delete(&self, key: &str) -> Result<()>;

    /// Older versions of `key` that still hold its bytes, where the
    /// backend keeps versions.
    fn versions(&self, key: &str) -> Result<Versions>;

    /// Takes the exclusive repository lock, waiting up to `wait`.
    fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>>;

    /// Whether sealing takes the repository lock. A directory does (its
    /// seals are serialized); an object store does not, because a seal
    /// only creates objects under a fresh random id and the sealing host
    /// may hold no right to the lock object.
    fn seal_locks(&self) -> bool;
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

/// Joins key components with `/`.
pub fn key(parts: &[&str]) -> String {
    parts.join("/")
}
