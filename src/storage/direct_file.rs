//! A new file written with direct I/O (`O_DIRECT`), bypassing the page
//! cache.
//!
//! A backup is written once and read again only by a restore or a deep
//! verify. Writing it through the page cache costs a copy into freshly
//! allocated cache pages and, at the commit's fsync, the writeback of all
//! of them; it also evicts the service's own cached data every night.
//! [`DirectFile`] collects the stream in one aligned buffer and writes it
//! in whole aligned blocks straight to the device; only the last partial
//! block goes through the page cache. The caller still fsyncs the file
//! (direct I/O does not make metadata durable).
//!
//! Where the filesystem refuses direct I/O (`EINVAL` when the flag is set
//! or at a write, as on some network and FUSE filesystems), the file is
//! written through the page cache instead: same bytes, same durability.

use rustix::fs::OFlags;
use std::fs::File;
use std::io::{self, Write};

/// Alignment of buffer address, file offset and length that direct I/O
/// needs on every Linux filesystem (4 KiB covers 512-byte and 4Kn devices).
const ALIGN: usize = 4096;
/// Bytes collected before each direct write.
const BLOCK: usize = 4 << 20;

/// A write-only file that writes whole aligned blocks with `O_DIRECT`.
pub(crate) struct DirectFile {
    file: File,
    /// `BLOCK + ALIGN` bytes; the aligned window starts at `start`.
    buf: Vec<u8>,
    start: usize,
    len: usize,
    direct: bool,
}

impl DirectFile {
    /// Wraps `file` (opened for writing, empty), switching it to direct I/O
    /// when the filesystem allows it.
    pub(crate) fn new(file: File) -> Self {
        let buf = vec![0u8; BLOCK + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        let mut f = DirectFile {
            file,
            buf,
            start,
            len: 0,
            direct: false,
        };
        f.direct = f.set_direct(true).is_ok();
        f
    }

    /// Whether writes currently bypass the page cache.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.direct
    }

    fn set_direct(&mut self, on: bool) -> io::Result<()> {
        let flags = rustix::fs::fcntl_getfl(&self.file)?;
        let flags = if on {
            flags | OFlags::DIRECT
        } else {
            flags - OFlags::DIRECT
        };
        rustix::fs::fcntl_setfl(&self.file, flags)?;
        self.direct = on;
        Ok(())
    }

    /// Writes the buffered bytes out: direct while they are whole aligned
    /// blocks, through the page cache otherwise.
    fn write_buffered_bytes(&mut self) -> io::Result<()> {
        if !self.len.is_multiple_of(ALIGN) && self.direct {
            self.set_direct(false)?;
        }
        let mut done = 0;
        while done < self.len {
            let chunk = &self.buf[self.start + done..self.start + self.len];
            match self.file.write(chunk) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Refused here (or a short write left the rest unaligned):
                // go on through the page cache.
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    self.set_direct(false)?
                }
                Err(e) => return Err(e),
            }
        }
        self.len = 0;
        Ok(())
    }

    /// Writes out everything buffered and returns the file (not yet
    /// fsynced).
    pub(crate) fn finish(mut self) -> io::Result<File> {
        self.write_buffered_bytes()?;
        Ok(self.file)
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.len == BLOCK {
            self.write_buffered_bytes()?;
        }
        let n = data.len().min(BLOCK - self.len);
        let at = self.start + self.len;
        self.buf[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    /// Buffered bytes stay buffered until a whole block is full or
    /// [`DirectFile::finish`]: flushing a partial block would misalign
    /// every later direct write.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn round_trip(len: usize, direct: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        let mut w = DirectFile::new(File::create(&path).unwrap());
        if !direct {
            w.set_direct(false).unwrap();
        }
        // Odd-sized writes, as the age stream makes them.
        for chunk in data.chunks(65_553) {
            w.write_all(chunk).unwrap();
        }
        w.finish().unwrap().sync_all().unwrap();
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), len);
        assert!(back == data, "content differs at length {len}");
    }

    #[test]
    fn writes_exactly_the_bytes_given() {
        for len in [0, 1, ALIGN, BLOCK, BLOCK + 1, 3 * BLOCK - 17] {
            round_trip(len, true);
            round_trip(len, false);
        }
    }

    #[test]
    fn ext4_takes_direct_io() {
        let dir = tempfile::tempdir().unwrap();
        let fs_type = rustix::fs::statfs(dir.path()).unwrap().f_type;
        let w = DirectFile::new(File::create(dir.path().join("f")).unwrap());
        // Elsewhere either is right: nothing to assert.
        if fs_type == 0xEF53 {
            assert!(w.is_direct(), "ext4 supports O_DIRECT");
        }
    }

    #[test]
    fn the_buffer_window_is_aligned() {
        let dir = tempfile::tempdir().unwrap();
        let w = DirectFile::new(File::create(dir.path().join("f")).unwrap());
        assert_eq!((w.buf.as_ptr() as usize + w.start) % ALIGN, 0);
        assert!(w.buf.len() >= w.start + BLOCK);
    }
}
