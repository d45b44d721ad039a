//! Where a journal's lines are kept: `journal/<name>.jsonl`, then the
//! segments `journal/<name>/<first seq, 20 digits>.jsonl`.
//!
//! A directory appends each line to its file in place, so its journals
//! stay one file. An object store cannot append: rewriting one object per
//! line would cost O(n) bytes per append and O(n²) over a journal's life.
//! There each line goes into the open segment, rewritten with at most
//! [`SEGMENT_LINES`] lines; the next line after a full segment (or after
//! the main object) starts a new one, created only if absent. An append
//! therefore costs at most one segment's bytes, whatever the journal's
//! length. The chain runs across segments: a line's `prev` is the SHA-256
//! of the line before it, in whichever object that is.

use super::check::Checker;
use super::{JOURNAL_DIR, Record, key};
use crate::error::{Error, Result};
use crate::limits::{JOURNAL_BYTES, JOURNAL_LINE_BYTES};
use crate::storage::{ObjectKey, ObjectKind, Storage};
use std::path::PathBuf;

/// Lines a segment holds at most.
pub const SEGMENT_LINES: u64 = 64;

/// Segments fetched per batch when a journal is read.
const SEGMENT_BATCH: usize = 64;

/// Bytes a segment holds at most.
pub const SEGMENT_BYTES: u64 = SEGMENT_LINES * JOURNAL_LINE_BYTES as u64;

/// The folder of the journal `name`'s segments: `journal/<name>`.
pub fn segment_dir(name: &str) -> ObjectKey {
    ObjectKey::from_parts(&[JOURNAL_DIR, name])
}

/// The key of the segment of journal `name` whose first line is `seq`:
/// `journal/<name>/<seq, 20 digits>.jsonl`.
pub fn segment_key(name: &str, seq: u64) -> ObjectKey {
    ObjectKey::from_parts(&[JOURNAL_DIR, name, &format!("{seq:020}.jsonl")])
}

/// The `seq` a segment's file name says, if it is one nkbackup writes
/// (seq 0 is not a line's).
fn segment_seq(file: &str) -> Option<u64> {
    super::seq_file_name(file, ".jsonl").filter(|&s| s > 0)
}

/// One segment as listed.
#[derive(Debug)]
struct Segment {
    key: ObjectKey,
    first_seq: u64,
    size: u64,
}

/// The segments of journal `name`, in order of their first `seq`, and a
/// description of every other object among them (damage).
fn segments(storage: &dyn Storage, name: &str) -> Result<(Vec<Segment>, Vec<String>)> {
    let mut segs = Vec::new();
    let mut strays = Vec::new();
    let mut bytes = 0u64;
    for o in storage.list(Some(&segment_dir(name)))? {
        let seq = (o.key.components().count() == 3)
            .then(|| segment_seq(o.key.name()))
            .flatten();
        match seq {
            Some(first_seq) if o.kind == ObjectKind::Object => {
                bytes = bytes.saturating_add(o.size);
                segs.push(Segment {
                    key: o.key,
                    first_seq,
                    size: o.size,
                });
            }
            _ if o.kind == ObjectKind::Directory => {}
            _ => strays.push(format!(
                "{} is {} among the segments and not one nkbackup writes: something else wrote there",
                storage.describe(&o.key),
                o.kind.describe()
            )),
        }
    }
    if bytes > JOURNAL_BYTES {
        return Err(Error::TooLarge {
            what: storage.describe(&segment_dir(name)),
            limit: JOURNAL_BYTES,
        });
    }
    segs.sort_by_key(|s| s.first_seq);
    Ok((segs, strays))
}

/// Where the next line of a journal goes.
#[derive(Debug)]
pub(crate) enum Tail {
    /// Appended in place to this object (a directory's file).
    InPlace(ObjectKey),
    /// Into segments: the open one's key, bytes and lines, if it has room.
    Segmented {
        name: String,
        open: Option<(ObjectKey, Vec<u8>, u64)>,
    },
}

