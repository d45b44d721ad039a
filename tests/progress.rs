//! Progress bars: drawn on a terminal (here a pseudo-terminal made by
//! util-linux `script`), never without one, never with `--json` or
//! `--quiet`; `--progress` forces one.

mod common;

use common::{Fixture, have_tool, nkbackup};
use std::fs;
use std::process::Command;

fn bin() -> String {
    env!("CARGO_BIN_EXE_nkbackup").to_owned()
}

/// Runs `args` on a pseudo-terminal; what the terminal showed.
fn on_tty(f: &Fixture, args: &str) -> String {
    let o = Command::new("script")
        .args(["-qfec", &format!("{} {args}", bin()), "/dev/null"])
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_bar_is_drawn_on_a_terminal_and_nothing_without_one() {
    if !have_tool("script") {
        return;
    }
    let f = Fixture::new();
    let src = f.path("src");
    fs::create_dir_all(&src).unwrap();
    // Large enough that the bar ticks at least once (every 120 ms).
    let mut big = vec![0u8; 48 << 20];
    for (i, b) in big.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    fs::write(src.join("big"), &big).unwrap();
    let repo = f.repo_path().display().to_string();
    let seal = format!("seal --repo {repo} --class media {}", src.display());
    let tty = on_tty(&f, &seal);
    assert!(
        tty.contains("sealing media"),
        "no bar on the terminal: {tty:?}"
    );
    let quiet = on_tty(&f, &format!("{seal} --quiet"));
    assert!(!quiet.contains("sealing media"), "{quiet:?}");
    let json = on_tty(&f, &format!("{seal} --json"));
    assert!(!json.contains("sealing media"), "{json:?}");

    // Without a terminal (cron): nothing on stderr but the result line.
    let o = nkbackup()
        .args(["seal", "--repo", &repo, "--class", "media"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // --progress draws all the same.
    let o = nkbackup()
        .args(["seal", "--repo", &repo, "--class", "media", "--progress"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("sealing media"));

    // Restores and deep verifies know the total.
    let key = f.key_file.display().to_string();
    let restore = on_tty(
        &f,
        &format!(
            "restore --repo {repo} latest --to {} -i {key}",
            f.path("r").display()
        ),
    );
    assert!(restore.contains("restoring "), "{restore:?}");
    let verify = on_tty(&f, &format!("verify --repo {repo} latest --deep -i {key}"));
    assert!(
        verify.contains("verifying ") && verify.contains("MiB"),
        "{verify:?}"
    );

    // Copy and rewrap learn their total when they start.
    let replica = f.path("replica").display().to_string();
    let copy = on_tty(&f, &format!("copy --repo {repo} --to {replica}"));
    assert!(
        copy.contains("copying to ") && copy.contains("MiB") && copy.contains("copied media"),
        "{copy:?}"
    );
    let o = nkbackup()
        .args(["copy", "--repo", &repo, "--to"])
        .arg(f.path("replica2"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("copied media") && !err.contains("copying to "),
        "{err}"
    );
    let other = age::x25519::Identity::generate().to_public().to_string();
    let o = nkbackup()
        .args([
            "recipient",
            "add",
            "--repo",
            &repo,
            &other,
            "--label",
            "second",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rewrap = on_tty(&f, &format!("rewrap --repo {repo} -i {key}"));
    assert!(
        rewrap.contains("rewrapping") && rewrap.contains("rewrapped backup"),
        "{rewrap:?}"
    );
}
