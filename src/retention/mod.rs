//! Retention: classes with deadlines, prune, and proof of deletion.
//!
//! A privacy policy promises "logs are deleted after 7 days"; a backup that
//! outlives the promise breaks it. Each class in `nkbackup.toml` states its
//! `max_age` and the promise it implements ([`policy`]). From sidecars
//! alone, without any key, nkbackup
//! * evaluates every backup against the *current* policy ([`mod@evaluate`]);
//! * prunes what is overdue or surplus, journaling each deletion in an
//!   append-only, hash-chained journal before and after it ([`mod@prune`],
//!   [`journal`]);
//! * proves the state: every journaled deletion is gone, nothing overdue
//!   exists, nothing is orphaned, and writes a report an auditor can read
//!   ([`mod@audit`], [`crate::render::report`]).
//!
//! All times are UTC. The clock is injectable ([`Clock`]) so that tests
//! and what-if questions ("what is overdue next Monday?") never wait.
//! docs/RETENTION.md specifies the semantics and the journal format.

pub use crate::config::{duration, policy};
mod assessment;
pub mod audit;
pub mod erasure;
pub mod evaluate;
pub mod journal;
mod locks;
pub mod prune;

pub use crate::config::{ClassPolicy, KeepRules, Period, Policy};
pub use crate::error::RetentionError;
pub use crate::util::{parse_time, rfc3339};
pub use audit::{AuditOptions, AuditReport, audit};
pub use evaluate::{
    Action, Assessment, ClassSummary, DEFAULT_GRACE, Evaluation, Problem, ProblemKind, State,
    evaluate,
};
pub use prune::{PruneOptions, PruneReport, prune};

use time::OffsetDateTime;

/// Environment variable that fixes "now" for the CLI (RFC 3339 or a date).
pub const NOW_ENV: &str = "NKBACKUP_NOW";

/// The tests' crash hook: aborts the process when the environment variable
/// `env` is `step` (builds with the `test-hooks` feature only; a library
/// that services embed never aborts because of its environment).
#[cfg(feature = "test-hooks")]
pub(crate) fn crash_hook(env: &str, step: &str) {
    if std::env::var(env).is_ok_and(|v| v == step) {
        std::process::abort();
    }
}

#[cfg(not(feature = "test-hooks"))]
pub(crate) fn crash_hook(_env: &str, _step: &str) {}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock, in UTC.
    System,
    /// A fixed time (`--at`, `NKBACKUP_NOW`, tests).
    Fixed(OffsetDateTime),
}

impl Clock {
    /// The current time on this clock, UTC, to the second.
    pub fn now(&self) -> OffsetDateTime {
        let t = match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(t) => t.to_offset(time::UtcOffset::UTC),
        };
        t.replace_nanosecond(0).expect("0 is a valid nanosecond")
    }

    /// Whether the time is injected rather than the system's.
    pub fn is_injected(&self) -> bool {
        matches!(self, Clock::Fixed(_))
    }

    /// `Fixed(parse_time(s))` for `Some(s)`, else `System`.
    pub fn from_option(s: Option<&str>) -> crate::Result<Self> {
        Ok(match s {
            Some(s) => Clock::Fixed(parse_time(s)?),
            None => Clock::System,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc() {
        let t = parse_time("2026-11-22T07:00:00+02:00").unwrap();
        assert_eq!(rfc3339(t), "2026-11-22T05:00:00Z");
        assert_eq!(
            rfc3339(parse_time("2026-11-22").unwrap()),
            "2026-11-22T00:00:00Z"
        );
        for bad in ["", "yesterday", "2026-13-01", "2026-11-22 05:00"] {
            let e = parse_time(bad).unwrap_err().to_string();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
        assert_eq!(
            Clock::from_option(Some("2026-01-01")).unwrap().now(),
            parse_time("2026-01-01T00:00:00Z").unwrap()
        );
    }
}
