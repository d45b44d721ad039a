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
    /// `Some(reason)` when the class keeps backups forever on purpose
    /// (`max_age = "forever"` with `reason`); a class with neither a
    /// deadline nor this is a violation ([`ClassPolicy::keeps_forever`]).
    pub forever: Option<String>,
    /// How late a deletion may complete and still keep the promise
    /// (`deletion_tolerance`; `None`: not at all).
    #[serde(serialize_with = "ser_period_opt")]
    pub tolerance: Option<Period>,
    /// The bound the promise makes (`promise_max`), checked at load.
    #[serde(serialize_with = "ser_period_opt")]
    pub promise_max: Option<Period>,
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
        let invalid = |message: String| RetentionError::ClassInvalid {
            class: class.to_owned(),
            message,
        };
        let forever = c.max_age.as_deref() == Some(FOREVER);
        let forever = match (forever, &c.reason) {
            (true, Some(r)) if !r.trim().is_empty() => Some(r.clone()),
            (true, _) => {
                return Err(invalid(format!(
                    "max_age = \"{FOREVER}\" needs reason = \"…\": say why this class keeps its backups without a deadline (it is shown in every report)"
                ))
                .into());
            }
            (false, Some(_)) => {
                return Err(invalid(format!(
                    "reason is only for max_age = \"{FOREVER}\"; remove it, or use it as the promise"
                ))
                .into());
            }
            (false, None) => None,
        };
        let max_age = if forever.is_some() {
            None
        } else {
            period("max_age", &c.max_age)?
        };
        let p = ClassPolicy {
            class: class.to_owned(),
            promise: c.promise.clone(),
            max_age,
            forever,
            tolerance: period("deletion_tolerance", &c.deletion_tolerance)?,
            promise_max: period("promise_max", &c.promise_max)?,
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
        };
        p.promise_bound().map_err(invalid)?;
        Ok(p)
    }

    /// Whether the class keeps backups forever without saying so on
    /// purpose: no `max_age`, no `max_age = "forever"` with a reason. No
    /// promise can hold for it; check, verify and the report flag it.
    pub fn keeps_forever(&self) -> bool {
        self.max_age.is_none() && self.forever.is_none()
    }

    /// How far ahead of its deadline prune may delete a backup of this
    /// class when asked for `ahead`: at most half of `max_age`, so that a
    /// backup lives at least half its time (a 24-hour class pruned once a
    /// night needs a more frequent prune or a tolerance, not an early
    /// deletion of the backup just made).
    pub fn ahead(&self, ahead: time::Duration) -> time::Duration {
        match self.max_age {
            Some(m) => ahead.min(m.to_duration() / 2),
            None => time::Duration::ZERO,
        }
    }

    /// The deletion tolerance as a duration (zero when none is set).
    pub fn tolerance(&self) -> time::Duration {
        self.tolerance
            .map_or(time::Duration::ZERO, |t| t.to_duration())
    }

    /// The machine-checked promise, if the class states `promise_max`: the
    /// longest a datum can live (source_max_age + max_age, + erasure_period
    /// for a crypto-erased class, whose copies stay readable until the
    /// period's last deadline, + deletion_tolerance) against the bound.
    /// An error says why the promise cannot hold.
    pub fn promise_bound(&self) -> Result<Option<PromiseBound>, String> {
        let Some(bound) = self.promise_max else {
            return Ok(None);
        };
        let Some(max_age) = self.max_age else {
            return Err(format!(
                "promise_max {bound} cannot hold without a deadline: set max_age"
            ));
        };
        let Some(source) = self.source_max_age else {
            return Err(format!(
                "promise_max {bound} needs source_max_age: how long the service itself keeps the data (the bound counts the source and the backups together)"
            ));
        };
        let parts: Vec<(&str, Period)> = [
            ("source_max_age", Some(source)),
            ("max_age", Some(max_age)),
            ("erasure_period", self.erasure_period),
            ("deletion_tolerance", self.tolerance),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| (n, p)))
        .collect();
        let longest: u64 = parts.iter().map(|(_, p)| p.as_secs()).sum();
        let sum = parts
            .iter()
            .map(|(n, p)| format!("{n} {p}"))
            .collect::<Vec<_>>()
            .join(" + ");
        let show = |s: u64| Period::from_secs(s).map_or(format!("{s}s"), |p| p.to_string());
        if longest > bound.as_secs() {
            return Err(format!(
                "{sum} = {} exceeds promise_max {bound}: a datum sealed on its last day at the source can live until then, so the promise is broken by {}; shorten max_age or source_max_age, or correct promise_max",
                show(longest),
                show(longest - bound.as_secs())
            ));
        }
        Ok(Some(PromiseBound {
            bound: bound.to_string(),
            longest: show(longest),
            sum,
            margin: if longest == bound.as_secs() {
                "0s".into()
            } else {
                show(bound.as_secs() - longest)
            },
        }))
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

/// `max_age = "forever"`: a class without a deadline, on purpose.
pub const FOREVER: &str = "forever";

/// A class's promise, checked: how long a datum can live at most, against
/// the bound the promise states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromiseBound {
    /// `promise_max`.
    pub bound: String,
    /// The longest a datum can live under the settings.
    pub longest: String,
    /// How that is made up (`source_max_age 30d + max_age 60d`).
    pub sum: String,
    /// `bound - longest`.
    pub margin: String,
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
