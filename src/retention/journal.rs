//! The deletion journal: `journal/deletions.jsonl`, append-only JSON
//! lines, each fsynced, chained by SHA-256.
//!
//! Every line carries `seq` (1, 2, 3…) and `prev`, the lowercase hex
//! SHA-256 of the previous line's bytes including its `\n` (64 zeros for
//! the first line). Altering, removing, reordering or inserting a line
//! breaks the chain at the next line. `journal/deletions.head`, rewritten
//! atomically after every append, records the last line's `seq` and
//! SHA-256, so that removing or altering lines at the *end* is detected
//! too. The full format is in docs/RETENTION.md.

use super::RetentionError;
use crate::error::{IoContext, Result};
use crate::repo::{ensure_dir, fsync_dir, write_atomic};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Directory of the journals, relative to the repository.
pub const JOURNAL_DIR: &str = "journal";
/// File name of the deletion journal.
pub const DELETIONS_FILE: &str = "deletions.jsonl";
/// File name of the deletion journal's head record.
pub const HEAD_FILE: &str = "deletions.head";
/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why something was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Past its deadline.
    Overdue,
    /// Within max_age but not selected by the keep rules.
    Surplus,
    /// Data file without a sidecar, older than the grace period.
    IncompleteWrite,
    /// `tmp/*.partial` older than the grace period.
    StalePartial,
}

/// `intent` or `done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// Written before anything is deleted.
    Intent,
    /// Written after every file of the intent is gone.
    Done,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Line number, from 1.
    pub seq: u64,
    /// SHA-256 of the previous line (hex), or [`GENESIS`].
    pub prev: String,
    /// What happened.
    pub event: Event,
    /// When (UTC, to the second).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `"injected"` when `at` came from `--at` / `NKBACKUP_NOW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// For `done`: the `seq` of its intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<u64>,
    /// Backup id (absent for a partial file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Class (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Creation time (intent only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created: Option<OffsetDateTime>,
    /// Deadline under the policy that deleted it (intent only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deadline: Option<OffsetDateTime>,
    /// Why (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Storage path of the data file, relative to the repository.
    pub path: String,
    /// Storage path of the sidecar, relative to the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_path: Option<String>,
    /// SHA-256 of the sidecar file's bytes (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_sha256: Option<String>,
    /// SHA-256 of the data file per the sidecar (intent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext_sha256: Option<String>,
}

impl Record {
    /// A new intent or done record; `seq` and `prev` are set on append.
    pub fn new(event: Event, at: OffsetDateTime, injected: bool, path: String) -> Self {
        Record {
            seq: 0,
            prev: String::new(),
            event,
            at,
            clock: injected.then(|| "injected".to_owned()),
            intent: None,
            id: None,
            class: None,
            created: None,
            deadline: None,
            reason: None,
            path,
            sidecar_path: None,
            sidecar_sha256: None,
            ciphertext_sha256: None,
        }
    }
}

/// `journal/deletions.head`.
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

/// The journal as read and checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JournalState {
    /// Records that parsed, in file order (also those after damage).
    pub records: Vec<Record>,
    /// Every check that failed; empty = intact.
    pub damage: Vec<Damage>,
    /// Lines in the file.
    pub lines: u64,
    /// SHA-256 of the last line, the `prev` of the next.
    pub last_sha256: String,
    /// Whether the head lagged the file by one line (a crash between the
    /// append and the head update; harmless, fixed by the next append).
    pub head_lagging: bool,
}

