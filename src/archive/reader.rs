//! Reading and checking a backup's tar stream.
//!
//! One pass does everything: each header is parsed strictly and within
//! bounds ([`crate::format::tar`]), each entry's path is checked for
//! safety and for the walk's shape ([`super::order`]) before anything is
//! done with it, file content is hashed while a sink (the extractor, or
//! nothing for `verify --deep`) consumes it, and every entry is compared
//! with the inner manifest when it arrives at the end. Observed entries are
//! spilled to an encrypted scratch file, so memory does not grow with the
//! number of entries.

use super::order::{Order, Refusal};
use crate::error::{Error, Result};
use crate::format::tar::{RawEntry, RawKind, TarError, TarReader};
use crate::limits::{MANIFEST_LINE_BYTES, NAME_BYTES, PATH_BYTES};
use crate::manifest::{
    Entry, EntryKind, EntryLog, EntryPath, InnerHeader, MANIFEST_DIR, MANIFEST_PATH,
    MANIFEST_VERSION, MANIFEST_VERSION_MIN, implied_next,
};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Read};

/// Receives entries in stream order, after they have been checked: a
/// path is safe and fits the walk's shape, a link has a target (a hard
/// link's is safe too).
pub trait EntrySink {
    /// Called once per stored entry. For files, `data` yields the content;
    /// whatever the sink does not read is read (and hashed) afterwards.
    fn entry(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<()>;

    /// Called once per line of the inner manifest, after the line was
    /// checked against the entry the stream held (stored entries carry
    /// their digest; objects the seal skipped come too). The stream is
    /// fully authenticated only when [`read_stream`] returns `Ok`: a sink
    /// keeps what it gets until then.
    fn manifest_entry(&mut self, _entry: &Entry) -> Result<()> {
        Ok(())
    }
}

/// A sink that only lets the reader hash.
pub struct NullSink;

impl EntrySink for NullSink {
    fn entry(&mut self, _: &Entry, _: &mut dyn Read) -> Result<()> {
        Ok(())
    }
}

/// What a fully checked stream held.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The inner manifest's header.
    pub header: InnerHeader,
    /// SHA-256 (hex) of the manifest content as read.
    pub manifest_sha256: String,
    /// Stored entries checked against the manifest.
    pub entries_checked: u64,
    /// File bytes hashed.
    pub file_bytes: u64,
}

/// A sink that keeps the manifest's entries a filter admits (for listing,
/// finding, and choosing what a partial restore reads).
pub(crate) struct Collect<F: FnMut(&Entry) -> bool> {
    pub(crate) keep: F,
    pub(crate) entries: Vec<Entry>,
}

impl<F: FnMut(&Entry) -> bool> EntrySink for Collect<F> {
    fn entry(&mut self, _: &Entry, _: &mut dyn Read) -> Result<()> {
        Ok(())
    }

    fn manifest_entry(&mut self, e: &Entry) -> Result<()> {
        if (self.keep)(e) {
            self.entries.push(e.clone());
        }
        Ok(())
    }
}

/// Maps an error from the decrypting/decompressing stream: authentication
/// and format failures mean the backup is damaged; OS errors are I/O; a
/// storage error the reader carried (a fetch from a bucket that failed)
/// is returned as it is.
pub(crate) fn stream_error(id: &str, e: io::Error) -> Error {
    let e = match crate::util::carried::<Error>(e) {
        Ok(typed) => return typed,
        Err(e) => e,
    };
    if e.raw_os_error().is_some() {
        Error::io(format!("reading backup {id}"), e)
    } else {
        let detail = match e.kind() {
            io::ErrorKind::UnexpectedEof => format!("it ends early (truncated): {e}"),
            _ => format!(
                "it fails authentication or decoding (corrupted, truncated or tampered): {e}"
            ),
        };
        Error::Damaged {
            id: id.to_owned(),
            detail,
        }
    }
}

