//! The compliance report an auditor reads: Markdown or HTML, with a
//! timeline of backups against their deadlines as SVG (inline in HTML,
//! written beside a Markdown file).

use crate::error::{Result, RetentionError};
use crate::fsio::write_atomic;
use crate::retention::{AuditReport, State};
use crate::util::rfc3339;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

mod html;
mod markdown;
mod timeline;

pub use html::html;
pub use markdown::markdown;
pub use timeline::timeline_svg;

/// Writes the report to `path` (`.md` or `.html`). For Markdown the
/// timeline goes to the same name with `.svg`. Returns the files written.
pub fn write(report: &AuditReport, path: &Path) -> Result<Vec<PathBuf>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name =
        path.file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| RetentionError::ReportFormat {
                path: path.to_owned(),
            })?;
    match ext {
        "md" => {
            let svg_name = format!("{}.svg", &name[..name.len() - 3]);
            write_atomic(dir, &svg_name, timeline_svg(report).as_bytes())?;
            write_atomic(dir, name, markdown(report, &svg_name).as_bytes())?;
            Ok(vec![path.to_owned(), path.with_extension("svg")])
        }
        "html" => {
            write_atomic(dir, name, html(report).as_bytes())?;
            Ok(vec![path.to_owned()])
        }
        _ => Err(RetentionError::ReportFormat {
            path: path.to_owned(),
        }
        .into()),
    }
}

fn opt(t: Option<OffsetDateTime>) -> String {
    t.map(rfc3339).unwrap_or_else(|| "—".into())
}

fn keep_text(k: &crate::config::KeepRules) -> String {
    if k.is_empty() {
        return "keep all within max_age".into();
    }
    let mut v = Vec::new();
    for (n, w) in [
        (k.daily, "daily"),
        (k.weekly, "weekly"),
        (k.monthly, "monthly"),
    ] {
        if n > 0 {
            v.push(format!("{n} {w}"));
        }
    }
    format!("{} + newest", v.join(", "))
}

/// Table rows shared by both formats: (headers, rows).
fn class_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "Class",
        "Promise",
        "Policy",
        "Promise bound",
        "Backups held",
        "Oldest",
        "Next deadline",
        "Overdue",
        "Deleted in period",
    ];
    let rows = r
        .evaluation
        .classes
        .iter()
        .map(|c| {
            let deleted = r
                .deletions
                .iter()
                .filter(|d| d.class.as_deref() == Some(&c.class))
                .count();
            vec![
                c.class.clone(),
                c.promise.clone().unwrap_or_else(|| {
                    if c.configured {
                        "(no promise configured)".into()
                    } else {
                        "(class not configured)".into()
                    }
                }),
                match (&c.max_age, &c.forever) {
                    (Some(m), _) => format!(
                        "max_age {m}; {}; {}",
                        keep_text(&c.keep),
                        match &c.tolerance {
                            Some(t) => format!("deletion tolerance {t}"),
                            None => "no deletion tolerance".into(),
                        }
                    ),
                    (None, Some(why)) => format!("kept forever on purpose: {why}"),
                    (None, None) if c.keeps_forever => {
                        "NO DEADLINE: keeps backups forever, no promise can hold".into()
                    }
                    (None, None) => "—".into(),
                },
                match &c.promise_bound {
                    Some(b) => format!(
                        "promise_max {} ≥ {} = {}; margin {}",
                        b.bound, b.sum, b.longest, b.margin
                    ),
                    None => "not stated (no promise_max)".into(),
                },
                c.backups.to_string(),
                opt(c.oldest),
                opt(c.next_deadline),
                c.overdue.to_string(),
                deleted.to_string(),
            ]
        })
        .collect();
    (head, rows)
}

/// How the absence of the deleted objects was established.
fn absence_text(r: &AuditReport) -> String {
    let a = &r.absence;
    let lock = match &r.object_lock {
        Some(l) => format!(" Object Lock: {l}."),
        None => String::new(),
    };
    format!(
        "Absence of the {} object(s) of completed deletions in {} was checked: {}; versions: {}.{lock}",
        a.objects_checked, a.location, a.method, a.versions
    )
}

