//! Drills signed by the token (issue 21, part 5): a card with a signature
//! key signs its drill record on the card; verification checks it against
//! the enrolled key; an altered record or another card's signature fails;
//! a card without a signature key drills unsigned.

use crate::support::*;

fn generate_signing(ident: &str, algo: KeyAlgorithm) -> card::SigningKey {
    let mut src = pins(admin_pin());
    let start = Instant::now();
    let key = card::generate::generate_signing(ident, algo, src.as_mut())
        .expect("signature key generation");
    eprintln!(
        "TIMING generate {algo} signature key on {ident}: {:.0} ms",
        ms(start.elapsed())
    );
    key
}

/// A drill through the CLI with card `ident`, `--json`.
fn drill(s: &Setup, ident: &str) -> serde_json::Value {
    let out = ok(nkbackup()
        .args(["drill", "--repo"])
        .arg(&s.repo)
        .args([
            "--class",
            "db",
            "--card",
            ident,
            "--card-timeout",
            "3",
            "--json",
        ])
        .env("NKBACKUP_PIN", user_pin())
        .output()
        .unwrap());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `retention verify` with a report: (exit code, output, HTML).
fn verify(s: &Setup) -> (i32, String, String) {
    let html = s.dir.path().join("report.html");
    let out = nkbackup()
        .args(["retention", "verify", "--repo"])
        .arg(&s.repo)
        .arg("--report")
        .arg(&html)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out)),
        std::fs::read_to_string(&html).unwrap_or_default(),
    )
}

/// The init'd default classes get their commented deadlines, so that
/// verification speaks only of drills.
fn with_deadlines(s: &Setup) {
    let cfg = s.repo.join("nkbackup.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("#max_age", "max_age")).unwrap();
}

/// Enrolls card `ident` as `label` through the library.
fn enroll(s: &Setup, ident: &str, label: &str) -> nkbackup::config::RecipientConfig {
    nkbackup::enroll::card(
        &mut s.repository(),
        &nkbackup::enroll::CardOptions {
            ident: Some(ident.to_owned()),
            label: label.into(),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
pub fn drills_are_signed_by_the_token_and_checked() {
    let g = lock();
    let a = env_card(0);
    if !destructive(&a) {
        common::skip("generating a signature key needs a card that may be changed");
        return;
    }
    let Some(b) = second_card() else {
        return;
    };
    ensure_key(&a);
    let key = generate_signing(&a, KeyAlgorithm::Cv25519);
    assert_eq!(key.algorithm(), card::SignAlgorithm::Ed25519);
    let listed = card::list().unwrap();
    let c = listed.iter().find(|c| c.ident == a).unwrap();
    let sk = c
        .signing_key
        .as_ref()
        .expect("card list shows the signature key");
    assert_eq!(sk.algorithm, "ed25519");
    assert_eq!(sk.fingerprint, key.fingerprint_hex());

    // Enrollment records the signature key.
    let s = Setup::new(&[(&a, "nk-a")]);
    with_deadlines(&s);
    let cfg = std::fs::read_to_string(s.repo.join("nkbackup.toml")).unwrap();
    assert!(
        cfg.contains(&format!(
            "signing_fingerprint = \"{}\"",
            key.fingerprint_hex()
        )),
        "{cfg}"
    );
    // One PIN (NKBACKUP_PIN) opens the backup and signs the record.
    let v = drill(&s, &a);
    assert_eq!(v["outcome"], "passed", "{v}");
    assert_eq!(v["signature"]["key"], key.fingerprint_hex(), "{v}");
    assert!(v.get("unsigned").is_none(), "{v}");
    let (code, out, html) = verify(&s);
    assert_eq!(code, 0, "{out}");
    let signed = format!("signed by token nk-a ({a}, key {})", key.fingerprint_hex());
    assert!(html.contains(&signed), "{html}");

    // The record changed after signing: a violation.
    let journal = s.repo.join("journal/drills.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let entries = v["entries_verified"].as_u64().unwrap();
    let altered = text.replace(
        &format!("\"entries_verified\":{entries}"),
        &format!("\"entries_verified\":{}", entries + 1),
    );
    std::fs::write(&journal, &altered).unwrap();
    let (code, out, html) = verify(&s);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("carries a signature that fails"), "{out}");
    assert!(html.contains("INVALID signature"), "{html}");
    std::fs::write(&journal, &text).unwrap();
    assert_eq!(verify(&s).0, 0);

    // Card B, factory fresh: no signature key, so its drills are unsigned.
    if !cards_sh(&["card-stop", "1"]) {
        common::skip("cannot reset a physical second token");
        return;
    }
    cards_sh(&["card-start", "1"]);
    generate(&b, KeyAlgorithm::Cv25519);
    enroll(&s, &b, "nk-b");
    nkbackup::Sealer::new(&s.repository(), "db")
        .bytes("d.sql", b"for both".to_vec())
        .seal()
        .unwrap();
    let v = drill(&s, &b);
    assert_eq!(v["outcome"], "passed", "{v}");
    assert!(v.get("signature").is_none(), "{v}");
    let (code, out, html) = verify(&s);
    assert_eq!(code, 0, "{out}");
    assert!(
        html.contains("unsigned (the token has no signature key)"),
        "{html}"
    );

    // Card B gets a signature key; enrolling it again records it.
    let key_b = generate_signing(&b, KeyAlgorithm::NistP256);
    let rc = enroll(&s, &b, "nk-b");
    assert_eq!(rc.signing_fingerprint, Some(key_b.fingerprint_hex()));
    let v = drill(&s, &b);
    assert_eq!(v["signature"]["key"], key_b.fingerprint_hex(), "{v}");
    assert_eq!(verify(&s).0, 0);

    // Card B's signature passed off as card A's: the record is rewritten
    // to name token A and A's key, keeping B's signature. It fails.
    let text = std::fs::read_to_string(&journal).unwrap();
    let last = text.lines().last().unwrap();
    let forged = last
        .replace("\"nk-b\"", "\"nk-a\"")
        .replace(&b, &a)
        .replace(&key_b.fingerprint_hex(), &key.fingerprint_hex());
    std::fs::write(&journal, text.replace(last, &forged)).unwrap();
    let (code, out, _) = verify(&s);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("carries a signature that fails"), "{out}");
    drop(g);
}
