//! A repository in an S3-compatible bucket (AWS S3, Garage, MinIO…),
//! through the `opendal` crate (it signs the requests).
//!
//! Keys map to objects `<prefix>/<key>`. Large objects are written with a
//! multipart upload in [`PART_SIZE`] parts, at most [`PARTS_IN_FLIGHT`] at
//! once, so memory stays flat and no local copy is made (parts grow past
//! 6 GiB, see [`part_size`], to stay within S3's 10 000 parts); the object
//! appears only when the upload completes, and an abandoned upload is
//! aborted. The library is synchronous: the backend owns a small tokio
//! runtime and blocks on it.

use super::object_lock::ObjectLock;
use super::s3_api::S3Api;
use super::s3_error::{Action, storage_error};
use super::{
    LockGuard, LockSupport, ObjectInfo, ObjectKey, ObjectKind, Retention, S3Settings, Storage,
    Upload, Versions,
};
use crate::error::{Error, Result};
use opendal::options::{DeleteOptions, ListOptions, WriteOptions};
use opendal::{ErrorKind as OdKind, Operator};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Size of a multipart-upload part (of the first [`PARTS_PER_SIZE`]).
/// Memory holds about five: the one being filled, one opendal keeps
/// pending and [`PARTS_IN_FLIGHT`] on the wire (bench/run.sh --s3 measured
/// 91 MiB peak for a seal, 8 MiB parts 2 in flight 94 MiB, and 102 MiB
/// when opendal also chunked them itself).
pub const PART_SIZE: usize = 6 << 20;
/// Parts uploaded concurrently: three hide a round trip of up to ~50 ms at
/// the rates a 2-core seal reaches (a part takes ~50 ms to send).
pub const PARTS_IN_FLIGHT: usize = 3;
/// Parts of one size before the size doubles.
pub const PARTS_PER_SIZE: usize = 1000;
/// Parts a multipart upload may have (S3's limit).
pub const MAX_PARTS: usize = 10_000;

/// The size of part `n` (0-based): [`PART_SIZE`] for the first
/// [`PARTS_PER_SIZE`], then twice as much for each further thousand, so
/// that S3's 10 000 parts hold up to 5.8 TiB (6 MiB × 1000 × (2¹⁰ − 1)),
/// while memory stays flat for objects up to 6 GiB and then grows with
/// the part size (a 100 GiB object uses 96 MiB parts).
pub fn part_size(n: usize) -> usize {
    PART_SIZE << (n / PARTS_PER_SIZE).min(9)
}
/// Range read when streaming an object (a restore).
pub const READ_CHUNK: usize = 8 << 20;
/// Ranges read concurrently when streaming an object.
pub const READS_IN_FLIGHT_LARGE: usize = 2;
/// Small objects (sidecars, journal segments) read concurrently.
pub const READS_IN_FLIGHT: usize = 16;

/// A repository under `s3://bucket/prefix`.
#[derive(Clone)]
pub struct S3Storage {
    op: Operator,
    rt: Arc<tokio::runtime::Runtime>,
    location: String,
    /// Set once the store has said it does not list versions (Garage
    /// answers 501): deletes then stop asking.
    unversioned: Arc<std::sync::atomic::AtomicBool>,
    /// Signed requests for what opendal does not do (Object Lock).
    api: S3Api,
}

