//! POSIX.1-2001 (pax) extended header records, written and parsed.
//!
//! A record is `"<len> <key>=<value>\n"` where `<len>` is the decimal
//! length of the whole record, including itself. nkbackup writes a typed
//! `x` header before any entry whose path, link target or size does not
//! fit the ustar header.
//!
//! Parsing is strict, as GNU tar is: a length that is not a decimal
//! number, that does not end at a newline, that runs past the header, or a
//! record without `=` makes the whole stream damaged. (Dropping such a
//! record, as the `tar` crate does, would let nkbackup and a stock `tar -x`
//! read different paths from the same bytes.)

use crate::limits::PAX_HEADER_BYTES;

/// Largest size a ustar header's 11 octal digits hold.
pub const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;

/// Appends one pax record to `out`.
pub fn push_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    // key, '=', value, '\n', ' ' separator
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + decimal_len(len) {
        len = rest + decimal_len(len);
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn decimal_len(n: usize) -> usize {
    n.to_string().len()
}

/// What an `x` header says about the entry that follows it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PaxOverrides {
    /// `path`.
    pub path: Option<Vec<u8>>,
    /// `linkpath`.
    pub linkpath: Option<Vec<u8>>,
    /// `size`.
    pub size: Option<u64>,
    /// `uid`.
    pub uid: Option<u64>,
    /// `gid`.
    pub gid: Option<u64>,
    /// `mtime`, whole seconds (a fraction is dropped).
    pub mtime: Option<i64>,
}

/// Parses the records of one `x` header's data.
pub fn parse(data: &[u8]) -> crate::Result<PaxOverrides> {
    parse_records(data).map_err(|reason| crate::Error::Malformed {
        what: "pax header",
        reason,
    })
}

/// [`parse`], with the reason as text (the tar reader words it).
pub(crate) fn parse_records(data: &[u8]) -> Result<PaxOverrides, String> {
    if data.len() as u64 > PAX_HEADER_BYTES {
        return Err(format!(
            "a pax header of {} bytes is larger than the {PAX_HEADER_BYTES} nkbackup reads",
            data.len()
        ));
    }
    let mut out = PaxOverrides::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let bad = |why: &str| format!("pax record {n} is malformed: {why}");
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 || rest[0] == b'0' {
            return Err(bad("it does not start with its length in decimal"));
        }
        if rest.get(digits) != Some(&b' ') {
            return Err(bad("no space after its length"));
        }
        let len: usize = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad("its length is not a number"))?;
        if len <= digits + 1 || len > rest.len() {
            return Err(bad("its length runs past the header"));
        }
        let record = &rest[digits + 1..len];
        let Some((&b'\n', body)) = record.split_last() else {
            return Err(bad("it does not end with a newline where its length says"));
        };
        let eq = body
            .iter()
            .position(|&c| c == b'=')
            .ok_or_else(|| bad("it has no '='"))?;
        let (key, value) = (&body[..eq], &body[eq + 1..]);
        if key.is_empty() {
            return Err(bad("its keyword is empty"));
        }
        if seen.contains(&key) {
            return Err(bad("its keyword appears twice in the header"));
        }
        seen.push(key);
        match key {
            b"path" | b"linkpath" => {
                if value.is_empty() {
                    return Err(bad("an empty path"));
                }
                if value.contains(&0) {
                    return Err(bad("a path with a NUL byte, which no file system can hold"));
                }
                let slot = if key == b"path" {
                    &mut out.path
                } else {
                    &mut out.linkpath
                };
                *slot = Some(value.to_vec());
            }
            b"size" => out.size = Some(decimal(value).ok_or_else(|| bad("size is not a number"))?),
            b"uid" => out.uid = Some(decimal(value).ok_or_else(|| bad("uid is not a number"))?),
            b"gid" => out.gid = Some(decimal(value).ok_or_else(|| bad("gid is not a number"))?),
            b"mtime" => {
                out.mtime = Some(time_value(value).ok_or_else(|| bad("mtime is not a time"))?)
            }
            b"atime" | b"ctime" => {
                time_value(value).ok_or_else(|| bad("a time is not a time"))?;
            }
            _ if key.starts_with(b"GNU.sparse.") => {
                return Err(bad("sparse files are not written by nkbackup"));
            }
            // uname, gname, comment, charset, SCHILY.xattr.…: nothing to
            // apply (a stock tar may use xattrs; nkbackup never writes
            // them), so they are skipped as GNU tar skips unknown keys.
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(out)
}

/// A decimal number of at most 19 digits, nothing else.
fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// `[-]seconds[.fraction]`, as whole seconds.
fn time_value(v: &[u8]) -> Option<i64> {
    let (neg, v) = match v.split_first() {
        Some((b'-', r)) => (true, r),
        _ => (false, v),
    };
    let (whole, frac) = match v.iter().position(|&c| c == b'.') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    if frac.is_some_and(|f| f.is_empty() || f.len() > 9 || !f.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let s = i64::try_from(decimal(whole)?).ok()?;
    Some(if neg { -s } else { s })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_length_counts_itself() {
        let mut out = Vec::new();
        push_record(&mut out, "path", b"a");
        assert_eq!(out, b"9 path=a\n");
        for n in 0..300 {
            let mut out = Vec::new();
            let v = vec![b'x'; n];
            push_record(&mut out, "path", &v);
            let sp = out.iter().position(|&c| c == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value length {n}");
            match n {
                0 => assert!(parse_records(&out).is_err(), "an empty path is refused"),
                _ => assert_eq!(parse_records(&out).unwrap().path.map(|p| p.len()), Some(n)),
            }
        }
    }

    #[test]
    fn what_is_written_parses_back() {
        let mut out = Vec::new();
        push_record(&mut out, "path", "a/ü/ß".as_bytes());
        push_record(&mut out, "linkpath", b"t\nwith newline");
        push_record(&mut out, "size", b"8589934592");
        push_record(&mut out, "mtime", b"1700000000.25");
        push_record(&mut out, "SCHILY.xattr.user.x", b"\0binary");
        let p = parse_records(&out).unwrap();
        assert_eq!(p.path.as_deref(), Some("a/ü/ß".as_bytes()));
        assert_eq!(p.linkpath.as_deref(), Some(&b"t\nwith newline"[..]));
        assert_eq!(p.size, Some(8 << 30));
        assert_eq!(p.mtime, Some(1_700_000_000));
    }

    #[test]
    fn malformed_records_are_refused_not_dropped() {
        for bad in [
            &b"-9 path=a\n"[..],
            b"99 path=a\n",
            b"8 path=a\n",
            b"10 path=a\nX",
            b"9 patha\nx",
            b"7 path\n",
            b"6 =ab\n",
            b"09 path=a\n",
            b"x path=a\n",
            b"9path=aa\n",
            b"12 path=a\0b\n",
            b"8 path=\n",
            b"9 path=a\n9 path=b\n",
            b"12 size=12a\n",
            b"15 mtime=1.2.3\n",
            b"25 GNU.sparse.major=1234\n",
        ] {
            assert!(
                parse_records(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_records(&vec![b'x'; (PAX_HEADER_BYTES + 1) as usize]).is_err());
    }
}