fn deletion_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "Deleted at",
        "Intent at",
        "Backup",
        "Class",
        "Created",
        "Deadline",
        "Reason",
        "Before deadline",
    ];
    let rows = r
        .deletions
        .iter()
        .map(|d| {
            vec![
                opt(d.done_at),
                opt(d.intent_at),
                d.id.clone().unwrap_or_else(|| d.path.clone()),
                d.class.clone().unwrap_or_default(),
                opt(d.created),
                opt(d.deadline),
                serde_json::to_value(d.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                before_deadline(r, d),
            ]
        })
        .collect();
    (head, rows)
}

/// "yes, 9h before" / "LATE by 14h55m: promise broken" / "late by 20m,
/// within deletion_tolerance 1h".
fn before_deadline(r: &AuditReport, d: &crate::retention::prune::Deletion) -> String {
    use crate::config::duration::span;
    let Some(lead) = d.lead() else {
        return "—".into();
    };
    if lead >= time::Duration::ZERO {
        return format!("yes, {} before", span(lead));
    }
    let tolerance = d
        .class
        .as_deref()
        .and_then(|c| r.evaluation.classes.iter().find(|s| s.class == c))
        .and_then(|c| c.tolerance.clone());
    let late = r.violations.iter().any(|v| {
        v.kind == crate::retention::ProblemKind::DeletedLate && Some(&v.subject) == d.id.as_ref()
    });
    match tolerance {
        Some(t) if !late => format!("late by {}, within deletion tolerance {t}", span(lead)),
        _ => format!("NO: {} LATE, promise broken", span(lead)),
    }
}

/// The journals' heads, for the auditor to keep: (headers, rows).
fn head_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "Journal",
        "Lines",
        "Head (keep this)",
        "Against the expected head",
        "Against the witness",
    ];
    let rows = r
        .heads
        .iter()
        .map(|j| {
            vec![
                j.journal.clone(),
                j.head.seq.to_string(),
                format!("--expect-head {}={}", j.journal, j.head),
                match (&j.expected, j.extends_expected) {
                    (Some(e), Some(true)) => format!("extends {e}"),
                    (Some(e), _) => format!("REWRITTEN: does not extend {e}"),
                    _ => "none given".into(),
                },
                match (&j.witnessed, j.extends_witnessed) {
                    (Some(w), Some(true)) => format!("extends {w}"),
                    (Some(w), _) => format!("REWRITTEN: does not extend {w}"),
                    (None, Some(false)) => "REWRITTEN: the witness cannot be checked".into(),
                    _ if r.witness.is_some() => "the witness holds no head yet".into(),
                    _ => "no witness configured".into(),
                },
            ]
        })
        .collect();
    (head, rows)
}

/// What the heads are for, in one sentence.
const HEADS_INTRO: &str = "Copy these lines and keep them outside the repository. The next verification with `nkbackup retention verify --expect-head JOURNAL=SEQ:SHA256` proves each journal still begins with exactly the lines seen now, whatever was appended since: a journal rewritten consistently, chain and head together, fails it.";

fn period_text(r: &AuditReport) -> String {
    match r.since {
        Some(s) => format!("{} to {}", rfc3339(s), rfc3339(r.evaluation.at)),
        None => format!(
            "from the start of the deletion journal to {}",
            rfc3339(r.evaluation.at)
        ),
    }
}

