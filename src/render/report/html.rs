//! The report as one self-contained HTML page (timeline inline).

use super::*;
use std::fmt::Write as _;

fn html_table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table>\n<tr>");
    for c in head {
        let _ = write!(out, "<th>{}</th>", h(c));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            // What breaks a promise stands out, as the result line does.
            let fail = ["NO:", "NO DEADLINE", "REWRITTEN", "INVALID signature"]
                .iter()
                .any(|p| c.starts_with(p));
            let class = if fail { " class=\"fail\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", h(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The report as a self-contained HTML page with the timeline inline.
pub fn html(r: &AuditReport) -> String {
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
        o.push_str("<li>Result: <strong class=\"pass\">PASS: every journaled deletion is gone and was done by its deadline, nothing is overdue, every class has a deadline, nothing is orphaned</strong></li>");
    } else {
        let _ = write!(
            o,
            "<li>Result: <strong class=\"fail\">FAIL: {} violation(s), listed below</strong></li>",
            r.violations.len()
        );
    }
    o.push_str("</ul>\n<h2>Violations</h2>\n");
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
    let _ = writeln!(o, "<h2>Journal heads</h2>\n<p>{}</p>", h(HEADS_INTRO));
    let (hd, rows) = head_rows(r);
    html_table(&mut o, &hd, &rows);
    o.push_str("<h2>Classes</h2>\n");
    let (hd, rows) = class_rows(r);
    html_table(&mut o, &hd, &rows);
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
    let _ = writeln!(o, "<h2>Rewraps</h2>\n<p>{}</p>", h(&rewrap_intro(r)));
    if r.rewraps.in_period.is_empty() {
        o.push_str("<p>None in the period.</p>\n");
    } else {
        let (head, rows) = rewrap_rows(r);
        html_table(&mut o, &head, &rows);
    }
    let _ = writeln!(o, "<h2>Crypto-erased</h2>\n<p>{}</p>", h(&erasure_intro(r)));
    if r.erasures.in_period.is_empty() {
        o.push_str("<p>None in the period.</p>\n");
    } else {
        let (head, rows) = erasure_rows(r);
        html_table(&mut o, &head, &rows);
    }
    o.push_str("<h2>Timeline</h2>\n<p>Each bar is a backup held, from its creation to its deadline (green: within policy, orange: due soon, blue: no deadline), red where it outlives its deadline; thin grey bars are deleted backups from creation to deletion, ending in a black tick, the vertical line is the time of this report.</p>\n");
    o.push_str(&timeline_svg(r));
    o.push_str("\n</body></html>\n");
    o
}
