//! Reading many small objects at once: sidecars when listing, journal
//! segments. A bucket answers each request after a round trip, so one
//! after another, 100 000 sidecars would take minutes; a few requests in
//! flight hide the latency. A directory reads them one by one.

use super::{ObjectKey, Storage};
use crate::error::Result;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One get's answer, as [`Storage::get`] gives it.
type Got = Result<Option<Vec<u8>>>;

/// Gets every key of `keys` (each as [`Storage::get`] with `limit`), at
/// most [`Storage::parallel_reads`] at a time, and returns the results in
/// the order of `keys`.
pub fn get_many(storage: &dyn Storage, keys: &[&ObjectKey], limit: u64) -> Vec<Got> {
    let width = storage.parallel_reads().clamp(1, 64).min(keys.len());
    if width <= 1 {
        return keys.iter().map(|k| storage.get(k, limit)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Got>>> = keys.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..width {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(k) = keys.get(i) else { break };
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
