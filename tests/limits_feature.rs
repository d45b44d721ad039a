//! tests/limits.rs needs the binary's `test-hooks` feature (it reads the
//! peak memory the binary reports): without it, say so, and fail where it
//! must run.

#[cfg(not(feature = "test-hooks"))]
#[test]
fn the_memory_bound_tests_need_the_test_hooks_feature() {
    let why = "tests/limits.rs needs `--features test-hooks` (tests/run-all.sh passes it)";
    if std::env::var_os("CI").is_some() || std::env::var_os("NKBACKUP_REQUIRE_TOOLS").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
}
