//! A spill file of manifest entries.
//!
//! A backup can hold millions of entries; keeping them in memory would make
//! memory grow with the tree. Entries are appended as JSON lines to an
//! encrypted, unlinked scratch file ([`crate::spool::Spill`]: paths and
//! digests never reach the disk in clear) and read back in order at the
//! end.

use super::Entry;
use crate::spool::Spill;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

/// An append-then-replay list of entries backed by an encrypted scratch
/// file.
pub struct EntryLog {
    out: BufWriter<Spill>,
    count: u64,
}

impl EntryLog {
    /// Creates a log in the scratch file `file` (new, empty, open for
    /// reading and writing, best without a name).
    pub fn new(file: File) -> io::Result<Self> {
        Ok(EntryLog {
            out: BufWriter::with_capacity(64 * 1024, Spill::new(file)?),
            count: 0,
        })
    }

    /// Creates a log in an anonymous file of the system's temporary
    /// directory.
    pub fn in_temp_dir() -> io::Result<Self> {
        Self::new(tempfile::tempfile()?)
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
        self.out.get_ref().len() + self.out.buffer().len() as u64
    }

    /// Ends the writing and returns a reader over the raw JSON lines.
    pub fn into_reader(self) -> io::Result<Box<dyn Read + Send>> {
        self.out
            .into_inner()
            .map_err(|e| e.into_error())?
            .into_reader()
    }

    /// Ends the writing and returns an iterator over the entries.
    pub fn into_entries(self) -> io::Result<impl Iterator<Item = io::Result<Entry>>> {
        Ok(BufReader::with_capacity(256 * 1024, self.into_reader()?)
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
        let mut log = EntryLog::in_temp_dir().unwrap();
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
                offset: None,
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
