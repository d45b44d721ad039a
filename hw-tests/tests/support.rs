//! What every hardware scenario shares: the card lock, the cards from the
//! environment, PIN sources, a repository sealing to a card, and running
//! the CLI.
#![allow(dead_code)]

pub(crate) use crate::common::{self, assert_same_tree, nkbackup, sample_tree};
pub use nkbackup::card::{self, CardError, CardIdentity, KeyAlgorithm, PinRequest};
pub use nkbackup::{Opener, Repository, RestoreOptions};
pub use secrecy::SecretString;
pub use std::process::Output;
pub use std::sync::Mutex;
pub use std::sync::atomic::Ordering;
pub use std::time::{Duration, Instant};

/// The cards are one shared resource: scenarios run one at a time.
pub static CARDS: Mutex<()> = Mutex::new(());

pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    CARDS.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn env_card(i: u8) -> String {
    let var = format!("NKB_HW_CARD{i}_IDENT");
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => v.to_ascii_uppercase(),
        _ => panic!(
            "{var} is not set: these tests need OpenPGP cards over pcscd. Run hw-tests/run.sh (starts pcscd and two virtual cards), or see hw-tests/README.md for a physical token"
        ),
    }
}

/// Card 1, or `None` (test skipped, with a message) when only a physical
/// card 0 is configured.
pub fn second_card() -> Option<String> {
    if std::env::var_os("NKB_HW_CARD1_IDENT").is_none() && !is_virtual(&env_card(0)) {
        common::skip("needs a second token (NKB_HW_CARD1_IDENT)");
        return None;
    }
    Some(env_card(1))
}

pub fn is_virtual(ident: &str) -> bool {
    ident.starts_with("FFFE:")
}

pub fn destructive(ident: &str) -> bool {
    let ok = is_virtual(ident)
        || std::env::var("NKB_HW_DESTRUCTIVE_IDENT").is_ok_and(|v| v.eq_ignore_ascii_case(ident));
    if !ok {
        common::skip(&format!(
            "{ident} is a physical token; this scenario changes it. Set NKB_HW_DESTRUCTIVE_IDENT={ident} to allow"
        ));
    }
    ok
}

/// The card lock, card 0 with a decryption key, and a repository sealing
/// to it as `nk-a`. `None` (skipped, with the reason printed) when the
/// scenario is `destructive` and card 0 is a physical token it may not change.
pub fn card0_setup(
    destructive_scenario: bool,
) -> Option<(std::sync::MutexGuard<'static, ()>, String, Setup)> {
    let g = lock();
    let ident = env_card(0);
    if destructive_scenario && !destructive(&ident) {
        return None;
    }
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "nk-a")]);
    Some((g, ident, s))
}

pub fn user_pin() -> String {
    std::env::var("NKB_HW_PIN").unwrap_or_else(|_| "123456".into())
}

pub fn admin_pin() -> String {
    std::env::var("NKB_HW_ADMIN_PIN").unwrap_or_else(|_| "12345678".into())
}

/// A PIN source that always answers `pin`.
pub fn pins(pin: String) -> Box<dyn card::PinSource> {
    Box::new(move |_: &PinRequest| Ok::<_, CardError>(SecretString::from(pin.clone())))
}

/// Runs `hw-tests/scripts/cards.sh ARGS`; `false` if there is no script
/// (physical token).
pub fn cards_sh(args: &[&str]) -> bool {
    let Ok(script) = std::env::var("NKB_HW_CARDS_SH") else {
        return false;
    };
    let st = std::process::Command::new(script)
        .args(args)
        .status()
        .expect("cards.sh runs");
    assert!(st.success(), "cards.sh {args:?} failed");
    true
}

