//! The repository lock on an object store: a `lock` object created with a
//! conditional write (`If-None-Match: *`), holding who took it and until
//! when its lease runs.
//!
//! On stores that honour conditional writes (AWS S3, MinIO) the lock is
//! exact. Garage 2.5 accepts `If-None-Match` but does not enforce it; there
//! the lock looks before it writes and reads its write back after a pause,
//! which catches a holder that is already there and most races, but two
//! writers starting within the same instant could both proceed. Run the
//! writing jobs (prune, drills, configuration edits) from one host.
//!
//! An object store has no `flock`, and a killed process cannot remove its
//! lock object, so the lock is a lease: one older than [`LOCK_LEASE`] is
//! stale and the next writer replaces it. Holders are short jobs (prune,
//! journal appends, configuration edits); seals do not lock on an object
//! store (see [`super::Storage::seal_locks`]).

use super::{LockGuard, ObjectKey, Storage};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How long a lock object holds before it counts as abandoned.
pub const LOCK_LEASE: Duration = Duration::from_secs(6 * 3600);

/// The lock object's key.
fn key() -> ObjectKey {
    ObjectKey::from_parts(&["lock"])
}

/// How long a new holder waits before reading its lock back.
const SETTLE: Duration = Duration::from_millis(300);

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Holder {
    holder: String,
    #[serde(with = "time::serde::rfc3339")]
    since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires: OffsetDateTime,
    nonce: String,
}

/// A held lock object; deleted on drop (if it is still ours).
#[derive(Debug)]
pub(crate) struct ObjectLock {
    storage: Arc<dyn Storage>,
    nonce: String,
}

impl LockGuard for ObjectLock {}

impl ObjectLock {
    /// Takes the lock of the repository in `storage`, waiting up to `wait`.
    pub(crate) fn take(storage: Arc<dyn Storage>, wait: Duration) -> Result<Self> {
        let start = Instant::now();
        let mut nonce = [0u8; 16];
        crate::util::fill_random(&mut nonce);
        let nonce = hex::encode(nonce);
        loop {
            let now = OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .expect("0 ns");
            // Look first: some stores (Garage 2.5) ignore If-None-Match and
            // would let put_new replace a held lock.
            let (present, holder) = read(storage.as_ref())?;
            if !present {
                let me = Holder {
                    holder: format!("pid {} on {}", std::process::id(), crate::host_name()),
                    since: now,
                    expires: now + LOCK_LEASE,
                    nonce: nonce.clone(),
                };
                let bytes = serde_json::to_vec(&me).expect("lock serializes");
                if storage.put_new(&key(), &bytes)? {
                    // Let a racing writer's put land, then read back:
                    // where conditional writes are ignored, the later
                    // writer wins and the earlier one backs off.
                    std::thread::sleep(SETTLE);
                    if read(storage.as_ref())?.1.is_some_and(|h| h.nonce == nonce) {
                        return Ok(ObjectLock { storage, nonce });
                    }
                }
                continue;
            }
            if let Some(h) = &holder
                && h.expires < now
            {
                // Abandoned by a process that died: take it over.
                storage.delete(&key())?;
                continue;
            }
            // Held, or unreadable (treated as held: make the admin look).
            if start.elapsed() >= wait {
                return Err(Error::Locked {
                    path: storage.location().into(),
                    holder: match holder {
                        Some(h) => format!(
                            "{} since {}, lease until {}",
                            crate::text::escape(&h.holder),
                            crate::util::rfc3339(h.since),
                            crate::util::rfc3339(h.expires)
                        ),
                        None => "an unreadable lock object".into(),
                    },
                });
            }
            std::thread::sleep(Duration::from_millis(250).min(wait));
        }
    }
}

/// Whether the lock object exists, and its holder if it parses. A lock
/// object larger than any nkbackup writes counts as held and unreadable.
fn read(storage: &dyn Storage) -> Result<(bool, Option<Holder>)> {
    let bytes = match storage.get(&key(), crate::limits::SMALL_OBJECT_BYTES) {
        Err(crate::Error::TooLarge { .. }) => return Ok((true, None)),
        r => r?,
    };
    let holder = bytes
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Holder>(b).ok());
    Ok((bytes.is_some(), holder))
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        let ours = read(self.storage.as_ref())
            .ok()
            .and_then(|(_, h)| h)
            .is_some_and(|h| h.nonce == self.nonce);
        if ours {
            let _ = self.storage.delete(&key());
        }
    }
}
