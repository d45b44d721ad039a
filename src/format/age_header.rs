//! The age v1 header: a bound before the `age` crate parses it, and the
//! codec a rewrap uses to replace a header while keeping the payload.
//!
//! The `age` crate reads a header line by line into one growing buffer and
//! parses the whole buffer again after every line: a line of gigabytes is
//! held whole, and many short lines cost time quadratic in their number.
//! A backup's header is short (one stanza per recipient, at most 256
//! recipients, an RSA-4096 card stanza being the longest at about 12 body
//! lines), so [`read_prefix`] reads the header, and nothing past its MAC
//! line, within [`AGE_HEADER_BYTES`] and [`AGE_HEADER_LINES`], and refuses
//! one that does not end by then.
//!
//! [`Header`] parses such a prefix into its stanzas and MAC, checks the MAC
//! with a file key, and writes a new header for the same file key. An age
//! file's payload depends only on its file key and the nonce that starts
//! it, so a new header followed by the old payload bytes is a valid age
//! file for the new header's recipients (age-encryption.org/v1, "Header").

use crate::limits::{AGE_HEADER_BYTES, AGE_HEADER_LINES};
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{self, Read};

/// The first line of every age v1 file.
pub const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// Length of the MAC in base64 (32 bytes, unpadded).
const ENCODED_MAC: usize = 43;

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

/// A parsed age v1 header: its stanzas, in order, and its MAC.
#[derive(Debug)]
pub struct Header {
    /// The recipient stanzas, in header order.
    pub stanzas: Vec<Stanza>,
    mac: [u8; 32],
    /// The bytes the MAC covers: everything up to and including `---`.
    covered: Vec<u8>,
}

impl Header {
    /// Parses a header prefix as [`read_prefix`] returns it: the version
    /// line, canonical stanzas, and `--- <MAC>\n`. Anything else is
    /// [`crate::Error::Malformed`].
    pub fn parse(prefix: &[u8]) -> crate::Result<Self> {
        let bad = |reason: &str| crate::Error::Malformed {
            what: "age header",
            reason: reason.to_owned(),
        };
        if prefix.len() > AGE_HEADER_BYTES {
            return Err(bad("longer than the bound on headers"));
        }
        let mut rest = prefix
            .strip_prefix(VERSION_LINE)
            .ok_or_else(|| bad("it does not start with age-encryption.org/v1"))?;
        let mut stanzas = Vec::new();
        while !rest.starts_with(b"---") {
            if stanzas.len() >= AGE_HEADER_LINES {
                return Err(bad("too many stanzas"));
            }
            let (after, s) = age_core::format::read::age_stanza(rest)
                .map_err(|_| bad("a recipient stanza is not canonical age"))?;
            stanzas.push(Stanza::from(s));
            rest = after;
        }
        let tail_len = 3 + 1 + ENCODED_MAC + 1;
        if rest.len() != tail_len || &rest[3..4] != b" " || rest[tail_len - 1] != b'\n' {
            return Err(bad("its MAC line is not `--- <43 base64 characters>`"));
        }
        let decoded = BASE64_STANDARD_NO_PAD
            .decode(&rest[4..4 + ENCODED_MAC])
            .map_err(|_| bad("its MAC is not base64"))?;
        let mac: [u8; 32] = decoded
            .try_into()
            .map_err(|_| bad("its MAC is not 32 bytes"))?;
        let covered = prefix[..prefix.len() - tail_len + 3].to_vec();
        Ok(Header {
            stanzas,
            mac,
            covered,
        })
    }

    /// Whether the header's MAC is right for `file_key`: the key unwrapped
    /// from a stanza is the file's, and no stanza was changed.
    pub fn verify_mac(&self, file_key: &FileKey) -> bool {
        let mut m = mac(file_key);
        m.update(&self.covered);
        m.verify_slice(&self.mac).is_ok()
    }

