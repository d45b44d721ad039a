//! Replays every fuzz corpus (fuzz/corpus/<target>/*) through the same
//! harness the fuzz targets use, on stable, so that the ordinary test suite
//! guards against regressions in every parser without nightly. Fuzzing
//! itself: `cargo +nightly fuzz run <target>` in fuzz/ (docs/FUZZING.md).

#[path = "../fuzz/harness.rs"]
mod harness;

use std::fs;
use std::path::Path;

/// A fuzz target: its name and what it feeds its input to.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("stream", harness::stream),
    ("tar_headers", harness::tar_headers),
    ("sidecar", harness::sidecar),
    ("config", harness::config),
    ("journal", harness::journal),
    ("recovery_key", harness::recovery_key),
    ("share", harness::share),
    ("duration", harness::duration),
    ("x25519_stanza", harness::x25519_stanza),
    ("openpgp_stanza", harness::openpgp_stanza),
    ("age_header", harness::age_header),
    ("share_stanza", harness::share_stanza),
    ("key_item", harness::key_item),
    ("erasure_journal", harness::erasure_journal),
    ("drill_signature", harness::drill_signature),
    ("s3_lock_answer", harness::s3_lock_answer),
    ("sidecar_cache", harness::sidecar_cache),
    ("seek_table", harness::seek_table),
];

#[test]
fn every_corpus_file_runs_through_its_parser_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    for (name, run) in TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "the {name} corpus is empty");
        for f in files {
            let data = fs::read(&f).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failures.push(f.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "panicked on: {failures:?}");
}

/// Every fuzz target has a corpus here, and every corpus a target.
#[test]
fn each_target_has_its_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut targets: Vec<String> = fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    targets.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(targets, known);
}
