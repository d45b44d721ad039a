//! A service user changes the target tree while root restores into it with
//! `--force`: a thread keeps swapping the target's directories for symlinks
//! to a directory outside. Whatever the restores do (succeed, fail), nothing
//! outside the target is created, changed or re-moded; the restore works
//! through directory descriptors and never follows what the thread plants.

mod common;

use common::{Fixture, is_root};
use nkbackup::{Opener, RestoreOptions, Sealer};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Names, modes and contents of everything below `dir`.
fn snapshot(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let m = fs::symlink_metadata(&d).unwrap();
        out.push((d.display().to_string(), m.mode(), Vec::new()));
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                let data = if m.is_file() {
                    fs::read(&p).unwrap()
                } else {
                    Vec::new()
                };
                out.push((p.display().to_string(), m.mode(), data));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn swapping_target_directories_for_symlinks_changes_nothing_outside() {
    if !is_root() {
        eprintln!(
            "SKIPPED: the race matters for restores as root; tests/run-all.sh in CI runs as root"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test as root"
        );
        return;
    }
    let f = Fixture::new();
    let src = f.path("svc");
    fs::create_dir_all(src.join("data/sub")).unwrap();
    for i in 0..150 {
        fs::write(src.join(format!("data/f{i:03}")), format!("file {i}")).unwrap();
    }
    fs::write(src.join("data/sub/deep"), "deep").unwrap();
    fs::write(src.join("conf"), "conf").unwrap();
    // Modes an attacker would like to see applied to the outside.
    fs::set_permissions(src.join("data"), fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(src.join("data/sub"), fs::Permissions::from_mode(0o777)).unwrap();
    let rep = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let b = f.repo.find(&rep.sidecar.id).unwrap();

    let outside = f.path("outside");
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::write(outside.join("shadow"), "root:*:0:0").unwrap();
    fs::set_permissions(outside.join("shadow"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    let before = snapshot(&outside);

    let target = f.path("target");
    fs::create_dir_all(target.join("svc/data/sub")).unwrap();
    fs::write(target.join("svc/data/old"), "old").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let attacker = {
        let (stop, swaps) = (stop.clone(), swaps.clone());
        let (target, outside) = (target.clone(), outside.clone());
        std::thread::spawn(move || {
            let spots = ["svc/data", "svc/data/sub", "svc"];
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let spot = target.join(spots[i % spots.len()]);
                let aside = spot.with_extension("real");
                if fs::rename(&spot, &aside).is_ok() {
                    let _ = symlink(&outside, &spot);
                    std::thread::yield_now();
                    let _ = fs::remove_file(&spot);
                    let _ = fs::rename(&aside, &spot);
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        })
    };
    let opener = Opener::new(&b).identity_file(&f.key_file).unwrap();
    let opts = RestoreOptions {
        path: None,
        force: true,
    };
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..40 {
        match opener.restore(&target, &opts) {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    assert!(
        swaps.load(Ordering::Relaxed) > 10,
        "the attacker must have raced"
    );
    assert_eq!(
        snapshot(&outside),
        before,
        "something outside the target changed ({ok} restores passed, {failed} failed)"
    );

    // Undisturbed, the same restore puts everything in place.
    opener.restore(&target, &opts).unwrap();
    assert_eq!(
        fs::read_to_string(target.join("svc/data/f007")).unwrap(),
        "file 7"
    );
    assert_eq!(
        fs::read_to_string(target.join("svc/data/sub/deep")).unwrap(),
        "deep"
    );
    let mode = fs::metadata(target.join("svc/data")).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o777);
}
