//! `ls` and `find`: what backups hold, read from the authenticated inner
//! manifest, through the library and the command line (directory
//! repositories; buckets: tests/s3.rs).

mod common;

use common::{Fixture, nkbackup, sample_tree};
use nkbackup::catalog::{self, PathPattern};
use nkbackup::manifest::EntryKind;
use nkbackup::{Opener, Sealer};
use std::fs;
use std::process::Output;

fn cli(f: &Fixture, args: &[&str]) -> Output {
    nkbackup()
        .args(args)
        .arg("--repo")
        .arg(f.repo_path())
        .arg("-i")
        .arg(&f.key_file)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn ls_lists_every_entry_or_those_below_a_path_with_digests() {
    let f = Fixture::new();
    let src = f.path("svc");
    sample_tree(&src);
    let b = Sealer::new(&f.repo, "archive").path(&src).seal().unwrap();
    let found = f.repo.find(&b.sidecar.id).unwrap();
    let o = || Opener::new(&found).identity_file(&f.key_file).unwrap();

    let all = o().entries(&[]).unwrap();
    assert_eq!(all.entries.len() as u64, b.sidecar.entries);
    let x = all
        .entries
        .iter()
        .find(|e| e.path.to_string() == "svc/logs/x.log")
        .expect("svc/logs/x.log listed");
    assert_eq!((x.kind, x.size), (EntryKind::File, 1800));
    let content = fs::read(src.join("logs/x.log")).unwrap();
    assert_eq!(
        x.sha256.as_deref(),
        Some(nkbackup::digest::sha256_hex(&content).as_str())
    );
    assert!(all.verified.ciphertext_bytes > 0);

    let logs = o().entries(&["svc/logs/".into()]).unwrap();
    let mut names: Vec<String> = logs.entries.iter().map(|e| e.path.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "svc/logs",
            "svc/logs/old",
            "svc/logs/old/y.log",
            "svc/logs/x.log"
        ]
    );
    let e = o().entries(&["svc/nothing".into()]).unwrap_err();
    assert!(e.to_string().contains("has no entry"), "{e}");

    // The command line: a line per entry, JSON with the manifest's fields,
    // a clear error for a path that is not there.
    let (out, err) = text(&cli(&f, &["ls", &b.sidecar.id, "svc/logs"]));
    assert_eq!(out.lines().count(), 4, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("- 0644         1800 ") && l.ends_with(" svc/logs/x.log")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("d ")), "{out}");
    let (out, _) = text(&cli(&f, &["ls", "latest", "svc/current.log", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], b.sidecar.id.as_str());
    assert_eq!(v["entries"][0]["type"], "symlink");
    assert_eq!(v["entries"][0]["target"], "logs/x.log");
    let no = cli(&f, &["ls", "latest", "svc/nope"]);
    assert_eq!(no.status.code(), Some(1));
    assert!(text(&no).1.contains("has no entry"), "{}", text(&no).1);
    // Without a key: refused, nothing listed.
    let bare = nkbackup()
        .args(["ls", "latest", "--repo"])
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert!(!bare.status.success() && bare.stdout.is_empty());
}

#[test]
fn find_names_the_backups_holding_a_match_and_goes_on_past_a_damaged_one() {
    let f = Fixture::new();
    let seal = |class: &str, name: &str| {
        Sealer::new(&f.repo, class)
            .bytes(name, b"mail".to_vec())
            .seal()
            .unwrap()
            .sidecar
            .id
    };
    let a = seal("archive", "alice.mbox");
    let b = seal("archive", "bob.txt");
    let c = seal("logs", "carol.mbox");
    let mut keys = nkbackup::unlock::Keys::new();
    for id in nkbackup::identity::load_file(&f.key_file).unwrap() {
        keys.add(id);
    }
    let p = PathPattern::new("*.mbox").unwrap();
    let mut seen = Vec::new();
    let rep = catalog::find(&f.repo, &keys, &p, None, &mut |id| seen.push(id.to_owned())).unwrap();
    assert_eq!(rep.searched, 3);
    assert_eq!(seen.len(), 3);
    let ids: Vec<&str> = rep.found.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), c.as_str()]);
    assert!(rep.problems.is_empty());
    let rep = catalog::find(&f.repo, &keys, &p, Some("logs"), &mut |_| {}).unwrap();
    assert_eq!((rep.searched, rep.found.len()), (1, 1));

    // The command line: exit 0 with matches, 1 without.
    let o = cli(&f, &["find", "*.mbox"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains(&a) && out.contains(&c) && !out.contains(&b),
        "{out}"
    );
    assert!(out.contains("2 of 3 backup(s)"), "{out}");
    assert_eq!(cli(&f, &["find", "*.nothing"]).status.code(), Some(1));
    let bare = nkbackup()
        .args(["find", "*.mbox", "--repo"])
        .arg(f.repo_path())
        .output()
        .unwrap();
    assert!(text(&bare).1.contains("no key given"), "{}", text(&bare).1);
    let bad = cli(&f, &["find", "a["]);
    assert!(
        text(&bad).1.contains("invalid find pattern"),
        "{}",
        text(&bad).1
    );

    // One backup damaged in its middle: the others are still searched,
    // the damaged one is named, exit 3.
    let data = f.repo.find(&a).unwrap().data_path;
    let mut bytes = fs::read(&data).unwrap();
    let mid = bytes.len() - 40;
    bytes[mid] ^= 0xff;
    fs::write(&data, &bytes).unwrap();
    let o = cli(&f, &["find", "*.mbox"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(
        out.contains(&c) && !out.contains(&format!("{a} (")),
        "{out}"
    );
    assert!(
        err.contains(&a) && err.contains("could not be searched"),
        "{err}"
    );
}