pub(crate) fn tar_error(id: &str, e: TarError) -> Error {
    match e {
        TarError::Io(e) => stream_error(id, e),
        TarError::Malformed(detail) => Error::Damaged {
            id: id.to_owned(),
            detail: format!("its tar stream is malformed: {detail}"),
        },
    }
}

/// Checks a path from the archive and returns it normalised (no `.` or
/// empty components). Refuses absolute paths, `..`, the reserved
/// directory, NUL bytes, and paths or names longer than a restore can
/// create ([`PATH_BYTES`], [`NAME_BYTES`]).
pub fn safe_path(id: &str, raw: &[u8]) -> Result<EntryPath> {
    let unsafe_entry = |reason: &str| Error::UnsafeEntry {
        id: id.to_owned(),
        path: crate::text::escape_bytes(raw),
        reason: reason.to_owned(),
    };
    if raw.first() == Some(&b'/') {
        return Err(unsafe_entry("absolute path"));
    }
    if raw.contains(&0) {
        return Err(unsafe_entry("a NUL byte in the path"));
    }
    if raw.len() > PATH_BYTES {
        return Err(unsafe_entry(&format!(
            "the path is longer than {PATH_BYTES} bytes, more than a restore can create"
        )));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err(unsafe_entry("path contains '..'")),
            _ if comp.len() > NAME_BYTES => {
                return Err(unsafe_entry(&format!(
                    "a name in the path is longer than {NAME_BYTES} bytes"
                )));
            }
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(comp);
            }
        }
    }
    if out.is_empty() {
        return Err(unsafe_entry("empty path"));
    }
    if out == MANIFEST_DIR.as_bytes() || out.starts_with(b".nkbackup/") {
        return Err(unsafe_entry("reserved path .nkbackup"));
    }
    Ok(EntryPath::from_bytes(out))
}

/// Reads the whole tar stream `r`, feeding entries to `sink` and checking
/// them against the inner manifest. `id` names the backup in errors.
pub fn read_stream<R: Read>(r: R, id: &str, sink: &mut dyn EntrySink) -> Result<StreamReport> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let terr = |e| tar_error(id, e);
    let mut tar = TarReader::new(r);
    let first = tar.next_raw().map_err(terr)?;
    let starts_right = first.as_ref().is_some_and(|e| {
        e.kind == RawKind::Directory
            && e.path.strip_suffix(b"/").unwrap_or(&e.path) == MANIFEST_DIR.as_bytes()
    });
    if !starts_right {
        return Err(damaged(
            "the stream does not start with the .nkbackup directory: it was not written by nkbackup".into(),
        ));
    }
    let mut observed =
        EntryLog::in_temp_dir().map_err(|e| Error::io("creating a scratch file", e))?;
    let mut order = Order::new();
    let mut file_bytes = 0u64;
    let report = loop {
        let Some(raw) = tar.next_raw().map_err(terr)? else {
            return Err(damaged(
                "the inner manifest is missing: the backup is truncated or was not written by nkbackup"
                    .into(),
            ));
        };
        if raw.path == MANIFEST_PATH.as_bytes() && raw.kind == RawKind::Regular {
            let mut data = TarData(&mut tar);
            break check_manifest(id, &mut data, Some((observed, file_bytes)), sink)?;
        }
        let e = read_entry(&mut tar, raw, id, &mut order, sink)?;
        if e.kind == EntryKind::File {
            file_bytes = file_bytes.saturating_add(e.size);
        }
        observed
            .push(&e)
            .map_err(|err| Error::io("writing a scratch file", err))?;
    };
    if tar.next_raw().map_err(terr)?.is_some() {
        return Err(damaged(
            "there are entries after the inner manifest, which must be last".into(),
        ));
    }
    // Read to the end of the payload so that age authenticates its final
    // chunk and zstd checks its frame checksum; only zeros may follow the
    // end of the archive.
    tar.finish_raw().map_err(terr)?;
    Ok(report)
}