/// Drill status per class and token: (header, rows).
fn drill_status_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = r
        .drills
        .classes
        .iter()
        .map(|l| ("class", l))
        .chain(r.drills.tokens.iter().map(|l| ("token", l)))
        .map(|(what, l)| {
            vec![
                what.to_owned(),
                l.name.clone(),
                format!("{:?}", l.state).to_lowercase(),
                l.last_passed
                    .as_ref()
                    .map(|p| format!("{} ({}, {})", rfc3339(p.at), p.backup_id, p.with))
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    (vec!["", "name", "state", "last passed drill"], rows)
}

/// Drills in the period: (header, rows).
fn drill_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = r
        .drills_in_period
        .iter()
        .enumerate()
        .map(|(i, d)| {
            vec![
                rfc3339(d.started),
                d.backup_id.clone(),
                d.class.clone(),
                if d.members.is_empty() {
                    format!("{} ({})", d.token.label, d.token.kind)
                } else {
                    let m: Vec<&str> = d.members.iter().map(|m| m.label.as_str()).collect();
                    format!("{} ({}: {})", d.token.label, d.token.kind, m.join(", "))
                },
                format!("{:?}", d.outcome).to_lowercase(),
                format!("{:.1} s", d.duration_s),
                r.drill_signatures
                    .get(i)
                    .map(|s| s.describe())
                    .unwrap_or_default(),
                d.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    (
        vec![
            "started",
            "backup",
            "class",
            "token",
            "outcome",
            "duration",
            "signature",
            "error",
        ],
        rows,
    )
}

/// The rewraps in the period: when, what, who could open it before and
/// after, the new ciphertext digest (shortened) and who opened it.
fn rewrap_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = r
        .rewraps
        .in_period
        .iter()
        .map(|x| {
            vec![
                rfc3339(x.at),
                format!("{} {} ({})", x.item, x.id, x.class),
                x.old_recipients.join(", "),
                x.new_recipients.join(", "),
                // Journal lines are repository input: cut by characters.
                format!(
                    "{}… → {}…",
                    x.old_ciphertext_sha256.chars().take(12).collect::<String>(),
                    x.new_ciphertext_sha256.chars().take(12).collect::<String>()
                ),
                x.opened_with.join(", "),
            ]
        })
        .collect();
    (
        vec![
            "at",
            "item",
            "could open before",
            "can open now",
            "SHA-256 old → new",
            "opened with",
        ],
        rows,
    )
}

/// One sentence on the rewrap journal's condition.
fn rewrap_intro(r: &AuditReport) -> String {
    let x = &r.rewraps;
    let mut s = format!(
        "`{}`: {} line(s); hash chain and head: {}. A rewrap gives a backup a new header for the current recipients (a revoked token opens it no more; docs/FORMAT.md §5.1).",
        x.path,
        x.lines,
        if x.intact { "intact" } else { "DAMAGED" }
    );
    if !x.pending.is_empty() {
        s.push_str(&format!(
            " Interrupted, to be finished with `nkbackup rewrap`: {}.",
            x.pending.join(", ")
        ));
    }
    s
}

/// The crypto-erasures in the period: which period keys, the backups
/// they put beyond use, and what every keyring location answers now.
fn erasure_rows(r: &AuditReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = r
        .erasures
        .in_period
        .iter()
        .map(|x| {
            let shown: Vec<&str> = x.backups.iter().take(10).map(String::as_str).collect();
            let more = x.backups.len().saturating_sub(shown.len());
            vec![
                rfc3339(x.at),
                format!("{} {}", x.class, x.period),
                x.reason.to_string(),
                if more > 0 {
                    format!("{} and {more} more", shown.join(", "))
                } else if shown.is_empty() {
                    "none".into()
                } else {
                    shown.join(", ")
                },
                x.locations
                    .iter()
                    .map(|l| {
                        let state = match (&l.error, l.absent) {
                            (Some(e), _) => format!("NOT CHECKED: {e}"),
                            (None, true) => "absent (listing and lookup)".into(),
                            (None, false) => "STILL PRESENT".into(),
                        };
                        format!("{}: {state}", l.location)
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    (
        vec![
            "erased at",
            "class and period",
            "why",
            "backups put beyond use",
            "keyring locations now",
        ],
        rows,
    )
}

fn erasure_intro(r: &AuditReport) -> String {
    let x = &r.erasures;
    format!(
        "`{}`: {} line(s), {} crypto-erasure(s) in all; hash chain and head: {}. Erasing a period's key puts every copy of its backups beyond use, replicas and bucket versions included (docs/RETENTION.md, \"Crypto-erasure\"). Keyring locations checked: {}. A copy of a key item kept outside these locations is not erased and cannot be checked here.",
        x.path,
        x.lines,
        x.total,
        if x.intact { "intact" } else { "DAMAGED" },
        x.locations.join(", ")
    )
}

fn drill_intro(r: &AuditReport) -> String {
    use crate::drill::SignatureState as S;
    let count = |f: fn(&S) -> bool| r.drill_signatures.iter().filter(|s| f(s)).count();
    format!(
        "Every class and every enrolled token must pass a restore drill at least every {} days; {} failed drill(s) are recorded in all. Drills in the period: {}; signed by their token (proof that the token itself was present): {}; unsigned: {}; not verifiable: {}; INVALID signature: {}.",
        r.drills.max_interval_s / 86400,
        r.drills.failed,
        r.drill_signatures.len(),
        count(|s| matches!(s, S::Signed { .. })),
        count(|s| matches!(s, S::Unsigned { .. })),
        count(|s| matches!(s, S::Unverifiable { .. })),
        count(|s| matches!(s, S::Invalid { .. })),
    )
}

/// `s` escaped for HTML and SVG text and attributes.
fn h(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
