//! `nkbackup-vcard-probe`: proves an OpenPGP card works over real pcscd, and
//! documents the host-side API nkbackup's `card` module uses
//! (`openpgp-card` 0.7 + `card-backend-pcsc` 0.5 + `secrecy` 0.10).
//!
//! ```text
//! nkbackup-vcard-probe --list [--porcelain]
//! nkbackup-vcard-probe --info [--ident FFFE:0000CAFE]
//! nkbackup-vcard-probe --ident FFFE:0000CAFE [--algos cv25519,rsa2048,p256,rsa4096] [--rounds N]
//! ```
//!
//! The full probe is DESTRUCTIVE: it factory-resets the card, generates new
//! decryption keys and tries a wrong PIN once. It therefore refuses any card
//! whose manufacturer id is not 0xFFFE (our virtual cards) unless
//! `--allow-factory-reset` is given. `--list` and `--info` only read.

use std::{
    ffi::CString,
    process::ExitCode,
    time::{Duration, Instant},
};

use card_backend_pcsc::PcscBackend;
use openpgp_card::{
    ocard::{
        algorithm::AlgoSimple,
        crypto::{Cryptogram, PublicKeyMaterial},
        data::{Fingerprint, KeyGenerationTime},
        KeyType,
    },
    state::{Open, Transaction},
    Card, Error,
};
use rand::RngCore as _;
use secrecy::SecretString;

const USER_PIN: &str = "123456"; // factory default PW1
const ADMIN_PIN: &str = "12345678"; // factory default PW3
/// Manufacturer id of the test range our virtual cards use.
const VIRTUAL_MANUFACTURER: u16 = 0xFFFE;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Times one step and prints it as `  <label> ........ 12.3 ms`.
fn timed<T>(label: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    let mark = if out.is_ok() { "" } else { "  FAILED" };
    println!("  {label:<44} {:>9.1} ms{mark}", ms(took));
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pin(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

// ---------------------------------------------------------------------------
// Finding cards
// ---------------------------------------------------------------------------

/// One OpenPGP card visible through PC/SC.
struct Found {
    reader: String,
    ident: String,
    manufacturer: String,
}

/// Lists readers with an OpenPGP card in them. Unlike
/// `PcscBackend::card_backends(None)` (which hides reader names) this walks
/// the readers with the `pcsc` crate and opens each with
/// `PcscBackend::from_pcsc_reader`, so a caller can select by reader name too.
fn list_cards() -> Result<Vec<Found>> {
    list_cards_impl(true)
}

fn list_cards_quiet() -> Result<Vec<Found>> {
    list_cards_impl(false)
}

fn list_cards_impl(verbose: bool) -> Result<Vec<Found>> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let mut found = Vec::new();
    for reader in ctx.list_readers_owned()? {
        let name = reader.to_string_lossy().into_owned();
        let backend = match PcscBackend::from_pcsc_reader(&ctx, &reader, None) {
            Ok(b) => b,
            Err(card_backend::SmartcardError::CardNotFound(_)) => {
                if verbose {
                    println!("    {name:<22} (empty)");
                }
                continue;
            }
            Err(err) => {
                if verbose {
                    println!("    {name:<22} {err}");
                }
                continue;
            }
        };
        // Card::new SELECTs the OpenPGP application; fails on other cards.
        let mut card: Card<Open> = match Card::new(backend) {
            Ok(c) => c,
            Err(err) => {
                if verbose {
                    println!("    {name:<22} no OpenPGP application ({err})");
                }
                continue;
            }
        };
        let tx = card.transaction()?;
        let aid = tx.application_identifier()?;
        found.push(Found {
            reader: name,
            ident: aid.ident(), // "FFFE:0000CAFE": manufacturer ':' serial, upper-case hex
            manufacturer: format!("{:04X} {}", aid.manufacturer(), aid.manufacturer_name()),
        });
    }
    Ok(found)
}

/// Opens one card by reader name (the direct way, no scanning).
#[allow(dead_code)]
fn open_by_reader(reader: &str) -> Result<Card<Open>> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let backend = PcscBackend::from_pcsc_reader(&ctx, &CString::new(reader)?, None)?;
    Ok(Card::new(backend)?)
}