/// Checks the entry whose header `raw` the reader just parsed, hands it to
/// `sink` and reads (and hashes) its content: the entry as the stream holds
/// it, with its offset and, for a file, its content's SHA-256.
pub(crate) fn read_entry<R: Read>(
    tar: &mut TarReader<R>,
    raw: RawEntry,
    id: &str,
    order: &mut Order,
    sink: &mut dyn EntrySink,
) -> Result<Entry> {
    let mut e = check_entry(id, raw, order)?;
    e.offset = Some(tar.entry_offset());
    let mut hr = HashRead {
        inner: TarData(tar),
        hasher: Sha256::new(),
        len: 0,
    };
    sink.entry(&e, &mut hr)?;
    io::copy(&mut hr, &mut io::sink()).map_err(|e| stream_error(id, e))?;
    if e.kind == EntryKind::File {
        if hr.len != e.size {
            return Err(Error::Damaged {
                id: id.to_owned(),
                detail: format!("{}: short entry", e.path),
            });
        }
        e.sha256 = Some(hex::encode(hr.hasher.finalize()));
    }
    Ok(e)
}

/// Turns a parsed header into a checked entry, or refuses it.
fn check_entry(id: &str, raw: RawEntry, order: &mut Order) -> Result<Entry> {
    let path = safe_path(id, &raw.path)?;
    let unsafe_entry = |reason: &str| Error::UnsafeEntry {
        id: id.to_owned(),
        path: path.to_string(),
        reason: reason.to_owned(),
    };
    let (kind, target) = match raw.kind {
        RawKind::Regular => (EntryKind::File, None),
        RawKind::Directory => (EntryKind::Dir, None),
        RawKind::Symlink => {
            let t = raw.link.unwrap_or_default();
            if t.len() > PATH_BYTES {
                return Err(unsafe_entry(&format!(
                    "a symlink target longer than {PATH_BYTES} bytes, more than a restore can create"
                )));
            }
            (EntryKind::Symlink, Some(EntryPath::from_bytes(t)))
        }
        RawKind::Hardlink => {
            let t = safe_path(id, &raw.link.unwrap_or_default()).map_err(|_| {
                unsafe_entry("hard link whose target is outside the restore directory")
            })?;
            order.hardlink_target(&t).map_err(unsafe_entry)?;
            (EntryKind::Hardlink, Some(t))
        }
        RawKind::CharDevice | RawKind::BlockDevice => return Err(unsafe_entry("device node")),
        RawKind::Fifo => return Err(unsafe_entry("fifo")),
        RawKind::Other(t) => {
            return Err(unsafe_entry(&format!(
                "unsupported entry type {:?}",
                crate::text::escape(&(t as char).to_string())
            )));
        }
    };
    order.admit(&path, kind).map_err(|r| match r {
        Refusal::ThroughSymlink => unsafe_entry("its path passes through a symlink stored earlier"),
        Refusal::Shape(why) => Error::Damaged {
            id: id.to_owned(),
            detail: format!("entry {path}: {why}"),
        },
    })?;
    Ok(Entry {
        size: if kind == EntryKind::File { raw.size } else { 0 },
        path,
        kind,
        mode: raw.mode,
        mtime: raw.mtime,
        uid: Some(raw.uid),
        gid: Some(raw.gid),
        sha256: None,
        target,
        note: None,
        offset: None,
    })
}

/// The current entry's content, as a reader.
pub(crate) struct TarData<'a, R>(pub(crate) &'a mut TarReader<R>);

impl<R: Read> Read for TarData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf)
    }
}

struct HashRead<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// The next line of `r` (without its newline), at most
/// [`MANIFEST_LINE_BYTES`] long; `Ok(None)` at the end.
fn manifest_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<()>> {
    line.clear();
    let n = r
        .by_ref()
        .take(MANIFEST_LINE_BYTES as u64 + 1)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if n > MANIFEST_LINE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an inner manifest line is longer than {MANIFEST_LINE_BYTES} bytes"),
        ));
    }
    Ok(Some(()))
}

