//! A local copy of a bucket's sidecars, so that listing a repository of
//! 100 000 backups gets only the sidecars written since the last listing
//! instead of one object per backup (docs/STORAGE.md, "Sidecar cache").
//!
//! An entry is used only while the bucket's listing shows the sidecar
//! with the same size, entity tag and modification time as when it was
//! cached: a sidecar written again (rewrap, tampering) changes its tag
//! and time, so it is fetched again. A cached sidecar is parsed like a
//! fetched one ([`crate::manifest::Sidecar::parse`]); the cache saves
//! requests, never a check. A cache file that is damaged, truncated or of
//! another repository is ignored and rewritten.
//!
//! ```text
//! file    = magic location-len:u16 location record* sha256(everything before):32
//! magic   = "nkbackup sidecar cache 1\n"
//! record  = key-len:u16 key etag-len:u8 etag secs:u64 nanos:u32 len:u32 bytes
//! ```
//! Integers are big-endian; `key` is an object key, `etag` 1 to 255
//! bytes, `nanos` below 10⁹, `len` at most the sidecar limit.

use crate::error::{IoContext, Result};
use crate::storage::{MAX_KEY_LEN, ObjectInfo, ObjectKey};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const MAGIC: &[u8] = b"nkbackup sidecar cache 1\n";

/// The most a cache file may hold: far above 100 000 sidecars of a few
/// KiB, far below what would hurt to read.
pub const MAX_CACHE_BYTES: u64 = 1 << 30;

/// What makes a cached sidecar current: the listing shows the object with
/// this size, tag and time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Stamp {
    etag: String,
    secs: u64,
    nanos: u32,
}

impl Stamp {
    fn of(o: &ObjectInfo) -> Option<Self> {
        let etag = o.etag.clone().filter(|e| !e.is_empty() && e.len() <= 255)?;
        let since = o.modified?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        Some(Stamp {
            etag,
            secs: since.as_secs(),
            nanos: since.subsec_nanos(),
        })
    }
}

/// The sidecars cached for one repository, by key.
#[derive(Debug, Default)]
pub struct SidecarCache {
    entries: HashMap<String, (Stamp, Vec<u8>)>,
}