impl JournalState {
    /// Intents without a matching `done`.
    pub fn pending(&self) -> Vec<&Record> {
        let done: std::collections::HashSet<u64> =
            self.records.iter().filter_map(|r| r.intent).collect();
        self.records
            .iter()
            .filter(|r| r.event == Event::Intent && !done.contains(&r.seq))
            .collect()
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The journal file of the repository at `root`.
pub fn path(root: &Path) -> PathBuf {
    root.join(JOURNAL_DIR).join(DELETIONS_FILE)
}

/// Reads and checks the deletion journal of the repository at `root`.
/// A missing journal is an empty, intact one (unless a head says otherwise).
pub fn read(root: &Path) -> Result<JournalState> {
    let jpath = path(root);
    let bytes = match fs::read(&jpath) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(crate::Error::io(format!("reading {}", jpath.display()), e)),
    };
    let hpath = root.join(JOURNAL_DIR).join(HEAD_FILE);
    let head: Option<std::result::Result<Head, String>> = match fs::read(&hpath) {
        Ok(b) => Some(serde_json::from_slice(&b).map_err(|e| e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(crate::Error::io(format!("reading {}", hpath.display()), e)),
    };
    let mut st = JournalState {
        last_sha256: GENESIS.to_owned(),
        ..Default::default()
    };
    let mut expect_seq = 1u64;
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        st.lines += 1;
        let n = st.lines;
        let (line, complete) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => (&rest[..=i], true),
            None => (rest, false),
        };
        rest = &rest[line.len()..];
        let this_sha = sha256_hex(line);
        if !complete {
            st.damage.push(Damage {
                line: n,
                reason: "the last line is truncated (no newline at its end): it was cut off or an append was interrupted".into(),
            });
        }
        match serde_json::from_slice::<Record>(line) {
            Err(e) => st.damage.push(Damage {
                line: n,
                reason: format!("not a valid journal record ({e}): altered or truncated"),
            }),
            Ok(r) => {
                if r.seq != expect_seq {
                    st.damage.push(Damage {
                        line: n,
                        reason: format!(
                            "seq is {} where {expect_seq} was expected: lines were removed, inserted or reordered",
                            r.seq
                        ),
                    });
                }
                if r.prev != st.last_sha256 {
                    st.damage.push(Damage {
                        line: n,
                        reason: format!(
                            "prev does not match the SHA-256 of line {}: that line was altered, or lines were removed or inserted before this one",
                            n - 1
                        ),
                    });
                }
                expect_seq = r.seq.saturating_add(1);
                st.records.push(r);
            }
        }
        st.last_sha256 = this_sha;
    }
    let last_seq = st.records.last().map_or(0, |r| r.seq);
    match head {
        None if st.lines > 0 => st.damage.push(Damage {
            line: st.lines + 1,
            reason: format!("{HEAD_FILE} is missing although the journal has lines"),
        }),
        None => {}
        Some(Err(e)) => st.damage.push(Damage {
            line: st.lines + 1,
            reason: format!("{HEAD_FILE} is unreadable: {e}"),
        }),
        Some(Ok(h)) => {
            if h.seq == last_seq && h.sha256 == st.last_sha256 {
                // Intact.
            } else if h.seq + 1 == last_seq && st.records.last().is_some_and(|r| r.prev == h.sha256)
            {
                st.head_lagging = true;
            } else if h.seq > last_seq {
                st.damage.push(Damage {
                    line: st.lines + 1,
                    reason: format!(
                        "the journal ends at seq {last_seq} but {HEAD_FILE} records seq {}: lines were removed from the end",
                        h.seq
                    ),
                });
            } else if h.seq == last_seq {
                st.damage.push(Damage {
                    line: st.lines,
                    reason: format!(
                        "the last line's SHA-256 differs from the one {HEAD_FILE} records: it was altered"
                    ),
                });
            } else {
                st.damage.push(Damage {
                    line: st.lines,
                    reason: format!(
                        "{HEAD_FILE} records seq {} but the journal goes on to {last_seq}: lines were appended by something other than nkbackup",
                        h.seq
                    ),
                });
            }
        }
    }
    Ok(st)
}

/// Appends to an intact journal, fsyncing every line.
#[derive(Debug)]
pub struct JournalWriter {
    root: PathBuf,
    next_seq: u64,
    last_sha256: String,
    /// What was read when opening.
    pub state: JournalState,
}

impl JournalWriter {
    /// Opens the journal of the repository at `root` for appending,
    /// refusing a damaged one. Hold the repository lock.
    pub fn open(root: &Path) -> Result<Self> {
        let state = read(root)?;
        if let Some(d) = state.damage.first() {
            return Err(RetentionError::JournalDamaged {
                path: path(root),
                line: d.line,
                reason: d.reason.clone(),
            }
            .into());
        }
        Ok(JournalWriter {
            root: root.to_owned(),
            next_seq: state.records.last().map_or(1, |r| r.seq + 1),
            last_sha256: state.last_sha256.clone(),
            state,
        })
    }

    /// Appends `r` (its `seq` and `prev` are filled in), fsyncs the file
    /// and updates the head. Returns the line's `seq`.
    pub fn append(&mut self, mut r: Record) -> Result<u64> {
        r.seq = self.next_seq;
        r.prev = self.last_sha256.clone();
        let mut line = serde_json::to_vec(&r).expect("records serialize");
        line.push(b'\n');
        let dir = self.root.join(JOURNAL_DIR);
        ensure_dir(&dir)?;
        let p = dir.join(DELETIONS_FILE);
        let at = || format!("appending to the deletion journal {}", p.display());
        let created = !p.exists();
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p)
            .ctx(at)?;
        f.write_all(&line).ctx(at)?;
        f.sync_all().ctx(at)?;
        if created {
            fsync_dir(&dir)?;
        }
        self.last_sha256 = sha256_hex(&line);
        let head = Head {
            seq: r.seq,
            sha256: self.last_sha256.clone(),
        };
        let mut hb = serde_json::to_vec(&head).expect("head serializes");
        hb.push(b'\n');
        write_atomic(&dir, HEAD_FILE, &hb)?;
        self.next_seq += 1;
        self.state.records.push(r);
        Ok(head.seq)
    }
}
