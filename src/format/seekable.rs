//! The tail of a seekable payload: the locator and the zstd seek table
//! (docs/FORMAT.md §2.1).
//!
//! A compressed payload is a sequence of independent zstd frames, then a
//! skippable *locator* frame naming where the inner manifest's entry
//! starts in the tar stream, then the seek table of the zstd seekable
//! format (zstd's `contrib/seekable_format`), a skippable frame whose last
//! 9 bytes are its footer. `zstd -d` skips both skippable frames.
//!
//! Everything here comes from a repository: [`SeekIndex::parse`] checks
//! that the frames, the locator and the table tile the payload exactly,
//! and bounds the table by [`crate::limits::SEEK_FRAMES`] before it
//! allocates anything.

use crate::limits::{SEEK_FRAME_BYTES, SEEK_FRAMES};
use std::fmt;

/// Magic of the locator's skippable frame (`0x184D2A5B`, little-endian).
pub const LOCATOR_MAGIC: u32 = 0x184D_2A5B;
/// Magic of the seek table's skippable frame (`0x184D2A5E`).
pub const SEEK_TABLE_MAGIC: u32 = 0x184D_2A5E;
/// The seekable format's magic, the last 4 bytes of the footer.
pub const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;
/// The locator frame's tag, the first 8 bytes of its content.
pub const LOCATOR_TAG: &[u8; 8] = b"nkbackup";
/// Length of the locator frame: skippable header, tag, offset.
pub const LOCATOR_BYTES: usize = 8 + 8 + 8;
/// Length of the seek table's footer.
pub const FOOTER_BYTES: usize = 9;
/// Bytes per seek table entry: compressed size, decompressed size (no
/// checksum field: each frame carries zstd's own content checksum).
const ENTRY_BYTES: usize = 8;
/// The footer's descriptor byte as nkbackup writes it: no checksum field,
/// no reserved bits.
const DESCRIPTOR: u8 = 0x00;

/// The locator: where the inner manifest's tar entry starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locator {
    /// Offset in the tar stream of the manifest entry's header.
    pub manifest_offset: u64,
}

impl Locator {
    /// The locator's skippable frame.
    pub fn encode(&self) -> [u8; LOCATOR_BYTES] {
        let mut out = [0u8; LOCATOR_BYTES];
        out[..4].copy_from_slice(&LOCATOR_MAGIC.to_le_bytes());
        out[4..8].copy_from_slice(&16u32.to_le_bytes());
        out[8..16].copy_from_slice(LOCATOR_TAG);
        out[16..].copy_from_slice(&self.manifest_offset.to_le_bytes());
        out
    }
}

/// One zstd frame of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Offset of the frame in the payload.
    pub payload_offset: u64,
    /// Compressed length.
    pub payload_len: u32,
    /// Offset of its content in the tar stream.
    pub tar_offset: u64,
    /// Length of its content.
    pub tar_len: u32,
}

/// A payload's checked seek table and locator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeekIndex {
    frames: Vec<Frame>,
    manifest_offset: u64,
    manifest_frame: usize,
}

/// Why a payload's tail is not a seek table nkbackup can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeekError(String);

impl fmt::Display for SeekError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeekError {}

