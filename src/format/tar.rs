//! Reading a tar stream block by block, strictly, in bounded memory.
//!
//! The `tar` crate reads every extension header (pax `x`/`g`, GNU `L`/`K`)
//! whole before it yields the entry, whatever size the header claims, and
//! drops pax records it cannot parse. A backup's stream comes from a
//! repository anyone with write access can fill, so nkbackup reads it
//! itself, as GNU tar would and no more permissively:
//!
//! * every header is a ustar header (POSIX `ustar\0` `00` or GNU
//!   `ustar  \0`) whose checksum matches; numeric fields are octal or
//!   base-256 and nothing else;
//! * extension headers are bounded ([`PAX_HEADER_BYTES`],
//!   [`GNU_LONG_NAME_BYTES`]) before a byte of them is stored; a pax record
//!   that is malformed makes the stream damaged ([`super::pax`]); a global
//!   header (`g`) or a second extension of the same type before one entry
//!   is refused;
//! * only regular files have content; any other entry claiming a size is
//!   refused;
//! * the archive ends with two zero blocks, and only zero bytes may follow
//!   them ([`TarReader::finish`]).
//!
//! The reader yields [`RawEntry`]s; what paths are acceptable is decided
//! one layer up (`archive::reader`).

use super::pax::{self, PaxOverrides};
use crate::limits::{GNU_LONG_NAME_BYTES, PAX_HEADER_BYTES};
use std::io::{self, Read};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// The type of an entry, from its header's type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// `0`, NUL (old regular file) or `7` (contiguous file).
    Regular,
    /// `1`.
    Hardlink,
    /// `2`.
    Symlink,
    /// `3`.
    CharDevice,
    /// `4`.
    BlockDevice,
    /// `5`.
    Directory,
    /// `6`.
    Fifo,
    /// Any other type flag (GNU sparse `S`, volume labels, vendor types).
    Other(u8),
}

/// One entry's header, with its extension headers applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The path as stored (pax `path`, GNU long name, or ustar prefix and
    /// name), not yet checked.
    pub path: Vec<u8>,
    /// The type.
    pub kind: RawKind,
    /// Content length (regular files; 0 otherwise).
    pub size: u64,
    /// Permission bits, `& 0o7777`.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// The link target (symlinks and hard links), not yet checked.
    pub link: Option<Vec<u8>>,
}

/// Why a stream cannot be read.
#[derive(Debug)]
pub enum TarError {
    /// Reading the underlying stream failed (decryption, decompression,
    /// the disk).
    Io(io::Error),
    /// The stream is not a tar stream nkbackup accepts; says why.
    Malformed(String),
}

impl TarError {
    /// As the crate's error, outside a backup's context.
    fn into_error(self) -> crate::Error {
        match self {
            TarError::Io(e) => crate::Error::io("reading a tar stream", e),
            TarError::Malformed(reason) => crate::Error::Malformed {
                what: "tar stream",
                reason,
            },
        }
    }
}

impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        TarError::Io(e)
    }
}

impl std::fmt::Display for TarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TarError::Io(e) => e.fmt(f),
            TarError::Malformed(s) => f.write_str(s),
        }
    }
}

fn bad<T>(why: impl Into<String>) -> Result<T, TarError> {
    Err(TarError::Malformed(why.into()))
}

/// Reads a tar stream entry by entry.
pub struct TarReader<R> {
    inner: R,
    /// Bytes of the current entry's content not yet read.
    remaining: u64,
    /// Padding after the current entry's content.
    padding: usize,
    /// Bytes of the stream consumed so far.
    pos: u64,
    /// Where the current entry's first header (pax or GNU ones included)
    /// starts.
    entry_start: u64,
    ended: bool,
}

impl<R: Read> TarReader<R> {
    /// A reader of the stream `inner`.
    pub fn new(inner: R) -> Self {
        Self::at(inner, 0)
    }

