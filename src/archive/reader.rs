//! Reading and checking a backup's tar stream.
//!
//! One pass does everything: each entry's path is checked for safety before
//! anything is done with it, file content is hashed while a sink (the
//! extractor, or nothing for `verify --deep`) consumes it, and every entry is
//! compared with the inner manifest when it arrives at the end. Observed
//! entries are spilled to a temporary file, so memory does not grow with
//! the number of entries.

use crate::error::{Error, Result};
use crate::manifest::{
    Entry, EntryKind, EntryLog, EntryPath, InnerHeader, MANIFEST_DIR, MANIFEST_PATH,
    MANIFEST_VERSION,
};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read};
use tar::EntryType;

/// Receives entries in stream order, after their path has been checked.
pub trait EntrySink {
    /// Called once per stored entry. For files, `data` yields the content;
    /// whatever the sink does not read is read (and hashed) afterwards.
    fn entry(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<()>;
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

/// Maps an error from the decrypting/decompressing stream: authentication
/// and format failures mean the backup is damaged; OS errors are I/O.
pub(crate) fn stream_error(id: &str, e: io::Error) -> Error {
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

/// Checks a path from the archive and returns it normalised (no `.` or
/// empty components). Refuses absolute paths, `..`, and the reserved
/// directory.
pub fn safe_path(id: &str, raw: &[u8]) -> Result<EntryPath> {
    let unsafe_entry = |reason: &str| Error::UnsafeEntry {
        id: id.to_owned(),
        path: String::from_utf8_lossy(raw).into_owned(),
        reason: reason.to_owned(),
    };
    if raw.first() == Some(&b'/') {
        return Err(unsafe_entry("absolute path"));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err(unsafe_entry("path contains '..'")),
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

/// Tracks symlinks seen so far, to refuse entries that would pass through one.
#[derive(Default)]
struct SymlinkSet(HashSet<Vec<u8>>);

impl SymlinkSet {
    /// Whether some proper ancestor of `p` is a symlink stored earlier.
    fn passes_through(&self, p: &EntryPath) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let b = p.as_bytes();
        b.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'/')
            .any(|(i, _)| self.0.contains(&b[..i]))
    }
}

/// Reads the whole tar stream `r`, feeding entries to `sink` and checking
/// them against the inner manifest. `id` names the backup in errors.
pub fn read_stream<R: Read>(r: R, id: &str, sink: &mut dyn EntrySink) -> Result<StreamReport> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let mut archive = tar::Archive::new(r);
    let entries = archive.entries().map_err(|e| stream_error(id, e))?;
    let mut observed =
        EntryLog::new(None).map_err(|e| Error::io("creating a temporary file", e))?;
    let mut symlinks = SymlinkSet::default();
    let mut file_bytes = 0u64;
    let mut seen_dir = false;
    let mut report = None;

    for entry in entries {
        let mut entry = entry.map_err(|e| stream_error(id, e))?;
        if report.is_some() {
            return Err(damaged(
                "there are entries after the inner manifest, which must be last".into(),
            ));
        }
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if !seen_dir {
            seen_dir = true;
            if raw.strip_suffix(b"/").unwrap_or(&raw) == MANIFEST_DIR.as_bytes()
                && kind == EntryType::Directory
            {
                continue;
            }
            return Err(damaged(
                "the stream does not start with the .nkbackup directory: it was not written by nkbackup".into(),
            ));
        }
        if raw == MANIFEST_PATH.as_bytes() && kind.is_file() {
            report = Some(check_manifest(id, &mut entry, observed, file_bytes)?);
            observed =
                EntryLog::new(None).map_err(|e| Error::io("creating a temporary file", e))?;
            continue;
        }
        let path = safe_path(id, &raw)?;
        let unsafe_entry = |reason: &str| Error::UnsafeEntry {
            id: id.to_owned(),
            path: path.to_string(),
            reason: reason.to_owned(),
        };
        if symlinks.passes_through(&path) {
            return Err(unsafe_entry(
                "its path passes through a symlink stored earlier",
            ));
        }
        let h = entry.header();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0) as i64;
        let link = || -> Result<EntryPath> {
            match entry.link_name_bytes() {
                Some(l) => Ok(EntryPath::from_bytes(l.into_owned())),
                None => Err(damaged(format!("link {path} has no target"))),
            }
        };
        let (ekind, target) = match kind {
            EntryType::Regular | EntryType::Continuous => (EntryKind::File, None),
            EntryType::Directory => (EntryKind::Dir, None),
            EntryType::Symlink => (EntryKind::Symlink, Some(link()?)),
            EntryType::Link => {
                let t = link()?;
                let t = safe_path(id, t.as_bytes()).map_err(|_| {
                    unsafe_entry("hard link whose target is outside the restore directory")
                })?;
                if symlinks.passes_through(&t) || symlinks.0.contains(t.as_bytes()) {
                    return Err(unsafe_entry("hard link to or through a symlink"));
                }
                (EntryKind::Hardlink, Some(t))
            }
            EntryType::Char | EntryType::Block => return Err(unsafe_entry("device node")),
            EntryType::Fifo => return Err(unsafe_entry("fifo")),
            other => return Err(unsafe_entry(&format!("unsupported entry type {other:?}"))),
        };
        let size = if ekind == EntryKind::File {
            entry.size()
        } else {
            0
        };
        let mut e = Entry {
            path,
            kind: ekind,
            size,
            mode,
            mtime,
            uid: h.uid().ok(),
            gid: h.gid().ok(),
            sha256: None,
            target,
            note: None,
        };
        if ekind == EntryKind::Symlink {
            symlinks.0.insert(e.path.as_bytes().to_vec());
        }
        let mut hr = HashRead {
            inner: &mut entry,
            hasher: Sha256::new(),
            len: 0,
        };
        sink.entry(&e, &mut hr)?;
        io::copy(&mut hr, &mut io::sink()).map_err(|e| stream_error(id, e))?;
        if ekind == EntryKind::File {
            if hr.len != size {
                return Err(damaged(format!("{}: short entry", e.path)));
            }
            e.sha256 = Some(hex::encode(hr.hasher.finalize()));
            file_bytes += size;
        }
        observed
            .push(&e)
            .map_err(|err| Error::io("writing a temporary file", err))?;
    }
    let report = report.ok_or_else(|| {
        damaged(
            "the inner manifest is missing: the backup is truncated or was not written by nkbackup"
                .into(),
        )
    })?;
    // Read to the end of the payload so that age authenticates its final
    // chunk and zstd checks its frame checksum.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| stream_error(id, e))?;
    Ok(report)
}

struct HashRead<'a, R: ?Sized> {
    inner: &'a mut R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read + ?Sized> Read for HashRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Reads the manifest entry and compares it with the observed entries.
fn check_manifest(
    id: &str,
    data: &mut dyn Read,
    observed: EntryLog,
    file_bytes: u64,
) -> Result<StreamReport> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let mut hr = HashRead {
        inner: data,
        hasher: Sha256::new(),
        len: 0,
    };
    let mut lines = BufReader::new(&mut hr).split(b'\n');
    let first = lines
        .next()
        .ok_or_else(|| damaged("the inner manifest is empty".into()))?
        .map_err(|e| stream_error(id, e))?;
    let header: InnerHeader = serde_json::from_slice(&first)
        .map_err(|e| damaged(format!("the inner manifest header is invalid: {e}")))?;
    if header.nkbackup_manifest != MANIFEST_VERSION {
        return Err(damaged(format!(
            "inner manifest version {} is not supported by this nkbackup; upgrade it",
            header.nkbackup_manifest
        )));
    }
    let mut seen = observed
        .into_entries()
        .map_err(|e| Error::io("reading a temporary file", e))?;
    let (mut count, mut skipped, mut listed_bytes, mut checked) = (0u64, 0u64, 0u64, 0u64);
    for line in lines {
        let line = line.map_err(|e| stream_error(id, e))?;
        let m: Entry = serde_json::from_slice(&line)
            .map_err(|e| damaged(format!("inner manifest line {} is invalid: {e}", count + 2)))?;
        count += 1;
        if !m.is_stored() {
            skipped += 1;
            continue;
        }
        listed_bytes += m.size;
        let o = match seen.next() {
            Some(o) => o.map_err(|e| Error::io("reading a temporary file", e))?,
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
        checked += 1;
    }
    if let Some(extra) = seen.next() {
        let extra = extra.map_err(|e| Error::io("reading a temporary file", e))?;
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
    if listed_bytes != file_bytes {
        return Err(damaged("file byte totals do not match".into()));
    }
    Ok(StreamReport {
        header,
        manifest_sha256: hex::encode(hr.hasher.finalize()),
        entries_checked: checked,
        file_bytes,
    })
}
