//! Restore drills: proof that backups open with the token one would use in
//! a disaster, and the journal that keeps that proof.
//!
//! A drill decrypts a backup with one token (a card, the recovery key or an
//! age key), streams it through decompression and the tar parser, checks
//! every entry against the authenticated inner manifest and the manifest
//! against the sidecar — exactly what a restore checks — and writes nothing
//! unless asked to restore. Optionally it compares the backup with the live
//! source. Every drill, passed or failed, is appended to the hash-chained
//! journal `journal/drills.jsonl` (see [`crate::journal`]).
//!
//! A passed drill with a card that has a signature key is signed on the
//! card ([`signature`]): the record then proves the token was present.
//!
//! [`status`] answers the monitoring question: for each class and each
//! enrolled token, when did a drill last pass, and is that within the
//! configured `[drill] max_interval`? A token nobody has tested is a risk.

mod compare;
mod plan;
mod record;
pub mod signature;
mod status;

pub use compare::CompareSink;
pub use plan::{BackupChoice, TokenChoice, choose_backup, choose_token};
pub use record::{
    CompareSummary, DrillRecord, DrillSignature, Outcome, STATEMENT_MAGIC, TokenInfo,
};
pub use signature::{RecordSigner, SignatureState};

/// One line of the drill journal: a [`DrillRecord`] with its chain fields.
pub type DrillLine = Chained<DrillRecord>;
pub use status::{DrillState, DrillStatus, StatusLine, status};

use crate::archive::{EntrySink, NullSink};
use crate::error::{Error, Result};
use crate::journal::{self, Chained};
use crate::open::{Opener, RestoreOptions};
use crate::repo::{BackupInfo, Repository};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Name of the drill journal (`journal/drills.jsonl`).
pub const DRILLS: &str = "drills";

/// How long a drill waits for another process appending to the journal.
const JOURNAL_LOCK_WAIT: Duration = Duration::from_secs(60);

/// What a drill does besides verifying.
#[derive(Debug, Clone, Default)]
pub struct DrillOptions {
    /// Also restore the data into this directory (new or empty).
    pub restore_to: Option<PathBuf>,
    /// Compare the backup with this live source tree.
    pub compare: Option<PathBuf>,
    /// Record this time as the drill's start instead of now (tests).
    pub started: Option<OffsetDateTime>,
}

/// Where the drill journal of `repo` is, for messages.
pub fn journal_location(repo: &Repository) -> String {
    repo.storage().describe(&journal::key(DRILLS))
}

/// Reads and checks the drill journal.
pub fn read_journal(repo: &Repository) -> Result<journal::JournalState<DrillRecord>> {
    journal::read(repo.storage().as_ref(), DRILLS)
}

/// Reads line `seq` of the drill journal (after the journal's chain
/// checks); `None` when the journal has no such line.
pub fn record(repo: &Repository, seq: u64) -> Result<Option<DrillLine>> {
    let state = read_journal(repo)?;
    Ok(state.records.into_iter().find(|r| r.seq == seq))
}

/// Runs a drill of `backup` with `opener` (holding exactly the token
/// described by `token`), journals it, and returns the record. A failed
/// drill is journaled too, then returned as [`Error::DrillFailed`] carrying
/// the record's line number and the cause ([`record`] reads the line).
/// The record is not signed; [`run_signed`] signs it on the token.
pub fn run(
    repo: &Repository,
    backup: &BackupInfo,
    opener: Opener<'_>,
    token: TokenInfo,
    opts: &DrillOptions,
) -> Result<DrillLine> {
    run_signed(repo, backup, opener, token, opts, None)
}

