//! An object in a bucket read at any offset, by range requests: what
//! `ls`, `find` and `restore --path` use to read a backup's index and the
//! frames they need without downloading the object.

use super::s3_error::{Action, storage_error};
use opendal::Operator;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// The first range asked for after a seek.
const FIRST_RANGE: u64 = 256 << 10;
/// Ranges double while reads go on where the last one ended, up to this.
const MAX_RANGE: u64 = 8 << 20;

/// A bucket object of known length, read by ranges.
pub(super) struct RangedObject {
    pub(super) op: Operator,
    pub(super) rt: Arc<tokio::runtime::Runtime>,
    pub(super) key: String,
    pub(super) len: u64,
    /// The repository URL, for errors.
    location: String,
    pos: u64,
    /// The last range fetched and where it starts.
    block: Vec<u8>,
    block_start: u64,
    next_range: u64,
}

impl RangedObject {
    pub(super) fn new(
        op: Operator,
        rt: Arc<tokio::runtime::Runtime>,
        key: String,
        len: u64,
        location: String,
    ) -> Self {
        RangedObject {
            op,
            rt,
            key,
            len,
            location,
            pos: 0,
            block: Vec::new(),
            block_start: 0,
            next_range: FIRST_RANGE,
        }
    }

    fn fetch(&mut self) -> io::Result<()> {
        let sequential = self.pos == self.block_start + self.block.len() as u64;
        self.next_range = if sequential && !self.block.is_empty() {
            (self.next_range * 2).min(MAX_RANGE)
        } else {
            FIRST_RANGE
        };
        let end = (self.pos + self.next_range).min(self.len);
        let opts = opendal::options::ReadOptions {
            range: (self.pos..end).into(),
            ..Default::default()
        };
        let got = self
            .rt
            .block_on(self.op.read_options(&self.key, opts))
            .map_err(|e| {
                // The typed error rides inside the io::Error through the
                // decryption and decompression, so that a failed fetch is
                // reported as one, not as a damaged backup.
                io::Error::other(storage_error(&self.location, Action::Read, &self.key, e))
            })?;
        if got.len() as u64 != end - self.pos {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the store answered {} bytes for a range of {} (the object changed while it was read?)",
                    got.len(),
                    end - self.pos
                ),
            ));
        }
        self.block = got.to_vec();
        self.block_start = self.pos;
        Ok(())
    }
}

impl Read for RangedObject {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let in_block =
            self.pos >= self.block_start && self.pos < self.block_start + self.block.len() as u64;
        if !in_block {
            self.fetch()?;
        }
        let at = (self.pos - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - at);
        buf[..n].copy_from_slice(&self.block[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangedObject {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start")
        })?;
        Ok(self.pos)
    }
}