fn bad(why: impl Into<String>) -> SeekError {
    SeekError(why.into())
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Whether `footer` (a payload's last 9 bytes) is a seek table footer; the
/// payload is then read as seekable, and anything wrong with its tail
/// makes it damaged.
pub fn has_footer(footer: &[u8]) -> bool {
    footer.len() == FOOTER_BYTES && le32(footer, 5) == SEEKABLE_MAGIC
}

/// How many bytes at the end of a payload of `payload_len` bytes hold the
/// locator and the seek table, read from its last 9 bytes.
pub fn tail_len(footer: &[u8], payload_len: u64) -> Result<usize, SeekError> {
    if !has_footer(footer) {
        return Err(bad("the payload does not end with a zstd seek table"));
    }
    if footer[4] != DESCRIPTOR {
        return Err(bad(format!(
            "the seek table's descriptor is {:#04x}, not {DESCRIPTOR:#04x} (no checksum field, no reserved bits)",
            footer[4]
        )));
    }
    let n = le32(footer, 0) as usize;
    if n == 0 || n > SEEK_FRAMES {
        return Err(bad(format!(
            "the seek table lists {n} frames; a payload has 1 to {SEEK_FRAMES}"
        )));
    }
    let len = LOCATOR_BYTES + 8 + n * ENTRY_BYTES + FOOTER_BYTES;
    if len as u64 > payload_len {
        return Err(bad(format!(
            "the seek table of {n} frames is longer than the payload"
        )));
    }
    Ok(len)
}

impl SeekIndex {
    /// Parses `tail`, the last [`tail_len`] bytes of a payload of
    /// `payload_len` bytes: the locator, then the seek table. The frames
    /// must cover the payload up to the locator exactly, hold 1 to
    /// [`SEEK_FRAME_BYTES`] tar bytes each, and the manifest must start a
    /// frame.
    pub fn parse(tail: &[u8], payload_len: u64) -> Result<SeekIndex, SeekError> {
        if tail.len() < FOOTER_BYTES
            || tail_len(&tail[tail.len() - FOOTER_BYTES..], payload_len)? != tail.len()
        {
            return Err(bad("the seek table's length does not match its footer"));
        }
        let (loc, table) = tail.split_at(LOCATOR_BYTES);
        let n = le32(&table[table.len() - FOOTER_BYTES..], 0) as usize;
        if le32(table, 0) != SEEK_TABLE_MAGIC {
            return Err(bad(
                "the seek table does not start with its skippable frame magic",
            ));
        }
        if le32(table, 4) as usize != table.len() - 8 {
            return Err(bad(
                "the seek table's frame size does not match its entries",
            ));
        }
        let mut frames = Vec::with_capacity(n);
        let (mut c_off, mut d_off) = (0u64, 0u64);
        for i in 0..n {
            let e = &table[8 + i * ENTRY_BYTES..8 + (i + 1) * ENTRY_BYTES];
            let (c, d) = (le32(e, 0), le32(e, 4));
            if c == 0 || d == 0 || d as usize > SEEK_FRAME_BYTES {
                return Err(bad(format!(
                    "frame {i} of the seek table holds {c} compressed and {d} tar bytes; a frame holds 1 to {SEEK_FRAME_BYTES}"
                )));
            }
            frames.push(Frame {
                payload_offset: c_off,
                payload_len: c,
                tar_offset: d_off,
                tar_len: d,
            });
            c_off += u64::from(c);
            d_off += u64::from(d);
        }
        if c_off + tail.len() as u64 != payload_len {
            return Err(bad(format!(
                "the seek table's frames add up to {c_off} bytes, but {} lie before the locator",
                payload_len - tail.len() as u64
            )));
        }
        if le32(loc, 0) != LOCATOR_MAGIC || le32(loc, 4) != 16 || &loc[8..16] != LOCATOR_TAG {
            return Err(bad("the locator frame before the seek table is missing"));
        }
        let manifest_offset = u64::from_le_bytes(loc[16..24].try_into().expect("8 bytes"));
        let manifest_frame = frames
            .binary_search_by_key(&manifest_offset, |f| f.tar_offset)
            .map_err(|_| {
                bad(format!(
                    "the locator's manifest offset {manifest_offset} does not start a frame"
                ))
            })?;
        Ok(SeekIndex {
            frames,
            manifest_offset,
            manifest_frame,
        })
    }

    /// The frames, in order.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Where the manifest's tar entry starts.
    pub fn manifest_offset(&self) -> u64 {
        self.manifest_offset
    }

    /// The frame the manifest's entry starts.
    pub fn manifest_frame(&self) -> &Frame {
        &self.frames[self.manifest_frame]
    }

    /// Length of the tar stream.
    pub fn tar_len(&self) -> u64 {
        self.frames
            .last()
            .map_or(0, |f| f.tar_offset + u64::from(f.tar_len))
    }

    /// Length of the data frames: where the locator starts in the payload.
    pub fn frames_len(&self) -> u64 {
        self.frames
            .last()
            .map_or(0, |f| f.payload_offset + u64::from(f.payload_len))
    }

    /// Index of the frame holding tar offset `at`, if any.
    pub fn frame_at(&self, at: u64) -> Option<usize> {
        let i = self.frames.partition_point(|f| f.tar_offset <= at);
        (i > 0 && at < self.tar_len()).then(|| i - 1)
    }

    /// The table as zeekstd's decoder takes it.
    pub fn to_zeekstd(&self) -> zeekstd::SeekTable {
        let mut t = zeekstd::SeekTable::new();
        for f in &self.frames {
            // At most SEEK_FRAMES frames: below zeekstd's own limit.
            let _ = t.log_frame(f.payload_len, f.tar_len);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(frames: &[(u32, u32)], manifest_offset: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for (c, _) in frames {
            out.extend(std::iter::repeat_n(0xAAu8, *c as usize));
        }
        out.extend(Locator { manifest_offset }.encode());
        out.extend(SEEK_TABLE_MAGIC.to_le_bytes());
        out.extend(((frames.len() * 8 + 9) as u32).to_le_bytes());
        for (c, d) in frames {
            out.extend(c.to_le_bytes());
            out.extend(d.to_le_bytes());
        }
        out.extend((frames.len() as u32).to_le_bytes());
        out.push(0);
        out.extend(SEEKABLE_MAGIC.to_le_bytes());
        out
    }

    fn parse(p: &[u8]) -> Result<SeekIndex, SeekError> {
        let n = tail_len(&p[p.len() - 9..], p.len() as u64)?;
        SeekIndex::parse(&p[p.len() - n..], p.len() as u64)
    }

    #[test]
    fn a_written_tail_parses() {
        let p = payload(&[(100, 4096), (50, 2048)], 4096);
        let ix = parse(&p).unwrap();
        assert_eq!(ix.frames().len(), 2);
        assert_eq!(ix.manifest_frame().payload_offset, 100);
        assert_eq!(ix.tar_len(), 6144);
        assert_eq!(ix.frame_at(0), Some(0));
        assert_eq!(ix.frame_at(4095), Some(0));
        assert_eq!(ix.frame_at(4096), Some(1));
        assert_eq!(ix.frame_at(6144), None);
    }

    #[test]
    fn refusals() {
        // The manifest must start a frame.
        assert!(parse(&payload(&[(100, 4096), (50, 2048)], 512)).is_err());
        // Frames must tile the payload up to the locator.
        let mut p = payload(&[(100, 4096)], 0);
        p.insert(0, 0);
        assert!(parse(&p).is_err());
        // Empty frames, and frames over the limit.
        assert!(parse(&payload(&[(0, 4096)], 0)).is_err());
        assert!(parse(&payload(&[(1, SEEK_FRAME_BYTES as u32 + 1)], 0)).is_err());
        // A frame count no payload can hold is refused before allocating.
        let mut p = payload(&[(100, 4096)], 0);
        let at = p.len() - 9;
        p[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&p).is_err());
        // Another descriptor.
        let mut p = payload(&[(100, 4096)], 0);
        let at = p.len() - 5;
        p[at] = 0x80;
        assert!(parse(&p).is_err());
        // No locator.
        let mut p = payload(&[(100, 4096)], 0);
        p[100 + 8] = b'N';
        assert!(parse(&p).is_err());
    }
}
