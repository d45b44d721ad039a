//! A spill file of manifest entries.
//!
//! A backup can hold millions of entries; keeping them in memory would make
//! memory grow with the tree. Entries are appended as JSON lines to an
//! unlinked temporary file and read back in order at the end.

use super::Entry;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// An append-then-replay list of entries backed by an anonymous temp file.
pub struct EntryLog {
    out: Counted<BufWriter<File>>,
    count: u64,
}

/// A writer that counts the bytes it passes on.
struct Counted<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl EntryLog {
    /// Creates a log in `dir` (the system temp dir if `None`). The file has no
    /// name: it disappears when the log is dropped or the process dies.
    pub fn new(dir: Option<&Path>) -> io::Result<Self> {
        let f = match dir {
            Some(d) => tempfile::tempfile_in(d)?,
            None => tempfile::tempfile()?,
        };
        Ok(EntryLog {
            out: Counted {
                inner: BufWriter::with_capacity(256 * 1024, f),
                written: 0,
            },
            count: 0,
        })
    }

    /// Appends an entry.
    pub fn push(&mut self, e: &Entry) -> io::Result<()> {
        // Serialized straight into the buffer; a failed push fails the seal,
        // so a partial line never needs taking back.
        serde_json::to_writer(&mut self.out, e).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    /// Number of entries pushed.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Total bytes of the JSON lines.
    pub fn byte_len(&self) -> u64 {
        self.out.written
    }

    /// Rewinds and returns a reader over the raw JSON lines.
    pub fn into_reader(self) -> io::Result<BufReader<File>> {
        let mut f = self.out.inner.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        Ok(BufReader::with_capacity(256 * 1024, f))
    }

    /// Rewinds and returns an iterator over the entries.
    pub fn into_entries(self) -> io::Result<impl Iterator<Item = io::Result<Entry>>> {
        Ok(self
            .into_reader()?
            .lines()
            .map(|l| l.and_then(|l| serde_json::from_str(&l).map_err(io::Error::other))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{EntryKind, EntryPath};

    #[test]
    fn replays_in_order() {
        let mut log = EntryLog::new(None).unwrap();
        for i in 0..1000 {
            log.push(&Entry {
                path: EntryPath::from_bytes(format!("f{i}")),
                kind: EntryKind::File,
                size: i,
                mode: 0o644,
                mtime: 0,
                uid: None,
                gid: None,
                sha256: None,
                target: None,
                note: None,
            })
            .unwrap();
        }
        assert_eq!(log.len(), 1000);
        let back: Vec<_> = log.into_entries().unwrap().map(Result::unwrap).collect();
        assert_eq!(back.len(), 1000);
        assert_eq!(back[999].size, 999);
        assert_eq!(back[5].path, EntryPath::from_bytes("f5"));
    }
}