// ---------------------------------------------------------------------------
// The per-algorithm round trip
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Algo {
    Cv25519,
    Rsa2048,
    Rsa4096,
    P256,
}

impl Algo {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "cv25519" => Self::Cv25519,
            "rsa2048" => Self::Rsa2048,
            "rsa4096" => Self::Rsa4096,
            "p256" => Self::P256,
            _ => return Err(format!("unknown algorithm {s:?}").into()),
        })
    }
    fn simple(self) -> AlgoSimple {
        match self {
            Self::Cv25519 => AlgoSimple::Curve25519,
            Self::Rsa2048 => AlgoSimple::RSA2k,
            Self::Rsa4096 => AlgoSimple::RSA4k,
            Self::P256 => AlgoSimple::NIST256,
        }
    }
}

/// A software-side encryption to the card's key: what the card must send
/// into `decipher`, and what it must answer.
struct Challenge {
    cryptogram: Vec<u8>,
    expected: Vec<u8>,
    is_ecdh: bool,
}

fn challenge(algo: Algo, public: &PublicKeyMaterial) -> Result<Challenge> {
    let mut rng = rand::rngs::OsRng;
    match (algo, public) {
        (Algo::Cv25519, PublicKeyMaterial::E(ecc)) => {
            // The card returns the raw 32-byte X25519 public key (some cards
            // prefix 0x40; accept both).
            let raw = ecc.data();
            let raw = if raw.len() == 33 && raw[0] == 0x40 { &raw[1..] } else { raw };
            let card_pub = x25519_dalek::PublicKey::from(<[u8; 32]>::try_from(raw)?);
            let eph = x25519_dalek::StaticSecret::random_from_rng(rng);
            let eph_pub = x25519_dalek::PublicKey::from(&eph);
            Ok(Challenge {
                // Sent as the raw 32-byte u-coordinate (no 0x40 prefix).
                cryptogram: eph_pub.as_bytes().to_vec(),
                expected: eph.diffie_hellman(&card_pub).as_bytes().to_vec(),
                is_ecdh: true,
            })
        }
        (Algo::P256, PublicKeyMaterial::E(ecc)) => {
            // The card returns an uncompressed SEC1 point (04 || X || Y).
            let card_pub = p256::PublicKey::from_sec1_bytes(ecc.data())?;
            let eph = p256::ecdh::EphemeralSecret::random(&mut rng);
            let eph_pub = p256::EncodedPoint::from(eph.public_key());
            Ok(Challenge {
                cryptogram: eph_pub.as_bytes().to_vec(), // uncompressed, 65 bytes
                expected: eph.diffie_hellman(&card_pub).raw_secret_bytes().to_vec(),
                is_ecdh: true,
            })
        }
        (Algo::Rsa2048 | Algo::Rsa4096, PublicKeyMaterial::R(r)) => {
            use rsa::{BigUint, Pkcs1v15Encrypt, RsaPublicKey};
            let key = RsaPublicKey::new(BigUint::from_bytes_be(r.n()), BigUint::from_bytes_be(r.v()))?;
            let mut message = vec![0u8; 32];
            rng.fill_bytes(&mut message);
            Ok(Challenge {
                cryptogram: key.encrypt(&mut rng, Pkcs1v15Encrypt, &message)?,
                expected: message,
                is_ecdh: false,
            })
        }
        (algo, other) => Err(format!("{algo:?}: unexpected public key {other:?}").into()),
    }
}

/// Placeholder for the fingerprint the card stores with a generated key.
/// openpgp-card needs a function here but does not compute OpenPGP
/// fingerprints itself (sequoia-openpgp can); the probe only needs the slot
/// to be non-empty, so it stores a hash of the key material.
fn placeholder_fingerprint(
    public: &PublicKeyMaterial,
    time: KeyGenerationTime,
    _slot: KeyType,
) -> std::result::Result<Fingerprint, Error> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    match public {
        PublicKeyMaterial::R(r) => {
            h.update(r.n());
            h.update(r.v());
        }
        PublicKeyMaterial::E(e) => h.update(e.data()),
    }
    h.update(time.get().to_be_bytes());
    let digest = h.finalize();
    Ok(Fingerprint::from(<[u8; 20]>::try_from(&digest[..20]).expect("20 bytes")))
}

