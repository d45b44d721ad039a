//! The PIN from a real pinentry dialog on a pseudo-terminal; Cancel is clear.

use crate::support::*;

/// The program at `name` on PATH (these tests need it: install-deps.sh
/// installs it).
pub fn tool(name: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed; hw-tests/scripts/install-deps.sh installs it")
        })
}

/// Runs `nkbackup restore … --card` on a pseudo-terminal made by
/// `script(1)`, with no NKBACKUP_PIN, no display, and `pinentry` on PATH
/// being the real pinentry-curses. Waits until pinentry's dialog is drawn,
/// types `keys`, and returns (exit code, everything the terminal showed).
pub fn restore_via_pinentry(
    s: &Setup,
    ident: &str,
    to: &str,
    keys: &[u8],
) -> (Option<i32>, String) {
    use std::io::{Read as _, Write as _};
    use std::sync::Arc;
    let bin = s.dir.path().join("pinentry-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("pinentry");
    if !link.exists() {
        std::os::unix::fs::symlink(tool("pinentry-curses"), &link).unwrap();
    }
    let cmd = format!(
        "'{}' restore --repo '{}' latest --to '{}' --card {ident} --card-timeout 3",
        env!("CARGO_BIN_EXE_nkbackup"),
        s.repo.display(),
        s.dir.path().join(to).display()
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = std::process::Command::new(tool("script"))
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("PATH", path)
        .env("TERM", "xterm")
        .env_remove("NKBACKUP_PIN")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let screen = screen.clone();
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let shown = |what: &str| String::from_utf8_lossy(&screen.lock().unwrap()).contains(what);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(shown("tries left") && shown("<Cancel>")) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no pinentry dialog appeared: {}",
                String::from_utf8_lossy(&screen.lock().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300)); // the dialog waits for keys
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(keys).unwrap();
    stdin.flush().unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            // script's pty hangs up on nkbackup when script is killed.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "nkbackup did not finish after the keys were typed: {}",
                String::from_utf8_lossy(&screen.lock().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    (status.code(), text)
}

/// The PIN comes from a real pinentry (Debian's pinentry-curses on a
/// pseudo-terminal, spoken to over Assuan): typed there, it opens the card.
/// Choosing Cancel in the dialog is a clear error (exit 4), with no second
/// prompt on the terminal and no PIN try used.
#[test]
pub fn pinentry_gives_the_pin_and_cancel_is_clear() {
    let (_g, ident, s) = card0_setup(false).expect("a non-destructive scenario runs");
    let before = retries(&ident);

    let pin = user_pin();
    let (code, screen) = restore_via_pinentry(&s, &ident, "r", format!("{pin}\r").as_bytes());
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains(&format!(
            "PIN for token nk-a ({ident}), {before} tries left"
        )),
        "the dialog says which token: {screen}"
    );
    assert!(screen.contains("every entry verified"), "{screen}");
    assert!(!screen.contains(&pin), "the PIN is never shown: {screen}");
    s.compare("r");
    assert_eq!(retries(&ident), before);

    // Tab, Tab: focus on <Cancel>; Enter: choose it.
    let (code, screen) = restore_via_pinentry(&s, &ident, "r2", b"\t\t\r");
    assert_eq!(code, Some(4), "{screen}");
    assert!(
        screen.contains("PIN entry for token nk-a was cancelled"),
        "{screen}"
    );
    assert!(
        !screen.contains("asking on the terminal"),
        "cancel asks nothing more: {screen}"
    );
    assert!(!s.dir.path().join("r2").exists());
    assert_eq!(retries(&ident), before, "no PIN try was used");
}
