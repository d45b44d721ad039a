//! Reading many small objects at once: sidecars when listing, journal
//! segments. A bucket answers each request after a round trip, so one
//! after another, 100 000 sidecars would take minutes; a few requests in
//! flight hide the latency (the bucket backend runs them as tasks on its
//! runtime, `Storage::get_many_native`). A directory reads them one by one.

use super::{ObjectKey, Storage};
use crate::error::Result;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One get's answer, as [`Storage::get`] gives it.
pub type Got = Result<Option<Vec<u8>>>;

/// One object to get: its key and, when a listing said, its size.
pub type Wanted<'a> = (&'a ObjectKey, Option<u64>);

/// Gets every key of `keys` (each as [`Storage::get`] with `limit`; a
/// listed size saves a bucket its HEAD), several at a time, and returns
/// the results in the order of `keys`.
pub fn get_many(storage: &dyn Storage, keys: &[Wanted<'_>], limit: u64) -> Vec<Got> {
    match storage.get_many_native(keys, limit) {
        Some(got) => got,
        None => with_threads(storage, keys, limit),
    }
}

/// [`get_many`] done with [`Storage::parallel_reads`] threads, each
/// making [`Storage::get`] calls.
fn with_threads(storage: &dyn Storage, keys: &[Wanted<'_>], limit: u64) -> Vec<Got> {
    let width = storage.parallel_reads().clamp(1, 64).min(keys.len());
    if width <= 1 {
        return keys.iter().map(|(k, _)| storage.get(k, limit)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Got>>> = keys.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..width {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((k, _)) = keys.get(i) else { break };
                    let got = storage.get(k, limit);
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                // Every slot is filled: the workers stop only past the end.
                .unwrap_or(Ok(None))
        })
        .collect()
}
