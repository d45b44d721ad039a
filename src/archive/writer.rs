//! Writing the tar stream of a backup.
//!
//! The stream starts with the reserved directory `.nkbackup`, then every
//! entry in the order given, and ends with the inner manifest
//! `.nkbackup/manifest.jsonl` and two zero blocks. Headers are ustar; a pax
//! `x` header precedes any entry whose path, link target or size does not
//! fit. File content is hashed as it passes, and each entry is recorded in a
//! spill file that becomes the manifest.

use crate::digest::Digested;
use crate::format::pax;
use crate::manifest::{
    Entry, EntryKind, EntryLog, EntryPath, InnerHeader, MANIFEST_DIR, MANIFEST_PATH, implied_next,
};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use tar::{EntryType, Header};

const BLOCK: usize = 512;
/// How many warnings are kept for the caller; later ones are only counted.
const MAX_WARNINGS: usize = 1000;

/// Metadata of an entry, as stored in its tar header.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryMeta {
    /// Permission bits.
    pub mode: u32,
    /// Modification time (seconds since the epoch; negative is clamped to 0).
    pub mtime: i64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
}

impl EntryMeta {
    /// Takes mode, mtime and ownership from file metadata.
    pub fn from_metadata(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        EntryMeta {
            mode: m.mode() & 0o7777,
            mtime: m.mtime(),
            uid: u64::from(m.uid()),
            gid: u64::from(m.gid()),
        }
    }
}

/// What the finished tar stream contains.
#[derive(Debug, Clone)]
pub struct ArchiveSummary {
    /// The completed manifest header.
    pub header: InnerHeader,
    /// Length of the tar stream in bytes.
    pub tar_bytes: u64,
    /// Where the manifest's entry starts in the tar stream.
    pub manifest_offset: u64,
    /// SHA-256 (hex) of the manifest content.
    pub manifest_sha256: String,
    /// Warnings (skipped or changed entries), at most a thousand.
    pub warnings: Vec<String>,
    /// Total number of warnings, including those not kept.
    pub warning_count: u64,
}

/// Source-side failure while copying a file, kept apart from output errors.
#[derive(Debug)]
pub enum AddFileError {
    /// Reading the source failed.
    Source(io::Error),
    /// Writing the stream failed.
    Output(io::Error),
}

/// Streams tar entries into `W` and builds the inner manifest.
pub struct ArchiveWriter<W: Write> {
    out: W,
    tar_bytes: u64,
    /// The manifest lines so far; taken by [`ArchiveWriter::finish`].
    log: Option<EntryLog>,
    skipped: u64,
    file_bytes: u64,
    warnings: Vec<String>,
    warning_count: u64,
    buf: Vec<u8>,
    progress: Option<Progress<'static>>,
    reported: u64,
    /// Where the entry being written starts in the stream.
    entry_start: u64,
    /// Where the next stored entry starts if it follows the last one
    /// directly ([`implied_next`]); its manifest line then leaves `offset`
    /// out.
    implied: u64,
}

/// A progress callback: entries written so far and the sum of their file
/// sizes.
pub type Progress<'p> = Box<dyn FnMut(u64, u64) + Send + 'p>;

impl<W: Write> ArchiveWriter<W> {
    /// Starts a stream, writing the reserved `.nkbackup` directory entry.
    /// Manifest lines are spilled, encrypted, to the scratch file `spill`
    /// (see [`EntryLog`]).
    pub fn new(out: W, spill: File) -> io::Result<Self> {
        let mut w = ArchiveWriter {
            progress: None,
            reported: 0,
            out,
            tar_bytes: 0,
            log: Some(EntryLog::new(spill)?),
            skipped: 0,
            file_bytes: 0,
            warnings: Vec::new(),
            warning_count: 0,
            buf: vec![0; 256 * 1024],
            entry_start: 0,
            implied: 0,
        };
        let meta = EntryMeta {
            mode: 0o755,
            ..Default::default()
        };
        let h = w.header(EntryType::Directory, &meta, 0);
        w.write_header(h, MANIFEST_DIR.as_bytes(), None, 0)?;
        Ok(w)
    }

    /// Adds a directory.
    pub fn add_dir(&mut self, path: &EntryPath, meta: &EntryMeta) -> io::Result<()> {
        let h = self.header(EntryType::Directory, meta, 0);
        self.write_header(h, path.as_bytes(), None, 0)?;
        self.record(path, EntryKind::Dir, meta, 0, None, None, None)
    }

    /// Adds a symbolic link (never followed).
    pub fn add_symlink(
        &mut self,
        path: &EntryPath,
        meta: &EntryMeta,
        target: &EntryPath,
    ) -> io::Result<()> {
        let h = self.header(EntryType::Symlink, meta, 0);
        self.write_header(h, path.as_bytes(), Some(target.as_bytes()), 0)?;
        self.record(path, EntryKind::Symlink, meta, 0, None, Some(target), None)
    }