/// [`run`], and if the drill passed, the record is signed with `signer`
/// (the token's signature key, [`signature::signer_for`]) before it is
/// journaled. If signing fails the drill still passed: the record is
/// journaled unsigned, with the reason in `unsigned`.
pub fn run_signed(
    repo: &Repository,
    backup: &BackupInfo,
    opener: Opener<'_>,
    token: TokenInfo,
    opts: &DrillOptions,
    signer: Option<&mut dyn RecordSigner>,
) -> Result<DrillLine> {
    let started = opts
        .started
        .unwrap_or_else(OffsetDateTime::now_utc)
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let clock = Instant::now();
    let mut compare_summary = None;
    let result = (|| -> Result<(u64, u64, u64)> {
        match (&opts.restore_to, &opts.compare) {
            (Some(to), compare) => {
                let r = opener.restore(to, &RestoreOptions::default())?;
                if let Some(live) = compare {
                    compare_summary = Some(compare_trees(to, live, &r.id)?);
                }
                Ok((
                    r.verified.entries_checked,
                    r.verified.file_bytes,
                    r.verified.ciphertext_bytes,
                ))
            }
            (None, Some(live)) => {
                let mut null = NullSink;
                let mut sink = CompareSink::new(live, &mut null);
                let v = opener.verify_with(&mut sink)?;
                compare_summary = Some(sink.finish());
                Ok((v.entries_checked, v.file_bytes, v.ciphertext_bytes))
            }
            (None, None) => {
                let v = opener.verify_deep()?;
                Ok((v.entries_checked, v.file_bytes, v.ciphertext_bytes))
            }
        }
    })();
    // A group drill proves the group only if its members opened it.
    let mut members = Vec::new();
    let result = result.and_then(|v| {
        if token.kind == plan::GROUP_KIND {
            members = plan::group_members(repo, &token, &opener.opened_with())?;
        }
        Ok(v)
    });
    let secs = clock.elapsed().as_secs_f64();
    let (entries, bytes, cbytes, error) = match &result {
        Ok((e, b, c)) => (*e, *b, *c, None),
        Err(e) => (0, 0, 0, Some(e.to_string())),
    };
    let mut record = DrillRecord {
        started,
        duration_s: (secs * 1000.0).round() / 1000.0,
        outcome: if result.is_ok() {
            Outcome::Passed
        } else {
            Outcome::Failed
        },
        error,
        backup_id: backup.sidecar.id.clone(),
        class: backup.sidecar.class.clone(),
        backup_created: backup.sidecar.created,
        token,
        members,
        entries_verified: entries,
        bytes_verified: bytes,
        ciphertext_bytes: cbytes,
        throughput_mib_s: if secs > 0.0 {
            ((cbytes as f64 / 1048576.0 / secs) * 10.0).round() / 10.0
        } else {
            0.0
        },
        restored_to: opts.restore_to.as_ref().map(|p| p.display().to_string()),
        compare: compare_summary,
        host: crate::host_name(),
        tool: crate::tool_version(),
        signature: None,
        unsigned: None,
    };
    if let (Some(signer), Outcome::Passed) = (signer, record.outcome) {
        match signer.sign(&record.statement()) {
            Ok(sig) => record.signature = Some(sig),
            Err(e) => record.unsigned = Some(e.to_string()),
        }
    }
    let record = append(repo, record)?;
    match result {
        Ok(_) => Ok(record),
        Err(cause) => Err(Error::DrillFailed {
            seq: record.seq,
            backup_id: record.record.backup_id,
            token: record.record.token.label,
            cause: Box::new(cause),
        }),
    }
}

/// Appends a record under the journal's own lock (in a directory: not the
/// repository's, so a drill never waits for a long nightly seal).
fn append(repo: &Repository, record: DrillRecord) -> Result<DrillLine> {
    let _lock = repo
        .storage()
        .lock_object(&journal::lock_key(DRILLS), JOURNAL_LOCK_WAIT)?;
    let mut w = repo.journal_writer::<DrillRecord>(DRILLS)?;
    w.append(record)?;
    Ok(w.state.records.pop().expect("just appended"))
}

/// Compares a restored tree with the live one (restore-to + compare).
fn compare_trees(restored: &Path, live: &Path, id: &str) -> Result<CompareSummary> {
    // Re-walking the restored tree as if it were a stream keeps one
    // comparison implementation: each restored top-level entry is fed to a
    // CompareSink by path.
    let mut inner = NullSink;
    let mut sink = CompareSink::new(live, &mut inner);
    let mut stack = vec![restored.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        for e in rd {
            let e = e.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
            let p = e.path();
            let rel = p.strip_prefix(restored).expect("below the root");
            let meta = std::fs::symlink_metadata(&p)
                .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
            use std::os::unix::ffi::OsStrExt;
            let path = crate::manifest::EntryPath::from_bytes(rel.as_os_str().as_bytes());
            let (kind, target) = if meta.is_dir() {
                stack.push(p.clone());
                (crate::manifest::EntryKind::Dir, None)
            } else if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p)
                    .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
                (
                    crate::manifest::EntryKind::Symlink,
                    Some(crate::manifest::EntryPath::from_bytes(
                        t.as_os_str().as_bytes(),
                    )),
                )
            } else {
                (crate::manifest::EntryKind::File, None)
            };
            let entry = crate::manifest::Entry {
                path,
                kind,
                size: meta.len(),
                mode: 0,
                mtime: 0,
                uid: None,
                gid: None,
                sha256: None,
                target,
                note: None,
                offset: None,
            };
            let mut data: Box<dyn std::io::Read> = if kind == crate::manifest::EntryKind::File {
                Box::new(
                    std::fs::File::open(&p)
                        .map_err(|e| Error::io(format!("reading {}", p.display()), e))?,
                )
            } else {
                Box::new(std::io::empty())
            };
            sink.entry(&entry, &mut data).map_err(|e| Error::Damaged {
                id: id.to_owned(),
                detail: e.to_string(),
            })?;
        }
    }
    Ok(sink.finish())
}
