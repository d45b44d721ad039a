//! Errors of the retention module, wrapped by [`crate::Error::Retention`].

use std::path::PathBuf;

/// What can go wrong while evaluating, pruning or verifying retention.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// A duration such as `max_age` is not of the form `24h`, `7d`, `90d`.
    #[error(
        "malformed duration {input:?}: {reason}; write a number and a unit, e.g. 24h, 7d, 90d (units: s, m, h, d, w)"
    )]
    MalformedDuration {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A point in time (`--at`, `NKBACKUP_NOW`, `--since`) could not be parsed.
    #[error(
        "malformed time {input:?}: give an RFC 3339 time such as 2026-11-22T05:00:00Z, or a date such as 2026-11-22 (midnight UTC)"
    )]
    MalformedTime {
        /// The text given.
        input: String,
    },

    /// Sealing with `--strict` found files older than the class's
    /// `source_max_age`.
    #[error(
        "{count} file(s) in the sources are older than source_max_age {max_age} of class {class:?} (e.g. {examples}); the service keeps data it promised to delete: delete them at the source"
    )]
    StaleSources {
        /// The class sealed.
        class: String,
        /// How many files are too old.
        count: u64,
        /// The class's `source_max_age`.
        max_age: String,
        /// Some of the paths.
        examples: String,
    },

    /// A backup's deadline cannot be computed: its creation time plus the
    /// class's `max_age` lies beyond the year 9999.
    #[error(
        "its deadline is out of range: created {created} plus max_age {max_age} of class {class:?} lies beyond the year 9999; no real backup was created then, so its sidecar was planted or damaged: it is held, investigate it"
    )]
    DateOutOfRange {
        /// The class.
        class: String,
        /// Its creation time.
        created: String,
        /// The class's `max_age`.
        max_age: String,
    },

    /// A class's retention settings contradict each other or the bound
    /// its promise states (`promise_max`).
    #[error("{message}")]
    ClassInvalid {
        /// The class.
        class: String,
        /// What is wrong and what to change.
        message: String,
    },

    /// A compliance report was asked for with an unsupported file name.
    #[error("cannot write report {path}: the name must end in .md or .html")]
    ReportFormat {
        /// The path given.
        path: PathBuf,
    },
}

impl RetentionError {
    /// What to do next, when the message does not say it.
    pub fn hint(&self) -> Option<super::Hint> {
        match self {
            RetentionError::StaleSources { .. } => Some(super::Hint::SealWithoutStrict),
            _ => None,
        }
    }
}