/// One listed version of a key: its version id (if the store gives one),
/// whether it is a delete marker, and whether it is the current version.
type Listed = (Option<String>, bool, bool);

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Every version of `key`, or `None` when the store does not list
    /// versions.
    fn list_versions(&self, key: &str) -> Result<Option<Vec<Listed>>> {
        use std::sync::atomic::Ordering;
        if self.unversioned.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let opts = ListOptions {
            versions: true,
            deleted: true,
            ..Default::default()
        };
        match self.rt.block_on(self.op.list_options(key, opts)) {
            Ok(entries) => Ok(Some(
                entries
                    .into_iter()
                    .filter(|e| e.path() == key)
                    .map(|e| {
                        let m = e.metadata();
                        (
                            m.version().map(str::to_owned),
                            m.is_deleted(),
                            m.is_current().unwrap_or(false),
                        )
                    })
                    .collect(),
            )),
            Err(e) if e.kind() == OdKind::Unsupported || is_not_implemented(&e) => {
                self.unversioned.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Err(e) if not_found(&e) => Ok(Some(Vec::new())),
            Err(e) => Err(self.err(Action::List, key, e)),
        }
    }

    /// The error for a refused delete of `version` of `key` when the
    /// refusal is an Object Lock: which version, locked until when.
    fn locked(&self, key: &str, version: &str) -> Option<Error> {
        let r = self
            .rt
            .block_on(self.api.get_retention(key, Some(version)))
            .ok()??;
        (r.until > time::OffsetDateTime::now_utc()).then(|| Error::Storage {
            location: self.location.clone(),
            action: format!("deleting {}/{key}", self.location),
            problem: format!(
                "version {} is locked until {} ({})",
                crate::text::escape(version),
                crate::util::rfc3339(r.until),
                r.mode
            ),
            hint: "the store refuses to delete it before then; run the command again after that date (docs/STORAGE.md, \"Object Lock\")".into(),
        })
    }

    /// Connects (lazily: nothing is sent yet) to `bucket` under `prefix`.
    pub fn new(bucket: &str, prefix: &str, settings: &S3Settings) -> Result<Self> {
        let location = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        // The reqwest (rustls) HTTP client; first install wins, so this is
        // harmless when a host program installed its own.
        opendal::install_default();
        let mut b = opendal::services::S3::default()
            .bucket(bucket)
            .root(&format!("/{prefix}"))
            .region(settings.region.as_deref().unwrap_or("us-east-1"))
            // Only what S3Settings gathered: no ~/.aws files, no instance
            // metadata probing, so the behaviour is the documented one.
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(e) = &settings.endpoint {
            b = b.endpoint(e);
        }
        if settings.virtual_host_style {
            b = b.enable_virtual_host_style();
        }
        match (&settings.access_key_id, settings.secret()) {
            (Some(id), Some(secret)) => {
                b = b.access_key_id(id).secret_access_key(secret);
                if let Some(t) = settings.token() {
                    b = b.session_token(t);
                }
            }
            (None, None) => {
                return Err(Error::Storage {
                    location,
                    action: "connecting".into(),
                    problem: "no credentials".into(),
                    hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --s3-config FILE (docs/STORAGE.md)".into(),
                });
            }
            _ => {
                return Err(Error::Storage {
                    location,
                    action: "connecting".into(),
                    problem: "only half of the credentials".into(),
                    hint: "give both the access key id and the secret access key".into(),
                });
            }
        }
        let op = Operator::new(b)
            .map_err(|e| storage_error(&location, Action::Connect, "", e))?
            .layer(
                opendal::layers::RetryLayer::new()
                    .with_max_times(3)
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(2)),
            )
            .layer(
                opendal::layers::TimeoutLayer::new()
                    .with_timeout(Duration::from_secs(60))
                    .with_io_timeout(Duration::from_secs(30)),
            );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nkbackup-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the S3 client's runtime", e))?;
        let api = S3Api::new(bucket, prefix, settings, &location)?;
        Ok(S3Storage {
            op,
            rt: Arc::new(rt),
            location,
            unversioned: Default::default(),
            api,
        })
    }

    fn err(&self, action: Action, key: &str, e: opendal::Error) -> Error {
        storage_error(&self.location, action, key, e)
    }

    /// A reader of the first `len` bytes of `key`.
    fn open_len(&self, key: &ObjectKey, len: u64) -> Result<Option<Box<dyn Read + Send>>> {
        let key = key.as_str();
        let reader = self
            .blocking()?
            .reader_options(
                key,
                opendal::options::ReaderOptions {
                    chunk: Some(READ_CHUNK),
                    concurrent: READS_IN_FLIGHT_LARGE,
                    ..Default::default()
                },
            )
            .and_then(|r| r.into_std_read(0..len))
            .map_err(|e| self.err(Action::Read, key, e))?;
        Ok(Some(Box::new(TypedReadErrors {
            inner: reader,
            location: self.location.clone(),
            key: key.to_owned(),
        })))
    }

    fn blocking(&self) -> Result<opendal::blocking::Operator> {
        let _g = self.rt.enter();
        opendal::blocking::Operator::new(self.op.clone())
            .map_err(|e| self.err(Action::Connect, "", e))
    }
}

