//! The compliance report: promises, deletions, drills and a timeline, in
//! Markdown (with its SVG) and HTML.

mod common;
mod retention_support;

use retention_support::*;

#[test]
fn the_compliance_report_shows_promises_deletions_drills_and_a_timeline() {
    let f = Fixture::new();
    let (repo, b) = scenario(&f);
    prune_at(&repo, NOW);
    // A drill of the newest logs backup, in the period.
    let drilled = repo.find(&b[5].sidecar.id).unwrap();
    nkbackup::drill::run(
        &repo,
        &drilled,
        nkbackup::Opener::new(&drilled)
            .identity_file(&f.key_file)
            .unwrap(),
        nkbackup::drill::TokenInfo {
            label: "test-key".into(),
            kind: "age".into(),
            ident: None,
            fingerprint: None,
        },
        &nkbackup::drill::DrillOptions {
            started: Some(datetime!(2026-01-10 01:00:00 UTC)),
            ..Default::default()
        },
    )
    .unwrap();
    let md = f.path("report.md");
    let o = cli(
        f.repo_path(),
        &[
            "retention",
            "verify",
            "--at",
            "2026-01-10T06:00:00Z",
            "--report",
            md.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = fs::read_to_string(&md).unwrap();
    for want in [
        "Result: **PASS",
        "was checked: absent from the listing and from a direct lookup",
        "versions: not versioned: a directory keeps no versions.",
        "| logs | Logs are deleted after 7 days. | max_age 7d; keep all within max_age; deletion tolerance 7d | not stated (no promise_max) | 1 |",
        "max_age 90d; 1 daily + newest; no deletion tolerance",
        "## Deletions in the period",
        &b[0].sidecar.id,
        "| 2026-01-10T00:00:00Z | 2026-01-10T00:00:00Z |",
        "| surplus | yes, 81d before |",
        "| overdue | late by 2d, within deletion tolerance 7d |",
        "## Journal heads",
        "| deletions | 8 | --expect-head deletions=8:",
        "| drills | 1 | --expect-head drills=1:",
        "## Restore drills",
        "| class | logs | ok | 2026-01-10T01:00:00Z (",
        "| class | archive | never | never |",
        "| token | test-key | ok |",
        "### Drills in the period",
        "| 2026-01-10T01:00:00Z |",
        "| logs | test-key (age) | passed |",
        "![Timeline of backups against deadlines](report.svg)",
        "hash chain and head: **intact**",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let svg = fs::read_to_string(f.path("report.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(&b[5].sidecar.id), "a bar per backup held");
    assert!(svg.contains(&format!("{} deleted 2026-01-10T00:00:00Z", b[0].sidecar.id)));

    // HTML with the timeline inline; a failing repository says FAIL.
    let late = seal_at(&repo, "logs", T0);
    let html = f.path("audit.html");
    let o = cli(
        f.repo_path(),
        &[
            "retention",
            "verify",
            "--at",
            "2026-01-10",
            "--since",
            "2026-01-09",
            "--report",
            html.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(6));
    let text = fs::read_to_string(&html).unwrap();
    assert!(
        text.contains("<svg") && text.contains("FAIL: 1 violation"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "<strong>overdue</strong> <code>{}</code>",
        late.sidecar.id
    )));
    assert!(text.contains("OVERDUE since"), "red part of the bar");
    // Unsupported report names are refused before anything is written.
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--report", "x.pdf"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(".md or .html"));
    // --json carries the same facts.
    let o = cli(
        f.repo_path(),
        &["retention", "verify", "--json", "--at", "2026-01-10"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["violations"][0]["kind"], "overdue");
    assert_eq!(v["deletions"].as_array().unwrap().len(), 4);
    assert_eq!(v["journal"]["intact"], true);
}
