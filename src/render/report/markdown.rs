//! The report as Markdown, with the timeline in an SVG file beside it.

use super::*;
use std::fmt::Write as _;

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

/// The report as Markdown; `svg_name` is the timeline image beside it.
pub fn markdown(r: &AuditReport, svg_name: &str) -> String {
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
            "PASS: every journaled deletion is gone and was done by its deadline, nothing is overdue, every class has a deadline, nothing is orphaned"
                .to_owned()
        } else {
            format!("FAIL: {} violation(s), listed below", r.violations.len())
        }
    );
    let _ = writeln!(o, "## Violations\n");
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
    let _ = writeln!(o, "\n## Journal heads\n\n{}\n", md_escape(HEADS_INTRO));
    let (h, rows) = head_rows(r);
    md_table(&mut o, &h, &rows);
    let _ = writeln!(o, "\n## Classes\n");
    let (h, rows) = class_rows(r);
    md_table(&mut o, &h, &rows);
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
    let _ = writeln!(o, "\n## Rewraps\n\n{}\n", md_escape(&rewrap_intro(r)));
    if r.rewraps.in_period.is_empty() {
        let _ = writeln!(o, "None in the period.");
    } else {
        let (h, rows) = rewrap_rows(r);
        md_table(&mut o, &h, &rows);
    }
    let _ = writeln!(
        o,
        "\n## Crypto-erased\n\n{}\n",
        md_escape(&erasure_intro(r))
    );
    if r.erasures.in_period.is_empty() {
        let _ = writeln!(o, "None in the period.");
    } else {
        let (h, rows) = erasure_rows(r);
        md_table(&mut o, &h, &rows);
    }
    let _ = writeln!(
        o,
        "\n## Timeline\n\nEach bar is a backup held, from its creation to its deadline (green: within policy, orange: due soon, blue: no deadline), red where it outlives its deadline; thin grey bars are deleted backups from creation to deletion, ending in a black tick, the vertical line is the time of this report.\n\n![Timeline of backups against deadlines]({svg_name})"
    );
    o
}
