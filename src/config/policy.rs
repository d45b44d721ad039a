//! Retention policy: what each class promises, parsed from `nkbackup.toml`.
//!
//! A class's policy is
//! * `max_age`: every backup of the class must be gone by
//!   `created + max_age` (its *deadline*); without it backups of the class
//!   have no deadline;
//! * `promise`: the sentence of the privacy policy the class implements;
//! * keep rules `keep_daily`, `keep_weekly`, `keep_monthly`, which thin out
//!   backups *inside* `max_age` (see [`KeepRules`]); they never keep a
//!   backup past its deadline;
//! * `source_max_age`: files in a sealed tree older than this are reported
//!   at seal time.
//!
//! The policy is always recomputed from the current configuration; a
//! deadline recorded in a sidecar at seal time is only reported beside it.

use super::Period;
use super::{ClassConfig, Config};
use crate::error::RetentionError;
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// How many backups the keep rules retain inside `max_age`.
///
/// When all three are zero (the default) every backup is kept until its
/// deadline. Otherwise a backup is kept if it is the newest backup of one
/// of the `keep_daily` most recent UTC days that have backups, of one of
/// the `keep_weekly` most recent ISO weeks, or of one of the
/// `keep_monthly` most recent calendar months; the newest restorable
/// backup is always kept; everything else is *surplus* and pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KeepRules {
    /// Newest backup of each of this many most recent days.
    pub daily: u32,
    /// Newest backup of each of this many most recent ISO weeks.
    pub weekly: u32,
    /// Newest backup of each of this many most recent months.
    pub monthly: u32,
}

impl KeepRules {
    /// Whether no keep rule is set (keep everything inside `max_age`).
    pub fn is_empty(&self) -> bool {
        self.daily == 0 && self.weekly == 0 && self.monthly == 0
    }
}

/// The policy of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassPolicy {
    /// The class name.
    pub class: String,
    /// The promise text, if configured.
    pub promise: Option<String>,
    /// Maximum age of a backup; `None` means no deadline.
    #[serde(serialize_with = "ser_period_opt")]
    pub max_age: Option<Period>,
    /// Keep rules inside `max_age`.
    pub keep: KeepRules,
    /// Files older than this in a sealed tree are reported.
    #[serde(serialize_with = "ser_period_opt")]
    pub source_max_age: Option<Period>,
    /// Length of the periods whose backups share a period key, if the
    /// class is crypto-erased (docs/RETENTION.md, "Crypto-erasure").
    #[serde(serialize_with = "ser_period_opt")]
    pub erasure_period: Option<Period>,
    /// How the class's backups are compressed (not retention, but the
    /// class's other typed setting, resolved at the same time).
    #[serde(skip)]
    pub compression: crate::compression::Compression,
}

fn ser_period_opt<S: serde::Serializer>(p: &Option<Period>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_some(&p.to_string()),
        None => s.serialize_none(),
    }
}

impl ClassPolicy {
    /// Parses `[classes.NAME]`: its retention keys and its compression.
    pub fn from_config(class: &str, c: &ClassConfig) -> crate::Result<Self> {
        let period = |key: &str, v: &Option<String>| -> Result<Option<Period>, RetentionError> {
            v.as_deref()
                .map(|s| {
                    Period::parse_typed(s).map_err(|e| match e {
                        RetentionError::MalformedDuration { input, reason } => {
                            RetentionError::MalformedDuration {
                                input,
                                reason: format!("{key}: {reason}"),
                            }
                        }
                        e => e,
                    })
                })
                .transpose()
        };
        Ok(ClassPolicy {
            class: class.to_owned(),
            promise: c.promise.clone(),
            max_age: period("max_age", &c.max_age)?,
            keep: KeepRules {
                daily: c.keep_daily.unwrap_or(0),
                weekly: c.keep_weekly.unwrap_or(0),
                monthly: c.keep_monthly.unwrap_or(0),
            },
            source_max_age: period("source_max_age", &c.source_max_age)?,
            erasure_period: match period("erasure_period", &c.erasure_period)? {
                Some(p) if p.as_secs() < super::erasure::MIN_ERASURE_PERIOD => {
                    return Err(RetentionError::MalformedDuration {
                        input: p.to_string(),
                        reason: "erasure_period: it must be at least an hour".into(),
                    }
                    .into());
                }
                p => p,
            },
            compression: c.compression()?,
        })
    }

    /// The deadline of a backup created at `created`, if the class has
    /// one; an error if it falls outside the dates nkbackup computes with
    /// (a creation time far in the future, as only a planted sidecar has).
    pub fn deadline(&self, created: OffsetDateTime) -> crate::Result<Option<OffsetDateTime>> {
        let Some(m) = self.max_age else {
            return Ok(None);
        };
        created
            .checked_add(m.to_duration())
            .filter(|d| d.year() <= 9999)
            .map(Some)
            .ok_or_else(|| {
                crate::Error::from(RetentionError::DateOutOfRange {
                    class: self.class.clone(),
                    created: crate::util::rfc3339(created),
                    max_age: m.to_string(),
                })
            })
    }

    /// How long before its deadline a backup counts as "due soon": a
    /// quarter of `max_age`, at most 24 hours.
    pub fn due_soon_window(&self) -> time::Duration {
        match self.max_age {
            Some(m) => time::Duration::seconds((m.as_secs() / 4).min(86_400) as i64),
            None => time::Duration::ZERO,
        }
    }
}

/// The policies of all configured classes.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// By class name.
    pub classes: BTreeMap<String, ClassPolicy>,
}

impl Policy {
    /// The policy the configuration describes. The configuration has been
    /// checked when it was parsed, so this only fails on a hand-built one.
    pub fn from_config(cfg: &Config) -> crate::Result<Self> {
        let classes = cfg
            .classes
            .iter()
            .map(|(n, c)| Ok((n.clone(), ClassPolicy::from_config(n, c)?)))
            .collect::<crate::Result<_>>()?;
        Ok(Policy { classes })
    }

    /// The policy of `class`, if it is configured.
    pub fn class(&self, class: &str) -> Option<&ClassPolicy> {
        self.classes.get(class)
    }
}
