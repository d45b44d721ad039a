//! A card another program holds exclusively (GnuPG's scdaemon by default)
//! is busy, not absent (issue 24, part 1): `card list` and `card enroll`
//! name the reader and say what frees it; a restore waits for the card to
//! be free instead of timing out as "not inserted". The holder here is a
//! plain PC/SC client connecting with `SCARD_SHARE_EXCLUSIVE`, as scdaemon
//! does, through the real pcscd.

use crate::support::*;
use std::time::{Duration, Instant};

/// Holds the card in `reader` exclusively until dropped.
struct Holder(#[allow(dead_code)] pcsc::Card);

impl Holder {
    fn take(reader: &str) -> Self {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
        let name = std::ffi::CString::new(reader).unwrap();
        Holder(
            ctx.connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY)
                .unwrap(),
        )
    }
}

#[test]
pub fn a_card_held_exclusively_is_busy_not_absent() {
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "nk-a")]);
    let reader = reader_of(&ident);

    let held = Holder::take(&reader);
    let out = ok(common::nkbackup().args(["card", "list"]).output().unwrap());
    let err = stderr(&out);
    assert!(
        err.contains("is in use by another program") && err.contains(&reader),
        "{err}"
    );
    assert!(err.contains("gpgconf --kill scdaemon"), "{err}");
    let out = common::nkbackup()
        .args(["card", "enroll", "--repo"])
        .arg(&s.repo)
        .args(["--ident", &ident, "--label", "again"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("in use by another program"),
        "{}",
        stderr(&out)
    );

    // A restore that finds the card busy says so and waits for it (longer
    // than --card-timeout 3), and opens it once it is freed.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let start = Instant::now();
    let out = s.restore("r", "", &user_pin(), &[]);
    release.join().unwrap();
    let out = ok(out);
    assert!(start.elapsed() >= Duration::from_secs(4));
    let err = stderr(&out);
    assert!(err.contains("waiting for it to be free"), "{err}");
    assert!(!err.contains("was not inserted"), "{err}");
    s.compare("r");
}
