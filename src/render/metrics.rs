//! Prometheus metrics of a run, in the text exposition format, for
//! node_exporter's textfile collector (docs/JOBS.md lists them).

use crate::error::Result;
use crate::run::RunReport;
use std::fmt::Write as _;
use std::path::Path;

/// A label value escaped as the text format requires.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} gauge");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, x)| format!("{k}=\"{}\"", esc(x)))
            .collect();
        if l.is_empty() {
            let _ = writeln!(self.0, "{name} {v}");
        } else {
            let _ = writeln!(self.0, "{name}{{{}}} {v}", l.join(","));
        }
    }
}

fn ts(t: time::OffsetDateTime) -> f64 {
    t.unix_timestamp() as f64
}

/// The metrics of `r`.
pub fn prometheus(r: &RunReport) -> String {
    let mut o = Out(String::new());
    o.family(
        "nkbackup_run_timestamp_seconds",
        "When nkbackup run last ran.",
    );
    o.sample("nkbackup_run_timestamp_seconds", &[], ts(r.at));
    o.family(
        "nkbackup_run_success",
        "1 if the last run's outcome was ok, else 0.",
    );
    let ok = r.outcome() == crate::run::Outcome::Ok;
    o.sample("nkbackup_run_success", &[], f64::from(u8::from(ok)));

    let jobs: Vec<_> = r.jobs.iter().collect();
    o.family(
        "nkbackup_job_failed",
        "1 if the job failed in the last run (nothing was committed for it).",
    );
    for j in &jobs {
        let failed = j.status == crate::run::JobStatus::Failed;
        o.sample(
            "nkbackup_job_failed",
            &[("job", &j.name), ("class", &j.class)],
            f64::from(u8::from(failed)),
        );
    }
    type Pick = fn(&crate::run::LastSeal) -> f64;
    let last: [(&str, &str, Pick); 3] = [
        (
            "nkbackup_job_last_success_timestamp_seconds",
            "When the job's newest backup was sealed.",
            |l| ts(l.created),
        ),
        (
            "nkbackup_job_last_success_bytes",
            "Ciphertext bytes of the job's newest backup.",
            |l| l.bytes as f64,
        ),
        (
            "nkbackup_job_last_success_files",
            "Entries in the job's newest backup.",
            |l| l.files as f64,
        ),
    ];
    for (name, help, pick) in last {
        o.family(name, help);
        for j in &jobs {
            if let Some(l) = &j.last_success {
                o.sample(name, &[("job", &j.name), ("class", &j.class)], pick(l));
            }
        }
    }
    o.family(
        "nkbackup_job_last_duration_seconds",
        "How long the job's seal took in the last run that sealed it.",
    );
    for j in jobs
        .iter()
        .filter(|j| j.status == crate::run::JobStatus::Sealed)
    {
        o.sample(
            "nkbackup_job_last_duration_seconds",
            &[("job", &j.name), ("class", &j.class)],
            j.duration_s,
        );
    }

    o.family("nkbackup_class_backups", "Backups of the class.");
    for c in &r.check.classes {
        o.sample(
            "nkbackup_class_backups",
            &[("class", &c.class)],
            c.backups as f64,
        );
    }
    o.family(
        "nkbackup_class_overdue_backups",
        "Backups of the class past their deadline.",
    );
    for c in &r.check.classes {
        o.sample(
            "nkbackup_class_overdue_backups",
            &[("class", &c.class)],
            c.overdue as f64,
        );
    }
    o.family(
        "nkbackup_class_next_deadline_timestamp_seconds",
        "The earliest deadline of the class not yet passed.",
    );
    for c in &r.check.classes {
        if let Some(d) = c.next_deadline {
            o.sample(
                "nkbackup_class_next_deadline_timestamp_seconds",
                &[("class", &c.class)],
                ts(d),
            );
        }
    }
    if let Some(d) = &r.drills {
        o.family(
            "nkbackup_class_last_drill_timestamp_seconds",
            "When the class last passed a restore drill.",
        );
        for l in &d.classes {
            if let Some(p) = &l.last_passed {
                o.sample(
                    "nkbackup_class_last_drill_timestamp_seconds",
                    &[("class", &l.name)],
                    ts(p.at),
                );
            }
        }
        o.family(
            "nkbackup_token_last_drill_timestamp_seconds",
            "When the token last passed a restore drill.",
        );
        for l in &d.tokens {
            if let Some(p) = &l.last_passed {
                o.sample(
                    "nkbackup_token_last_drill_timestamp_seconds",
                    &[("token", &l.name), ("type", &l.kind)],
                    ts(p.at),
                );
            }
        }
    }
    o.family(
        "nkbackup_journal_intact",
        "1 if the journal's hash chain and head verify.",
    );
    for (name, ok) in &r.journals {
        o.sample(
            "nkbackup_journal_intact",
            &[("journal", name)],
            f64::from(u8::from(*ok)),
        );
    }
    o.0
}

/// Writes the metrics of `r` to `path` atomically (a temporary file in the
/// same directory, fsynced, renamed), as the textfile collector needs.
pub fn write(path: &Path, r: &RunReport) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name =
        path.file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| crate::Error::InvalidName {
                what: "metrics file",
                value: path.display().to_string(),
                reason: "give a file name, e.g. /var/lib/node_exporter/nkbackup.prom".into(),
            })?;
    crate::fsio::write_atomic(dir, name, prometheus(r).as_bytes())
}
