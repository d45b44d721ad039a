//! Small helpers every layer may use: this host's name, the tool's
//! version, RFC 3339 times (one formatter and one parser for the whole
//! crate), and randomness (one source: the operating system's).

use crate::error::RetentionError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// This host's name, as recorded in manifests.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// `nkbackup <version>`.
pub fn tool_version() -> String {
    format!("nkbackup {}", env!("CARGO_PKG_VERSION"))
}

/// The current UTC time in RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// RFC 3339 in UTC, to the second (`2026-11-22T05:00:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Seconds since the Unix epoch as RFC 3339 UTC (the number itself when
/// it is out of `time`'s range).
pub fn rfc3339_unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_else(|_| secs.to_string())
}

/// Parses an RFC 3339 time (any offset, converted to UTC) or a plain date
/// `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(s: &str) -> crate::Result<OffsetDateTime> {
    let bad = || RetentionError::MalformedTime {
        input: s.to_owned(),
    };
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).map_err(|_| crate::Error::from(bad()))?;
    Ok(d.midnight().assume_utc())
}

/// Fills `buf` from the operating system's random source (`getrandom(2)`),
/// the one source of randomness nkbackup uses for keys, salts, IVs, ids
/// and temporary names.
///
/// # Panics
///
/// If the operating system cannot provide randomness, as the `age` crate
/// and `rand`'s `OsRng` do: nothing secure can continue without it.
pub fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random source (getrandom) failed");
}

/// A uniformly random index below `n` (`n` > 0), from [`fill_random`].
pub fn random_below(n: usize) -> usize {
    assert!(n > 0, "random_below(0)");
    let n = n as u64;
    // Rejection sampling: no modulo bias.
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut b = [0u8; 8];
        fill_random(&mut b);
        let v = u64::from_le_bytes(b);
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// The error of type `T` that `e` carries inside it, or `e` itself when it
/// carries none: how a typed error passes through readers that only speak
/// `io::Error` (decryption, decompression) and comes out typed.
pub(crate) fn carried<T: std::error::Error + Send + Sync + 'static>(
    e: std::io::Error,
) -> Result<T, std::io::Error> {
    if !e.get_ref().is_some_and(|i| i.is::<T>()) {
        return Err(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|i| i.downcast::<T>()) {
        Some(Ok(t)) => Ok(*t),
        Some(Err(other)) => Err(std::io::Error::new(kind, other)),
        None => Err(std::io::Error::from(kind)),
    }
}