    /// Adds a hard link to an entry added earlier.
    pub fn add_hardlink(
        &mut self,
        path: &EntryPath,
        meta: &EntryMeta,
        target: &EntryPath,
    ) -> io::Result<()> {
        let h = self.header(EntryType::Link, meta, 0);
        self.write_header(h, path.as_bytes(), Some(target.as_bytes()), 0)?;
        self.record(path, EntryKind::Hardlink, meta, 0, None, Some(target), None)
    }

    /// Records an object that is deliberately not stored, with the reason.
    pub fn add_skipped(&mut self, path: &EntryPath, note: impl Into<String>) -> io::Result<()> {
        let mut note: String = note.into();
        if note.len() > crate::limits::NOTE_BYTES {
            let mut cut = crate::limits::NOTE_BYTES;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        self.skipped += 1;
        self.warn(format!("{path}: {note}"));
        self.record(
            path,
            EntryKind::Skipped,
            &EntryMeta::default(),
            0,
            None,
            None,
            Some(note),
        )
    }

    /// Adds a regular file of `size` bytes read from `data`. If `data` ends
    /// early the entry is padded with zeros (as GNU tar does) and a note says
    /// so; bytes beyond `size` are not read. The digest covers exactly what
    /// the stream holds.
    pub fn add_file(
        &mut self,
        path: &EntryPath,
        meta: &EntryMeta,
        size: u64,
        data: impl Read,
    ) -> Result<Digested, AddFileError> {
        let h = self.header(EntryType::Regular, meta, size);
        self.write_header(h, path.as_bytes(), None, size)
            .map_err(AddFileError::Output)?;
        let mut src = data.take(size);
        let mut hasher = Sha256::new();
        let mut buf = std::mem::take(&mut self.buf);
        let mut copied = 0u64;
        let result = loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(AddFileError::Source(e)),
            };
            hasher.update(&buf[..n]);
            if let Err(e) = self.write_raw(&buf[..n]) {
                break Err(AddFileError::Output(e));
            }
            copied += n as u64;
        };
        let mut note = None;
        if result.is_ok() && copied < size {
            let missing = size - copied;
            buf.fill(0);
            let mut left = missing;
            while left > 0 {
                let n = left.min(buf.len() as u64) as usize;
                hasher.update(&buf[..n]);
                self.write_raw(&buf[..n]).map_err(AddFileError::Output)?;
                left -= n as u64;
            }
            note = Some(format!(
                "file shrank by {missing} bytes while being sealed; padded with zeros"
            ));
        }
        self.buf = buf;
        result?;
        self.pad(size).map_err(AddFileError::Output)?;
        if let Some(n) = &note {
            self.warn(format!("{path}: {n}"));
        }
        let digest = Digested {
            sha256: hasher.finalize().into(),
            len: size,
        };
        self.file_bytes += size;
        self.record(
            path,
            EntryKind::File,
            meta,
            size,
            Some(digest.hex()),
            None,
            note,
        )
        .map_err(AddFileError::Output)?;
        Ok(digest)
    }

    /// Writes the manifest entry and the end-of-archive blocks, returning the
    /// inner writer. `header` carries id, class, created, host and tool; the
    /// counts are filled in here.
    pub fn finish(self, header: InnerHeader) -> io::Result<(W, ArchiveSummary)> {
        self.finish_with(header, |_| Ok(()))
    }

    /// [`ArchiveWriter::finish`], calling `cut` on the inner writer just
    /// before the manifest entry (a compressor starts a frame there).
    pub fn finish_with(
        mut self,
        mut header: InnerHeader,
        cut: impl FnOnce(&mut W) -> io::Result<()>,
    ) -> io::Result<(W, ArchiveSummary)> {
        let log = self
            .log
            .take()
            .ok_or_else(|| io::Error::other("the archive is already finished"))?;
        header.nkbackup_manifest = crate::manifest::MANIFEST_VERSION;
        header.entries = log.len();
        header.skipped = self.skipped;
        header.file_bytes = self.file_bytes;
        let mut first = serde_json::to_vec(&header).map_err(io::Error::other)?;
        first.push(b'\n');
        let spill_len = log.byte_len();
        let size = first.len() as u64 + spill_len;
        let meta = EntryMeta {
            mode: 0o644,
            mtime: header.created.unix_timestamp(),
            ..Default::default()
        };
        cut(&mut self.out)?;
        let manifest_offset = self.tar_bytes;
        let h = self.header(EntryType::Regular, &meta, size);
        self.write_header(h, MANIFEST_PATH.as_bytes(), None, size)?;
        let mut reader = io::Cursor::new(first).chain(log.into_reader()?);
        let mut hasher = Sha256::new();
        let mut copied = 0u64;
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            self.write_raw(&buf[..n])?;
            copied += n as u64;
        }
        if copied != size {
            return Err(io::Error::other("manifest spill file changed size"));
        }
        self.pad(size)?;
        self.write_raw(&[0u8; 2 * BLOCK])?;
        let summary = ArchiveSummary {
            header,
            tar_bytes: self.tar_bytes,
            manifest_offset,
            manifest_sha256: hex::encode(hasher.finalize()),
            warnings: self.warnings,
            warning_count: self.warning_count,
        };
        Ok((self.out, summary))
    }

    fn warn(&mut self, w: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }

    /// Calls `f(entries, file_bytes)` as entries are written (after every
    /// 4 MiB of file data or 1000 entries).
    pub fn on_progress(&mut self, f: Progress<'static>) {
        self.progress = Some(f);
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        path: &EntryPath,
        kind: EntryKind,
        meta: &EntryMeta,
        size: u64,
        sha256: Option<String>,
        target: Option<&EntryPath>,
        note: Option<String>,
    ) -> io::Result<()> {
        let log = self
            .log
            .as_mut()
            .ok_or_else(|| io::Error::other("the archive is already finished"))?;
        let mut offset = None;
        if kind != EntryKind::Skipped {
            let at = self.entry_start;
            offset = (at != self.implied).then_some(at);
            self.implied = implied_next(at, size)
                .ok_or_else(|| io::Error::other("the tar stream is longer than 2^64 bytes"))?;
        }
        log.push(&Entry {
            path: path.clone(),
            kind,
            size,
            mode: meta.mode,
            mtime: meta.mtime,
            uid: (kind != EntryKind::Skipped).then_some(meta.uid),
            gid: (kind != EntryKind::Skipped).then_some(meta.gid),
            sha256,
            target: target.cloned(),
            note,
            offset,
        })?;
        if let Some(f) = &mut self.progress {
            let n = log.len();
            let mark = (self.file_bytes >> 22) + n / 1000;
            if mark != self.reported {
                self.reported = mark;
                f(n, self.file_bytes);
            }
        }
        Ok(())
    }

    fn header(&self, kind: EntryType, meta: &EntryMeta, size: u64) -> Header {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(meta.mode);
        h.set_uid(meta.uid);
        h.set_gid(meta.gid);
        h.set_mtime(meta.mtime.max(0) as u64);
        h.set_size(size);
        h
    }

    /// Fills in path and link name, emitting a pax header first if either
    /// (or the size) does not fit ustar, then writes the header block.
    fn write_header(
        &mut self,
        mut h: Header,
        path: &[u8],
        link: Option<&[u8]>,
        size: u64,
    ) -> io::Result<()> {
        self.entry_start = self.tar_bytes;
        let mut pax_records: Vec<(&str, std::borrow::Cow<'_, [u8]>)> = Vec::new();
        if set_ustar_path(&mut h, path).is_err() {
            pax_records.push(("path", path.into()));
            let name = &mut h.as_old_mut().name;
            let n = path.len().min(name.len() - 1);
            name[..n].copy_from_slice(&path[..n]);
        }
        if let Some(link) = link {
            if link.len() > 100 {
                pax_records.push(("linkpath", link.into()));
                h.as_old_mut().linkname[..99].copy_from_slice(&link[..99]);
            } else {
                h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            }
        }
        if size > pax::USTAR_MAX_SIZE {
            pax_records.push(("size", size.to_string().into_bytes().into()));
        }
        if !pax_records.is_empty() {
            // The tar crate frames the records and their `x` header; its
            // builder only ever sees this one entry (what it would append
            // when dropped, the end of an archive, is discarded with it).
            let mut b = tar::Builder::new(Vec::new());
            b.append_pax_extensions(pax_records.iter().map(|(k, v)| (*k, v.as_ref())))?;
            self.write_raw(b.get_ref())?;
        }
        h.set_cksum();
        self.write_raw(h.as_bytes())
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = (len % BLOCK as u64) as usize;
        if rem != 0 {
            self.write_raw(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    fn write_raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.tar_bytes += b.len() as u64;
        Ok(())
    }
}

/// Puts `path` in the ustar name/prefix fields (the `tar` crate's split),
/// or fails if it does not fit.
fn set_ustar_path(h: &mut Header, path: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    h.as_ustar_mut()
        .ok_or_else(|| io::Error::other("not a ustar header"))?
        .set_path(std::ffi::OsStr::from_bytes(path))
}