impl Tail {
    /// Writes `lines` (whole lines with their `\n`, the first one's `seq`
    /// being `first_seq`) where they belong: appended in place, or into
    /// the open segment and new ones (one write per segment touched).
    pub(crate) fn push(
        &mut self,
        storage: &dyn Storage,
        first_seq: u64,
        lines: &[Vec<u8>],
    ) -> Result<()> {
        match self {
            Tail::InPlace(k) => {
                let all: Vec<u8> = lines.concat();
                storage.append(k, &all, JOURNAL_BYTES)
            }
            Tail::Segmented { name, open } => {
                let mut seq = first_seq;
                let mut rest = lines;
                while !rest.is_empty() {
                    let (key, mut bytes, count, fresh) = match open.take() {
                        Some((k, b, n)) if n < SEGMENT_LINES => (k, b, n, false),
                        _ => (segment_key(name, seq), Vec::new(), 0, true),
                    };
                    let take = usize::try_from(SEGMENT_LINES - count)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    for l in &rest[..take] {
                        bytes.extend_from_slice(l);
                    }
                    if fresh {
                        // Looked for first: some stores (Garage 2.5) accept
                        // If-None-Match without enforcing it.
                        if storage.stat(&key)?.is_some() || !storage.put_new(&key, &bytes)? {
                            return Err(Error::JournalDamaged {
                                path: PathBuf::from(storage.describe(&key)),
                                line: seq,
                                reason: "this segment already exists: another process appended to the journal at the same time, or it was planted; run `nkbackup verify` and compare".into(),
                            });
                        }
                    } else {
                        storage.put(&key, &bytes)?;
                    }
                    let n = count + take as u64;
                    *open = Some((key, bytes, n));
                    seq += take as u64;
                    rest = &rest[take..];
                }
                Ok(())
            }
        }
    }
}

/// Reads journal `name`'s main object and segments through `checker`;
/// returns where the next line goes.
pub(crate) fn read_parts<T: Record>(
    storage: &dyn Storage,
    name: &str,
    checker: &mut Checker<T>,
) -> Result<Tail> {
    let main = key(name);
    if let Some(info) = storage.stat(&main)? {
        if info.size > JOURNAL_BYTES {
            return Err(Error::TooLarge {
                what: storage.describe(&main),
                limit: JOURNAL_BYTES,
            });
        }
        if let Some(r) = storage.open(&main)? {
            checker.part(r, None)?;
        }
    }
    let (segs, stray) = segments(storage, name)?;
    for s in stray {
        checker.damage(s);
    }
    // A batch at a time (each fetched several requests at once where the
    // store allows): memory bounded by the batch, not the journal.
    let batch_len = SEGMENT_BATCH;
    let mut last: Option<(ObjectKey, Vec<u8>)> = None;
    for batch in segs.chunks(batch_len) {
        let keys: Vec<crate::storage::Wanted<'_>> =
            batch.iter().map(|s| (&s.key, Some(s.size))).collect();
        let got = crate::storage::get_many(storage, &keys, SEGMENT_BYTES);
        for (seg, bytes) in batch.iter().zip(got) {
            let bytes = bytes?;
            let Some(bytes) = bytes else {
                checker.damage(format!(
                    "{} vanished while the journal was read",
                    storage.describe(&seg.key)
                ));
                continue;
            };
            checker.part(&bytes[..], Some((seg.key.name(), seg.first_seq)))?;
            last = Some((seg.key.clone(), bytes));
        }
    }
    if storage.appends_in_place() {
        return Ok(Tail::InPlace(match last {
            Some((k, _)) => k,
            None => main,
        }));
    }
    let open = last.map(|(k, b)| {
        let n = b.iter().filter(|&&c| c == b'\n').count() as u64;
        (k, b, n)
    });
    Ok(Tail::Segmented {
        name: name.to_owned(),
        open,
    })
}