    /// A reader of a stream whose first `pos` bytes were skipped: `inner`
    /// starts at an entry's first header, `pos` bytes into the stream.
    pub fn at(inner: R, pos: u64) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            pos,
            entry_start: pos,
            ended: false,
        }
    }

    /// Offset in the stream of the last entry's first header (its pax or
    /// GNU extension header, if it has one).
    pub fn entry_offset(&self) -> u64 {
        self.entry_start
    }

    /// The next entry, skipping what is left of the previous one's
    /// content; `None` at the end-of-archive blocks.
    pub fn next_entry(&mut self) -> crate::Result<Option<RawEntry>> {
        self.next_raw().map_err(TarError::into_error)
    }

    /// [`TarReader::next_entry`] with the reader's own error (the archive
    /// reader words it with the backup's id).
    pub(crate) fn next_raw(&mut self) -> Result<Option<RawEntry>, TarError> {
        if self.ended {
            return Ok(None);
        }
        self.skip_rest()?;
        self.entry_start = self.pos;
        let mut pax: Option<PaxOverrides> = None;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let mut h = [0u8; BLOCK];
            if !self.read_block(&mut h)? {
                return bad("the stream ends without its end-of-archive blocks (truncated)");
            }
            if h.iter().all(|&b| b == 0) {
                if pax.is_some() || long_name.is_some() || long_link.is_some() {
                    return bad("an extension header is followed by the end of the archive");
                }
                let mut second = [0u8; BLOCK];
                if !self.read_block(&mut second)? || second.iter().any(|&b| b != 0) {
                    return bad(
                        "the end of the archive is a single zero block, not two (truncated or damaged)",
                    );
                }
                self.ended = true;
                return Ok(None);
            }
            let at = self.pos - BLOCK as u64;
            let header = Header::parse(&h).map_err(|why| {
                TarError::Malformed(format!("the header at byte {at} is invalid: {why}"))
            })?;
            match header.flag {
                b'x' => {
                    if pax.is_some() {
                        return bad("two pax headers in a row");
                    }
                    let data = self.read_extension(header.size, PAX_HEADER_BYTES, "pax header")?;
                    pax = Some(pax::parse_records(&data).map_err(TarError::Malformed)?);
                }
                b'L' | b'K' => {
                    let slot = if header.flag == b'L' {
                        &mut long_name
                    } else {
                        &mut long_link
                    };
                    if slot.is_some() {
                        return bad("two GNU long-name headers of the same type in a row");
                    }
                    let mut data =
                        self.read_extension(header.size, GNU_LONG_NAME_BYTES, "GNU long name")?;
                    // NUL-terminated; nothing may follow the terminator.
                    while data.last() == Some(&0) {
                        data.pop();
                    }
                    if data.is_empty() || data.contains(&0) {
                        return bad("a GNU long name is empty or holds a NUL byte");
                    }
                    *slot = Some(data);
                }
                b'g' => return bad("a global pax header (nkbackup never writes one)"),
                _ => {
                    let kind = match header.flag {
                        b'0' | 0 | b'7' => RawKind::Regular,
                        b'1' => RawKind::Hardlink,
                        b'2' => RawKind::Symlink,
                        b'3' => RawKind::CharDevice,
                        b'4' => RawKind::BlockDevice,
                        b'5' => RawKind::Directory,
                        b'6' => RawKind::Fifo,
                        other => RawKind::Other(other),
                    };
                    let pax = pax.unwrap_or_default();
                    let size = pax.size.unwrap_or(header.size);
                    if kind != RawKind::Regular && size != 0 {
                        return bad(format!(
                            "an entry of type {:?} claims {size} bytes of content",
                            header.flag as char
                        ));
                    }
                    let path = pax.path.or(long_name).unwrap_or(header.path);
                    if path.is_empty() {
                        return bad("an entry has an empty path");
                    }
                    let link = match kind {
                        RawKind::Symlink | RawKind::Hardlink => {
                            let l = pax.linkpath.or(long_link).unwrap_or(header.link);
                            if l.is_empty() {
                                return bad("a link has an empty target");
                            }
                            Some(l)
                        }
                        _ => None,
                    };
                    self.remaining = size;
                    self.padding = pad(size);
                    return Ok(Some(RawEntry {
                        path,
                        kind,
                        size,
                        mode: header.mode & 0o7777,
                        uid: pax.uid.unwrap_or(header.uid),
                        gid: pax.gid.unwrap_or(header.gid),
                        mtime: pax.mtime.unwrap_or(header.mtime),
                        link,
                    }));
                }
            }
        }
    }

    /// Reads the current entry's content (at most what is left of it).
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stream ends inside an entry's content",
            ));
        }
        self.remaining -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }

    /// Offset in the stream of the next entry's first header, once the
    /// current entry's content is read.
    pub fn next_offset(&self) -> u64 {
        self.pos + self.remaining + self.padding as u64
    }

    /// Bytes of the current entry's content not yet read.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// After the end-of-archive blocks: reads the rest of the stream, which
    /// may only be zero bytes (padding), and returns the inner reader.
    pub fn finish(self) -> crate::Result<R> {
        self.finish_raw().map_err(TarError::into_error)
    }

    /// [`TarReader::finish`] with the reader's own error.
    pub(crate) fn finish_raw(mut self) -> Result<R, TarError> {
        if !self.ended {
            return bad("the archive was not read to its end");
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => return Ok(self.inner),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if buf[..n].iter().any(|&b| b != 0) {
                return bad("data follows the end of the archive");
            }
        }
    }

    fn skip_rest(&mut self) -> Result<(), TarError> {
        let mut left = self.remaining + self.padding as u64;
        let mut buf = [0u8; 8192];
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.inner.read_exact(&mut buf[..n]).map_err(eof_inside)?;
            left -= n as u64;
        }
        self.pos += self.remaining + self.padding as u64;
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Reads one block; `false` at a clean end of the stream.
    fn read_block(&mut self, h: &mut [u8; BLOCK]) -> Result<bool, TarError> {
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut h[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return bad("the stream ends inside a header (truncated)"),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.pos += BLOCK as u64;
        Ok(true)
    }

    /// Reads an extension header's data of `size` bytes, refusing more
    /// than `limit` before reading any.
    fn read_extension(&mut self, size: u64, limit: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > limit {
            return bad(format!(
                "a {what} of {size} bytes is larger than the {limit} nkbackup reads"
            ));
        }
        let mut data = vec![0u8; size as usize];
        self.inner.read_exact(&mut data).map_err(eof_inside)?;
        let mut padding = vec![0u8; pad(size)];
        self.inner.read_exact(&mut padding).map_err(eof_inside)?;
        self.pos += size + pad(size) as u64;
        Ok(data)
    }
}

