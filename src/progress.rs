//! Byte counts for progress bars: a reader that tells a caller's callback
//! how far a stream has got.
//!
//! The library never draws anything; restore, verify, copy and rewrap take
//! an `on_progress` callback and feed it through [`ProgressReader`].

use std::io::{self, Read};

/// How often the callback hears of progress: every 4 MiB (2^22 bytes),
/// and once at the end of the stream.
const REPORT_SHIFT: u32 = 22;

/// Counts the bytes read through it and calls `report(base + read)` at most
/// every 4 MiB and at the end of the stream.
pub struct ProgressReader<R, F> {
    inner: R,
    base: u64,
    read: u64,
    report: Option<F>,
}

impl<R: Read, F: Fn(u64)> ProgressReader<R, F> {
    /// Reads `inner`, reporting `base` plus the bytes read so far to
    /// `report` (none: it only counts).
    pub fn new(inner: R, base: u64, report: Option<F>) -> Self {
        ProgressReader {
            inner,
            base,
            read: 0,
            report,
        }
    }
}

impl<R: Read, F: Fn(u64)> Read for ProgressReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let before = self.read >> REPORT_SHIFT;
        self.read += n as u64;
        if let Some(f) = &self.report
            && (self.read >> REPORT_SHIFT != before || n == 0)
        {
            f(self.base + self.read);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn reports_every_4_mib_and_at_the_end_from_its_base() {
        let data = vec![7u8; 9 << 20];
        let seen = RefCell::new(Vec::new());
        let mut r = ProgressReader::new(&data[..], 100, Some(|n| seen.borrow_mut().push(n)));
        let mut out = Vec::new();
        io::copy(&mut r, &mut out).unwrap();
        assert_eq!(out.len(), data.len());
        let seen = seen.into_inner();
        assert_eq!(seen.first(), Some(&(100 + (4 << 20))), "{seen:?}");
        assert!(seen.contains(&(100 + (8 << 20))), "{seen:?}");
        assert_eq!(seen.last(), Some(&(100 + (9 << 20))), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    }
}
