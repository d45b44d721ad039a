//! Compression settings and detection.
//!
//! The tar stream inside a backup is zstd-compressed unless the class says
//! `none`. Readers never trust the (unauthenticated) sidecar for this: they
//! look for the zstd frame magic at the start of the decrypted payload.

use crate::error::{Error, Result};
use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// The zstd frame magic number, little-endian on the wire.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// How a class's tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression: the payload is the bare tar stream.
    None,
    /// zstd at this level (1–22).
    Zstd(i32),
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(3)
    }
}

/// Input is gathered into blocks of this size before it is handed to zstd:
/// every call into the multi-threaded compressor takes its job lock, and a
/// tar stream of small files arrives in pieces of a few hundred bytes.
const INPUT_BUF: usize = 256 * 1024;

/// Input per multi-threaded zstd job. zstd's default at level 3 is 8 MiB,
/// and it keeps several jobs' input and output buffered per worker: about
/// 100 MiB resident for a seal. 2 MiB jobs keep a seal near 40 MiB with
/// the same ratio on service data (docs/PERFORMANCE.md has the figures).
pub const ZSTD_JOB_SIZE: u32 = 2 << 20;

/// Most tar bytes in one zstd frame of a seekable payload: reading one
/// entry decompresses at most this much before it (docs/FORMAT.md §2.1).
/// Each frame's end waits for the multi-threaded compressor's jobs to
/// drain: 8 MiB frames made a 4 GiB seal 1.11 x slower, 16 MiB ones
/// cost nothing measurable (docs/PERFORMANCE.md, "Random access").
pub const FRAME_BYTES: u32 = 16 << 20;

impl Compression {
    /// Parses `none`, `zstd` (level 3) or `zstd:N`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidName {
            what: "compression",
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        match s {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd(3)),
            _ => {
                let level = s
                    .strip_prefix("zstd:")
                    .ok_or_else(|| bad("expected none, zstd or zstd:LEVEL"))?
                    .parse::<i32>()
                    .map_err(|_| bad("the level must be a number from 1 to 22"))?;
                if (1..=22).contains(&level) {
                    Ok(Compression::Zstd(level))
                } else {
                    Err(bad("the level must be a number from 1 to 22"))
                }
            }
        }
    }

    /// Wraps `w` in a compressor; call [`Compressor::finish`] at the end.
    ///
    /// zstd output is *seekable* (docs/FORMAT.md §2.1): independent frames
    /// of at most [`FRAME_BYTES`] of input each, ended early by
    /// [`Compressor::cut`], then the locator and the seek table.
    pub fn writer<W: Write>(self, w: W) -> io::Result<Compressor<W>> {
        Ok(match self {
            Compression::None => Compressor::None(w),
            Compression::Zstd(level) => {
                use zstd::zstd_safe::{CCtx, CParameter};
                let zerr = |code| io::Error::other(zstd::zstd_safe::get_error_name(code));
                let mut cctx = CCtx::create();
                let threads = std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1);
                if threads > 1 {
                    cctx.set_parameter(CParameter::NbWorkers(threads))
                        .map_err(zerr)?;
                    cctx.set_parameter(CParameter::JobSize(ZSTD_JOB_SIZE))
                        .map_err(zerr)?;
                }
                let raw = zeekstd::EncodeOptions::with_cctx(cctx)
                    .checksum_flag(true)
                    .compression_level(level)
                    // Frames are cut here, not by zeekstd.
                    .frame_size_policy(zeekstd::FrameSizePolicy::Uncompressed(u32::MAX))
                    .into_raw_encoder()
                    .map_err(io::Error::other)?;
                let e = Frames {
                    raw,
                    out: w,
                    buf: vec![0; OUTPUT_BUF],
                    in_frame: 0,
                };
                Compressor::Zstd(io::BufWriter::with_capacity(INPUT_BUF, e))
            }
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
        }
    }
}

/// A writer that compresses (or not).
pub enum Compressor<W: Write> {
    /// Pass-through.
    None(W),
    /// zstd, seekable.
    Zstd(io::BufWriter<Frames<W>>),
}

/// Compressed output is gathered into blocks of this size.
const OUTPUT_BUF: usize = 128 * 1024;

/// A seekable zstd writer: frames, and at the end raw skippable frames.
pub struct Frames<W: Write> {
    raw: zeekstd::RawEncoder<'static>,
    out: W,
    buf: Vec<u8>,
    /// Input bytes in the current frame.
    in_frame: u32,
}

