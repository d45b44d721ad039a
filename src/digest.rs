//! SHA-256 digests computed while data streams past.
//!
//! nkbackup never reads a file twice to hash it: the seal pipeline hashes
//! every entry as it is written into the tar stream, and the ciphertext as it
//! is written to storage. These adapters count bytes too.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// A finished SHA-256 digest with the number of bytes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digested {
    /// The SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// How many bytes were hashed.
    pub len: u64,
}

impl Digested {
    /// The digest as lowercase hex, as it appears in manifests.
    pub fn hex(&self) -> String {
        // Into a fixed buffer: `hex::encode` builds the string a char at a
        // time, which shows in profiles of many small files.
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.sha256, &mut buf).expect("64 hex digits for 32 bytes");
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// A writer that hashes and counts everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Returns the inner writer and the digest of what passed through.
    pub fn finish(self) -> (W, Digested) {
        let d = Digested {
            sha256: self.hasher.finalize().into(),
            len: self.len,
        };
        (self.inner, d)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The digest of what was read so far.
    pub fn finish(self) -> Digested {
        Digested {
            sha256: self.hasher.finalize().into(),
            len: self.len,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Hashes everything `reader` yields.
/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Digests everything `reader` gives.
pub fn digest_reader<R: Read>(reader: R) -> io::Result<Digested> {
    let mut h = HashingReader::new(reader);
    io::copy(&mut h, &mut io::sink())?;
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_matches_fips_180_2() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        let d = digest_reader(&b"abc"[..]).unwrap();
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.len, 3);
    }

    #[test]
    fn writer_and_reader_agree() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (out, dw) = w.finish();
        assert_eq!(out, data);
        assert_eq!(dw, digest_reader(&data[..]).unwrap());
    }
}
