//! The timeline: each backup as a bar from its creation to its deadline.

use super::*;
use std::fmt::Write as _;

/// Backups drawn per class in the timeline; more are sampled evenly.
const MAX_BARS_PER_CLASS: usize = 400;

/// The timeline: one row per class, a bar per backup from creation to
/// deadline (green ok, orange due soon, grey without deadline, red past
/// the deadline), ticks for completed deletions, a line at "now".
pub fn timeline_svg(r: &AuditReport) -> String {
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