/// Checks a journal given whole: the bytes of its main object, then its
/// segments as (file name, bytes) in any order, against its head record
/// (as [`super::check`] does for one object). Names that are not a
/// segment's are damage. For fuzzing and for tools that hold a copy.
pub fn check_segmented<T: Record>(
    main: &[u8],
    segments: &[(&str, &[u8])],
    head: Option<&[u8]>,
    what: &str,
    head_file: &str,
) -> Result<super::JournalState<T>> {
    let mut checker = Checker::new(what);
    checker.part(main, None)?;
    let mut segs = Vec::with_capacity(segments.len());
    for (name, bytes) in segments {
        match segment_seq(name) {
            Some(seq) => segs.push((seq, *name, *bytes)),
            None => checker.damage(format!(
                "{name} is among the segments and not one nkbackup writes: something else wrote there"
            )),
        }
    }
    segs.sort_by_key(|s| s.0);
    for (seq, name, bytes) in segs {
        checker.part(bytes, Some((name, seq)))?;
    }
    Ok(checker.finish(head, head_file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{JournalWriter, read};
    use crate::storage::LocalStorage;
    use std::sync::Arc;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Note {
        n: u64,
    }

    fn writer(s: &Arc<dyn Storage>, name: &str) -> JournalWriter<Note> {
        JournalWriter::open(s.clone(), name).unwrap()
    }

    #[test]
    fn a_directory_appends_in_place_to_its_file_or_to_its_last_segment() {
        let d = tempfile::tempdir().unwrap();
        let s: Arc<dyn Storage> = Arc::new(LocalStorage::new(d.path()));
        let mut w = writer(&s, "a");
        for n in 1..=100 {
            w.append(Note { n }).unwrap();
        }
        // One file, no segments.
        assert!(s.list(Some(&segment_dir("a"))).unwrap().is_empty());
        assert_eq!(read::<Note>(s.as_ref(), "a").unwrap().records.len(), 100);

        // A bucket's journal mirrored into a directory: the file, then two
        // segments; the next lines go to the end of the last segment.
        let j = d.path().join("journal");
        std::fs::rename(j.join("a.jsonl"), j.join("whole")).unwrap();
        let whole = std::fs::read(j.join("whole")).unwrap();
        let cut: Vec<usize> = whole
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        std::fs::create_dir_all(j.join("a")).unwrap();
        std::fs::write(j.join("a.jsonl"), &whole[..cut[9]]).unwrap();
        std::fs::write(
            j.join("a/00000000000000000011.jsonl"),
            &whole[cut[9]..cut[74]],
        )
        .unwrap();
        std::fs::write(j.join("a/00000000000000000076.jsonl"), &whole[cut[74]..]).unwrap();
        std::fs::remove_file(j.join("whole")).unwrap();
        let st = read::<Note>(s.as_ref(), "a").unwrap();
        assert!(st.damage.is_empty(), "{:?}", st.damage);
        assert_eq!(st.records.len(), 100);
        writer(&s, "a").append(Note { n: 101 }).unwrap();
        let last = std::fs::read(j.join("a/00000000000000000076.jsonl")).unwrap();
        assert_eq!(last.iter().filter(|&&c| c == b'\n').count(), 26);
        let st = read::<Note>(s.as_ref(), "a").unwrap();
        assert!(st.damage.is_empty(), "{:?}", st.damage);
        assert_eq!(st.records.last().unwrap().n, 101);
    }

    #[test]
    fn segments_given_whole_are_checked_as_one_chain() {
        let d = tempfile::tempdir().unwrap();
        let s: Arc<dyn Storage> = Arc::new(LocalStorage::new(d.path()));
        let mut w = writer(&s, "b");
        for n in 1..=3 {
            w.append(Note { n }).unwrap();
        }
        let whole = s.get(&crate::journal::key("b"), 1 << 20).unwrap().unwrap();
        let head = s
            .get(&crate::journal::head_key("b"), 1 << 20)
            .unwrap()
            .unwrap();
        let first = whole.iter().position(|&c| c == b'\n').unwrap() + 1;
        let check = |segs: &[(&str, &[u8])]| {
            check_segmented::<Note>(&whole[..first], segs, Some(&head), "b", "b.head")
                .unwrap()
                .damage
                .into_iter()
                .map(|d| d.reason)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let rest = &whole[first..];
        assert_eq!(check(&[("00000000000000000002.jsonl", rest)]), "");
        let why = check(&[("00000000000000000003.jsonl", rest)]);
        assert!(why.contains("must begin with seq 3"), "{why}");
        let why = check(&[("00000000000000000002.jsonl", rest), ("x.jsonl", b"")]);
        assert!(why.contains("x.jsonl is among the segments"), "{why}");
        let why = check(&[
            ("00000000000000000002.jsonl", rest),
            ("00000000000000000009.jsonl", b""),
        ]);
        assert!(why.contains("is empty"), "{why}");
        // Zero is not a seq: the name is a stray's.
        let why = check(&[
            ("00000000000000000002.jsonl", rest),
            ("00000000000000000000.jsonl", b""),
        ]);
        assert!(why.contains("among the segments"), "{why}");
    }
}
