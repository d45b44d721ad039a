//! Reading a seekable payload's index: the seek table and locator at its
//! end ([`crate::format::seekable`]), and through them the inner manifest,
//! without reading the frames before it (docs/FORMAT.md §2.1).

use super::order::Order;
use super::reader::{TarData, check_manifest, read_entry, stream_error};
use super::{EntrySink, StreamReport};
use crate::error::{Error, Result};
use crate::format::seekable::{FOOTER_BYTES, SeekIndex, has_footer, tail_len};
use crate::format::tar::{RawKind, TarReader};
use crate::manifest::{Entry, MANIFEST_PATH};
use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

/// Reads the inner manifest of the decrypted payload `plain` through its
/// index, feeding its entries to `sink` (`manifest_entry` only): `Ok(None)`
/// if the payload has no index (then it is read from start to end).
pub fn read_index<R: Read + Seek>(
    plain: &mut R,
    id: &str,
    sink: &mut dyn EntrySink,
) -> Result<Option<StreamReport>> {
    match seek_index(plain, id)? {
        Some(index) => read_manifest(plain, &index, id, sink).map(Some),
        None => Ok(None),
    }
}

/// Reads the seek table of the decrypted payload `plain`: `Ok(None)` if the
/// payload has none (an uncompressed class, or a backup written before
/// format 2), then it is read from start to end.
pub(crate) fn seek_index<R: Read + Seek>(plain: &mut R, id: &str) -> Result<Option<SeekIndex>> {
    let io = |e: io::Error| stream_error(id, e);
    let len = plain.seek(SeekFrom::End(0)).map_err(io)?;
    if len < FOOTER_BYTES as u64 {
        return Ok(None);
    }
    let mut footer = [0u8; FOOTER_BYTES];
    plain
        .seek(SeekFrom::Start(len - FOOTER_BYTES as u64))
        .map_err(io)?;
    plain.read_exact(&mut footer).map_err(io)?;
    if !has_footer(&footer) {
        return Ok(None);
    }
    let damaged = |e: crate::format::seekable::SeekError| Error::Damaged {
        id: id.to_owned(),
        detail: format!("its payload's seek table is unusable: {e}"),
    };
    let n = tail_len(&footer, len).map_err(damaged)?;
    let mut tail = vec![0u8; n];
    plain.seek(SeekFrom::Start(len - n as u64)).map_err(io)?;
    plain.read_exact(&mut tail).map_err(io)?;
    SeekIndex::parse(&tail, len).map(Some).map_err(damaged)
}

/// A decoder of the tar stream from `at` (a frame's start or within one),
/// reading only the frames from there on.
pub(crate) fn tar_from<'a, R: Read + Seek + 'a>(
    plain: &'a mut R,
    index: &SeekIndex,
    at: u64,
    id: &str,
) -> Result<impl Read + 'a> {
    let zerr = |e: zeekstd::Error| Error::Damaged {
        id: id.to_owned(),
        detail: format!("its payload's frames cannot be read: {e}"),
    };
    let mut dctx = zstd::zstd_safe::DCtx::create();
    // As for a whole stream: a frame asking for a larger window is refused.
    dctx.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(
        crate::limits::ZSTD_WINDOW_LOG,
    ))
    .map_err(|c| Error::Damaged {
        id: id.to_owned(),
        detail: zstd::zstd_safe::get_error_name(c).to_owned(),
    })?;
    let failed = Rc::new(Cell::new(None));
    let d = zeekstd::DecodeOptions::new(Source {
        inner: plain,
        pos: 0,
        end: index.frames_len(),
        failed: failed.clone(),
    })
    .dctx(dctx)
    .seek_table(index.to_zeekstd())
    .offset(at)
    .into_decoder()
    .map_err(zerr)?;
    Ok(Decoded { inner: d, failed })
}

/// The decoder, returning the source's own error where reading the
/// source failed: zeekstd's error keeps only its text, and a failed fetch
/// from a bucket must stay a storage error ([`super::reader::stream_error`])
/// rather than read as damage.
struct Decoded<D> {
    inner: D,
    failed: Rc<Cell<Option<io::Error>>>,
}

impl<D: Read> Read for Decoded<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| self.failed.take().unwrap_or(e))
    }
}

/// `Read + Seek` as zeekstd's source: the data frames only (up to `end`),
/// and an error, not an end, where a decoder asks for more. zeekstd's
/// decoder trusts the seek table's sizes and would wait forever for the
/// rest of a frame the table promises but the payload does not hold.
struct Source<'a, R> {
    inner: &'a mut R,
    pos: u64,
    end: u64,
    /// The last error reading or seeking `inner` returned, for [`Decoded`].
    failed: Rc<Cell<Option<io::Error>>>,
}

