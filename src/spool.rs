//! Spill files, encrypted: nothing nkbackup parks on disk is plaintext.
//!
//! Three things need more room than memory should give them: a stream of
//! unknown length (`pg_dump | nkbackup seal`: a tar header needs the size
//! before the data), the manifest lines a seal collects until the end of
//! the stream, and the entries a restore or verify observed until the inner
//! manifest arrives to check them. Each goes to an unlinked scratch file
//! (no name: it disappears when closed or when the process dies), encrypted
//! with age to a throw-away X25519 key that exists only in this process's
//! memory, and is read back once. Paths, digests and dump contents never
//! reach a disk in clear, memory stays flat, and a killed process leaves
//! nothing behind.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Bytes buffered on each side of the encryption.
const BUF: usize = 256 * 1024;

/// Something written once to an encrypted scratch file, then read back.
pub(crate) struct Spill {
    key: age::x25519::Identity,
    out: age::stream::StreamWriter<BufWriter<File>>,
    len: u64,
}

impl Spill {
    /// Starts a spill into `file` (a new, empty scratch file, open for
    /// reading and writing).
    pub(crate) fn new(file: File) -> io::Result<Self> {
        let key = age::x25519::Identity::generate();
        let out = age::Encryptor::with_recipients(std::iter::once(
            &key.to_public() as &dyn age::Recipient
        ))
        .map_err(io::Error::other)?
        .wrap_output(BufWriter::with_capacity(BUF, file))?;
        Ok(Spill { key, out, len: 0 })
    }

    /// Plaintext bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Ends the writing and returns a reader of everything written.
    pub(crate) fn into_reader(self) -> io::Result<Box<dyn Read + Send>> {
        let mut file = self
            .out
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        let dec = age::Decryptor::new_buffered(BufReader::with_capacity(BUF, file))
            .map_err(io::Error::other)?;
        let reader = dec
            .decrypt(std::iter::once(&self.key as &dyn age::Identity))
            .map_err(io::Error::other)?;
        Ok(Box::new(reader))
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A spooled stream: its length and a reader of its plaintext.
pub struct Spooled {
    /// Plaintext length.
    pub len: u64,
    /// Reader of the plaintext.
    pub reader: Box<dyn Read + Send>,
}

/// Why spooling failed: reading the input, or writing the scratch file
/// (a full disk is not the source's fault).
#[derive(Debug)]
pub enum SpoolError {
    /// Reading the stream failed.
    Read(io::Error),
    /// Writing or reading back the scratch file failed.
    Scratch(io::Error),
}

/// Spools `input` into the encrypted scratch file `file`.
pub fn spool(mut input: impl Read, file: File) -> Result<Spooled, SpoolError> {
    let mut s = Spill::new(file).map_err(SpoolError::Scratch)?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SpoolError::Read(e)),
        };
        s.write_all(&buf[..n]).map_err(SpoolError::Scratch)?;
    }
    let len = s.len();
    Ok(Spooled {
        len,
        reader: s.into_reader().map_err(SpoolError::Scratch)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_round_trips_and_is_not_plaintext_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = b"secret-dump-line\n".repeat(10_000);
        // A named file, to look at what reaches the disk.
        let path = dir.path().join("spill");
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut s = spool(&data[..], file)
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        assert_eq!(s.len, data.len() as u64);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk.starts_with(b"age-encryption.org/v1\n"));
        assert!(
            !on_disk.windows(16).any(|w| w == b"secret-dump-line"),
            "plaintext reached the disk"
        );
        let mut back = Vec::new();
        s.reader.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
