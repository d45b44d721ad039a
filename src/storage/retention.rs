//! S3 Object Lock as the store reports it: an object's retention, and
//! whether a bucket keeps versions and enforces locks. The store's XML
//! answers are hostile input: bounded, parsed once into these types.

use crate::config::LockMode;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The largest answer to a retention or bucket-configuration request
/// that is read (S3's are a few hundred bytes).
pub const ANSWER_BYTES: u64 = 16 * 1024;

/// The retention an object version holds: it cannot be deleted (and, in
/// compliance mode, its retention cannot be shortened) before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The lock's mode.
    pub mode: LockMode,
    /// The retain-until date, UTC, to the second.
    pub until: OffsetDateTime,
}

impl Retention {
    /// The body of a `PutObjectRetention` request.
    pub fn to_xml(&self) -> String {
        format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{}</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
            self.mode.as_s3(),
            crate::util::rfc3339(self.until)
        )
    }

    /// Parses a `GetObjectRetention` answer.
    pub fn from_xml(body: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Xml {
            mode: Option<String>,
            retain_until_date: Option<String>,
        }
        let x: Xml = parse(body)?;
        let mode = x.mode.ok_or("the answer names no retention mode")?;
        let mode = LockMode::from_s3(&mode)
            .ok_or_else(|| format!("unknown retention mode {:?}", crate::text::escape(&mode)))?;
        let until = x
            .retain_until_date
            .ok_or("the answer names no retain-until date")?;
        let bad = || {
            format!(
                "retain-until date {:?} is not an RFC 3339 time nkbackup can represent",
                crate::text::escape(&until)
            )
        };
        let until = OffsetDateTime::parse(&until, &Rfc3339)
            .map_err(|_| bad())?
            .checked_to_offset(time::UtcOffset::UTC)
            .ok_or_else(bad)?;
        let until = until.replace_nanosecond(0).unwrap_or(until);
        Ok(Retention { mode, until })
    }
}

/// What a bucket does about versions and locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSupport {
    /// Versioning and Object Lock are both enabled.
    Enabled,
    /// Something is missing; the text says what, for the admin.
    Missing(String),
}

/// Whether a `GetBucketVersioning` answer says `Enabled` (`Suspended`,
/// or no status for a bucket never versioned, is not).
pub fn versioning_enabled(body: &[u8]) -> Result<bool, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Xml {
        status: Option<String>,
    }
    let x: Xml = parse(body)?;
    Ok(x.status.as_deref() == Some("Enabled"))
}

/// Whether a `GetObjectLockConfiguration` answer says `Enabled`.
pub fn object_lock_enabled(body: &[u8]) -> Result<bool, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Xml {
        object_lock_enabled: Option<String>,
    }
    let x: Xml = parse(body)?;
    Ok(x.object_lock_enabled.as_deref() == Some("Enabled"))
}

/// The `Code` of an S3 error answer, if it is one (at most 64 characters
/// of it, escaped).
pub fn error_code(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Xml {
        code: Option<String>,
    }
    let x: Xml = parse(body).ok()?;
    x.code
        .map(|c| crate::text::escape(&c.chars().take(64).collect::<String>()))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    if body.len() as u64 > ANSWER_BYTES {
        return Err(format!("the answer is larger than {ANSWER_BYTES} bytes"));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_string())?;
    quick_xml::de::from_str(text).map_err(|_| "the answer is not the XML S3 sends".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers as the AWS S3 API reference shows them (GetObjectRetention,
    // GetBucketVersioning, GetObjectLockConfiguration), and as Ceph RGW
    // 16 sends them (with the namespace and fractional seconds).
    #[test]
    fn answers_parse() {
        let r = Retention::from_xml(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode><RetainUntilDate>2026-12-02T07:00:00.000Z</RetainUntilDate></Retention>",
        )
        .unwrap();
        assert_eq!(r.mode, LockMode::Compliance);
        assert_eq!(crate::util::rfc3339(r.until), "2026-12-02T07:00:00Z");
        assert_eq!(Retention::from_xml(r.to_xml().as_bytes()).unwrap(), r);
        assert!(
            versioning_enabled(
                b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
            )
            .unwrap()
        );
        assert!(!versioning_enabled(b"<VersioningConfiguration/>").unwrap());
        assert!(
            !versioning_enabled(
                b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"
            )
            .unwrap()
        );
        assert!(object_lock_enabled(b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>").unwrap());
        assert_eq!(
            error_code(b"<Error><Code>AccessDenied</Code><Message>x</Message></Error>").as_deref(),
            Some("AccessDenied")
        );
    }

    #[test]
    fn hostile_answers_are_refused() {
        for bad in [
            &b"<Retention><Mode>FOREVER</Mode><RetainUntilDate>2026-12-02T07:00:00Z</RetainUntilDate></Retention>"[..],
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate></Retention>",
            b"<Retention><Mode>COMPLIANCE</Mode></Retention>",
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>9999-12-31T23:59:59-01:00</RetainUntilDate></Retention>",
            b"<Retention><RetainUntilDate>2026-12-02T07:00:00Z</RetainUntilDate></Retention>",
            b"\xff\xfe",
            b"<Retention",
        ] {
            assert!(Retention::from_xml(bad).is_err(), "{bad:?}");
        }
        let big = format!(
            "<Retention>{}</Retention>",
            " ".repeat(ANSWER_BYTES as usize)
        );
        assert!(
            Retention::from_xml(big.as_bytes())
                .unwrap_err()
                .contains("larger")
        );
    }
}
