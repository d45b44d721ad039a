//! Reading many small objects at once: sidecars when listing, journal
//! segments. A bucket answers each request after a round trip, so one
//! after another, 100 000 sidecars would take minutes; the bucket backend
//! keeps several requests in flight as tasks on its runtime
//! (`Storage::get_many_native`). A directory reads them one by one.

use super::{ObjectKey, Storage};
use crate::error::Result;

/// One get's answer, as [`Storage::get`] gives it.
pub type Got = Result<Option<Vec<u8>>>;

/// One object to get: its key and, when a listing said, its size.
pub type Wanted<'a> = (&'a ObjectKey, Option<u64>);

/// Gets every key of `keys` (each as [`Storage::get`] with `limit`; a
/// listed size saves a bucket its HEAD), several at a time where the
/// backend can, and returns the results in the order of `keys`.
pub fn get_many(storage: &dyn Storage, keys: &[Wanted<'_>], limit: u64) -> Vec<Got> {
    match storage.get_many_native(keys, limit) {
        Some(got) => got,
        None => keys.iter().map(|(k, _)| storage.get(k, limit)).collect(),
    }
}
