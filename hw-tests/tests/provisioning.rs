//! GnuPG-provisioned cards (issue 24, part 5): the keys an admin made with
//! `gpg --card-edit` (`key-attr`, `generate`), driven here by GnuPG's
//! status/command protocol (`--command-fd`, loopback pinentry) against
//! Debian's gpg and scdaemon on the virtual card. Then nkbackup enrolls,
//! seals, restores, verifies --deep and drills with them, and for the RSA
//! card gpg alone opens the backup (docs/RECOVERY.md, "GnuPG only"), with
//! `contrib/gpg-open-backup.py`.

use crate::gnupg::{Gnupg, serial};
use crate::support::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// What `gpg --card-edit` is asked to make.
#[derive(Clone, Copy)]
enum Keys {
    Rsa2048,
    Curve25519,
}

impl Keys {
    /// The answer to a prompt by its keyword, `None` for a keyword this
    /// script does not know (the test fails, naming it).
    fn answer(self, keyword: &str, pin: &str) -> Option<String> {
        let a = match (keyword, self) {
            ("cardedit.genkeys.algo", Keys::Rsa2048) => "1",
            ("cardedit.genkeys.algo", Keys::Curve25519) => "2",
            ("cardedit.genkeys.size" | "keygen.size", _) => "2048",
            ("keygen.curve", _) => "1",
            ("passphrase.enter", _) => pin,
            ("cardedit.genkeys.backup_enc", _) => "n",
            ("cardedit.genkeys.replace_keys", _) => "y",
            ("keygen.valid", _) => "0",
            ("keygen.valid.okay", _) => "y",
            ("keygen.name", _) => "nkbackup hw test",
            ("keygen.email", _) => "hw@nkbackup.invalid",
            ("keygen.comment", _) => "",
            ("keygen.userid.cmd", _) => "O",
            _ => return None,
        };
        Some(a.to_owned())
    }

    /// `gpg --card-status`'s "Key attributes" for these keys.
    fn attributes(self) -> &'static str {
        match self {
            Keys::Rsa2048 => "rsa2048 rsa2048 rsa2048",
            Keys::Curve25519 => "ed25519 cv25519 ed25519",
        }
    }

    fn algorithm(self) -> KeyAlgorithm {
        match self {
            Keys::Rsa2048 => KeyAlgorithm::Rsa(2048),
            Keys::Curve25519 => KeyAlgorithm::Cv25519,
        }
    }
}

/// The user PIN set to the admin PIN while gpg runs (both are asked as
/// `passphrase.enter`, which does not say which PIN it wants), and put
/// back when dropped.
struct OnePin(String);

impl OnePin {
    fn set(ident: &str) -> Self {
        change_user_pin(ident, &user_pin(), &admin_pin());
        OnePin(ident.to_owned())
    }
}

impl Drop for OnePin {
    fn drop(&mut self) {
        change_user_pin(&self.0, &admin_pin(), &user_pin());
    }
}

fn change_user_pin(ident: &str, old: &str, new: &str) {
    with_card(ident, |tx| {
        tx.change_pw1(secret(old.into()), secret(new.into()))
            .unwrap()
    });
}