impl<R> Source<'_, R> {
    fn keep(&self, e: io::Error) -> zeekstd::Error {
        let z = zeekstd::Error::from(io::Error::new(e.kind(), e.to_string()));
        self.failed.set(Some(e));
        z
    }
}

impl<R: Read + Seek> zeekstd::Seekable for Source<'_, R> {
    fn set_offset(&mut self, offset: zeekstd::OffsetFrom) -> zeekstd::Result<u64> {
        let to = match offset {
            zeekstd::OffsetFrom::Start(n) => SeekFrom::Start(n),
            zeekstd::OffsetFrom::End(n) => SeekFrom::End(n),
        };
        self.pos = self.inner.seek(to).map_err(|e| self.keep(e))?;
        Ok(self.pos)
    }

    fn read(&mut self, buf: &mut [u8]) -> zeekstd::Result<usize> {
        let room = self.end.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        let n = if room == 0 {
            0
        } else {
            self.inner
                .read(&mut buf[..room])
                .map_err(|e| self.keep(e))?
        };
        if n == 0 && !buf.is_empty() {
            return Err(zeekstd::Error::from(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the seek table promises more than the payload's frames hold",
            )));
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn seek_table_integrity(
        &mut self,
        _format: zeekstd::seek_table::Format,
    ) -> zeekstd::Result<[u8; 9]> {
        // The table is always given (parsed by SeekIndex); never asked for.
        Err(zeekstd::Error::from(io::Error::other(
            "the seek table is parsed by nkbackup",
        )))
    }
}

/// Reads the inner manifest through the index, feeding its entries to
/// `sink` (`manifest_entry` only): checks the manifest in itself (counts,
/// versions, line shapes) and that the archive ends right after it.
pub(crate) fn read_manifest<R: Read + Seek>(
    plain: &mut R,
    index: &SeekIndex,
    id: &str,
    sink: &mut dyn EntrySink,
) -> Result<StreamReport> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let at = index.manifest_offset();
    let tar = tar_from(plain, index, at, id)?;
    let mut tar = TarReader::at(tar, at);
    let terr = |e| super::reader::tar_error(id, e);
    let first = tar.next_raw().map_err(terr)?;
    if !first
        .as_ref()
        .is_some_and(|e| e.kind == RawKind::Regular && e.path == MANIFEST_PATH.as_bytes())
    {
        return Err(damaged(format!(
            "its locator points at byte {at} of the stream, where the inner manifest is not"
        )));
    }
    let report = check_manifest(id, &mut TarData(&mut tar), None, sink)?;
    if report.header.nkbackup_manifest < 2 {
        return Err(damaged(
            "its payload has a seek table but its manifest has no offsets (version 1)".into(),
        ));
    }
    if tar.next_raw().map_err(terr)?.is_some() {
        return Err(damaged(
            "there are entries after the inner manifest, which must be last".into(),
        ));
    }
    tar.finish_raw().map_err(terr)?;
    Ok(report)
}

/// Reads the stored entries `wanted` of the payload `plain` (entries of its
/// manifest, read through `index`, in the manifest's order) and nothing
/// else: each run of consecutive entries is decoded from the frame that
/// holds its first header. Every entry passes the safety rules, is handed
/// to `sink`, and must equal its manifest entry (path, type, size, target,
/// offset, and the content's SHA-256). Returns the tar bytes decoded.
pub(crate) fn read_entries<R: Read + Seek>(
    plain: &mut R,
    index: &SeekIndex,
    id: &str,
    wanted: &[Entry],
    sink: &mut dyn EntrySink,
) -> Result<u64> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let terr = |e| super::reader::tar_error(id, e);
    // One order for all runs: entries of later runs are checked against
    // the directories and symlinks of earlier ones.
    let mut order = Order::new();
    let mut decoded = 0u64;
    let mut i = 0;
    while i < wanted.len() {
        let start = wanted[i].offset.ok_or_else(|| {
            damaged(format!(
                "the manifest lists no offset for {:?}",
                wanted[i].path
            ))
        })?;
        let frame = index.frame_at(start).ok_or_else(|| {
            damaged(format!(
                "{:?} lies beyond the end of the stream",
                wanted[i].path
            ))
        })?;
        let from = index.frames()[frame].tar_offset;
        let mut tar = TarReader::at(tar_from(plain, index, start, id)?, start);
        loop {
            let m = &wanted[i];
            let raw = tar.next_raw().map_err(terr)?.ok_or_else(|| {
                damaged(format!(
                    "the stream ends where the manifest lists {:?}",
                    m.path
                ))
            })?;
            let e = read_entry(&mut tar, raw, id, &mut order, sink)?;
            if let Some(why) = m.mismatch(&e) {
                return Err(damaged(why));
            }
            i += 1;
            if i == wanted.len() || wanted[i].offset != Some(tar.next_offset()) {
                break;
            }
        }
        decoded += tar.next_offset() - from;
    }
    Ok(decoded)
}