/// A streaming reader whose failed fetches carry the typed
/// [`Error::Storage`] inside the `io::Error` (opendal's carry its own
/// error), so that a reader of the backup reports a network failure as
/// one and not as damage.
struct TypedReadErrors<R> {
    inner: R,
    location: String,
    key: String,
}

impl<R: Read> Read for TypedReadErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = e.kind();
            match crate::util::carried::<opendal::Error>(e) {
                Ok(oe) => io::Error::new(
                    kind,
                    storage_error(&self.location, Action::Read, &self.key, oe),
                ),
                Err(e) => e,
            }
        })
    }
}

impl Storage for S3Storage {
    fn location(&self) -> &str {
        &self.location
    }

    fn describe(&self, key: &ObjectKey) -> String {
        format!("{}/{key}", self.location)
    }

    fn local_root(&self) -> Option<&Path> {
        None
    }

    fn scratch_file(&self) -> Result<std::fs::File> {
        tempfile::tempfile().map_err(|e| {
            Error::io(
                format!(
                    "creating a scratch file in {}",
                    std::env::temp_dir().display()
                ),
                e,
            )
        })
    }

    fn get(&self, key: &ObjectKey, limit: u64) -> Result<Option<Vec<u8>>> {
        let meta = match self.rt.block_on(self.op.stat(key.as_str())) {
            Ok(m) => m,
            // A HEAD answer has no body: a refused signature looks like a
            // refused policy, a missing bucket like a missing object. The
            // GET's answer says which it is.
            Err(_) => {
                return match self.rt.block_on(self.op.read(key.as_str())) {
                    Err(e) if not_found(&e) => Ok(None),
                    Err(e) => Err(self.err(Action::Read, key.as_str(), e)),
                    Ok(b) if b.len() as u64 > limit => Err(Error::TooLarge {
                        what: self.describe(key),
                        limit,
                    }),
                    Ok(b) => Ok(Some(b.to_vec())),
                };
            }
        };
        let size = meta.content_length();
        if size > limit {
            return Err(Error::TooLarge {
                what: self.describe(key),
                limit,
            });
        }
        if size == 0 {
            return Ok(Some(Vec::new()));
        }
        // One GET of exactly the length the store announced (never more
        // than the limit even if the object grew since), into one buffer
        // rather than through a streaming reader of 8 MiB chunks.
        let opts = opendal::options::ReadOptions {
            range: (0..size).into(),
            ..Default::default()
        };
        match self.rt.block_on(self.op.read_options(key.as_str(), opts)) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(self.err(Action::Read, key.as_str(), e)),
        }
    }

    fn open(&self, key: &ObjectKey) -> Result<Option<Box<dyn Read + Send>>> {
        let Some(meta) = self.stat(key)? else {
            return Ok(None);
        };
        self.open_len(key, meta.size)
    }

    fn open_seekable(&self, key: &ObjectKey) -> Result<Option<Box<dyn super::ReadSeek>>> {
        let Some(meta) = self.stat(key)? else {
            return Ok(None);
        };
        Ok(Some(Box::new(super::ranged::RangedObject::new(
            self.op.clone(),
            self.rt.clone(),
            key.as_str().to_owned(),
            meta.size,
            self.location.clone(),
        ))))
    }

    fn put(&self, key: &ObjectKey, bytes: &[u8]) -> Result<()> {
        let key = key.as_str();
        self.rt
            .block_on(self.op.write(key, bytes.to_vec()))
            .map(|_| ())
            .map_err(|e| self.err(Action::Write, key, e))
    }

    fn put_new(&self, key: &ObjectKey, bytes: &[u8]) -> Result<bool> {
        let key = key.as_str();
        let opts = WriteOptions {
            if_not_exists: true,
            ..Default::default()
        };
        match self
            .rt
            .block_on(self.op.write_options(key, bytes.to_vec(), opts))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == OdKind::ConditionNotMatch => Ok(false),
            Err(e) => Err(self.err(Action::Write, key, e)),
        }
    }

    fn upload(&self, key: &ObjectKey) -> Result<Box<dyn Upload>> {
        let key = key.as_str();
        // No `chunk`: S3Upload hands opendal whole parts, and opendal
        // chunking them again held one more part in memory.
        let opts = WriteOptions {
            concurrent: PARTS_IN_FLIGHT,
            ..Default::default()
        };
        let w = self
            .rt
            .block_on(self.op.writer_options(key, opts))
            .map_err(|e| self.err(Action::Write, key, e))?;
        Ok(Box::new(S3Upload {
            writer: Some(w),
            buf: Vec::with_capacity(PART_SIZE),
            parts: 0,
            storage: self.clone(),
            key: key.to_owned(),
        }))
    }

    fn append(&self, key: &ObjectKey, line: &[u8], limit: u64) -> Result<()> {
        let mut all = self.get(key, limit)?.unwrap_or_default();
        all.extend_from_slice(line);
        self.put(key, &all)
    }

    fn list(&self, dir: Option<&ObjectKey>) -> Result<Vec<ObjectInfo>> {
        let prefix = dir.map_or_else(String::new, |d| format!("{d}/"));
        let prefix = prefix.as_str();
        let opts = ListOptions {
            recursive: true,
            ..Default::default()
        };
        let entries = match self.rt.block_on(self.op.list_options(prefix, opts)) {
            Ok(e) => e,
            Err(e) if not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(self.err(Action::List, prefix, e)),
        };
        // A key that is not a well-formed object key (`a/../b`, control
        // characters) was not written by nkbackup and can name nothing.
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .filter_map(|e| {
                Some(ObjectInfo {
                    key: ObjectKey::new(e.path()).ok()?,
                    size: e.metadata().content_length(),
                    modified: e.metadata().last_modified().map(Into::into),
                    etag: e.metadata().etag().map(str::to_owned),
                    kind: ObjectKind::Object,
                })
            })
            .collect())
    }

    fn exists(&self, key: &ObjectKey) -> Result<bool> {
        let key = key.as_str();
        // A prefix listing (ListObjectsV2 with prefix = key) returns the
        // object itself if it is there.
        match self.rt.block_on(self.op.list(key)) {
            Ok(entries) => Ok(entries.iter().any(|e| e.path() == key)),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(self.err(Action::List, key, e)),
        }
    }

    fn stat(&self, k: &ObjectKey) -> Result<Option<ObjectInfo>> {
        let key = k.as_str();
        match self.rt.block_on(self.op.stat(key)) {
            Ok(m) => Ok(Some(ObjectInfo {
                key: k.clone(),
                size: m.content_length(),
                modified: m.last_modified().map(Into::into),
                etag: m.etag().map(str::to_owned),
                kind: ObjectKind::Object,
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(self.err(Action::Stat, key, e)),
        }
    }

    fn delete(&self, key: &ObjectKey) -> Result<()> {
        let key = key.as_str();
        // On a bucket that keeps versions a plain DELETE only adds a
        // delete marker and the bytes stay: every version of the key, and
        // every delete marker, is deleted by its id.
        let versions: Vec<String> = self
            .list_versions(key)?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(v, _, _)| v)
            .collect();
        let versioned = !versions.is_empty();
        for version in versions {
            let opts = DeleteOptions {
                version: Some(version.clone()),
                ..Default::default()
            };
            match self.rt.block_on(self.op.delete_options(key, opts)) {
                Ok(()) => {}
                Err(e) if not_found(&e) => {}
                Err(e) if e.kind() == OdKind::PermissionDenied => {
                    return Err(self
                        .locked(key, &version)
                        .unwrap_or_else(|| self.err(Action::Delete, key, e)));
                }
                Err(e) => return Err(self.err(Action::Delete, key, e)),
            }
        }
        if versioned {
            // A plain DELETE now would only add a delete marker.
            return Ok(());
        }
        match self.rt.block_on(self.op.delete(key)) {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(self.err(Action::Delete, key, e)),
        }
    }

    fn versions(&self, key: &ObjectKey) -> Result<Versions> {
        Ok(match self.list_versions(key.as_str())? {
            Some(all) => Versions::Listed {
                remaining: all
                    .into_iter()
                    .filter(|(_, marker, _)| !marker)
                    .map(|(v, _, _)| v.unwrap_or_else(|| "null".into()))
                    .collect(),
            },
            None => Versions::NotVersioned {
                why: "the store does not implement object versioning".into(),
            },
        })
    }

    fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>> {
        Ok(Box::new(ObjectLock::take(Arc::new(self.clone()), wait)?))
    }

    fn lock_object(&self, _key: &ObjectKey, wait: Duration) -> Result<Box<dyn LockGuard>> {
        // Seals take no lock on an object store, so the repository's lock
        // is as free as a narrower one would be.
        self.lock(wait)
    }

    fn seal_locks(&self) -> bool {
        false
    }

    fn get_many_native(&self, keys: &[super::Wanted<'_>], limit: u64) -> Option<Vec<super::Got>> {
        // Tasks on the runtime, not threads blocking on it: with 16
        // threads a listing of 100 000 sidecars spent most of its CPU
        // parking and waking them. A listed size saves the HEAD: one GET
        // of exactly that many bytes.
        let fetched: Vec<Option<Result<Vec<u8>, opendal::Error>>> = self.rt.block_on(async {
            let mut out: Vec<Option<Result<Vec<u8>, opendal::Error>>> =
                (0..keys.len()).map(|_| None).collect();
            let mut set = tokio::task::JoinSet::new();
            let mut next = 0;
            while next < keys.len() || !set.is_empty() {
                while next < keys.len() && set.len() < READS_IN_FLIGHT {
                    let i = next;
                    next += 1;
                    let (key, size) = keys[i];
                    let Some(size) = size.filter(|&n| n > 0 && n <= limit) else {
                        continue;
                    };
                    let op = self.op.clone();
                    let key = key.as_str().to_owned();
                    set.spawn(async move {
                        let opts = opendal::options::ReadOptions {
                            range: (0..size).into(),
                            ..Default::default()
                        };
                        (i, op.read_options(&key, opts).await.map(|b| b.to_vec()))
                    });
                }
                if let Some(Ok((i, r))) = set.join_next().await {
                    out[i] = Some(r);
                }
            }
            out
        });
        // What a sized GET did not settle (no size, too large, empty,
        // changed since the listing, an error) goes the ordinary way,
        // which also words the errors.
        Some(
            fetched
                .into_iter()
                .zip(keys)
                .map(|(got, (key, _))| match got {
                    Some(Ok(b)) => Ok(Some(b)),
                    _ => self.get(key, limit),
                })
                .collect(),
        )
    }

    fn delete_noncurrent(&self, key: &ObjectKey) -> Result<Option<time::OffsetDateTime>> {
        let k = key.as_str();
        let mut held = None;
        let old = self.list_versions(k)?.unwrap_or_default();
        for (v, _, current) in old {
            let Some(version) = v.filter(|_| !current) else {
                continue;
            };
            let opts = DeleteOptions {
                version: Some(version.clone()),
                ..Default::default()
            };
            match self.rt.block_on(self.op.delete_options(k, opts)) {
                Ok(()) => {}
                Err(e) if not_found(&e) => {}
                Err(e) if e.kind() == OdKind::PermissionDenied => {
                    match self
                        .rt
                        .block_on(self.api.get_retention(k, Some(&version)))?
                    {
                        Some(r) => held = held.max(Some(r.until)),
                        None => return Err(self.err(Action::Delete, k, e)),
                    }
                }
                Err(e) => return Err(self.err(Action::Delete, k, e)),
            }
        }
        Ok(held)
    }

    fn lock_support(&self) -> Result<LockSupport> {
        self.rt.block_on(self.api.lock_support())
    }

    fn retain(&self, key: &ObjectKey, r: &Retention) -> Result<()> {
        self.rt.block_on(self.api.put_retention(key.as_str(), r))
    }

    fn retention(&self, key: &ObjectKey) -> Result<Option<Retention>> {
        self.rt.block_on(self.api.get_retention(key.as_str(), None))
    }
}

fn not_found(e: &opendal::Error) -> bool {
    e.kind() == OdKind::NotFound && !e.to_string().contains("NoSuchBucket")
}

fn is_not_implemented(e: &opendal::Error) -> bool {
    let s = e.to_string();
    s.contains("NotImplemented") || s.contains("not implemented")
}

/// A multipart upload in progress.
struct S3Upload {
    writer: Option<opendal::Writer>,
    buf: Vec<u8>,
    /// Parts handed to opendal so far.
    parts: usize,
    storage: S3Storage,
    key: String,
}

impl S3Upload {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.parts >= MAX_PARTS {
            return Err(io::Error::other(Error::TooLarge {
                what: format!("{}/{}", self.storage.location, self.key),
                limit: (0..MAX_PARTS).map(|n| part_size(n) as u64).sum(),
            }));
        }
        self.parts += 1;
        let next = part_size(self.parts);
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(next));
        let w = self.writer.as_mut().expect("upload is open");
        self.storage
            .rt
            .block_on(w.write(chunk))
            .map_err(|e| io::Error::other(self.storage.err(Action::Upload, &self.key, e)))
    }
}