fn round_trip(tx: &mut Card<Transaction<'_>>, algo: Algo, rounds: u32) -> Result<()> {
    println!("{algo:?}:");
    // Key management needs PW3. After a factory reset the decryption slot
    // is RSA-2048, so the algorithm is always set explicitly first.
    timed("verify admin PIN (PW3)", || Ok(tx.verify_admin_pin(pin(ADMIN_PIN))?))?;
    {
        let mut admin = tx.as_admin_card(None)?;
        timed("set_algorithm(Decryption)", || Ok(admin.set_algorithm(KeyType::Decryption, algo.simple())?))?;
        timed("generate_key(Decryption)", || {
            Ok(admin.generate_key(placeholder_fingerprint, KeyType::Decryption)?)
        })?;
    }
    let public = timed("public_key_material(Decryption)", || Ok(tx.public_key_material(KeyType::Decryption)?))?;
    match &public {
        PublicKeyMaterial::R(r) => {
            println!("    RSA n: {} bytes ({}…), e: {}", r.n().len(), hex(&r.n()[..8]), hex(r.v()))
        }
        PublicKeyMaterial::E(e) => println!("    ECC public: {} bytes ({}…)", e.data().len(), hex(&e.data()[..8])),
    }

    timed("verify user PIN (PW1 0x82)", || Ok(tx.verify_user_pin(pin(USER_PIN))?))?;
    let mut total = Duration::ZERO;
    for i in 0..rounds {
        let c = challenge(algo, &public)?;
        let cryptogram = if c.is_ecdh { Cryptogram::ECDH(&c.cryptogram) } else { Cryptogram::RSA(&c.cryptogram) };
        let start = Instant::now();
        // Decipher exists only on the low-level transaction (`card()`).
        let answer = tx.card().decipher(cryptogram)?;
        total += start.elapsed();
        if i == 0 {
            println!("    decipher: {} bytes in, {} bytes out", c.cryptogram.len(), answer.len());
        }
        if answer != c.expected {
            return Err(format!(
                "{algo:?}: card answered {:02x?}, software expected {:02x?}",
                answer, c.expected
            )
            .into());
        }
    }
    println!("  {:<44} {:>9.1} ms  (mean of {rounds}, all matched software)", "decipher", ms(total) / f64::from(rounds));
    Ok(())
}

/// PIN retry counter: openpgp-card caches the application related data, so
/// the counter is stale after a failed VERIFY until `invalidate_cache()`.
fn retry_counter_demo(tx: &mut Card<Transaction<'_>>) -> Result<()> {
    println!("PIN retry counter:");
    let before = tx.pw_status_bytes()?.err_count_pw1();
    let wrong = tx.verify_user_pin(pin("000000"));
    let cached = tx.pw_status_bytes()?.err_count_pw1();
    tx.invalidate_cache()?;
    let fresh = tx.pw_status_bytes()?.err_count_pw1();
    println!("    before {before}, wrong PIN -> {:?}; cached {cached}, after invalidate_cache {fresh}", wrong.err());
    timed("verify user PIN (correct)", || Ok(tx.verify_user_pin(pin(USER_PIN))?))?;
    tx.invalidate_cache()?;
    println!("    after correct PIN: {}", tx.pw_status_bytes()?.err_count_pw1());
    if fresh + 1 != before {
        return Err("wrong PIN did not decrement the retry counter".into());
    }
    Ok(())
}