fn eof_inside(e: io::Error) -> TarError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        TarError::Malformed("the stream ends inside an entry (truncated)".into())
    } else {
        TarError::Io(e)
    }
}

/// Padding to the next block boundary after `size` bytes.
fn pad(size: u64) -> usize {
    let rem = (size % BLOCK as u64) as usize;
    if rem == 0 { 0 } else { BLOCK - rem }
}

/// The fields of one header block.
struct Header {
    path: Vec<u8>,
    link: Vec<u8>,
    flag: u8,
    size: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
}

impl Header {
    fn parse(h: &[u8; BLOCK]) -> Result<Header, String> {
        let magic = &h[257..265];
        let gnu = match magic {
            b"ustar\x0000" => false,
            b"ustar  \x00" => true,
            _ => return Err("it is not a ustar header (no ustar magic)".into()),
        };
        let stored = octal(&h[148..156]).ok_or("its checksum field is not octal")?;
        let unsigned: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        let signed: i64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    i64::from(b as i8)
                }
            })
            .sum();
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err("its checksum does not match (damaged)".into());
        }
        let name = cstr(&h[0..100]);
        let prefix = if gnu { &[][..] } else { cstr(&h[345..500]) };
        let mut path = Vec::with_capacity(prefix.len() + 1 + name.len());
        if !prefix.is_empty() {
            path.extend_from_slice(prefix);
            path.push(b'/');
        }
        path.extend_from_slice(name);
        let mode = number(&h[100..108]).ok_or("its mode is not a number")?;
        let size = number(&h[124..136]).ok_or("its size is not a number")?;
        let mtime = number(&h[136..148]).ok_or("its mtime is not a number")?;
        Ok(Header {
            path,
            link: cstr(&h[157..257]).to_vec(),
            flag: h[156],
            size,
            mode: (mode & 0o7777) as u32,
            uid: number(&h[108..116]).ok_or("its uid is not a number")?,
            gid: number(&h[116..124]).ok_or("its gid is not a number")?,
            mtime: i64::try_from(mtime).map_err(|_| "its mtime is out of range")?,
        })
    }
}

/// The bytes of a NUL-terminated field (all of it if it has no NUL).
fn cstr(f: &[u8]) -> &[u8] {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..n]
}

/// A numeric field: octal (spaces before, space or NUL after), or GNU
/// base-256 (first byte `0x80`, positive only).
fn number(f: &[u8]) -> Option<u64> {
    match f.first() {
        Some(0x80) => {
            let mut v: u64 = 0;
            for &b in &f[1..] {
                v = v.checked_mul(256)?.checked_add(u64::from(b))?;
            }
            Some(v)
        }
        Some(b) if b & 0x80 != 0 => None,
        _ => octal(f),
    }
}

