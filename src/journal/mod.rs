//! Append-only, hash-chained JSON-lines journals.
//!
//! Journals record what must stay provable: deletions (retention) and
//! restore drills. `journal/<name>.jsonl` holds one JSON object per line,
//! each fsynced. Every line carries `seq` (1, 2, 3…) and `prev`, the
//! lowercase hex SHA-256 of the previous line's bytes including its `\n`
//! (64 zeros for the first line). Altering, removing, reordering or
//! inserting a line breaks the chain at the next line.
//! `journal/<name>.head`, rewritten atomically after every append, records
//! the last line's `seq` and SHA-256, so that removing or altering lines at
//! the *end* is detected too. A damaged journal is reported line by line and
//! never appended to. On an object store, which cannot append, new lines go
//! into segments `journal/<name>/<first seq>.jsonl` of at most
//! [`SEGMENT_LINES`] lines, so that an append costs the same whatever the
//! journal's length (`segment`). docs/RETENTION.md specifies the format.

mod check;
mod segment;

pub use check::check;
pub use segment::{SEGMENT_BYTES, SEGMENT_LINES, check_segmented, segment_dir, segment_key};

use crate::error::{Error, Result};
use crate::limits::SMALL_OBJECT_BYTES;
use crate::storage::{ObjectKey, Storage};
use segment::Tail;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// Directory of the journals, relative to the repository.
pub const JOURNAL_DIR: &str = "journal";
/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One journal line: the chain's two fields, then the record's own
/// (`{"seq":…,"prev":…,<record fields>}`). Reads as the record
/// (`Deref`), so `line.event` is the record's field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chained<T> {
    /// Line number, from 1.
    pub seq: u64,
    /// SHA-256 of the previous line (hex), or [`GENESIS`].
    pub prev: String,
    /// The record.
    #[serde(flatten)]
    pub record: T,
}

impl<T> std::ops::Deref for Chained<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.record
    }
}

/// What a journal can hold: any record that serializes as a JSON object.
pub trait Record: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> Record for T {}

/// The key of the journal `name` (a constant of nkbackup's):
/// `journal/<name>.jsonl`.
pub fn key(name: &str) -> ObjectKey {
    ObjectKey::from_parts(&[JOURNAL_DIR, &format!("{name}.jsonl")])
}

fn head_name(name: &str) -> String {
    format!("{name}.head")
}

/// The key of the journal `name`'s head record: `journal/<name>.head`.
pub fn head_key(name: &str) -> ObjectKey {
    ObjectKey::from_parts(&[JOURNAL_DIR, &head_name(name)])
}

/// The key of the lock file of the journal `name`: `journal/<name>.lock`.
pub fn lock_key(name: &str) -> ObjectKey {
    ObjectKey::from_parts(&[JOURNAL_DIR, &format!("{name}.lock")])
}

/// `journal/<name>.head`: the last line's `seq` and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// `seq` of the last line.
    pub seq: u64,
    /// SHA-256 of the last line.
    pub sha256: String,
}

/// A place where the journal fails its checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// 1-based line number (for head problems, the line after the last).
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// A journal as read and checked.
#[derive(Debug, Clone, Serialize)]
pub struct JournalState<T> {
    /// Records that parsed, in file order (also those after damage).
    pub records: Vec<Chained<T>>,
    /// Every check that failed; empty = intact.
    pub damage: Vec<Damage>,
    /// Lines in the file.
    pub lines: u64,
    /// SHA-256 of the last line, the `prev` of the next.
    pub last_sha256: String,
    /// Whether the head lagged the file by one line (a crash between the
    /// append and the head update; harmless, fixed by the next append).
    pub head_lagging: bool,
    /// SHA-256 of every line, in file order (for [`JournalState::extends`]).
    #[serde(skip)]
    pub line_sha256: Vec<String>,
    /// The bytes of every line, when asked for (copying a journal).
    #[serde(skip)]
    pub(crate) raw_lines: Option<Vec<Vec<u8>>>,
}

impl<T> JournalState<T> {
    /// The journal's head as read: its number of lines and the SHA-256 of
    /// the last one (what a report prints for an auditor to keep).
    pub fn head(&self) -> Head {
        Head {
            seq: self.lines,
            sha256: self.last_sha256.clone(),
        }
    }