impl Write for S3Upload {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let size = part_size(self.parts);
        let n = data.len().min(size - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == size {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Upload for S3Upload {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let key = self.key.clone();
        let wrap = |e: io::Error| match e.downcast::<Error>() {
            Ok(e) => e,
            Err(e) => Error::io(format!("uploading {key}"), e),
        };
        self.send().map_err(wrap)?;
        let mut w = self.writer.take().expect("upload is open");
        let r = self.storage.rt.block_on(w.close());
        match r {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = self.storage.rt.block_on(w.abort());
                Err(self.storage.err(Action::Upload, &self.key, e))
            }
        }
    }

    fn abort(mut self: Box<Self>) -> Result<()> {
        match self.writer.take() {
            Some(mut w) => self
                .storage
                .rt
                .block_on(w.abort())
                .map_err(|e| self.storage.err(Action::Abort, &self.key, e)),
            None => Ok(()),
        }
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        if let Some(mut w) = self.writer.take() {
            // Never committed: abort the multipart upload so that its
            // parts do not linger (best effort; a lifecycle rule catches
            // what a killed process leaves, docs/STORAGE.md).
            let _ = self.storage.rt.block_on(w.abort());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_so_that_ten_thousand_hold_5_8_tib() {
        assert_eq!(part_size(0), 6 << 20);
        assert_eq!(part_size(999), 6 << 20);
        assert_eq!(part_size(1000), 12 << 20);
        assert_eq!(part_size(MAX_PARTS - 1), 6 << 29);
        let total: u64 = (0..MAX_PARTS).map(|n| part_size(n) as u64).sum();
        assert_eq!(total, 6 * (1 << 20) * 1000 * 1023, "5.85 TiB");
        // Every part but the last is at least S3's 5 MiB minimum.
        assert!((0..MAX_PARTS).all(|n| part_size(n) >= 5 << 20));
    }
}