pub fn generate(ident: &str, algo: KeyAlgorithm) -> card::CardKey {
    let admin = admin_pin();
    let mut src = move |_: &PinRequest| Ok::<_, CardError>(SecretString::from(admin.clone()));
    let start = Instant::now();
    let key = card::generate(ident, algo, &mut src).expect("key generation");
    eprintln!(
        "TIMING generate {algo} on {ident}: {:.0} ms",
        ms(start.elapsed())
    );
    key
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Makes sure `ident` has a decryption key (generating cv25519 on a card
/// that may be changed, when it has none).
pub fn ensure_key(ident: &str) {
    let info = card::list().unwrap();
    let c = info
        .iter()
        .find(|c| c.ident == ident)
        .unwrap_or_else(|| panic!("card {ident} is not present: {info:?}"));
    if c.key.is_none() {
        assert!(
            destructive(ident),
            "{ident} has no decryption key to test with"
        );
        generate(ident, KeyAlgorithm::Cv25519);
    }
}

/// `b` as the secret type openpgp-card's PIN calls take.
pub fn secret(b: Vec<u8>) -> secrecy::SecretBox<[u8]> {
    secrecy::SecretBox::new(b.into_boxed_slice())
}

/// Runs `f` on a fresh connection to card `ident` (a second PC/SC client).
pub fn with_card(ident: &str, f: impl FnOnce(&mut openpgp_card::ocard::Transaction<'_>)) {
    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None).unwrap(),
        ident,
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    f(tx.card());
}

/// The reader that holds card `ident`.
pub fn reader_of(ident: &str) -> String {
    card::list()
        .unwrap()
        .into_iter()
        .find(|c| c.ident.eq_ignore_ascii_case(ident))
        .unwrap_or_else(|| panic!("card {ident} is not listed"))
        .reader
}

pub fn retries(ident: &str) -> u8 {
    card::list()
        .unwrap()
        .into_iter()
        .find(|c| c.ident == ident)
        .expect("card present")
        .user_pin_retries
}

/// A repository with the card(s) enrolled (through the CLI) and one backup
/// of a sample tree.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub repo: std::path::PathBuf,
    pub src: std::path::PathBuf,
}

impl Setup {
    pub fn new(cards: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let src = dir.path().join("data");
        sample_tree(&src);
        ok(nkbackup()
            .args(["init", "--repo"])
            .arg(&repo)
            .output()
            .unwrap());
        for (ident, label) in cards {
            let out = nkbackup()
                .args(["card", "enroll", "--repo"])
                .arg(&repo)
                .args(["--ident", ident, "--label", label])
                .output()
                .unwrap();
            ok(out);
        }
        // Sealing needs no card: seal with PC/SC unreachable would work too.
        ok(nkbackup()
            .args(["seal", "--repo"])
            .arg(&repo)
            .args(["--class", "db"])
            .arg(&src)
            .output()
            .unwrap());
        Setup { dir, repo, src }
    }

    pub fn restore(&self, to: &str, card: &str, pin: &str, extra: &[&str]) -> Output {
        nkbackup()
            .args(["restore", "--repo"])
            .arg(&self.repo)
            .args(["latest", "--to"])
            .arg(self.dir.path().join(to))
            .args(["--card", card, "--card-timeout", "3"])
            .args(extra)
            .env("NKBACKUP_PIN", pin)
            .output()
            .unwrap()
    }

    pub fn compare(&self, to: &str) -> usize {
        assert_same_tree(&self.src, &self.dir.path().join(to).join("data"))
    }

    pub fn repository(&self) -> Repository {
        Repository::open(&self.repo).unwrap()
    }
}

pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Opens the latest backup through the library with a card identity and
/// returns (card operations, duration).
pub fn open_with_library(
    s: &Setup,
    ident: Option<&str>,
    pin: String,
) -> nkbackup::Result<(u32, Duration)> {
    let repo = s.repository();
    let b = repo.find("latest")?;
    let id =
        CardIdentity::from_config(repo.config(), ident, pins(pin))?.timeout(Duration::from_secs(3));
    let ops = id.operations();
    let start = Instant::now();
    Opener::new(&b).card(id).verify_deep()?;
    Ok((ops.load(Ordering::SeqCst), start.elapsed()))
}

/// generate → enroll → seal → restore with the card → compare, and one
/// card operation per open.
pub fn round_trip(algo: KeyAlgorithm) {
    let _g = lock();
    let ident = env_card(0);
    if destructive(&ident) {
        generate(&ident, algo);
    } else {
        eprintln!(
            "non-destructive: using the existing key on {ident} instead of generating {algo}"
        );
        ensure_key(&ident);
    }
    round_trip_with_key(&ident, algo);
}

/// enroll → seal → restore → verify --deep → drill with the key on card
/// `ident` (which must be `algo` on a virtual card), however it got there.
pub fn round_trip_with_key(ident: &str, algo: KeyAlgorithm) {
    let ident = ident.to_owned();
    let info = card::list().unwrap();
    let c = info.iter().find(|c| c.ident == ident).unwrap();
    assert!(c.has_key && c.key.is_some(), "{c:?}");
    if is_virtual(&ident) {
        assert_eq!(c.key.as_ref().unwrap().algorithm, algo.to_string(), "{c:?}");
    }
    let s = Setup::new(&[(&ident, "nk-a")]);
    let cfg = std::fs::read_to_string(s.repo.join("nkbackup.toml")).unwrap();
    let kind = KeyAlgorithm::parse(&c.key.as_ref().unwrap().algorithm)
        .unwrap()
        .recipient_kind();
    assert!(cfg.contains(&format!("type = \"{kind}\"")), "{cfg}");
    assert!(cfg.contains(&format!("ident = \"{ident}\"")), "{cfg}");

    let start = Instant::now();
    let out = ok(s.restore("r", &ident, &user_pin(), &[]));
    let cli = start.elapsed();
    assert!(String::from_utf8_lossy(&out.stdout).contains("every entry verified"));
    assert!(s.compare("r") > 10);
    let out = ok(nkbackup()
        .args(["verify", "--repo"])
        .arg(&s.repo)
        .args(["latest", "--deep", "--card", &ident])
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" OK: "),
        "{out:?}"
    );

    let (ops, took) = open_with_library(&s, Some(&ident), user_pin()).unwrap();
    assert_eq!(ops, 1, "exactly one card operation per backup opened");
    // A tiny backup: opening it is almost only the card session (find the
    // token, read its key, verify the PIN, one decipher, reset).
    nkbackup::Sealer::new(&s.repository(), "db")
        .bytes("tiny", b"x".to_vec())
        .seal()
        .unwrap();
    let (tiny_ops, session) = open_with_library(&s, Some(&ident), user_pin()).unwrap();
    assert_eq!(tiny_ops, 1);
    eprintln!(
        "TIMING {algo}: card session for one open {:.0} ms; CLI restore of a 3 MB tree {:.0} ms (whole process), library verify --deep {:.0} ms; card operations per open {ops}",
        ms(session),
        ms(cli),
        ms(took)
    );
    drill_with_card(&s, &ident, kind);
}

