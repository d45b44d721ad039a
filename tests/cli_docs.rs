//! The CLI explains itself: every command's `--help` ends with examples,
//! and the man pages (docs/man/) and completion scripts
//! (contrib/completions/) are what the current CLI generates. After a CLI
//! change, regenerate them:
//!
//! ```sh
//! cargo run -- manpages docs/man
//! for s in bash:nkbackup.bash zsh:_nkbackup fish:nkbackup.fish; do
//!   cargo run -q -- completions ${s%%:*} > contrib/completions/${s#*:}; done
//! ```

mod common;

use common::nkbackup;
use std::fs;
use std::path::Path;

fn out(args: &[&str]) -> String {
    let o = nkbackup().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Every visible command path, from the `Commands:` lists of `--help`.
fn paths(prefix: &[String], all: &mut Vec<Vec<String>>) {
    let mut args: Vec<&str> = prefix.iter().map(String::as_str).collect();
    args.push("--help");
    let help = out(&args);
    let Some(start) = help.find("Commands:\n") else {
        return;
    };
    for line in help[start + 10..].lines() {
        if !line.starts_with("  ") || line.starts_with("   ") {
            break;
        }
        let name = line.split_whitespace().next().unwrap().to_owned();
        if name == "help" {
            continue;
        }
        let mut p = prefix.to_vec();
        p.push(name);
        all.push(p.clone());
        paths(&p, all);
    }
}

#[test]
fn every_command_help_ends_with_examples_and_the_top_level_shows_the_night() {
    let mut all = Vec::new();
    paths(&[], &mut all);
    assert!(all.len() >= 40, "{all:?}");
    for p in &all {
        let mut args: Vec<&str> = p.iter().map(String::as_str).collect();
        args.push("-h");
        let help = out(&args);
        let ex = help
            .rfind("Examples:\n")
            .unwrap_or_else(|| panic!("`nkbackup {}` has no examples", p.join(" ")));
        let lines: Vec<&str> = help[ex..].lines().skip(1).collect();
        assert!(
            !lines.is_empty()
                && lines
                    .iter()
                    .all(|l| l.starts_with("  ") && l.contains("nkbackup")),
            "`nkbackup {}`: {lines:?}",
            p.join(" ")
        );
    }
    let top = out(&["-h"]);
    assert!(top.contains("The night's work, in four lines:"), "{top}");
    assert!(top.contains("nkbackup run --repo"), "{top}");
    let long = out(&["--help"]);
    assert!(
        long.contains("Exit status:") && long.contains("NKBACKUP_REPO"),
        "{long}"
    );
}

#[test]
fn man_pages_and_completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    out(&["manpages", tmp.path().to_str().unwrap()]);
    let names = |d: &Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let made = names(tmp.path());
    assert_eq!(
        made,
        names(&root.join("docs/man")),
        "regenerate docs/man (see this file's header)"
    );
    assert!(made.contains(&"nkbackup-seal.1".to_owned()) && made.len() >= 40);
    for n in &made {
        let want = fs::read(tmp.path().join(n)).unwrap();
        let have = fs::read(root.join("docs/man").join(n)).unwrap();
        assert!(
            want == have,
            "docs/man/{n} is stale: regenerate it (see this file's header)"
        );
    }
    let top = fs::read_to_string(tmp.path().join("nkbackup.1")).unwrap();
    assert!(
        top.contains("Exit status") && top.contains("NKBACKUP"),
        "{top}"
    );
    for (shell, file) in [
        ("bash", "nkbackup.bash"),
        ("zsh", "_nkbackup"),
        ("fish", "nkbackup.fish"),
    ] {
        let want = out(&["completions", shell]);
        let have = fs::read_to_string(root.join("contrib/completions").join(file)).unwrap();
        assert!(
            want == have,
            "contrib/completions/{file} is stale: regenerate it"
        );
        assert!(
            want.contains("exclude-caches"),
            "{shell}: options are completed"
        );
    }
}
