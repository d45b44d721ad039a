//! Hardware tests: nkbackup against OpenPGP cards over a real pcscd.
//!
//! Built only with `--features hw-tests`; `hw-tests/run.sh` starts pcscd and
//! two virtual cards (Nitrokey's opcard on trussed) and runs these. Without
//! the card environment every test FAILS with the reason (CI must never
//! skip them silently).
//!
//! Environment:
//! * `NKB_HW_CARD0_IDENT`, `NKB_HW_CARD1_IDENT`: the cards (card 1 only for
//!   the two-card and import scenarios).
//! * `NKB_HW_CARDS_SH`: `hw-tests/scripts/cards.sh`, to pull/insert virtual
//!   cards. Without it (a physical token) the pull scenarios ask nothing and
//!   are skipped with a message.
//! * `NKB_HW_PIN` / `NKB_HW_ADMIN_PIN`: PINs (default 123456 / 12345678).
//! * `NKB_HW_DESTRUCTIVE_IDENT`: a physical card's ident that may be
//!   changed (keys generated/imported, wrong PINs presented). Virtual cards
//!   (`FFFE:…`) always may; any other card is used non-destructively: its
//!   existing decryption key, the correct PIN only.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{assert_same_tree, nkbackup, sample_tree};
use nkbackup::card::{self, CardError, CardIdentity, KeyAlgorithm, PinRequest};
use nkbackup::{Opener, Repository, RestoreOptions};
use secrecy::SecretString;
use std::process::Output;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The cards are one shared resource: scenarios run one at a time.
static CARDS: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    CARDS.lock().unwrap_or_else(|e| e.into_inner())
}