/// A drill with the card passes and is journaled with the token; a drill of
/// a damaged backup with the same card fails and is journaled as failed.
pub fn drill_with_card(s: &Setup, ident: &str, kind: &str) {
    let drill = |args: &[&str]| {
        nkbackup()
            .args(["drill", "--repo"])
            .arg(&s.repo)
            .args(args)
            .args(["--card", ident, "--card-timeout", "3", "--json"])
            .env("NKBACKUP_PIN", user_pin())
            .output()
            .unwrap()
    };
    let out = ok(drill(&["--class", "db"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "passed", "{v}");
    assert_eq!(v["token"]["ident"], ident, "{v}");
    assert_eq!(v["token"]["type"], kind, "{v}");
    assert_eq!(v["token"]["label"], "nk-a", "{v}");
    assert!(v["entries_verified"].as_u64().unwrap() >= 1);

    let repo = s.repository();
    let bad = nkbackup::Sealer::new(&repo, "db")
        .bytes("to-corrupt", vec![7u8; 200_000])
        .seal()
        .unwrap();
    let mut bytes = std::fs::read(&bad.data_path).unwrap();
    // Damage the last payload chunk (an RSA-4096 stanza makes the header
    // large: the middle of a small file can be the header).
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    std::fs::write(&bad.data_path, bytes).unwrap();
    let out = drill(&["--backup", &bad.sidecar.id]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "failed", "{v}");
    assert!(v["error"].as_str().unwrap().contains("damaged"), "{v}");
    assert_eq!(v["token"]["ident"], ident);
    // Other classes were never drilled, so status exits 8; the card is ok.
    let st = nkbackup()
        .args(["drill", "status", "--json", "--repo"])
        .arg(&s.repo)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(8), "{}", stderr(&st));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let tok = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "nk-a")
        .unwrap();
    assert_eq!(tok["state"], "ok", "{v}");
    assert_eq!(v["failed"], 1, "{v}");
}
