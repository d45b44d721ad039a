//! Retention durations: `24h`, `7d`, `90d`, `1d12h`.
//!
//! A duration is one or more groups of a decimal number and a unit, units
//! in strictly decreasing order: `w` (7 days), `d` (24 hours), `h`, `m`,
//! `s`. Months and years are refused because their length varies, and a
//! promise of "30 days" must not become 31. Whitespace, signs, fractions
//! and zero are refused. The largest accepted value is 36 500 days.

use crate::error::RetentionError;
use std::fmt;

/// The largest duration accepted, in seconds (36 500 days).
const MAX_SECS: u64 = 36_500 * 86_400;

/// A positive whole number of seconds, written as `7d` and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    secs: u64,
}

impl Period {
    /// Parses `24h`, `7d`, `90d`, `2w`, `1d12h`…
    pub fn parse(input: &str) -> crate::Result<Self> {
        Ok(Self::parse_typed(input)?)
    }

    pub(crate) fn parse_typed(input: &str) -> Result<Self, RetentionError> {
        let bad = |reason: &str| RetentionError::MalformedDuration {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut secs: u64 = 0;
        let mut last_unit = u64::MAX;
        let mut rest = input.as_bytes();
        while !rest.is_empty() {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(bad("expected a number"));
            }
            if digits > 9 {
                return Err(bad("the number is too large"));
            }
            let n: u64 = std::str::from_utf8(&rest[..digits])
                .expect("ASCII digits")
                .parse()
                .expect("at most 9 digits");
            let unit_len = rest[digits..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            let unit = &rest[digits..digits + unit_len];
            let mult = match unit {
                b"w" => 7 * 86_400,
                b"d" => 86_400,
                b"h" => 3_600,
                b"m" => 60,
                b"s" => 1,
                b"" => return Err(bad("a unit is missing after the number")),
                b"y" | b"mo" | b"M" | b"month" | b"months" | b"year" | b"years" => {
                    return Err(bad(
                        "months and years have no fixed length; write days (30d, 365d)",
                    ));
                }
                _ => return Err(bad("unknown unit")),
            };
            if mult >= last_unit {
                return Err(bad("units must each appear once, largest first (1d12h)"));
            }
            last_unit = mult;
            secs = secs.saturating_add(n.saturating_mul(mult));
            rest = &rest[digits + unit_len..];
            if rest.first().is_some_and(|c| !c.is_ascii_digit()) {
                return Err(bad("unexpected character"));
            }
        }
        if secs == 0 {
            return Err(bad("it must be longer than zero"));
        }
        if secs > MAX_SECS {
            return Err(bad("it is longer than 36500d"));
        }
        Ok(Period { secs })
    }

    /// A period of `secs` seconds (1 ≤ secs ≤ 36 500 days), for code that
    /// computes periods.
    pub fn from_secs(secs: u64) -> Option<Self> {
        (1..=MAX_SECS).contains(&secs).then_some(Period { secs })
    }

    /// Length in seconds.
    pub fn as_secs(&self) -> u64 {
        self.secs
    }

    /// As a [`time::Duration`].
    pub fn to_duration(self) -> time::Duration {
        time::Duration::seconds(self.secs as i64)
    }
}

impl fmt::Display for Period {
    /// The canonical spelling: whole days from two days on (`90d`, `2w` →
    /// `14d`), else whole hours (`24h`, `36h`), else whole minutes, else
    /// mixed (`1h30m5s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        if s.is_multiple_of(86_400) && s >= 2 * 86_400 {
            return write!(f, "{}d", s / 86_400);
        }
        if s.is_multiple_of(3_600) {
            return write!(f, "{}h", s / 3_600);
        }
        if s.is_multiple_of(60) {
            return write!(f, "{}m", s / 60);
        }
        let mut rest = self.secs;
        for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= len {
                write!(f, "{}{unit}", rest / len)?;
                rest %= len;
            }
        }
        Ok(())
    }
}

/// A length of time for people, to the minute from an hour on: `7d3h`,
/// `14h55m`, `45m`, `30s` (the sign is dropped; `0s` for zero).
pub fn span(d: time::Duration) -> String {
    let s = d.whole_seconds().unsigned_abs();
    let mut out = String::new();
    let mut rest = if s >= 3_600 { s - s % 60 } else { s };
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

impl std::str::FromStr for Period {
    type Err = RetentionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Period::parse_typed(s)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn spans_read_like_people_write_them() {
        let d = time::Duration::seconds;
        assert_eq!(span(d(14 * 3_600 + 55 * 60 + 12)), "14h55m");
        assert_eq!(span(d(-(7 * 86_400 + 3 * 3_600))), "7d3h");
        assert_eq!(span(d(45 * 60 + 5)), "45m5s");
        assert_eq!(span(d(30)), "30s");
        assert_eq!(span(d(0)), "0s");
    }
    use super::*;

    #[test]
    fn the_promised_durations_parse() {
        assert_eq!(Period::parse("24h").unwrap().as_secs(), 86_400);
        assert_eq!(Period::parse("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(Period::parse("90d").unwrap().as_secs(), 90 * 86_400);
        assert_eq!(Period::parse("2w").unwrap().as_secs(), 14 * 86_400);
        assert_eq!(Period::parse("1d12h").unwrap().as_secs(), 36 * 3_600);
        assert_eq!(Period::parse("90s").unwrap().as_secs(), 90);
        assert_eq!(Period::parse("90d").unwrap().to_string(), "90d");
        assert_eq!(Period::parse("24h").unwrap().to_string(), "24h");
        assert_eq!(Period::parse("1d").unwrap().to_string(), "24h");
        assert_eq!(Period::parse("1d12h").unwrap().to_string(), "36h");
        assert_eq!(Period::parse("90m").unwrap().to_string(), "90m");
        assert_eq!(Period::parse("1h1s").unwrap().to_string(), "1h1s");
        assert_eq!(Period::parse("2w").unwrap().to_string(), "14d");
    }

    #[test]
    fn malformed_durations_say_why() {
        for (input, why) in [
            ("", "empty"),
            ("7", "unit is missing"),
            ("d", "expected a number"),
            ("7 d", "unit is missing"),
            (" 7d", "expected a number"),
            ("-7d", "expected a number"),
            ("1.5d", "unit is missing"),
            ("7days", "unknown unit"),
            ("1y", "no fixed length"),
            ("3mo", "no fixed length"),
            ("0d", "longer than zero"),
            ("12h1d", "largest first"),
            ("1d1d", "largest first"),
            ("40000d", "longer than 36500d"),
            ("9999999999d", "too large"),
            ("7D", "unknown unit"),
        ] {
            let e = Period::parse(input).unwrap_err().to_string();
            assert!(e.contains(why), "{input:?}: {e}");
            assert!(e.contains("e.g. 24h, 7d, 90d"), "{input:?}: {e}");
        }
    }
}
