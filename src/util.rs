//! Small helpers every layer may use: this host's name, the tool's
//! version, and RFC 3339 times (one formatter and one parser for the
//! whole crate).

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
pub fn parse_time(s: &str) -> Result<OffsetDateTime, RetentionError> {
    let bad = || RetentionError::MalformedTime {
        input: s.to_owned(),
    };
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).map_err(|_| bad())?;
    Ok(d.midnight().assume_utc())
}
