//! Retention at scale in a bucket (issue 23), run by `bench/run.sh --s3`
//! as `cargo bench --bench bucket_scale` against the Garage node the
//! script starts; `cargo test` only builds it.
//!
//! Environment: the `AWS_*` variables of the node, `NKB_SCALE_URL` (an
//! `s3://` repository, initialised with an age recipient and
//! `max_age = "7d"` on class `logs`), `NKB_SCALE_N` backups (100 000) of
//! which the oldest `NKB_PRUNE_N` (10 000) are overdue, and `NKB_CLI`,
//! the nkbackup binary. It plants the backups (sidecars copied from one
//! real seal, 1-byte data objects, 64 puts in flight), then times:
//! `retention check --summary` through the CLI (with the sidecar cache
//! cold, warm, and off), `prune` of the overdue ones through the CLI,
//! and what the prune's journal appends wrote.
//! Prints one `key value` line per figure.

use nkbackup::Sealer;
use nkbackup::storage::{ObjectKey, S3Settings};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("bucket_scale: run by bench/run.sh --s3 (cargo bench), which starts Garage");
        return;
    }
    let url = env("NKB_SCALE_URL", "s3://nkb/scale");
    let n: usize = env("NKB_SCALE_N", "100000").parse().unwrap();
    let prune_n: usize = env("NKB_PRUNE_N", "10000").parse().unwrap();
    let cli = env("NKB_CLI", "target/release/nkbackup");
    // Every class gets the deadline `init` leaves commented (logs: 7d).
    let store = nkbackup::storage::open(&url, &S3Settings::from_env()).unwrap();
    let cfg = ObjectKey::new("nkbackup.toml").unwrap();
    let text = String::from_utf8(store.get(&cfg, 1 << 20).unwrap().unwrap()).unwrap();
    store
        .put(&cfg, text.replace("#max_age", "max_age").as_bytes())
        .unwrap();
    let repo = nkbackup::Repository::open_url(&url, &S3Settings::from_env()).unwrap();
    let t0 = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(); // 2026-01-01
    let real = Sealer::new(&repo, "logs")
        .bytes("x", b"x".to_vec())
        .created_at(t0)
        .seal()
        .unwrap();
    let s = repo.storage().clone();
    let found = repo.find(&real.sidecar.id).unwrap();
    s.delete(&found.data_key).unwrap();
    s.delete(&found.sidecar_key).unwrap();

    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let n_plant = if std::env::var_os("NKB_SCALE_REUSE").is_some() {
        0
    } else {
        n
    };
    std::thread::scope(|sc| {
        for _ in 0..64 {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n_plant {
                        break;
                    }
                    let created = t0 + Duration::minutes(i as i64);
                    let mut side = real.sidecar.clone();
                    side.id = format!(
                        "{}-{:08x}",
                        &nkbackup::BackupId::new(created).as_str()[..16],
                        i
                    );
                    side.created = created;
                    side.deadline = Some(created + Duration::days(7));
                    side.data = format!("{}.age", side.id);
                    side.ciphertext_bytes = 1;
                    // SHA-256 of "x": prune checks it before deleting.
                    side.ciphertext_sha256 =
                        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881".into();
                    let dir = "backups/logs";
                    let k = |name: &str| ObjectKey::new(format!("{dir}/{name}")).unwrap();
                    s.put(&k(&side.data), b"x").unwrap();
                    s.put(
                        &k(&format!("{}.json", side.id)),
                        &serde_json::to_vec_pretty(&side).unwrap(),
                    )
                    .unwrap();
                }
            });
        }
    });
    println!("planted_backups {n}");
    println!("plant_s {:.1}", start.elapsed().as_secs_f64());

    // Where a listing's time goes: the object listing, then the sidecars.
    let start = Instant::now();
    let objects = s.list(Some(&ObjectKey::new("backups").unwrap())).unwrap();
    println!("list_objects {}", objects.len());
    println!("list_s {:.2}", start.elapsed().as_secs_f64());
    let sidecars: Vec<nkbackup::storage::Wanted<'_>> = objects
        .iter()
        .filter(|o| o.key.as_str().ends_with(".json"))
        .map(|o| (&o.key, Some(o.size)))
        .collect();
    let start = Instant::now();
    let got = nkbackup::storage::get_many(s.as_ref(), &sidecars, 1 << 20);
    assert!(got.iter().all(|g| matches!(g, Ok(Some(_)))));
    println!("get_sidecars_s {:.2}", start.elapsed().as_secs_f64());
    if std::env::var_os("NKB_SCALE_PROFILE_ONLY").is_some() {
        return;
    }

    // The oldest prune_n are overdue (created + 7d <= at).
    let at = t0 + Duration::days(7) + Duration::minutes(prune_n as i64 - 1);
    let at = nkbackup::retention::rfc3339(at);
    // The CLI's sidecar cache, empty before the first check.
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let start = Instant::now();
        let out = Command::new(&cli)
            .env("NKBACKUP_CACHE_DIR", cache.path())
            .args(args)
            .output()
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert!(
            matches!(out.status.code(), Some(0 | 6)),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (secs, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // Cold (a new host: every sidecar fetched, then cached), warm (the
    // next night: the listing only), and without the cache.
    let check = [
        "retention",
        "check",
        "--summary",
        "--repo",
        &url,
        "--at",
        &at,
    ];
    for (name, extra) in [
        ("retention_check_cold_s", None),
        ("retention_check_warm_s", None),
        ("retention_check_no_cache_s", Some("--no-cache")),
    ] {
        let args: Vec<&str> = check.iter().copied().chain(extra).collect();
        let (secs, out) = run(&args);
        assert!(out.contains(&n.to_string()), "{out}");
        println!("{name} {secs:.2}");
    }

    let (secs, _) = run(&["prune", "--repo", &url, "--at", &at, "--ahead", "0"]);
    println!("prune_s {secs:.2}");
    let left = repo.list().unwrap().backups.len();
    println!("pruned {}", n - left);
    assert_eq!(n - left, prune_n, "the overdue ones are gone");

    // What the journal appends wrote: each append rewrote its segment up
    // to that line (and the head). The old layout rewrote the whole
    // journal for every line.
    let st = nkbackup::retention::journal::read(s.as_ref()).unwrap();
    assert!(st.damage.is_empty(), "{:?}", st.damage);
    let mut segmented = 0u64;
    let mut whole = 0u64;
    let mut journal_bytes = 0u64;
    let segs = s
        .list(Some(&nkbackup::journal::segment_dir("deletions")))
        .unwrap();
    for o in &segs {
        let b = s.get(&o.key, 1 << 24).unwrap().unwrap();
        let mut seg = 0u64;
        for line in b.split_inclusive(|&c| c == b'\n') {
            seg += line.len() as u64;
            journal_bytes += line.len() as u64;
            segmented += seg;
            whole += journal_bytes;
        }
    }
    println!("journal_lines {}", st.lines);
    println!("journal_segments {}", segs.len());
    println!("journal_bytes {journal_bytes}");
    println!("append_bytes_segmented {segmented}");
    println!("append_bytes_one_object {whole}");
    let (secs, _) = run(&["retention", "verify", "--repo", &url, "--at", &at, "--json"]);
    println!("retention_verify_s {secs:.2}");
}