/// Read-only look at the decryption slot and the PIN state.
fn info(tx: &mut Card<Transaction<'_>>) -> Result<()> {
    let aid = tx.application_identifier()?;
    println!("info:");
    println!("    ident {}  version {:04x}", aid.ident(), aid.version());
    println!("    decryption algorithm: {}", tx.algorithm_attributes(KeyType::Decryption)?);
    match tx.fingerprint(KeyType::Decryption)? {
        None => println!("    decryption key: none"),
        Some(fp) => {
            println!("    decryption fingerprint: {fp}");
            match tx.public_key_material(KeyType::Decryption)? {
                PublicKeyMaterial::R(r) => println!("    public: RSA n {} bytes ({}…)", r.n().len(), hex(&r.n()[..8])),
                PublicKeyMaterial::E(e) => println!("    public: {} bytes ({}…)", e.data().len(), hex(&e.data()[..8])),
            }
        }
    }
    let pw = tx.pw_status_bytes()?;
    println!("    PW1 retries left {}, PW3 retries left {}", pw.err_count_pw1(), pw.err_count_pw3());
    Ok(())
}

struct Args {
    list_only: bool,
    porcelain: bool,
    info_only: bool,
    ident: Option<String>,
    algos: Vec<Algo>,
    rounds: u32,
    allow_factory_reset: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        list_only: false,
        porcelain: false,
        info_only: false,
        ident: None,
        algos: vec![Algo::Cv25519, Algo::Rsa2048, Algo::P256],
        rounds: 10,
        allow_factory_reset: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => args.list_only = true,
            // With --list: only "IDENT<TAB>READER" lines, for scripts.
            "--porcelain" => args.porcelain = true,
            "--ident" => args.ident = Some(it.next().ok_or("--ident needs a value")?.to_ascii_uppercase()),
            "--algos" => {
                args.algos = it.next().ok_or("--algos needs a value")?.split(',').map(Algo::parse).collect::<Result<_>>()?
            }
            "--rounds" => args.rounds = it.next().ok_or("--rounds needs a value")?.parse()?,
            "--info" => args.info_only = true,
            "--allow-factory-reset" => args.allow_factory_reset = true,
            _ => return Err(format!("unknown argument {a:?}").into()),
        }
    }
    Ok(args)
}

fn run() -> Result<()> {
    let args = parse_args()?;

    if args.list_only && args.porcelain {
        for c in list_cards_quiet()? {
            println!("{}\t{}", c.ident, c.reader);
        }
        return Ok(());
    }
    println!("cards:");
    let cards = timed("list readers + SELECT + read AID", list_cards)?;
    for c in &cards {
        println!("    {:<22} ident {}  manufacturer {}", format!("{:?}", c.reader), c.ident, c.manufacturer);
    }
    if args.list_only {
        return Ok(());
    }
    let ident = match (&args.ident, cards.as_slice()) {
        (Some(i), _) => i.clone(),
        (None, [one]) => one.ident.clone(),
        (None, []) => return Err("no OpenPGP card found".into()),
        (None, _) => return Err("several cards: choose one with --ident".into()),
    };

    // Open by ident: scans all readers, SELECTs, compares the AID.
    let mut card = timed(&format!("open_by_ident({ident})"), || {
        Ok(Card::<Open>::open_by_ident(PcscBackend::card_backends(None)?, &ident)?)
    })?;
    let mut tx = card.transaction()?;
    if args.info_only {
        return info(&mut tx);
    }
    let aid = tx.application_identifier()?;
    if aid.manufacturer() != VIRTUAL_MANUFACTURER && !args.allow_factory_reset {
        return Err(format!(
            "{ident} is not a virtual test card (manufacturer {:04X}); \
             the probe factory-resets — pass --allow-factory-reset to really do that",
            aid.manufacturer()
        )
        .into());
    }

    println!("setup:");
    timed("factory_reset", || Ok(tx.factory_reset()?))?;
    let pw = tx.pw_status_bytes()?;
    println!("    PW1 retries left {}, PW3 retries left {}", pw.err_count_pw1(), pw.err_count_pw3());

    for &algo in &args.algos {
        round_trip(&mut tx, algo, args.rounds.max(1))?;
    }
    retry_counter_demo(&mut tx)?;
    println!("OK");
    Ok(())
}

fn main() -> ExitCode {
    env_logger::init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nkbackup-vcard-probe: {err}");
            ExitCode::FAILURE
        }
    }
}
