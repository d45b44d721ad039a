//! Backup identifiers.
//!
//! An id is the UTC creation time to the second followed by 32 random bits:
//! `20261122T052407Z-3fa9c1d2`. Ids sort by time, are safe as file names, and
//! can be abbreviated to any unique prefix or to the random suffix.

use crate::error::{Error, Result};
use std::fmt;
use time::OffsetDateTime;

/// A backup's identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId(String);

impl BackupId {
    /// Makes a fresh id for a backup created at `created`.
    pub fn new(created: OffsetDateTime) -> Self {
        let t = created.to_offset(time::UtcOffset::UTC);
        let mut r = [0u8; 4];
        crate::util::fill_random(&mut r);
        BackupId(format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            hex::encode(r)
        ))
    }

    /// Parses a complete id, checking its shape.
    pub fn parse(s: &str) -> Result<Self> {
        if Self::is_well_formed(s) {
            Ok(BackupId(s.to_owned()))
        } else {
            Err(Error::InvalidName {
                what: "backup id",
                value: s.to_owned(),
                reason: "expected the form YYYYMMDDTHHMMSSZ-xxxxxxxx".into(),
            })
        }
    }

    /// Whether `s` has the shape of an id and names a real time.
    pub fn is_well_formed(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 25
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'T'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'Z'
            && b[16] == b'-'
            && b[17..]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            && time_of(b).is_some()
    }

    /// The creation time the id names (UTC, to the second).
    pub fn created(&self) -> Option<OffsetDateTime> {
        time_of(self.0.as_bytes())
    }

    /// Whether `query` designates this id: the whole id, a prefix of it, or
    /// a prefix of its random part.
    pub fn matches(&self, query: &str) -> bool {
        !query.is_empty() && (self.0.starts_with(query) || self.0[17..].starts_with(query))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The time in the first 16 bytes of an id, if they name one.
fn time_of(b: &[u8]) -> Option<OffsetDateTime> {
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(b.get(r)?).ok()?.parse().ok()
    };
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        month,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let t = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(t).assume_utc())
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_have_time_and_random_part() {
        let id = BackupId::new(datetime!(2026-11-22 05:24:07 UTC));
        assert!(id.as_str().starts_with("20261122T052407Z-"), "{id}");
        assert!(BackupId::is_well_formed(id.as_str()));
        assert!(BackupId::parse(id.as_str()).is_ok());
        assert_eq!(id.created(), Some(datetime!(2026-11-22 05:24:07 UTC)));
        assert!(id.matches("20261122T05"));
        assert!(id.matches(&id.as_str()[17..21]));
        assert!(!id.matches(""));
        assert!(!id.matches("2025"));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "../etc",
            "20261122T052407Z-3fa9c1dG",
            "20261122T052407Z_3fa9c1d2",
            "20261322T052407Z-3fa9c1d2",
            "20260230T052407Z-3fa9c1d2",
            "20261122T256007Z-3fa9c1d2",
        ] {
            assert!(BackupId::parse(bad).is_err(), "{bad}");
        }
    }
}