/// Reads the manifest entry's content `data` and compares it with the
/// observed entries and their file bytes, if given (without, as a payload's
/// index is read, the manifest is only checked in itself).
pub(crate) fn check_manifest(
    id: &str,
    data: &mut dyn Read,
    observed: Option<(EntryLog, u64)>,
    sink: &mut dyn EntrySink,
) -> Result<StreamReport> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let line_error = |e: io::Error| {
        if e.kind() == io::ErrorKind::InvalidData {
            damaged(e.to_string())
        } else {
            stream_error(id, e)
        }
    };
    let mut hr = HashRead {
        inner: data,
        hasher: Sha256::new(),
        len: 0,
    };
    let mut lines = BufReader::new(&mut hr);
    let mut line = Vec::new();
    manifest_line(&mut lines, &mut line)
        .map_err(line_error)?
        .ok_or_else(|| damaged("the inner manifest is empty".into()))?;
    let header: InnerHeader = serde_json::from_slice(&line)
        .map_err(|e| damaged(format!("the inner manifest header is invalid: {e}")))?;
    if !(MANIFEST_VERSION_MIN..=MANIFEST_VERSION).contains(&header.nkbackup_manifest) {
        return Err(damaged(format!(
            "inner manifest version {} is not supported by this nkbackup; upgrade it",
            header.nkbackup_manifest
        )));
    }
    let (mut seen, file_bytes) = match observed {
        Some((log, bytes)) => (
            Some(
                log.into_entries()
                    .map_err(|e| Error::io("reading a scratch file", e))?,
            ),
            Some(bytes),
        ),
        None => (None, None),
    };
    let (mut count, mut skipped, mut listed_bytes, mut checked) = (0u64, 0u64, 0u64, 0u64);
    let mut implied = 0u64;
    while manifest_line(&mut lines, &mut line)
        .map_err(line_error)?
        .is_some()
    {
        let mut m: Entry = serde_json::from_slice(&line)
            .map_err(|e| damaged(format!("inner manifest line {} is invalid: {e}", count + 2)))?;
        count += 1;
        if !m.is_stored() {
            skipped += 1;
            sink.manifest_entry(&m)?;
            continue;
        }
        listed_bytes = listed_bytes
            .checked_add(m.size)
            .ok_or_else(|| damaged("the inner manifest's sizes add up to more than 2^64".into()))?;
        if header.nkbackup_manifest >= 2 {
            // An offset left out is the one the entry before implies.
            let at = *m.offset.get_or_insert(implied);
            implied = implied_next(at, m.size).ok_or_else(|| {
                damaged(format!(
                    "inner manifest line {} puts {:?} past 2^64 bytes",
                    count + 1,
                    m.path
                ))
            })?;
        }
        if let Some(seen) = seen.as_mut() {
            let o = match seen.next() {
                Some(o) => o.map_err(|e| Error::io("reading a scratch file", e))?,
                None => {
                    return Err(damaged(format!(
                        "the manifest lists {:?} but the stream does not contain it",
                        m.path
                    )));
                }
            };
            if let Some(why) = m.mismatch(&o) {
                return Err(damaged(why));
            }
        }
        sink.manifest_entry(&m)?;
        checked += 1;
    }
    if let Some(extra) = seen.as_mut().and_then(|s| s.next()) {
        let extra = extra.map_err(|e| Error::io("reading a scratch file", e))?;
        return Err(damaged(format!(
            "the stream holds {:?}, which the manifest does not list",
            extra.path
        )));
    }
    if count != header.entries || skipped != header.skipped || listed_bytes != header.file_bytes {
        return Err(damaged(
            "the inner manifest's counts do not match its own entries".into(),
        ));
    }
    if file_bytes.is_some_and(|b| b != listed_bytes) {
        return Err(damaged("file byte totals do not match".into()));
    }
    drop(lines);
    Ok(StreamReport {
        header,
        manifest_sha256: hex::encode(hr.hasher.finalize()),
        entries_checked: checked,
        file_bytes: listed_bytes,
    })
}
