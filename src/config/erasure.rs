//! Erasure periods: the time slices a class's period keys cover.
//!
//! A class with `erasure_period = "7d"` seals every backup to the key of
//! the period its creation time falls in. Periods are aligned to the Unix
//! epoch: the period of length `L` seconds containing time `t` starts at
//! `floor(t / L) * L`. A period is named
//! `<start as YYYYMMDDTHHMMSSZ>-<length>`, the length in the canonical
//! spelling of [`Period`]: `20261126T000000Z-7d`. The name is what
//! key items, sidecars, journals and `nkbackup erase --period` use.

use super::Period;
use std::fmt;
use time::OffsetDateTime;

/// The shortest erasure period accepted: one hour (shorter periods only
/// multiply key items and card operations).
pub const MIN_ERASURE_PERIOD: u64 = 3_600;

/// One period of a class's period keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErasurePeriod {
    start: i64,
    len: Period,
}

impl ErasurePeriod {
    /// The period of length `len` that contains `t`.
    pub fn containing(t: OffsetDateTime, len: Period) -> Self {
        let l = len.as_secs() as i64;
        let start = t.unix_timestamp().div_euclid(l) * l;
        ErasurePeriod { start, len }
    }

    /// When it starts (inclusive).
    pub fn start(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.start).expect("checked when made")
    }

    /// When it ends (exclusive): the next period's start.
    pub fn end(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.start + self.len.as_secs() as i64)
            .expect("checked when made")
    }

    /// Its length.
    pub fn len(&self) -> Period {
        self.len
    }

    /// Whether `t` falls in it.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.start() <= t && t < self.end()
    }

    /// Parses a name [`fmt::Display`] writes, and nothing else: the start
    /// must be aligned to the length and both spelled canonically.
    pub fn parse(name: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "{:?} is not a period name like 20261126T000000Z-7d: {why}",
                crate::text::escape(name)
            )
        };
        if name.len() > 40 {
            return Err(bad("it is too long"));
        }
        let (stamp, len) = name.split_once('-').ok_or_else(|| bad("no '-'"))?;
        let len = Period::parse_typed(len).map_err(|e| bad(&e.to_string()))?;
        if len.as_secs() < MIN_ERASURE_PERIOD {
            return Err(bad("the length is shorter than an hour"));
        }
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let start = time::PrimitiveDateTime::parse(stamp, &fmt)
            .map_err(|_| bad("the start is not YYYYMMDDTHHMMSSZ"))?
            .assume_utc();
        let p = ErasurePeriod::containing(start, len);
        if p.start != start.unix_timestamp() || p.end().year() > 9999 {
            return Err(bad("the start is not a multiple of the length since 1970"));
        }
        if p.to_string() != name {
            return Err(bad("it is not spelled canonically"));
        }
        Ok(p)
    }
}

impl fmt::Display for ErasurePeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.start();
        write!(
            f,
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
            s.year(),
            u8::from(s.month()),
            s.day(),
            s.hour(),
            s.minute(),
            s.second(),
            self.len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_epoch_aligned_and_round_trip() {
        let week = Period::parse("7d").unwrap();
        let t = time::macros::datetime!(2026-12-01 19:40:00 UTC);
        let p = ErasurePeriod::containing(t, week);
        // 1970-01-01 was a Thursday: 7-day periods start on Thursdays.
        assert_eq!(p.to_string(), "20261126T000000Z-7d");
        assert!(p.contains(t));
        assert_eq!(p.end(), time::macros::datetime!(2026-12-03 00:00:00 UTC));
        assert_eq!(ErasurePeriod::parse(&p.to_string()).unwrap(), p);
        for bad in [
            "20261127T000000Z-7d",
            "20261126T000000Z-1w",
            "20261126T000000Z-30m",
            "20261126T000000Z",
            "2026-11-26-7d",
            "",
        ] {
            assert!(ErasurePeriod::parse(bad).is_err(), "{bad}");
        }
    }
}
