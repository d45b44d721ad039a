//! A bound on an age header before the `age` crate parses it.
//!
//! The `age` crate reads a header line by line into one growing buffer and
//! parses the whole buffer again after every line: a line of gigabytes is
//! held whole, and many short lines cost time quadratic in their number.
//! A backup's header is short (one stanza per recipient, at most 256
//! recipients, an RSA-4096 card stanza being the longest at about 12 body
//! lines), so [`read_prefix`] reads the header, and nothing past its MAC
//! line, within [`AGE_HEADER_BYTES`] and [`AGE_HEADER_LINES`], and refuses
//! one that does not end by then.

use crate::limits::{AGE_HEADER_BYTES, AGE_HEADER_LINES};
use std::io::{self, Read};

/// Why a header was refused.
#[derive(Debug)]
pub enum HeaderError {
    /// Reading failed.
    Io(io::Error),
    /// The header does not end within the bounds.
    TooLong,
}

/// Reads `r` up to and including the header's MAC line (`--- …\n`), or to
/// its end if it ends first; refuses a header longer than the bounds. The
/// returned bytes are then given to `age` before the rest of `r`.
pub fn read_prefix(r: &mut impl Read) -> crate::Result<Vec<u8>> {
    read_prefix_raw(r).map_err(|e| match e {
        HeaderError::Io(e) => crate::Error::io("reading an age header", e),
        HeaderError::TooLong => crate::Error::Malformed {
            what: "age header",
            reason: format!(
                "longer than {} bytes or {} lines",
                crate::limits::AGE_HEADER_BYTES,
                crate::limits::AGE_HEADER_LINES
            ),
        },
    })
}

/// [`read_prefix`] with its own error (an open words it with the backup's id).
pub(crate) fn read_prefix_raw(r: &mut impl Read) -> Result<Vec<u8>, HeaderError> {
    let mut out = Vec::with_capacity(4096);
    let mut lines = 0usize;
    let mut line_start = 0usize;
    let mut byte = [0u8; 1];
    // Byte by byte from a buffered reader: the header is small, and not a
    // byte of the payload may be taken from it.
    loop {
        match r.read(&mut byte) {
            Ok(0) => return Ok(out),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HeaderError::Io(e)),
        }
        out.push(byte[0]);
        if byte[0] == b'\n' {
            if out[line_start..].starts_with(b"--- ") {
                return Ok(out);
            }
            lines += 1;
            line_start = out.len();
        }
        if out.len() > AGE_HEADER_BYTES || lines > AGE_HEADER_LINES {
            return Err(HeaderError::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_mac_line_and_refuses_long_headers() {
        let file = b"age-encryption.org/v1\n-> X25519 abc\nAAAA\n--- mac\n\x00payload";
        let mut r = &file[..];
        let prefix = read_prefix_raw(&mut r).unwrap();
        assert_eq!(prefix, &file[..file.len() - 8]);
        assert_eq!(r, b"\x00payload", "nothing of the payload is taken");
        let long = [
            &b"age-encryption.org/v1\n-> "[..],
            &vec![b'A'; AGE_HEADER_BYTES],
        ]
        .concat();
        assert!(matches!(
            read_prefix_raw(&mut &long[..]),
            Err(HeaderError::TooLong)
        ));
        let many = b"-> x\n".repeat(AGE_HEADER_LINES + 2);
        assert!(matches!(
            read_prefix_raw(&mut &many[..]),
            Err(HeaderError::TooLong)
        ));
        assert_eq!(read_prefix_raw(&mut &b"short"[..]).unwrap(), b"short");
    }
}
