//! The main job on a built-in default, with no hardware: create a
//! repository in a temporary directory, make a software key, seal the
//! bundled sample service (plus an in-memory dump, as a service embedding
//! nkbackup would), list, verify, restore, and compare with the source.
//!
//! ```text
//! cargo run --release --example quickstart [-- --keep]
//! ```
//! `--keep` leaves the temporary directory in place and prints its path.

use nkbackup::config::RecipientConfig;
use nkbackup::{Opener, Repository, RestoreOptions, Sealer};
use secrecy::ExposeSecret;
use std::error::Error;
use std::fs;
use std::path::Path;

fn main() {
    let keep = std::env::args().any(|a| a == "--keep");
    if let Err(e) = run(keep) {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

fn run(keep: bool) -> Result<(), Box<dyn Error>> {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-service");
    let work = tempfile::Builder::new()
        .prefix("nkbackup-quickstart-")
        .tempdir()?;
    let root = work.path();

    // 1. A repository and a software key (cards and recovery keys are the
    //    real thing; a software key needs no hardware).
    let mut repo = Repository::init(&root.join("repo"))?;
    let key = age::x25519::Identity::generate();
    let key_file = root.join("key.txt");
    fs::write(&key_file, format!("{}\n", key.to_string().expose_secret()))?;
    repo.add_recipient(RecipientConfig {
        label: "quickstart-key".into(),
        kind: "age".into(),
        key: key.to_public().to_string(),
        ..Default::default()
    })?;
    println!(
        "1. repository {} with recipient quickstart-key",
        repo.local_root().unwrap().display()
    );

    // 2. Seal: a directory tree plus an in-memory dump, as a service would
    //    do in-process. Sealing needs only the public key.
    let state = br#"{"users": 40, "rooms": 3, "dumped_by": "quickstart"}"#.to_vec();
    let sealed = Sealer::new(&repo, "archive")
        .path_as(&sample, "sample-service")
        .bytes("state.json", state.clone())
        .seal()?;
    let sc = &sealed.sidecar;
    println!(
        "2. sealed {} ({}): {} entries, {} bytes of files, {} bytes encrypted",
        sc.id, sc.class, sc.entries, sc.file_bytes, sc.ciphertext_bytes
    );

    // 3. List and verify without a key (what cron and monitoring do).
    let listing = repo.list()?;
    for b in &listing.backups {
        println!(
            "3. listed {} class={} created={}",
            b.sidecar.id,
            b.sidecar.class,
            b.sidecar
                .created
                .format(&time::format_description::well_known::Rfc3339)?
        );
    }
    let backup = repo.find(&sc.id)?;
    let v = repo.verify_shallow(&backup)?;
    println!(
        "   verified ciphertext sha256 {} without a key",
        &v.ciphertext_sha256[..16]
    );

    // 4. Deep verify and restore with the key.
    let opener = Opener::new(&backup).identity_file(&key_file)?;
    let deep = opener.verify_deep()?;
    println!(
        "4. deep verify: {} entries match the authenticated manifest",
        deep.entries_checked
    );
    let target = root.join("restored");
    let r = opener.restore(&target, &RestoreOptions::default())?;
    println!(
        "   restored {} entries ({} bytes) into {}",
        r.entries,
        r.bytes,
        target.display()
    );

    // 5. Compare with the source, byte for byte.
    let n = compare(&sample, &target.join("sample-service"))?;
    if fs::read(target.join("state.json"))? != state {
        return Err("state.json differs after restore".into());
    }
    println!("5. restored tree matches the source: {n} entries compared, state.json identical");

    if keep {
        println!("kept {}", work.keep().display());
    }
    println!("quickstart OK");
    Ok(())
}

/// Compares two trees (names, kinds, contents, link targets).
fn compare(a: &Path, b: &Path) -> Result<usize, Box<dyn Error>> {
    let names = |p: &Path| -> std::io::Result<Vec<_>> {
        let mut v: Vec<_> = fs::read_dir(p)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        v.sort();
        Ok(v)
    };
    let (na, nb) = (names(a)?, names(b)?);
    if na != nb {
        return Err(format!("{} and {} hold different names", a.display(), b.display()).into());
    }
    let mut n = 0;
    for name in na {
        let (pa, pb) = (a.join(&name), b.join(&name));
        let (ma, mb) = (fs::symlink_metadata(&pa)?, fs::symlink_metadata(&pb)?);
        if ma.file_type() != mb.file_type() {
            return Err(format!("{} changed type", pb.display()).into());
        }
        if ma.file_type().is_symlink() {
            if fs::read_link(&pa)? != fs::read_link(&pb)? {
                return Err(format!("{} points elsewhere", pb.display()).into());
            }
        } else if ma.is_dir() {
            n += compare(&pa, &pb)?;
        } else if fs::read(&pa)? != fs::read(&pb)? {
            return Err(format!("{} differs", pb.display()).into());
        }
        n += 1;
    }
    Ok(n)
}

#[test]
fn quickstart_runs() {
    run(false).unwrap();
}