    /// A new header holding `stanzas`, with its MAC under `file_key`: the
    /// bytes to put before an existing payload sealed with that file key.
    pub fn encode(stanzas: &[Stanza], file_key: &FileKey) -> Vec<u8> {
        let mut out = VERSION_LINE.to_vec();
        for s in stanzas {
            out.extend_from_slice(b"->");
            for word in std::iter::once(&s.tag).chain(&s.args) {
                out.push(b' ');
                out.extend_from_slice(word.as_bytes());
            }
            out.push(b'\n');
            let body = BASE64_STANDARD_NO_PAD.encode(&s.body);
            let mut lines = body.as_bytes().chunks(64).peekable();
            let mut last_full = body.is_empty();
            while let Some(l) = lines.next() {
                out.extend_from_slice(l);
                out.push(b'\n');
                last_full = lines.peek().is_none() && l.len() == 64;
            }
            // The last body line must be short: empty if need be.
            if last_full {
                out.push(b'\n');
            }
        }
        out.extend_from_slice(b"---");
        let mut m = mac(file_key);
        m.update(&out);
        let tag = m.finalize().into_bytes();
        out.push(b' ');
        out.extend_from_slice(BASE64_STANDARD_NO_PAD.encode(tag).as_bytes());
        out.push(b'\n');
        out
    }
}

/// The header MAC's key: HKDF-SHA-256(file key, salt empty, "header").
fn mac(file_key: &FileKey) -> Hmac<Sha256> {
    let key = age_core::primitives::hkdf(&[], b"header", file_key.expose_secret());
    Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length")
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

    fn encrypt(recipients: &[&dyn age::Recipient], data: &[u8]) -> Vec<u8> {
        let enc = age::Encryptor::with_recipients(recipients.iter().copied()).unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, data).unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn a_new_header_on_the_old_payload_opens_for_the_new_recipient_only() {
        let old = age::x25519::Identity::generate();
        let new = age::x25519::Identity::generate();
        let file = encrypt(&[&old.to_public()], &vec![9u8; 200_000]);
        let mut r = &file[..];
        let prefix = read_prefix(&mut r).unwrap();
        let h = Header::parse(&prefix).unwrap();
        // age adds a random "grease" stanza after the recipients' own.
        assert_eq!(h.stanzas.len(), 2);
        assert_eq!(h.stanzas[0].tag, "X25519");
        let fk = age::Identity::unwrap_stanzas(&old, &h.stanzas)
            .unwrap()
            .unwrap();
        assert!(h.verify_mac(&fk));
        // The same stanzas written again give a byte-identical header.
        assert_eq!(Header::encode(&h.stanzas, &fk), prefix);
        let (stanzas, _) = age::Recipient::wrap_file_key(&new.to_public(), &fk).unwrap();
        let mut rewrapped = Header::encode(&stanzas, &fk);
        rewrapped.extend_from_slice(r);
        let dec = age::Decryptor::new(&rewrapped[..]).unwrap();
        let mut plain = Vec::new();
        dec.decrypt(std::iter::once(&new as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, vec![9u8; 200_000]);
        let dec = age::Decryptor::new(&rewrapped[..]).unwrap();
        assert!(
            dec.decrypt(std::iter::once(&old as &dyn age::Identity))
                .is_err()
        );
        // Another file key fails the MAC; bodies of 48 bytes (64 base64
        // characters) end with an empty line and parse back.
        let other = FileKey::new(Box::new([1u8; 16]));
        assert!(!h.verify_mac(&other));
        let s = Stanza {
            tag: "nkbackup/test".into(),
            args: vec!["a".into()],
            body: vec![7u8; 48],
        };
        let enc = Header::encode(&[s], &other);
        assert!(enc.windows(2).any(|w| w == b"\n\n"));
        let back = Header::parse(&enc).unwrap();
        assert_eq!(back.stanzas[0].body, vec![7u8; 48]);
        assert!(back.verify_mac(&other));
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            &b"age-encryption.org/v2\n--- AAAA\n"[..],
            b"age-encryption.org/v1\n-> X25519\n",
            b"age-encryption.org/v1\n--- short\n",
            b"age-encryption.org/v1\n-> a\n!!!!\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        ] {
            assert!(
                Header::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