/// Why a cache file was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the sidecar cache is unusable: {0}")]
pub struct CacheRefused(&'static str);

impl SidecarCache {
    /// The cache file of the repository at `location` with id
    /// `repository_id` in `dir`: the name is a digest of both, so that
    /// neither reaches a path.
    pub fn file_in(dir: &Path, location: &str, repository_id: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(location.as_bytes());
        h.update([0]);
        h.update(repository_id.as_bytes());
        dir.join(format!("sidecars-{}", &hex::encode(h.finalize())[..32]))
    }

    /// Reads the cache file `path` of the repository at `location`; an
    /// empty cache if there is none or it is refused.
    pub fn load(path: &Path, location: &str) -> Self {
        let Ok(f) = std::fs::File::open(path) else {
            return Self::default();
        };
        let mut bytes = Vec::new();
        use std::io::Read;
        if f.take(MAX_CACHE_BYTES + 1).read_to_end(&mut bytes).is_err() {
            return Self::default();
        }
        Self::parse(&bytes, location).unwrap_or_default()
    }

    /// Parses cache file bytes of the repository at `location`.
    pub fn parse(bytes: &[u8], location: &str) -> std::result::Result<Self, CacheRefused> {
        if bytes.len() as u64 > MAX_CACHE_BYTES {
            return Err(CacheRefused("larger than the limit"));
        }
        let Some(body_len) = bytes.len().checked_sub(32) else {
            return Err(CacheRefused("truncated"));
        };
        let (body, sum) = bytes.split_at(body_len);
        if Sha256::digest(body).as_slice() != sum {
            return Err(CacheRefused("its checksum does not match"));
        }
        let mut r = Reader(body);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(CacheRefused("not a sidecar cache of this version"));
        }
        let n = r.u16()? as usize;
        if r.take(n)? != location.as_bytes() {
            return Err(CacheRefused("it is another repository's"));
        }
        let mut entries = HashMap::new();
        while !r.0.is_empty() {
            let n = r.u16()? as usize;
            if n > MAX_KEY_LEN {
                return Err(CacheRefused("a key is too long"));
            }
            let key = std::str::from_utf8(r.take(n)?)
                .ok()
                .and_then(|k| ObjectKey::new(k).ok())
                .ok_or(CacheRefused("a key is not an object key"))?;
            let n = r.u8()? as usize;
            let etag = std::str::from_utf8(r.take(n)?)
                .ok()
                .filter(|e| !e.is_empty())
                .ok_or(CacheRefused("an entity tag is empty or not UTF-8"))?
                .to_owned();
            let secs = r.u64()?;
            let nanos = r.u32()?;
            if nanos >= 1_000_000_000 {
                return Err(CacheRefused("a time is out of range"));
            }
            let len = r.u32()? as u64;
            if len > crate::limits::SIDECAR_BYTES {
                return Err(CacheRefused("a sidecar is larger than the limit"));
            }
            let data = r.take(len as usize)?.to_vec();
            let stamp = Stamp { etag, secs, nanos };
            if entries
                .insert(key.as_str().to_owned(), (stamp, data))
                .is_some()
            {
                return Err(CacheRefused("a key is cached twice"));
            }
        }
        Ok(SidecarCache { entries })
    }

    /// The cached bytes of the sidecar the listing shows as `o`, if they
    /// are current, taken out of the cache (which then holds only what
    /// was not asked for).
    pub fn take(&mut self, o: &ObjectInfo) -> Option<Vec<u8>> {
        let stamp = Stamp::of(o)?;
        let (s, bytes) = self.entries.get(o.key.as_str())?;
        if s != &stamp || bytes.len() as u64 != o.size {
            return None;
        }
        self.entries.remove(o.key.as_str()).map(|(_, b)| b)
    }

    /// How many sidecars it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cache file's bytes for the sidecars the listing shows as the
    /// objects with these bytes (those without a tag and time are left
    /// out), in key order.
    pub fn encode<'a>(
        location: &str,
        sidecars: impl IntoIterator<Item = (&'a ObjectInfo, &'a [u8])>,
    ) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let loc = &location.as_bytes()[..location.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(loc.len() as u16).to_be_bytes());
        out.extend_from_slice(loc);
        let mut all: Vec<(&ObjectInfo, Stamp, &[u8])> = sidecars
            .into_iter()
            .filter(|(o, b)| b.len() as u64 == o.size && o.size <= crate::limits::SIDECAR_BYTES)
            .filter_map(|(o, b)| Some((o, Stamp::of(o)?, b)))
            .collect();
        all.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        all.dedup_by(|a, b| a.0.key == b.0.key);
        for (o, s, b) in all {
            let key = o.key.as_str().as_bytes();
            out.extend_from_slice(&(key.len() as u16).to_be_bytes());
            out.extend_from_slice(key);
            out.push(s.etag.len() as u8);
            out.extend_from_slice(s.etag.as_bytes());
            out.extend_from_slice(&s.secs.to_be_bytes());
            out.extend_from_slice(&s.nanos.to_be_bytes());
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Writes `bytes` as the cache file `path` (atomically, mode 0600 in a
    /// directory made 0700).
    pub fn store(path: &Path, bytes: &[u8]) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        if !dir.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .ctx(|| format!("creating {}", dir.display()))?;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sidecars");
        // tempfile makes the temporary file 0600, and the rename keeps it.
        crate::fsio::write_atomic(dir, name, bytes)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], CacheRefused> {
        if n > self.0.len() {
            return Err(CacheRefused("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> std::result::Result<u8, CacheRefused> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> std::result::Result<u16, CacheRefused> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn u32(&mut self) -> std::result::Result<u32, CacheRefused> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> std::result::Result<u64, CacheRefused> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ObjectKind;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    fn listed(key: &str, size: u64, etag: &str, secs: u64) -> ObjectInfo {
        ObjectInfo {
            key: ObjectKey::new(key).unwrap(),
            size,
            modified: Some(at(secs, 123_000_000)),
            etag: Some(etag.into()),
            kind: ObjectKind::Object,
        }
    }

    #[test]
    fn a_round_trip_serves_only_current_sidecars() {
        let a = listed("backups/logs/a.json", 3, "\"e1\"", 1_800_000_000);
        let b = listed("backups/logs/b.json", 2, "\"e2\"", 1_800_000_001);
        let bytes = SidecarCache::encode("s3://x/y", [(&a, &b"abc"[..]), (&b, &b"de"[..])]);
        let mut c = SidecarCache::parse(&bytes, "s3://x/y").unwrap();
        assert_eq!(c.len(), 2);
        // Written again: another tag, another time, another size.
        let mut a2 = a.clone();
        a2.etag = Some("\"e3\"".into());
        assert_eq!(c.take(&a2), None);
        let mut a3 = a.clone();
        a3.modified = Some(at(1_800_000_000, 124_000_000));
        assert_eq!(c.take(&a3), None);
        let mut a4 = a.clone();
        a4.size = 4;
        assert_eq!(c.take(&a4), None);
        let mut a5 = a.clone();
        a5.etag = None;
        assert_eq!(c.take(&a5), None);
        assert_eq!(c.take(&a).as_deref(), Some(&b"abc"[..]));
        assert_eq!(c.take(&a), None, "taken once");
        assert_eq!(c.len(), 1);
        // Another repository's file is refused.
        assert!(SidecarCache::parse(&bytes, "s3://x/z").is_err());
    }

    /// The corpus seed was written by hand (Python, from the format above),
    /// not by `encode`: a second reading of the format.
    #[test]
    fn a_file_written_from_the_documented_format_parses() {
        let bytes = include_bytes!("../../fuzz/corpus/sidecar_cache/two-records-file");
        let mut c = SidecarCache::parse(bytes, "s3://nkb/fuzz").unwrap();
        assert_eq!(c.len(), 2);
        let mut o = listed(
            "backups/logs/20261101T000000Z-7e57c0de.json",
            10,
            "\"0cc175b9c0f1b6a831c399e269772661\"",
            1_800_000_000,
        );
        o.modified = Some(at(1_800_000_000, 5));
        assert_eq!(c.take(&o).as_deref(), Some(&br#"{"id":"x"}"#[..]));
        let body = include_bytes!("../../fuzz/corpus/sidecar_cache/two-records-body");
        assert_eq!(&bytes[..bytes.len() - 32], &body[..]);
        for bad in [
            "key-with-dotdot-body",
            "duplicate-key-body",
            "huge-length-body",
        ] {
            let d = std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fuzz/corpus/sidecar_cache")
                    .join(bad),
            )
            .unwrap();
            let mut summed = d.clone();
            summed.extend_from_slice(&Sha256::digest(&d));
            assert!(
                SidecarCache::parse(&summed, "s3://nkb/fuzz").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn damage_of_any_byte_or_length_is_refused() {
        let a = listed("backups/logs/a.json", 3, "\"e1\"", 1_800_000_000);
        let bytes = SidecarCache::encode("s3://x/y", [(&a, &b"abc"[..])]);
        for i in 0..bytes.len() {
            let mut d = bytes.clone();
            d[i] ^= 0x01;
            assert!(SidecarCache::parse(&d, "s3://x/y").is_err(), "byte {i}");
            assert!(
                SidecarCache::parse(&bytes[..i], "s3://x/y").is_err(),
                "len {i}"
            );
        }
    }

    #[test]
    fn objects_without_a_tag_or_of_the_wrong_size_are_not_cached() {
        let mut a = listed("backups/logs/a.json", 3, "\"e1\"", 1_800_000_000);
        a.etag = None;
        let b = listed("backups/logs/b.json", 5, "\"e2\"", 1_800_000_000);
        let bytes = SidecarCache::encode("s3://x/y", [(&a, &b"abc"[..]), (&b, &b"de"[..])]);
        assert!(SidecarCache::parse(&bytes, "s3://x/y").unwrap().is_empty());
    }

    #[test]
    fn a_missing_or_garbage_file_loads_empty_and_store_writes_it_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = SidecarCache::file_in(&dir.path().join("c"), "s3://x/y", "id");
        assert!(SidecarCache::load(&path, "s3://x/y").is_empty());
        let a = listed("backups/logs/a.json", 3, "\"e1\"", 1_800_000_000);
        SidecarCache::store(
            &path,
            &SidecarCache::encode("s3://x/y", [(&a, &b"abc"[..])]),
        )
        .unwrap();
        assert_eq!(SidecarCache::load(&path, "s3://x/y").len(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::write(&path, b"garbage").unwrap();
        assert!(SidecarCache::load(&path, "s3://x/y").is_empty());
    }
}