/// Runs `gpg --card-edit` with `commands` at its prompt (then `quit`),
/// answering every other prompt by keyword; returns gpg's status lines.
/// A prompt it has no answer for, or gpg failing, fails the test with the
/// whole transcript.
fn card_edit(gnupg: &Gnupg, keys: Keys, commands: &[&str]) -> String {
    let errors = tempfile::NamedTempFile::new().unwrap();
    // Not --batch: gpg refuses to generate card keys in batch mode.
    let mut child = Command::new("gpg")
        .env("GNUPGHOME", gnupg.path())
        .args([
            "--no-tty",
            "--command-fd",
            "0",
            "--status-fd",
            "1",
            "--pinentry-mode",
            "loopback",
            "--card-edit",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(errors.reopen().unwrap())
        .spawn()
        .expect("gpg runs");
    let watchdog = kill_after(child.id(), Duration::from_secs(600));
    let mut input = child.stdin.take().unwrap();
    let mut commands = commands.iter().copied().chain(["quit"]);
    let mut transcript = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        transcript.push_str(&line);
        transcript.push('\n');
        let mut words = line.split(' ');
        let (Some("[GNUPG:]"), Some(kind), Some(keyword)) =
            (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if !matches!(kind, "GET_LINE" | "GET_BOOL" | "GET_HIDDEN") {
            continue;
        }
        let answer = if keyword == "cardedit.prompt" {
            Some(commands.next().unwrap_or("quit").to_owned())
        } else {
            keys.answer(keyword, &admin_pin())
        };
        let Some(answer) = answer else {
            let _ = child.kill();
            panic!(
                "gpg --card-edit asked {keyword}, which this script cannot answer:\n{transcript}"
            );
        };
        writeln!(input, "{answer}").unwrap();
    }
    let st = child.wait().unwrap();
    drop(watchdog);
    let err = std::fs::read_to_string(errors.path()).unwrap_or_default();
    assert!(
        st.success()
            && !transcript.contains("[GNUPG:] ERROR")
            && !transcript.contains("SC_OP_FAILURE"),
        "gpg --card-edit failed ({st}):\n{transcript}\n{err}"
    );
    transcript
}

/// Stops process `pid` (by PID) if it is still running after `after`:
/// a gpg waiting for an answer this script never gives must not hang CI.
fn kill_after(pid: u32, after: Duration) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if rx.recv_timeout(after) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    tx
}

/// Provisions `keys` on card `ident` with gpg alone, as an admin would.
fn provision(gnupg: &Gnupg, ident: &str, keys: Keys) {
    // Each PIN change resets the card (a PIN was presented, part 2), which
    // a running scdaemon would report once as "General error": a fresh one.
    let pin = OnePin::set(ident);
    gnupg.restart();
    let start = Instant::now();
    card_edit(gnupg, keys, &["admin", "key-attr", "generate"]);
    eprintln!(
        "TIMING gpg --card-edit key-attr + generate ({}) on {ident}: {:.0} ms",
        keys.attributes(),
        ms(start.elapsed())
    );
    drop(pin);
    gnupg.restart();
    let status = gnupg.card_status().expect("gpg --card-status");
    assert!(
        status.contains(keys.attributes()) && status.contains(serial(ident)),
        "{status}"
    );
    assert!(!status.contains("Encryption key....: [none]"), "{status}");
}

/// gpg, with nothing of nkbackup, opens the latest backup of `s` on the
/// RSA card, and what it opens is the sealed tree.
fn open_with_gpg_only(gnupg: &Gnupg, s: &Setup) {
    let repo = s.repository();
    let b = repo.find("latest").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/gpg-open-backup.py");
    let to = s.dir.path().join("gpg-only");
    std::fs::create_dir(&to).unwrap();
    let run = |backup: &Path| {
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(backup)
            .args(["--pinentry-mode", "loopback", "--passphrase-fd", "0"])
            .env("GNUPGHOME", gnupg.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (Debian python3-cryptography)");
        writeln!(child.stdin.take().unwrap(), "{}", user_pin()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&b.data_path);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut zstd = Command::new("zstd")
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut zin = zstd.stdin.take().unwrap();
    let payload = out.stdout;
    let feeder = std::thread::spawn(move || zin.write_all(&payload).unwrap());
    let st = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&to)
        .stdin(zstd.stdout.take().unwrap())
        .status()
        .unwrap();
    feeder.join().unwrap();
    assert!(zstd.wait().unwrap().success() && st.success());
    assert!(assert_same_tree(&s.src, &to.join("data")) > 10);
    assert!(to.join(".nkbackup/manifest.jsonl").is_file());

    // A damaged backup is refused, not half-opened quietly.
    let mut bytes = std::fs::read(&b.data_path).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    let bad = s.dir.path().join("damaged.age");
    std::fs::write(&bad, bytes).unwrap();
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not authenticate"),
        "{}",
        stderr(&out)
    );
}

#[test]
pub fn gnupg_made_keys_enroll_seal_restore_verify_and_drill() {
    let _g = lock();
    let ident = env_card(0);
    if !destructive(&ident) {
        return;
    }
    let gnupg = Gnupg::new(&reader_of(&ident), true);
    gnupg
        .card_status()
        .expect("gpg --card-status sees the card");

    provision(&gnupg, &ident, Keys::Rsa2048);
    let s = Setup::new(&[(&ident, "nk-a")]);
    let cfg = std::fs::read_to_string(s.repo.join("nkbackup.toml")).unwrap();
    assert!(cfg.contains("type = \"card-openpgp\""), "{cfg}");
    open_with_gpg_only(&gnupg, &s);
    round_trip_with_key(&ident, Keys::Rsa2048.algorithm());

    // Curve25519 last: the other scenarios expect card 0 to hold it.
    provision(&gnupg, &ident, Keys::Curve25519);
    drop(gnupg);
    round_trip_with_key(&ident, Keys::Curve25519.algorithm());
}
