//! The compliance report an auditor reads: Markdown or HTML, with a
//! timeline of backups against their deadlines as SVG (inline in HTML,
//! written beside a Markdown file).

use super::RetentionError;
use super::evaluate::State;
use super::rfc3339;
use super::verify::VerifyReport;
use crate::error::Result;
use crate::repo::write_atomic;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Backups drawn per class in the timeline; more are sampled evenly.
const MAX_BARS_PER_CLASS: usize = 400;

/// Writes the report to `path` (`.md` or `.html`). For Markdown the
/// timeline goes to the same name with `.svg`. Returns the files written.
pub fn write(report: &VerifyReport, path: &Path) -> Result<Vec<PathBuf>> {
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

fn keep_text(k: &super::KeepRules) -> String {
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
fn class_rows(r: &VerifyReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "Class",
        "Promise",
        "Policy",
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
                match &c.max_age {
                    Some(m) => format!("max_age {m}; {}", keep_text(&c.keep)),
                    None => "no max_age".into(),
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
fn absence_text(r: &VerifyReport) -> String {
    let a = &r.absence;
    format!(
        "Absence of the {} object(s) of completed deletions in {} was checked: {}; versions: {}.",
        a.objects_checked, a.location, a.method, a.versions
    )
}

fn deletion_rows(r: &VerifyReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
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
                match (d.done_at, d.deadline) {
                    (Some(a), Some(dl)) if a <= dl => "yes".into(),
                    (Some(a), Some(dl)) => format!("no, {} late", late(a - dl)),
                    _ => "—".into(),
                },
            ]
        })
        .collect();
    (head, rows)
}

fn late(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0) as u64;
    super::Period::from_secs(s.max(1))
        .map(|p| p.to_string())
        .unwrap_or_else(|| format!("{s}s"))
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md_escape(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

fn period_text(r: &VerifyReport) -> String {
    match r.since {
        Some(s) => format!("{} to {}", rfc3339(s), rfc3339(r.evaluation.at)),
        None => format!(
            "from the start of the deletion journal to {}",
            rfc3339(r.evaluation.at)
        ),
    }
}

/// Drill status per class and token: (header, rows).
fn drill_status_rows(r: &VerifyReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
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
fn drill_rows(r: &VerifyReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = r
        .drills_in_period
        .iter()
        .map(|d| {
            vec![
                rfc3339(d.started),
                d.backup_id.clone(),
                d.class.clone(),
                format!("{} ({})", d.token.label, d.token.kind),
                format!("{:?}", d.outcome).to_lowercase(),
                format!("{:.1} s", d.duration_s),
                d.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    (
        vec![
            "started", "backup", "class", "token", "outcome", "duration", "error",
        ],
        rows,
    )
}

fn drill_intro(r: &VerifyReport) -> String {
    format!(
        "Every class and every enrolled token must pass a restore drill at least every {} days; {} failed drill(s) are recorded in all.",
        r.drills.max_interval_s / 86400,
        r.drills.failed
    )
}

/// The report as Markdown; `svg_name` is the timeline image beside it.
pub fn markdown(r: &VerifyReport, svg_name: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Retention compliance report\n");
    let _ = writeln!(o, "* Repository: `{}`", r.repository);
    let _ = writeln!(
        o,
        "* Generated at: {} (all times UTC)",
        rfc3339(r.evaluation.at)
    );
    let _ = writeln!(o, "* Period: {}", period_text(r));
    let _ = writeln!(o, "* Tool: {}", r.tool);
    let _ = writeln!(
        o,
        "* Result: **{}**\n",
        if r.passed() {
            "PASS: every journaled deletion is gone, nothing is overdue, nothing is orphaned"
                .to_owned()
        } else {
            format!("FAIL: {} violation(s), listed below", r.violations.len())
        }
    );
    let _ = writeln!(o, "## Classes\n");
    let (h, rows) = class_rows(r);
    md_table(&mut o, &h, &rows);
    let _ = writeln!(o, "\n## Violations\n");
    if r.violations.is_empty() {
        let _ = writeln!(o, "None.");
    }
    for v in &r.violations {
        let kind = serde_json::to_value(v.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(o, "* **{kind}** `{}`: {}", v.subject, md_escape(&v.detail));
    }
    let _ = writeln!(o, "\n## Deletions in the period\n");
    if r.deletions.is_empty() {
        let _ = writeln!(o, "None.");
    } else {
        let (h, rows) = deletion_rows(r);
        md_table(&mut o, &h, &rows);
    }
    let _ = writeln!(o, "\n{}", md_escape(&absence_text(r)));
    let _ = writeln!(o, "\n## Deletion journal\n");
    let _ = writeln!(
        o,
        "`{}`: {} line(s), {} completed deletion(s) in all; hash chain and head: **{}**.",
        r.journal.path,
        r.journal.lines,
        r.journal.deletions,
        if r.journal.intact {
            "intact"
        } else {
            "DAMAGED"
        }
    );
    for d in &r.journal.damage {
        let _ = writeln!(o, "* line {}: {}", d.line, md_escape(&d.reason));
    }
    let _ = writeln!(o, "\n## Restore drills\n\n{}\n", drill_intro(r));
    let (h, rows) = drill_status_rows(r);
    md_table(&mut o, &h, &rows);
    let _ = writeln!(o, "\n### Drills in the period\n");
    if r.drills_in_period.is_empty() {
        let _ = writeln!(o, "None.");
    } else {
        let (h, rows) = drill_rows(r);
        md_table(&mut o, &h, &rows);
    }
    let _ = writeln!(
        o,
        "\n## Timeline\n\nEach bar is a backup held, from its creation to its deadline (green: within policy, orange: due soon, blue: no deadline), red where it outlives its deadline; thin grey bars are deleted backups from creation to deletion, ending in a black tick, the vertical line is the time of this report.\n\n![Timeline of backups against deadlines]({svg_name})"
    );
    o
}

fn h(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table>\n<tr>");
    for c in head {
        let _ = write!(out, "<th>{}</th>", h(c));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", h(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The report as a self-contained HTML page with the timeline inline.
pub fn html(r: &VerifyReport) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Retention compliance report</title>\n<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em;text-align:left}.pass{color:#060}.fail{color:#b00}</style></head><body>\n");
    o.push_str("<h1>Retention compliance report</h1>\n<ul>");
    let _ = write!(o, "<li>Repository: <code>{}</code></li>", h(&r.repository));
    let _ = write!(
        o,
        "<li>Generated at: {} (all times UTC)</li>",
        rfc3339(r.evaluation.at)
    );
    let _ = write!(o, "<li>Period: {}</li>", h(&period_text(r)));
    let _ = write!(o, "<li>Tool: {}</li>", h(&r.tool));
    if r.passed() {
        o.push_str("<li>Result: <strong class=\"pass\">PASS: every journaled deletion is gone, nothing is overdue, nothing is orphaned</strong></li>");
    } else {
        let _ = write!(
            o,
            "<li>Result: <strong class=\"fail\">FAIL: {} violation(s), listed below</strong></li>",
            r.violations.len()
        );
    }
    o.push_str("</ul>\n<h2>Classes</h2>\n");
    let (hd, rows) = class_rows(r);
    html_table(&mut o, &hd, &rows);
    o.push_str("<h2>Violations</h2>\n");
    if r.violations.is_empty() {
        o.push_str("<p>None.</p>\n");
    } else {
        o.push_str("<ul>\n");
        for v in &r.violations {
            let kind = serde_json::to_value(v.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "<li><strong>{}</strong> <code>{}</code>: {}</li>",
                h(&kind),
                h(&v.subject),
                h(&v.detail)
            );
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<h2>Deletions in the period</h2>\n");
    if r.deletions.is_empty() {
        o.push_str("<p>None.</p>\n");
    } else {
        let (hd, rows) = deletion_rows(r);
        html_table(&mut o, &hd, &rows);
    }
    let _ = writeln!(o, "<p>{}</p>", h(&absence_text(r)));
    let _ = writeln!(
        o,
        "<h2>Deletion journal</h2>\n<p><code>{}</code>: {} line(s), {} completed deletion(s) in all; hash chain and head: <strong>{}</strong>.</p>",
        h(&r.journal.path),
        r.journal.lines,
        r.journal.deletions,
        if r.journal.intact {
            "intact"
        } else {
            "DAMAGED"
        }
    );
    if !r.journal.damage.is_empty() {
        o.push_str("<ul>\n");
        for d in &r.journal.damage {
            let _ = writeln!(o, "<li>line {}: {}</li>", d.line, h(&d.reason));
        }
        o.push_str("</ul>\n");
    }
    let _ = writeln!(o, "<h2>Restore drills</h2>\n<p>{}</p>", h(&drill_intro(r)));
    let (head, rows) = drill_status_rows(r);
    html_table(&mut o, &head, &rows);
    o.push_str("<h3>Drills in the period</h3>\n");
    if r.drills_in_period.is_empty() {
        o.push_str("<p>None.</p>\n");
    } else {
        let (head, rows) = drill_rows(r);
        html_table(&mut o, &head, &rows);
    }
    o.push_str("<h2>Timeline</h2>\n<p>Each bar is a backup held, from its creation to its deadline (green: within policy, orange: due soon, blue: no deadline), red where it outlives its deadline; thin grey bars are deleted backups from creation to deletion, ending in a black tick, the vertical line is the time of this report.</p>\n");
    o.push_str(&timeline_svg(r));
    o.push_str("\n</body></html>\n");
    o
}

/// The timeline: one row per class, a bar per backup from creation to
/// deadline (green ok, orange due soon, grey without deadline, red past
/// the deadline), ticks for completed deletions, a line at "now".
pub fn timeline_svg(r: &VerifyReport) -> String {
    let at = r.evaluation.at;
    let classes: Vec<&str> = r
        .evaluation
        .classes
        .iter()
        .map(|c| c.class.as_str())
        .collect();
    let mut t0 = at;
    let mut t1 = at;
    for a in &r.evaluation.backups {
        t0 = t0.min(a.created);
        t1 = t1.max(a.deadline.unwrap_or(at));
    }
    for d in &r.deletions {
        if let Some(t) = d.created.or(d.intent_at) {
            t0 = t0.min(t);
        }
        if let Some(t) = d.done_at {
            t0 = t0.min(t);
        }
    }
    let span = ((t1 - t0).whole_seconds().max(3600)) as f64;
    let (left, width, row_h, top) = (130.0, 820.0, 48.0, 30.0);
    let x = |t: OffsetDateTime| left + width * ((t - t0).whole_seconds() as f64 / span);
    let height = top + row_h * classes.len().max(1) as f64 + 60.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"{height}\" viewBox=\"0 0 1000 {height}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        o,
        "<title>Backups against their deadlines, {}</title>",
        rfc3339(at)
    );
    o.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    // Axis ticks.
    for i in 0..=5 {
        let t = t0 + time::Duration::seconds((span * i as f64 / 5.0) as i64);
        let xi = x(t);
        let _ = writeln!(
            o,
            "<line x1=\"{xi:.1}\" y1=\"{top}\" x2=\"{xi:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{xi:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
            height - 50.0,
            height - 36.0,
            if i == 5 { "end" } else { "middle" },
            &rfc3339(t)[..10]
        );
    }
    for (row, class) in classes.iter().enumerate() {
        let y = top + row_h * row as f64;
        let _ = writeln!(
            o,
            "<text x=\"4\" y=\"{:.1}\">{}</text>",
            y + row_h / 2.0 + 4.0,
            h(class)
        );
        let bars: Vec<_> = r
            .evaluation
            .backups
            .iter()
            .filter(|a| a.class == *class)
            .collect();
        let step = bars.len().div_ceil(MAX_BARS_PER_CLASS).max(1);
        for (i, a) in bars.iter().enumerate().filter(|(i, _)| i % step == 0) {
            let lane = (i / step) % 4;
            let yb = y + 4.0 + lane as f64 * 6.0;
            let end = a.deadline.unwrap_or(at);
            let color = match a.state {
                State::Ok => "#2a2",
                State::DueSoon => "#e90",
                State::Overdue => "#2a2",
                State::NoDeadline | State::UnknownClass => "#8ad",
                State::BadDate => "#c22",
            };
            let _ = writeln!(
                o,
                "<rect x=\"{:.1}\" y=\"{yb:.1}\" width=\"{:.1}\" height=\"4\" fill=\"{color}\"><title>{} created {} deadline {} ({})</title></rect>",
                x(a.created),
                (x(end) - x(a.created)).max(1.0),
                h(&a.id),
                rfc3339(a.created),
                opt(a.deadline),
                a.state.label()
            );
            if a.state == State::Overdue {
                let _ = writeln!(
                    o,
                    "<rect x=\"{:.1}\" y=\"{yb:.1}\" width=\"{:.1}\" height=\"4\" fill=\"#d00\"><title>{} OVERDUE since {}</title></rect>",
                    x(end),
                    (x(at) - x(end)).max(1.0),
                    h(&a.id),
                    opt(a.deadline)
                );
            }
        }
        let gone: Vec<_> = r
            .deletions
            .iter()
            .filter(|d| d.class.as_deref() == Some(*class))
            .collect();
        let step = gone.len().div_ceil(MAX_BARS_PER_CLASS).max(1);
        for (i, d) in gone.iter().enumerate().filter(|(i, _)| i % step == 0) {
            let Some(t) = d.done_at else { continue };
            let yb = y + 29.0 + ((i / step) % 3) as f64 * 5.0;
            let xd = x(t);
            let name = h(d.id.as_deref().unwrap_or(&d.path));
            if let Some(c) = d.created {
                let _ = writeln!(
                    o,
                    "<rect x=\"{:.1}\" y=\"{yb:.1}\" width=\"{:.1}\" height=\"3\" fill=\"#888\"><title>{name} created {} deleted {}</title></rect>",
                    x(c),
                    (xd - x(c)).max(1.0),
                    rfc3339(c),
                    rfc3339(t)
                );
            }
            if let Some(dl) = d.deadline.filter(|dl| *dl < t) {
                let _ = writeln!(
                    o,
                    "<rect x=\"{:.1}\" y=\"{yb:.1}\" width=\"{:.1}\" height=\"3\" fill=\"#d00\"><title>{name} deleted after its deadline {}</title></rect>",
                    x(dl),
                    (xd - x(dl)).max(1.0),
                    rfc3339(dl)
                );
            }
            let _ = writeln!(
                o,
                "<line x1=\"{xd:.1}\" y1=\"{:.1}\" x2=\"{xd:.1}\" y2=\"{:.1}\" stroke=\"black\"><title>{name} deleted {}</title></line>",
                yb - 2.0,
                yb + 5.0,
                rfc3339(t)
            );
        }
    }
    let ly = height - 14.0;
    let mut lx = 10.0;
    for (color, text) in [
        ("#2a2", "held, within policy (to deadline)"),
        ("#e90", "due soon"),
        ("#d00", "past deadline"),
        ("#8ad", "no deadline"),
        ("#888", "deleted (to deletion time)"),
    ] {
        let _ = writeln!(
            o,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{ly:.1}\">{text}</text>",
            ly - 6.0,
            lx + 18.0
        );
        lx += 40.0 + 6.0 * text.len() as f64;
    }
    let xn = x(at);
    let _ = writeln!(
        o,
        "<line x1=\"{xn:.1}\" y1=\"{:.1}\" x2=\"{xn:.1}\" y2=\"{:.1}\" stroke=\"#00c\" stroke-width=\"2\"/><text x=\"{xn:.1}\" y=\"{:.1}\" fill=\"#00c\" text-anchor=\"middle\">now {}</text>",
        top - 6.0,
        height - 50.0,
        top - 10.0,
        rfc3339(at)
    );
    o.push_str("</svg>\n");
    o
}