fn env_card(i: u8) -> String {
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
fn second_card() -> Option<String> {
    if std::env::var_os("NKB_HW_CARD1_IDENT").is_none() && !is_virtual(&env_card(0)) {
        common::skip("needs a second token (NKB_HW_CARD1_IDENT)");
        return None;
    }
    Some(env_card(1))
}

fn is_virtual(ident: &str) -> bool {
    ident.starts_with("FFFE:")
}

fn destructive(ident: &str) -> bool {
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
fn card0_setup(
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

fn user_pin() -> String {
    std::env::var("NKB_HW_PIN").unwrap_or_else(|_| "123456".into())
}

fn admin_pin() -> String {
    std::env::var("NKB_HW_ADMIN_PIN").unwrap_or_else(|_| "12345678".into())
}

/// A PIN source that always answers `pin`.
fn pins(pin: String) -> Box<dyn card::PinSource> {
    Box::new(move |_: &PinRequest| Ok::<_, CardError>(SecretString::from(pin.clone())))
}

/// Runs `hw-tests/scripts/cards.sh ARGS`; `false` if there is no script
/// (physical token).
fn cards_sh(args: &[&str]) -> bool {
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

fn generate(ident: &str, algo: KeyAlgorithm) -> card::CardKey {
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Makes sure `ident` has a decryption key (generating cv25519 on a card
/// that may be changed, when it has none).
fn ensure_key(ident: &str) {
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

fn retries(ident: &str) -> u8 {
    card::list()
        .unwrap()
        .into_iter()
        .find(|c| c.ident == ident)
        .expect("card present")
        .user_pin_retries
}

/// A repository with the card(s) enrolled (through the CLI) and one backup
/// of a sample tree.
struct Setup {
    dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    src: std::path::PathBuf,
}

impl Setup {
    fn new(cards: &[(&str, &str)]) -> Self {
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

    fn restore(&self, to: &str, card: &str, pin: &str, extra: &[&str]) -> Output {
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

    fn compare(&self, to: &str) -> usize {
        assert_same_tree(&self.src, &self.dir.path().join(to).join("data"))
    }

    fn repository(&self) -> Repository {
        Repository::open(&self.repo).unwrap()
    }
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Opens the latest backup through the library with a card identity and
/// returns (card operations, duration).
fn open_with_library(
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
fn round_trip(algo: KeyAlgorithm) {
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
fn drill_with_card(s: &Setup, ident: &str, kind: &str) {
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

#[test]
fn cv25519_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::Cv25519);
}

#[test]
fn rsa2048_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::Rsa(2048));
}

#[test]
fn rsa4096_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::Rsa(4096));
}

#[test]
fn nistp256_generate_enroll_seal_restore() {
    round_trip(KeyAlgorithm::NistP256);
}

/// A Curve25519 key made in software and uploaded: the card opens the
/// backup, and so does the software key (it is the same key).
#[test]
fn imported_key_opens_like_the_software_key() {
    let _g = lock();
    let Some(ident) = second_card() else { return };
    if !destructive(&ident) {
        return;
    }
    let secret: [u8; 32] = rand_bytes();
    let public = x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES);
    import_cv25519(&ident, &secret, &public);

    let s = Setup::new(&[(&ident, "imported")]);
    let cfg = std::fs::read_to_string(s.repo.join("nkbackup.toml")).unwrap();
    let age_public = {
        use bech32::ToBase32 as _;
        bech32::encode("age", public.to_base32(), bech32::Variant::Bech32).unwrap()
    };
    assert!(
        cfg.contains(&age_public),
        "enrolled key is the imported one:\n{cfg}"
    );
    ok(s.restore("r", &ident, &user_pin(), &[]));
    s.compare("r");

    // The same backup opens with the software copy of the key.
    let sw = {
        use bech32::ToBase32 as _;
        bech32::encode(
            "age-secret-key-",
            secret.to_base32(),
            bech32::Variant::Bech32,
        )
        .unwrap()
        .to_ascii_uppercase()
    };
    let key_file = s.dir.path().join("sw.txt");
    std::fs::write(&key_file, format!("{sw}\n")).unwrap();
    let repo = s.repository();
    let b = repo.find("latest").unwrap();
    let rep = Opener::new(&b)
        .identity_file(&key_file)
        .unwrap()
        .verify_deep()
        .unwrap();
    assert!(rep.entries_checked > 10);
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

fn import_cv25519(ident: &str, secret: &[u8; 32], public: &[u8; 32]) {
    use openpgp_card::ocard::KeyType;
    use openpgp_card::ocard::algorithm::AlgoSimple;
    use openpgp_card::ocard::crypto::{CardUploadableKey, EccKey, EccType, PrivateKeyMaterial};
    use openpgp_card::ocard::data::{Fingerprint, KeyGenerationTime};

    struct Up {
        private_be: Vec<u8>,
        public: Vec<u8>,
        time: u32,
        fp: [u8; 20],
    }
    impl EccKey for Up {
        fn oid(&self) -> &[u8] {
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01] // Curve25519
        }
        fn private(&self) -> &[u8] {
            &self.private_be
        }
        fn public(&self) -> &[u8] {
            &self.public
        }
        fn ecc_type(&self) -> EccType {
            EccType::ECDH
        }
    }
    impl CardUploadableKey for Up {
        fn private_key(&self) -> Result<PrivateKeyMaterial, openpgp_card::Error> {
            Ok(PrivateKeyMaterial::E(Box::new(self.clone_up())))
        }
        fn timestamp(&self) -> KeyGenerationTime {
            KeyGenerationTime::from(self.time)
        }
        fn fingerprint(&self) -> Result<Fingerprint, openpgp_card::Error> {
            Ok(Fingerprint::from(self.fp))
        }
    }
    impl Up {
        fn clone_up(&self) -> Up {
            Up {
                private_be: self.private_be.clone(),
                public: self.public.clone(),
                time: self.time,
                fp: self.fp,
            }
        }
    }

    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let key = card::CardKey {
        algorithm: KeyAlgorithm::Cv25519,
        public: public.to_vec(),
        exponent: Vec::new(),
        created: time,
    };
    // Card import format: scalar big-endian, public key 0x40 || u.
    let mut private_be = secret.to_vec();
    private_be.reverse();
    let mut pub40 = vec![0x40];
    pub40.extend_from_slice(public);
    let up = Up {
        private_be,
        public: pub40,
        time,
        fp: key.fingerprint_bytes(),
    };

    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None).unwrap(),
        ident,
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    tx.verify_admin_pin(SecretString::from(admin_pin()))
        .unwrap();
    let mut admin = tx.as_admin_card(None).unwrap();
    admin
        .set_algorithm(KeyType::Decryption, AlgoSimple::Curve25519)
        .unwrap();
    admin.import_key(&up, KeyType::Decryption).unwrap();
}

/// A wrong PIN costs one try, says how many are left, and decrypts nothing.
#[test]
fn wrong_pin_drops_the_counter_with_a_clear_message() {
    let Some((_g, ident, s)) = card0_setup(true) else {
        return;
    };
    assert_eq!(retries(&ident), 3);
    let out = s.restore("r", &ident, "000000", &[]);
    assert_eq!(out.status.code(), Some(4), "exit code 4: no usable key");
    let err = stderr(&out);
    assert!(
        err.contains("wrong PIN for token nk-a") && err.contains("2 tries left"),
        "{err}"
    );
    assert!(!err.contains("000000"), "the PIN never appears: {err}");
    assert!(!s.dir.path().join("r").exists());
    assert_eq!(retries(&ident), 2, "the card's counter dropped");
    ok(s.restore("r", &ident, &user_pin(), &[]));
    assert_eq!(retries(&ident), 3, "a correct PIN resets the counter");
}

/// With one try left nkbackup refuses to present a PIN (so it never locks
/// a token) unless told --i-know-the-last-try.
#[test]
fn lockout_guard_at_one_try_left() {
    let Some((_g, ident, s)) = card0_setup(true) else {
        return;
    };
    for _ in 0..2 {
        assert!(!s.restore("r", &ident, "000000", &[]).status.success());
    }
    assert_eq!(retries(&ident), 1);
    // Even the right PIN is not presented.
    let out = s.restore("r", &ident, &user_pin(), &[]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains("only ONE PIN try left") && err.contains("--i-know-the-last-try"),
        "{err}"
    );
    assert_eq!(retries(&ident), 1, "no try was used");
    // The library refuses the same way.
    let e = open_with_library(&s, Some(&ident), user_pin()).unwrap_err();
    assert!(
        matches!(e, nkbackup::Error::Card(CardError::LastPinTry { .. })),
        "{e}"
    );
    assert_eq!(e.kind(), nkbackup::ErrorKind::Key);
    ok(s.restore("r", &ident, &user_pin(), &["--i-know-the-last-try"]));
    assert_eq!(retries(&ident), 3);
    s.compare("r");
}

/// The enrolled token is not inserted: "insert token …", then a clear error
/// after the timeout.
#[test]
fn no_card_inserted_fails_clearly_after_the_timeout() {
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let s = Setup::new(&[(&ident, "alice-nk3")]);
    if !cards_sh(&["pull", "0"]) {
        common::skip("cannot pull a physical token (no NKB_HW_CARDS_SH)");
        return;
    }
    let start = Instant::now();
    let out = s.restore("r", &ident, &user_pin(), &[]);
    let took = start.elapsed();
    cards_sh(&["insert", "0"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("insert token alice-nk3 ({ident})")),
        "{err}"
    );
    assert!(err.contains("was not inserted within 3 s"), "{err}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert!(!s.dir.path().join("r").exists());
}

/// A backup sealed to two tokens opens with either one alone.
#[test]
fn either_of_two_cards_opens() {
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
fn card_pulled_mid_restore_leaves_nothing() {
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
fn card_stopped_during_cli_restore_prints_no_success() {
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

/// A verified PIN does not survive the connection: nkbackup resets the card
/// on disconnect, so a fresh connection must present the PIN again.
#[test]
fn pin_required_on_a_fresh_connection() {
    use openpgp_card::ocard::crypto::Cryptogram;
    let (_g, ident, s) = card0_setup(false).expect("a non-destructive scenario runs");
    ok(s.restore("r", &ident, &user_pin(), &[]));
    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None).unwrap(),
        &ident,
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    let input = match tx
        .public_key_material(openpgp_card::ocard::KeyType::Decryption)
        .unwrap()
    {
        openpgp_card::ocard::crypto::PublicKeyMaterial::E(e) => {
            let d = e.data().to_vec();
            tx.card().decipher(Cryptogram::ECDH(&d)).map(|_| ())
        }
        openpgp_card::ocard::crypto::PublicKeyMaterial::R(r) => {
            let mut ct = vec![0u8; r.n().len()];
            ct[r.n().len() - 1] = 2;
            tx.card().decipher(Cryptogram::RSA(&ct)).map(|_| ())
        }
    };
    let e = input.expect_err("decipher without PIN must be refused");
    assert!(
        matches!(
            e,
            openpgp_card::Error::CardStatus(
                openpgp_card::ocard::StatusBytes::SecurityStatusNotSatisfied
            )
        ),
        "{e:?}"
    );
}

/// Exactly one card operation per backup opened, also when the card's
/// stanza is not the first; and an edited sidecar (recipients reordered)
/// costs no more than that one operation and says what is wrong.
#[test]
fn one_card_operation_per_open_and_tampered_sidecar() {
    let _g = lock();
    let ident = env_card(0);
    if destructive(&ident) {
        // An X25519 card stanza: the wrong stanza is only noticed after
        // the card answered (1 operation); an nkbackup/openpgp stanza names
        // its key, so a mismatch is noticed before (0 operations).
        generate(&ident, KeyAlgorithm::Cv25519);
    } else {
        ensure_key(&ident);
    }
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("repo");
    let mut repo = Repository::init(&repo_path).unwrap();
    for label in ["soft-1", "soft-2"] {
        repo.add_recipient(nkbackup::config::RecipientConfig {
            label: label.into(),
            kind: "age".into(),
            key: age::x25519::Identity::generate().to_public().to_string(),
            ..Default::default()
        })
        .unwrap();
    }
    repo.add_recipient(card::enroll(Some(&ident), "nk-a").unwrap())
        .unwrap();
    let repo = Repository::open(&repo_path).unwrap();
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let rep = nkbackup::Sealer::new(&repo, "db")
        .bytes("big.bin", data)
        .seal()
        .unwrap();
    assert_eq!(
        rep.sidecar.recipients[2].label, "nk-a",
        "stanza order = recipient order"
    );

    let (ops, took) = open_with_library(
        &Setup {
            dir: tempfile::tempdir().unwrap(),
            repo: repo_path.clone(),
            src: dir.path().to_owned(),
        },
        Some(&ident),
        user_pin(),
    )
    .unwrap();
    assert_eq!(
        ops, 1,
        "one card operation for a 5 MB backup with 3 stanzas"
    );
    eprintln!(
        "TIMING 5 MB backup, card third of 3 stanzas: {:.0} ms, {ops} card op",
        ms(took)
    );

    // Swap the card's entry with a software one in the sidecar.
    let mut sc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rep.sidecar_path).unwrap()).unwrap();
    sc["recipients"].as_array_mut().unwrap().swap(0, 2);
    std::fs::write(&rep.sidecar_path, serde_json::to_vec_pretty(&sc).unwrap()).unwrap();
    let repo = Repository::open(&repo_path).unwrap();
    let b = repo.find("latest").unwrap();
    let id = CardIdentity::from_config(repo.config(), Some(&ident), pins(user_pin())).unwrap();
    let ops = id.operations();
    let x25519 = repo.config().recipients[2].kind == card::key::KIND_X25519;
    let e = Opener::new(&b).card(id).verify_deep().unwrap_err();
    let want = u32::from(x25519);
    assert!(
        matches!(&e, nkbackup::Error::Card(CardError::HeaderMismatch { ops, .. }) if *ops == want),
        "{e}"
    );
    assert!(e.to_string().contains("sidecar"), "{e}");
    assert_eq!(
        ops.load(Ordering::SeqCst),
        want,
        "no further card operation"
    );
    assert_eq!(e.kind(), nkbackup::ErrorKind::Integrity);
}

/// A backup whose card stanza is damaged is a damaged backup (exit 3, "the
/// stanza … is damaged"), not a card failure: RSA ciphertext changed (the
/// card refuses it), NIST P-256 wrapped key changed (the card answers, the
/// result does not authenticate), X25519 body changed. The PIN counter is
/// untouched: the right PIN was given.
#[test]
fn damaged_card_stanza_is_a_damaged_backup() {
    let _g = lock();
    let ident = env_card(0);
    if !destructive(&ident) {
        return;
    }
    for (algo, tag) in [
        (KeyAlgorithm::Rsa(2048), "nkbackup/openpgp"),
        (KeyAlgorithm::NistP256, "nkbackup/openpgp"),
        (KeyAlgorithm::Cv25519, "X25519"),
    ] {
        generate(&ident, algo);
        let s = Setup::new(&[(&ident, "nk-a")]);
        let b = s.repository().find("latest").unwrap();
        // The last byte: the RSA ciphertext's lowest byte, the end of the
        // ECDH wrapped key, the end of the X25519 wrapped file key.
        common::damage_stanza_body(&b.data_path, tag, |body| *body.last_mut().unwrap() ^= 0x01);
        let out = s.restore("r", &ident, &user_pin(), &[]);
        let err = stderr(&out);
        eprintln!("{algo}: exit {:?}: {err}", out.status.code());
        assert_eq!(
            out.status.code(),
            Some(3),
            "{algo}: exit 3 (damaged): {err}"
        );
        assert!(
            err.contains("stanza #1") && err.contains("damaged"),
            "{algo}: {err}"
        );
        assert!(!s.dir.path().join("r").exists());
        assert_eq!(retries(&ident), 3, "{algo}: the PIN was right");
        // As the message advises, `verify` (no key) tells a changed file.
        let v = nkbackup()
            .args(["verify", "--repo"])
            .arg(&s.repo)
            .arg("latest")
            .output()
            .unwrap();
        assert_eq!(v.status.code(), Some(3), "{algo}: {}", stderr(&v));

        let e = open_with_library(&s, Some(&ident), user_pin()).unwrap_err();
        assert_eq!(e.kind(), nkbackup::ErrorKind::Integrity, "{algo}: {e}");
        if tag == "X25519" {
            // An X25519 stanza names nobody: a wrong sidecar hint and a
            // damaged body look the same; the message says both.
            assert!(
                matches!(
                    &e,
                    nkbackup::Error::Card(CardError::HeaderMismatch { ops: 1, .. })
                ),
                "{algo}: {e}"
            );
            assert!(e.to_string().contains("or the header is damaged"), "{e}");
        } else {
            assert!(
                matches!(
                    &e,
                    nkbackup::Error::Card(CardError::DamagedStanza { ops: 1, .. })
                ),
                "{algo}: {e}"
            );
        }
    }
}

/// Sets the decryption key's touch policy (UIF) with the admin PIN.
fn set_touch(
    ident: &str,
    policy: openpgp_card::ocard::data::TouchPolicy,
) -> Result<(), openpgp_card::Error> {
    let mut c = openpgp_card::Card::<openpgp_card::state::Open>::open_by_ident(
        card_backend_pcsc::PcscBackend::card_backends(None)?,
        ident,
    )?;
    let mut tx = c.transaction()?;
    tx.verify_admin_pin(SecretString::from(admin_pin()))?;
    let mut admin = tx.as_admin_card(None)?;
    admin.set_touch_policy(openpgp_card::ocard::KeyType::Decryption, policy)
}

/// Turns touch confirmation off again when dropped (also on a failed
/// assertion), so later scenarios see the card as they expect.
struct TouchOff<'a>(&'a str);

impl Drop for TouchOff<'_> {
    fn drop(&mut self) {
        if let Err(e) = set_touch(self.0, openpgp_card::ocard::data::TouchPolicy::Off) {
            eprintln!("could not turn touch confirmation off on {}: {e:?}", self.0);
        }
    }
}

fn card_touch(ident: &str) -> String {
    let out = ok(nkbackup()
        .args(["card", "list", "--json"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|c| c["ident"] == ident)
        .unwrap_or_else(|| panic!("{ident} not listed: {v}"))["touch"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Touch confirmation (UIF) on for the decryption key: `card list` shows
/// it, and a restore says "touch your token …" before the one decipher
/// (the virtual card confirms presence at once; a physical token waits for
/// the touch). With UIF off again, the message is gone.
#[test]
fn touch_policy_on_says_touch_your_token() {
    use openpgp_card::ocard::data::TouchPolicy;
    let Some((_g, ident, s)) = card0_setup(true) else {
        return;
    };
    assert_eq!(card_touch(&ident), "off");
    set_touch(&ident, TouchPolicy::On)
        .unwrap_or_else(|e| panic!("the card refused UIF on for decryption: {e:?}"));
    let reset = TouchOff(&ident);
    assert_eq!(card_touch(&ident), "on", "card list shows the touch policy");
    let text = ok(nkbackup().args(["card", "list"]).output().unwrap());
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("touch: on"),
        "{text:?}"
    );

    let out = ok(s.restore("r", &ident, &user_pin(), &[]));
    let touch = format!("touch your token nk-a ({ident}) to confirm the decryption");
    assert!(stderr(&out).contains(&touch), "{}", stderr(&out));
    s.compare("r");

    drop(reset);
    assert_eq!(card_touch(&ident), "off");
    let out = ok(s.restore("r2", &ident, &user_pin(), &[]));
    assert!(
        !stderr(&out).contains("touch your token"),
        "{}",
        stderr(&out)
    );
}

/// The program at `name` on PATH (these tests need it: install-deps.sh
/// installs it).
fn tool(name: &str) -> std::path::PathBuf {
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
fn restore_via_pinentry(s: &Setup, ident: &str, to: &str, keys: &[u8]) -> (Option<i32>, String) {
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
fn pinentry_gives_the_pin_and_cancel_is_clear() {
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

/// `escrow open --card`: a secret escrowed to a software key and the card
/// (second, so the hint matters) opens with the card, one card operation;
/// a wrong PIN is a wrong PIN (exit 4), not a damaged escrow.
#[test]
fn escrow_opens_with_the_card() {
    use std::io::Write as _;
    let _g = lock();
    let ident = env_card(0);
    ensure_key(&ident);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let run = |args: &[&str], pin: &str, stdin: &[u8]| {
        let mut child = nkbackup()
            .args(args)
            .arg("--repo")
            .arg(&repo)
            .env("NKBACKUP_PIN", pin)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    ok(run(&["init"], "", b""));
    let soft = age::x25519::Identity::generate().to_public().to_string();
    ok(run(
        &["recipient", "add", "--label", "soft", &soft],
        "",
        b"",
    ));
    ok(run(
        &["card", "enroll", "--ident", &ident, "--label", "nk-a"],
        "",
        b"",
    ));
    let secret: Vec<u8> = (0..=255u8).rev().collect(); // not UTF-8
    ok(run(
        &["escrow", "seal", "--name", "signing-key"],
        "",
        &secret,
    ));

    let open = [
        "escrow",
        "open",
        "--name",
        "signing-key",
        "--card",
        &ident,
        "--card-timeout",
        "3",
    ];
    let out = ok(run(&open, &user_pin(), b""));
    assert_eq!(out.stdout, secret, "the escrowed bytes come back");

    // Library: the item's recipients are the hint; one card operation.
    let r = Repository::open(&repo).unwrap();
    let item = nkbackup::escrow::find(&r, "signing-key", None).unwrap();
    assert_eq!(item.recipients[1].label, "nk-a");
    let mut id = CardIdentity::from_config(r.config(), Some(&ident), pins(user_pin()))
        .unwrap()
        .timeout(Duration::from_secs(3));
    id.use_recipients(&item.recipients);
    let ops = id.operations();
    let ids: Vec<Box<dyn age::Identity>> = vec![Box::new(id)];
    let got = nkbackup::escrow::open(&item, &ids).unwrap();
    use secrecy::ExposeSecret as _;
    assert_eq!(got.expose_secret(), secret.as_slice());
    assert_eq!(ops.load(Ordering::SeqCst), 1, "one card operation");

    if destructive(&ident) {
        let out = run(&open, "000000", b"");
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("wrong PIN for token nk-a") && !err.contains("damaged"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
        assert_eq!(retries(&ident), 2);
        ok(run(&open, &user_pin(), b""));
        assert_eq!(retries(&ident), 3);
    }
}