/// Octal digits, with spaces before and spaces or NULs after; a field of
/// only spaces and NULs is 0 (as GNU tar reads it).
fn octal(f: &[u8]) -> Option<u64> {
    let start = f.iter().position(|&b| b != b' ').unwrap_or(f.len());
    let digits = f[start..]
        .iter()
        .take_while(|b| (b'0'..=b'7').contains(b))
        .count();
    let rest = &f[start + digits..];
    if !rest.iter().all(|&b| b == b' ' || b == 0) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in &f[start..start + digits] {
        v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], flag: u8, size: u64) -> [u8; BLOCK] {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(tar::EntryType::new(flag));
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        *h.as_bytes()
    }

    fn stream(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            out.extend_from_slice(p);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend_from_slice(&[0u8; 2 * BLOCK]);
        out
    }

    fn entries(bytes: &[u8]) -> Result<Vec<RawEntry>, TarError> {
        let mut r = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some(e) = r.next_raw()? {
            out.push(e);
        }
        r.finish_raw()?;
        Ok(out)
    }

    #[test]
    fn reads_what_the_tar_crate_writes() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o600);
        h.set_cksum();
        b.append_data(&mut h, "a/b.txt", &b"hello"[..]).unwrap();
        let long = "d/".repeat(80) + "file";
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_cksum();
        b.append_data(&mut h, &long, &b""[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let e = entries(&bytes).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, b"a/b.txt");
        assert_eq!((e[0].size, e[0].mode), (5, 0o600));
        assert_eq!(e[1].path, long.as_bytes());
    }

    #[test]
    fn refuses_what_gnu_tar_refuses_and_what_nkbackup_never_writes() {
        let ok = header(b"f", b'0', 0);
        assert!(entries(&stream(&[&ok])).is_ok());
        let mut bad_sum = ok;
        bad_sum[0] = b'g';
        assert!(entries(&stream(&[&bad_sum])).is_err(), "checksum");
        let mut no_magic = ok;
        no_magic[257..265].copy_from_slice(&[0; 8]);
        assert!(entries(&stream(&[&no_magic])).is_err(), "v7 header");
        let g = header(b"g", b'g', 0);
        assert!(entries(&stream(&[&g, &ok])).is_err(), "global header");
        let dir_with_data = header(b"d", b'5', 10);
        assert!(entries(&stream(&[&dir_with_data, &[1u8; 10]])).is_err());
        // A pax header claiming 2 GiB is refused before any of it is read.
        let huge = header(b"x", b'x', 2 << 30);
        let e = entries(&stream(&[&huge])).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
        let long = header(b"L", b'L', 1 << 30);
        assert!(entries(&stream(&[&long])).is_err());
        // Truncations.
        let s = stream(&[&ok]);
        assert!(entries(&s[..BLOCK]).is_err(), "no end blocks");
        assert!(entries(&s[..BLOCK * 2]).is_err(), "one end block");
        assert!(entries(&s[..BLOCK + 100]).is_err(), "cut header");
        let mut trailing = s.clone();
        trailing.extend_from_slice(b"more");
        assert!(entries(&trailing).is_err(), "data after the end");
        let mut zeros = s;
        zeros.extend_from_slice(&[0u8; 10_240]);
        assert!(entries(&zeros).is_ok(), "zero padding after the end");
    }

    #[test]
    fn pax_overrides_apply_to_the_next_entry_only() {
        let mut recs = Vec::new();
        pax::push_record(&mut recs, "path", b"long/name");
        pax::push_record(&mut recs, "size", b"3");
        let x = header(b"././@PaxHeader", b'x', recs.len() as u64);
        let f = header(b"short", b'0', 0);
        let g = header(b"next", b'0', 0);
        let e = entries(&stream(&[&x, &recs, &f, b"abc", &g])).unwrap();
        assert_eq!(e[0].path, b"long/name");
        assert_eq!(e[0].size, 3);
        assert_eq!(e[1].path, b"next");
        let two = stream(&[&x, &recs, &x, &recs, &f, b"abc"]);
        assert!(entries(&two).is_err(), "two pax headers for one entry");
        assert!(entries(&stream(&[&x, &recs])).is_err(), "pax then the end");
    }

    #[test]
    fn numbers() {
        assert_eq!(octal(b"0000644\0"), Some(0o644));
        assert_eq!(octal(b"  644 \0"), Some(0o644));
        assert_eq!(octal(b"64x\0"), None);
        assert_eq!(octal(b"\0\0\0"), Some(0));
        assert_eq!(octal(b" x\0"), None);
        assert_eq!(number(&[0x80, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(&[0xff, 0xff]), None, "negative base-256");
    }
}
