//! Spooling a stream of unknown length, encrypted.
//!
//! A tar header needs the entry's size before its data, but `pg_dump |
//! nkbackup seal` does not know it. The stream is spooled to an unlinked
//! temporary file in the repository, encrypted with age to a throw-away key
//! that exists only in memory, then replayed. Plaintext never reaches disk,
//! memory stays flat, and a killed process leaves nothing behind.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;

/// A spooled stream: its length and a reader of its plaintext.
pub struct Spooled {
    /// Plaintext length.
    pub len: u64,
    /// Reader of the plaintext.
    pub reader: Box<dyn Read + Send>,
}

/// Spools `input` into an encrypted unlinked file in `dir`.
pub fn spool(mut input: impl Read, dir: &Path) -> io::Result<Spooled> {
    let key = age::x25519::Identity::generate();
    let file: File = tempfile::tempfile_in(dir)?;
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&key.to_public() as &dyn age::Recipient))
            .map_err(io::Error::other)?;
    let mut w = enc.wrap_output(BufWriter::with_capacity(1 << 20, file))?;
    let len = io::copy(&mut input, &mut w)?;
    let mut file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    let dec = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, file))
        .map_err(io::Error::other)?;
    let reader = dec
        .decrypt(std::iter::once(&key as &dyn age::Identity))
        .map_err(io::Error::other)?;
    Ok(Spooled {
        len,
        reader: Box::new(reader),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_round_trips_and_is_not_plaintext_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = b"secret-dump-line\n".repeat(10_000);
        let mut s = spool(&data[..], dir.path()).unwrap();
        assert_eq!(s.len, data.len() as u64);
        let mut back = Vec::new();
        s.reader.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        // The spool file is unlinked: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
