//! POSIX.1-2001 (pax) extended header records.
//!
//! The `tar` crate reads pax records but writes long names with GNU
//! extensions. Backups are documented as pax archives, so nkbackup writes a
//! typed `x` header before any entry whose path, link target or size does not
//! fit the ustar header. A record is `"<len> <key>=<value>\n"` where `<len>`
//! is the decimal length of the whole record, including itself.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_length_counts_itself() {
        let mut out = Vec::new();
        push_record(&mut out, "path", b"a");
        assert_eq!(out, b"9 path=a\n");
        // Crossing a digit boundary: 5 + 93 bytes of value = 98 + "100"? check self-consistency.
        for n in 0..300 {
            let mut out = Vec::new();
            let v = vec![b'x'; n];
            push_record(&mut out, "path", &v);
            let sp = out.iter().position(|&c| c == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value length {n}");
        }
    }
}
