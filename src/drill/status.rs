//! Drill status: when did a drill last pass, per class and per token?

use super::{DrillRecord, Outcome, read_journal};
use crate::error::Result;
use crate::repo::Repository;
use serde::Serialize;
use time::OffsetDateTime;

/// One class or token and its last passed drill.
#[derive(Debug, Clone, Serialize)]
pub struct StatusLine {
    /// Class name, or token label.
    pub name: String,
    /// Token type (`age`, `recovery`, `card-…`); empty for classes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The last passed drill: when, which backup, with which token/class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_passed: Option<LastDrill>,
    /// `ok`, `stale` (older than max_interval) or `never`.
    pub state: DrillState,
}

/// A passed drill, as status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LastDrill {
    /// When it ran.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The backup drilled.
    pub backup_id: String,
    /// The token (for class lines) or class (for token lines).
    pub with: String,
}

/// Whether a class or token has been drilled recently enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillState {
    /// A drill passed within max_interval.
    Ok,
    /// The last passed drill is older than max_interval.
    Stale,
    /// No drill ever passed.
    Never,
}

/// The whole status.
#[derive(Debug, Clone, Serialize)]
pub struct DrillStatus {
    /// When status was evaluated.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The configured interval, in seconds (default 90 days).
    pub max_interval_s: u64,
    /// Per defined class.
    pub classes: Vec<StatusLine>,
    /// Per enrolled token (every sealing recipient).
    pub tokens: Vec<StatusLine>,
    /// Failed drills recorded (all time).
    pub failed: u64,
    /// Journal damage, if any (status is then not trustworthy).
    pub journal_damage: Vec<String>,
}

impl DrillStatus {
    /// Whether everything was drilled within the interval and the journal
    /// is intact.
    pub fn all_ok(&self) -> bool {
        self.journal_damage.is_empty()
            && self
                .classes
                .iter()
                .chain(&self.tokens)
                .all(|l| l.state == DrillState::Ok)
    }
}

/// Evaluates drill status at `now`.
pub fn status(repo: &Repository, now: OffsetDateTime) -> Result<DrillStatus> {
    let cfg = repo.config();
    let interval = cfg.drill_max_interval()?;
    let journal = read_journal(repo)?;
    let passed: Vec<&DrillRecord> = journal
        .records
        .iter()
        .map(|r| &r.record)
        .filter(|r| r.outcome == Outcome::Passed)
        .collect();
    let line =
        |name: &str, kind: &str, last: Option<&&DrillRecord>, with: fn(&DrillRecord) -> String| {
            let last_passed = last.map(|r| LastDrill {
                at: r.started,
                backup_id: r.backup_id.clone(),
                with: with(r),
            });
            let state = match &last_passed {
                None => DrillState::Never,
                Some(l) if now - l.at > interval => DrillState::Stale,
                Some(_) => DrillState::Ok,
            };
            StatusLine {
                name: name.to_owned(),
                kind: kind.to_owned(),
                last_passed,
                state,
            }
        };
    let classes = cfg
        .classes
        .keys()
        .map(|c| {
            let last = passed
                .iter()
                .filter(|r| &r.class == c)
                .max_by_key(|r| r.started);
            line(c, "", last, |r| r.token.label.clone())
        })
        .collect();
    // A token is drilled on its own or as a member of a group drill; a
    // group by a drill of the group.
    let tokens = cfg
        .sealing_recipients()
        .iter()
        .map(|t| {
            let last = passed
                .iter()
                .filter(|r| {
                    r.token.label == t.label || r.members.iter().any(|m| m.label == t.label)
                })
                .max_by_key(|r| r.started);
            line(&t.label, t.kind.as_str(), last, |r| r.class.clone())
        })
        .chain(cfg.groups.iter().map(|g| {
            let last = passed
                .iter()
                .filter(|r| r.token.kind == super::plan::GROUP_KIND && r.token.label == g.name)
                .max_by_key(|r| r.started);
            line(&g.name, super::plan::GROUP_KIND, last, |r| r.class.clone())
        }))
        .collect();
    Ok(DrillStatus {
        at: now,
        max_interval_s: interval.whole_seconds().max(0) as u64,
        classes,
        tokens,
        failed: journal
            .records
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .count() as u64,
        journal_damage: journal
            .damage
            .iter()
            .map(|d| format!("line {}: {}", d.line, d.reason))
            .collect(),
    })
}
