//! Tokens that come and go: either of two cards, a card absent, pulled or stopped mid-restore.

use crate::support::*;

/// A backup sealed to two tokens opens with either one alone.
#[test]
pub fn either_of_two_cards_opens() {
    let _g = lock();
    let (a, Some(b)) = (env_card(0), second_card()) else {
        return;
    };
    ensure_key(&a);
    ensure_key(&b);
    let s = Setup::new(&[(&a, "nk-a"), (&b, "nk-b")]);
    if !cards_sh(&["pull", "1"]) {
        common::skip("cannot pull a physical token");
        return;
    }
    let first = s.restore("ra", "", &user_pin(), &[]);
    cards_sh(&["insert", "1"]);
    ok(first);
    s.compare("ra");
    cards_sh(&["pull", "0"]);
    let second = s.restore("rb", "", &user_pin(), &[]);
    cards_sh(&["insert", "0"]);
    ok(second);
    s.compare("rb");
}

/// The card goes away in the middle of the open (here: between reading
/// the PIN and using it): a clear error, nothing restored, no staging
/// directory left, and no "restored" line.
#[test]
pub fn card_pulled_mid_restore_leaves_nothing() {
    let _g = lock();
    let ident = env_card(0);
    if std::env::var_os("NKB_HW_CARDS_SH").is_none() {
        common::skip("cannot pull a physical token (no NKB_HW_CARDS_SH)");
        return;
    }
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "nk-a")]);
    let repo = s.repository();
    let b = repo.find("latest").unwrap();
    let pin = user_pin();
    let pull = move |_: &PinRequest| {
        // Stop the card process: its reader becomes empty mid-operation.
        cards_sh(&["card-stop", "0"]);
        Ok::<_, CardError>(SecretString::from(pin.clone()))
    };
    let id = CardIdentity::from_config(repo.config(), Some(&ident), Box::new(pull)).unwrap();
    let ops = id.operations();
    let target = s.dir.path().join("r");
    let res = Opener::new(&b)
        .card(id)
        .restore(&target, &RestoreOptions::default());
    cards_sh(&["card-start", "0"]);
    let err = res.expect_err("restore must fail when the card is gone");
    assert!(
        matches!(err, nkbackup::Error::Card(CardError::Removed { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("was removed or stopped answering"),
        "{err}"
    );
    assert_eq!(ops.load(Ordering::SeqCst), 0, "nothing was deciphered");
    assert!(!target.exists());
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("nkbackup-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // With persistent card state the key survived the restart: it opens again.
    ok(s.restore("r2", &ident, &user_pin(), &[]));
    s.compare("r2");
}

/// Same, through the CLI: the card process is stopped while the CLI waits
/// for the PIN from a FIFO; the CLI reports the error and prints no
/// "restored" line.
#[test]
pub fn card_stopped_during_cli_restore_prints_no_success() {
    let _g = lock();
    let ident = env_card(0);
    if std::env::var_os("NKB_HW_CARDS_SH").is_none() {
        common::skip("cannot stop a physical token");
        return;
    }
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "nk-a")]);
    let fifo = s.dir.path().join("pin.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let child = nkbackup()
        .args(["restore", "--repo"])
        .arg(&s.repo)
        .args(["latest", "--to"])
        .arg(s.dir.path().join("r"))
        .args(["--card", &ident, "--pin-file"])
        .arg(&fifo)
        .env_remove("NKBACKUP_PIN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI is now connected to the card and blocked reading the PIN.
    std::thread::sleep(Duration::from_millis(500));
    cards_sh(&["card-stop", "0"]);
    std::fs::write(&fifo, format!("{}\n", user_pin())).unwrap();
    let out = child.wait_with_output().unwrap();
    cards_sh(&["card-start", "0"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("nothing was put in place") && err.contains("removed or stopped answering"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("restored"));
    assert!(!s.dir.path().join("r").exists());
}