    /// Whether this journal extends the one `earlier` is the head of: its
    /// line `earlier.seq` has the SHA-256 `earlier.sha256`. With an intact
    /// chain that proves every line up to there is the one seen then,
    /// whatever was appended since. `Err` says how it differs.
    pub fn extends(&self, earlier: &Head) -> std::result::Result<(), String> {
        if earlier.seq == 0 {
            return Ok(());
        }
        let at = usize::try_from(earlier.seq - 1).unwrap_or(usize::MAX);
        match self.line_sha256.get(at) {
            None => Err(format!(
                "it has {} line(s), fewer than the {} of the head it must extend: lines were removed",
                self.lines, earlier.seq
            )),
            Some(h) if h.eq_ignore_ascii_case(&earlier.sha256) => Ok(()),
            Some(h) => Err(format!(
                "its line {} has SHA-256 {h}, not {}: the journal was rewritten at or before that line",
                earlier.seq, earlier.sha256
            )),
        }
    }
}

impl std::str::FromStr for Head {
    type Err = String;
    /// `SEQ:SHA256`, as reports print it.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (seq, sha) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not SEQ:SHA256"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("{seq:?} is not a line number"))?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{sha:?} is not a SHA-256 (64 hex digits)"));
        }
        Ok(Head {
            seq,
            sha256: sha.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for Head {
    /// `SEQ:SHA256`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.sha256)
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Reads and checks the journal `name` of the repository in `storage`
/// (its main object, then its segments). A missing journal is an empty,
/// intact one (unless a head says otherwise).
pub fn read<T: Record>(storage: &dyn Storage, name: &str) -> Result<JournalState<T>> {
    Ok(read_with_tail(storage, name, false)?.0)
}

/// [`read`], also keeping every line's bytes when `raw`, and saying
/// where the next line goes.
fn read_with_tail<T: Record>(
    storage: &dyn Storage,
    name: &str,
    raw: bool,
) -> Result<(JournalState<T>, Tail)> {
    let mut checker = check::Checker::new(&storage.describe(&key(name)));
    if raw {
        checker.keep_raw();
    }
    let tail = segment::read_parts(storage, name, &mut checker)?;
    let head = storage.get(&head_key(name), SMALL_OBJECT_BYTES)?;
    Ok((checker.finish(head.as_deref(), &head_name(name)), tail))
}

/// Brings journal `name` in `to` up to the one in `from`, when it is
/// absent there or a prefix of it: the missing lines are appended in
/// `to`'s own layout and the head is copied. `Ok(false)` if there was
/// nothing to do; `Err(why)` (in `Ok`) when the two differ or the
/// original is damaged, and nothing was written.
pub fn copy(
    from: &dyn Storage,
    to: &dyn Storage,
    name: &str,
) -> Result<std::result::Result<bool, String>> {
    let src = read_with_tail::<serde_json::Value>(from, name, true)?.0;
    if let Some(d) = src.damage.first() {
        return Ok(Err(format!(
            "the original's journal {} is damaged (line {}: {}): it was not copied; run `nkbackup verify` there",
            from.describe(&key(name)),
            d.line,
            d.reason
        )));
    }
    let (dst, mut tail) = read_with_tail::<serde_json::Value>(to, name, false)?;
    let have = usize::try_from(dst.lines).unwrap_or(usize::MAX);
    if dst.line_sha256 == src.line_sha256 {
        return Ok(Ok(false));
    }
    if have > src.line_sha256.len() || dst.line_sha256[..] != src.line_sha256[..have] {
        return Ok(Err(format!(
            "the replica's journal ({}) is not a prefix of the original's: it was not replaced; compare the two",
            to.describe(&key(name))
        )));
    }
    let raw = src.raw_lines.unwrap_or_default();
    let first_seq = src.records.get(have).map_or(dst.lines + 1, |r| r.seq);
    tail.push(to, first_seq, &raw[have..])?;
    if let Some(h) = from.get(&head_key(name), SMALL_OBJECT_BYTES)? {
        to.put(&head_key(name), &h)?;
    }
    Ok(Ok(true))
}

/// The `seq` a file name `<seq, 20 digits><suffix>` says (witness heads
/// and journal segments), or `None` for any other name.
fn seq_file_name(file: &str, suffix: &str) -> Option<u64> {
    let digits = file.strip_suffix(suffix)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Directory of the heads a witness keeps: `witness/<name>/<seq>.head`.
pub const WITNESS_DIR: &str = "witness";

/// The key of the head of line `seq` of journal `name` in a witness
/// location: `witness/<name>/<seq, 20 digits>.head`.
pub fn witness_key(name: &str, seq: u64) -> ObjectKey {
    ObjectKey::from_parts(&[WITNESS_DIR, name, &format!("{seq:020}.head")])
}

/// The newest head of journal `name` a witness location holds, with its
/// key's description; `None` if it holds none. Heads whose name is not
/// `<20 digits>.head` are ignored; one that does not parse, or names
/// another seq than its key, is an error (the witness was written by
/// something else).
pub fn witnessed(witness: &dyn Storage, name: &str) -> Result<Option<(Head, String)>> {
    let dir = ObjectKey::from_parts(&[WITNESS_DIR, name]);
    let newest = witness
        .list(Some(&dir))?
        .into_iter()
        .filter_map(|o| seq_file_name(o.key.name(), ".head").map(|n| (n, o.key)))
        .max_by_key(|(n, _)| *n);
    let Some((seq, key)) = newest else {
        return Ok(None);
    };
    let what = witness.describe(&key);
    let bytes = witness.get(&key, SMALL_OBJECT_BYTES)?.unwrap_or_default();
    let head: Head = serde_json::from_slice(&bytes).map_err(|e| Error::JournalDamaged {
        path: PathBuf::from(&what),
        line: seq,
        reason: format!("the witness's head is unreadable ({e})"),
    })?;
    if head.seq != seq || !crate::manifest::is_sha256_hex(&head.sha256) {
        return Err(Error::JournalDamaged {
            path: PathBuf::from(&what),
            line: seq,
            reason: "the witness's head names another line or no SHA-256".into(),
        });
    }
    Ok(Some((head, what)))
}

/// Appends to an intact journal, fsyncing every line.
#[derive(Debug)]
pub struct JournalWriter<T> {
    storage: Arc<dyn Storage>,
    witness: Option<Arc<dyn Storage>>,
    name: String,
    next_seq: u64,
    last_sha256: String,
    tail: Tail,
    /// What was read when opening.
    pub state: JournalState<T>,
}

impl<T: Record> JournalWriter<T> {
    /// Opens the journal `name` of the repository in `storage` for
    /// appending, refusing a damaged one. Hold the repository lock.
    pub fn open(storage: Arc<dyn Storage>, name: &str) -> Result<Self> {
        let (state, tail) = read_with_tail::<T>(storage.as_ref(), name, false)?;
        if let Some(d) = state.damage.first() {
            return Err(Error::JournalDamaged {
                path: PathBuf::from(storage.describe(&key(name))),
                line: d.line,
                reason: d.reason.clone(),
            });
        }
        Ok(JournalWriter {
            storage,
            witness: None,
            name: name.to_owned(),
            next_seq: state.records.last().map_or(1, |r| r.seq + 1),
            last_sha256: state.last_sha256.clone(),
            tail,
            state,
        })
    }

    /// Also gives every new head to `witness` (a second directory or
    /// bucket), append-only: `witness/<name>/<seq>.head`, never replaced.
    pub fn witness(mut self, witness: Option<Arc<dyn Storage>>) -> Self {
        self.witness = witness;
        self
    }

    /// Appends `r` (its `seq` and `prev` are filled in): in place, fsynced,
    /// in a directory; into the open segment in an object store. Then
    /// updates the head (and the witness's). Returns the line's `seq`.
    pub fn append(&mut self, record: T) -> Result<u64> {
        let seq = self.next_seq;
        let r = Chained {
            seq,
            prev: self.last_sha256.clone(),
            record,
        };
        let mut line = serde_json::to_vec(&r).expect("records serialize");
        line.push(b'\n');
        self.tail
            .push(self.storage.as_ref(), seq, std::slice::from_ref(&line))?;
        self.last_sha256 = sha256_hex(&line);
        let head = Head {
            seq,
            sha256: self.last_sha256.clone(),
        };
        let mut hb = serde_json::to_vec(&head).expect("head serializes");
        hb.push(b'\n');
        self.storage.put(&head_key(&self.name), &hb)?;
        if let Some(w) = &self.witness {
            let k = witness_key(&self.name, seq);
            if !w.put_new(&k, &hb)? && w.get(&k, SMALL_OBJECT_BYTES)?.as_deref() != Some(&hb[..]) {
                return Err(Error::JournalDamaged {
                    path: PathBuf::from(w.describe(&k)),
                    line: seq,
                    reason: "the witness already holds another head for this line: the journal was rewritten after the witness saw it; compare the two".into(),
                });
            }
        }
        self.next_seq += 1;
        self.state.records.push(r);
        Ok(head.seq)
    }
}