impl<W: Write> Frames<W> {
    /// Ends the current frame, if it holds anything.
    fn end_frame(&mut self) -> io::Result<()> {
        if self.in_frame == 0 {
            return Ok(());
        }
        if self.raw.seek_table().num_frames() as usize >= crate::limits::SEEK_FRAMES {
            return Err(io::Error::other(format!(
                "the tar stream is longer than a backup can be ({} frames of {FRAME_BYTES} bytes)",
                crate::limits::SEEK_FRAMES
            )));
        }
        self.in_frame = 0;
        loop {
            let p = self
                .raw
                .end_frame(&mut self.buf)
                .map_err(io::Error::other)?;
            self.out.write_all(&self.buf[..p.out_progress()])?;
            if p.data_left() == 0 {
                return Ok(());
            }
        }
    }

    fn finish(mut self, skippable: &[u8]) -> io::Result<W> {
        self.end_frame()?;
        self.out.write_all(skippable)?;
        let table = self.raw.into_seek_table();
        let mut ser = table.into_format_serializer(zeekstd::seek_table::Format::Foot);
        io::copy(&mut ser, &mut self.out)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Frames<W> {
    fn write(&mut self, input: &[u8]) -> io::Result<usize> {
        if input.is_empty() {
            return Ok(0);
        }
        let room = (FRAME_BYTES - self.in_frame) as usize;
        let input = &input[..input.len().min(room)];
        loop {
            let p = self
                .raw
                .compress(input, &mut self.buf)
                .map_err(io::Error::other)?;
            self.out.write_all(&self.buf[..p.out_progress()])?;
            let n = p.in_progress();
            if n > 0 {
                // n ≤ room ≤ FRAME_BYTES, so this cannot overflow.
                self.in_frame += n as u32;
                if self.in_frame == FRAME_BYTES {
                    self.end_frame()?;
                }
                return Ok(n);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> Compressor<W> {
    /// Ends the current zstd frame, so that what follows starts a frame of
    /// its own (nothing for an uncompressed stream).
    pub fn cut(&mut self) -> io::Result<()> {
        if let Compressor::Zstd(b) = self {
            b.flush()?;
            b.get_mut().end_frame()?;
        }
        Ok(())
    }

    /// Ends the compressed stream and returns the inner writer. A zstd
    /// stream ends with `skippable` (the locator, a skippable frame written
    /// as given) and the seek table; an uncompressed one ignores it.
    pub fn finish(self, skippable: &[u8]) -> io::Result<W> {
        match self {
            Compressor::None(w) => Ok(w),
            Compressor::Zstd(b) => b
                .into_inner()
                .map_err(|e| e.into_error())?
                .finish(skippable),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::None(w) => w.write(buf),
            Compressor::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Zstd(e) => e.flush(),
        }
    }
}

/// Returns a reader of the decompressed payload, detecting zstd by its magic.
pub fn decompressing_reader<'a, R: BufRead + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = r.fill_buf()?;
    if head.len() >= 4 && head[..4] == ZSTD_MAGIC {
        let mut d = zstd::stream::read::Decoder::with_buffer(r)?;
        // A frame may ask for a window of up to 2 GiB; nkbackup's own
        // levels never use more than 2^27 bytes, so a frame asking for
        // more is refused before the decoder allocates it.
        d.window_log_max(crate::limits::ZSTD_WINDOW_LOG)?;
        Ok(Box::new(d))
    } else {
        Ok(Box::new(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_levels() {
        assert_eq!(Compression::parse("none").unwrap(), Compression::None);
        assert_eq!(Compression::parse("zstd").unwrap(), Compression::Zstd(3));
        assert_eq!(
            Compression::parse("zstd:19").unwrap(),
            Compression::Zstd(19)
        );
        for bad in ["zstd:0", "zstd:23", "gzip", "zstd:x", ""] {
            assert!(Compression::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trip_detects_zstd_and_plain() {
        for c in [Compression::None, Compression::Zstd(3)] {
            let mut w = c.writer(Vec::new()).unwrap();
            w.write_all(&[7u8; 10_000]).unwrap();
            let out = w.finish(&[]).unwrap();
            assert_eq!(out.starts_with(&ZSTD_MAGIC), c != Compression::None);
            let mut back = Vec::new();
            decompressing_reader(&out[..])
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, vec![7u8; 10_000]);
        }
    }
}
