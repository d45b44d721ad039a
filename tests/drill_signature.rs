//! Drill records signed by the token (issue 21, part 5): a signed record
//! verifies against the enrolled signature key and the report says
//! "signed by token …"; an altered record, or one signed by another key,
//! is not proof (an altered one is a violation); unsigned records say why.
//! The card's signing operation itself is tested against the virtual card
//! (hw-tests/tests/signing.rs); here a software Ed25519 key signs, so the
//! verification rules are tested without hardware.

mod common;

use common::{Fixture, SoftSigner, add_soft_card, nkbackup};
use nkbackup::drill::{
    self, DrillOptions, DrillSignature, RecordSigner, SignatureState, TokenInfo,
};
use nkbackup::{Opener, Repository, Sealer};
use std::fs;

fn card_token() -> TokenInfo {
    TokenInfo {
        label: "nk-a".into(),
        kind: "card-x25519".into(),
        ident: Some("FFFE:0000000A".into()),
        fingerprint: None,
    }
}

/// A repository with the soft card enrolled (with `signer`'s key, if
/// any), one backup sealed to it, and the card's decryption identity.
fn setup(signer: Option<&SoftSigner>) -> (Fixture, Repository, age::x25519::Identity) {
    let f = Fixture::new();
    // A deadline, so that verification has nothing else to say.
    let mut repo = f.with_classes("[classes.db]\nmax_age = \"30d\"\n");
    let id = add_soft_card(&mut repo, "nk-a", signer);
    Sealer::new(&repo, "db")
        .bytes("d.sql", b"dump".to_vec())
        .seal()
        .unwrap();
    (f, repo, id)
}

fn drill_with(
    repo: &Repository,
    id: &age::x25519::Identity,
    signer: Option<&mut dyn RecordSigner>,
) -> nkbackup::Result<drill::DrillLine> {
    let b = repo.find("latest").unwrap();
    drill::run_signed(
        repo,
        &b,
        Opener::new(&b).identity(Box::new(id.clone())),
        card_token(),
        &DrillOptions::default(),
        signer,
    )
}

fn verify(f: &Fixture, extra: &[&str]) -> (i32, String) {
    let out = nkbackup()
        .args(["retention", "verify", "--repo"])
        .arg(f.repo_path())
        .args(extra)
        .env_remove("NKBACKUP_NOW")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn drill_journal(f: &Fixture) -> std::path::PathBuf {
    f.repo_path().join("journal/drills.jsonl")
}

/// Rewrites the drill journal as someone with write access to the
/// repository can: the text, and the head to match its last line, so
/// that chain and head stay consistent and only a signature can tell.
fn rewrite_journal(f: &Fixture, text: &str) {
    use sha2::Digest as _;
    fs::write(drill_journal(f), text).unwrap();
    let last = text.lines().last().unwrap();
    let seq = text.lines().count();
    let sha = hex::encode(sha2::Sha256::digest(format!("{last}\n").as_bytes()));
    fs::write(
        f.repo_path().join("journal/drills.head"),
        format!("{{\"seq\":{seq},\"sha256\":\"{sha}\"}}\n"),
    )
    .unwrap();
}

#[test]
fn a_drill_signed_by_the_token_verifies_and_the_report_says_so() {
    let mut signer = SoftSigner::generate();
    let (f, repo, id) = setup(Some(&signer));
    let fp = signer.fingerprint();
    let rec = drill_with(&repo, &id, Some(&mut signer)).unwrap();
    let sig = rec.signature.clone().expect("a passed drill is signed");
    assert_eq!(sig.key, fp);
    assert!(rec.unsigned.is_none());
    // The signature is over the statement, which names what was proved.
    let st = String::from_utf8(rec.statement()).unwrap();
    assert!(
        st.starts_with(&format!("{}\n", drill::STATEMENT_MAGIC)),
        "{st}"
    );
    assert!(
        st.contains(&format!("backup: \"{}\"\n", rec.backup_id)),
        "{st}"
    );
    assert!(st.contains("token: \"nk-a\"\n"), "{st}");
    assert!(st.contains("outcome: \"passed\"\n"), "{st}");
    // The journal keeps it; verification finds it good.
    let line = fs::read_to_string(drill_journal(&f)).unwrap();
    assert!(line.contains(&sig.openpgp), "{line}");
    let back = drill::record(&repo, rec.seq).unwrap().unwrap();
    assert_eq!(
        drill::signature::check(repo.config(), &back),
        SignatureState::Signed {
            label: "nk-a".into(),
            ident: "FFFE:0000000A".into(),
            key: fp.clone()
        }
    );
    let html = f.path("report.html");
    let (code, text) = verify(&f, &["--report", html.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    let report = fs::read_to_string(&html).unwrap();
    assert!(
        report.contains(&format!("signed by token nk-a (FFFE:0000000A, key {fp})")),
        "{report}"
    );
    assert!(
        report.contains("Drills in the period: 1; signed by their token (proof that the token itself was present): 1; unsigned: 0;"),
        "{report}"
    );
    let (_, json) = verify(&f, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["drill_signatures"][0]["state"], "signed", "{v}");
}

#[test]
fn an_altered_signed_record_is_a_violation() {
    let mut signer = SoftSigner::generate();
    let (f, repo, id) = setup(Some(&signer));
    let rec = drill_with(&repo, &id, Some(&mut signer)).unwrap();
    // The last line edited, the head rewritten to match: chain and head
    // are consistent, only the signature can tell.
    let text = fs::read_to_string(drill_journal(&f)).unwrap();
    let from = format!("\"entries_verified\":{}", rec.entries_verified);
    assert!(text.contains(&from), "{text}");
    let to = format!("\"entries_verified\":{}", rec.entries_verified + 1000);
    rewrite_journal(&f, &text.replace(&from, &to));
    let back = drill::record(&repo, rec.seq).unwrap().unwrap();
    let state = drill::signature::check(repo.config(), &back);
    assert!(
        matches!(&state, SignatureState::Invalid { reason } if reason.contains("changed after it was signed")),
        "{state:?}"
    );
    let html = f.path("report.html");
    let (code, out) = verify(&f, &["--report", html.to_str().unwrap()]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("carries a signature that fails"), "{out}");
    assert!(
        !out.contains("journal-damaged"),
        "only the signature tells: {out}"
    );
    let report = fs::read_to_string(&html).unwrap();
    assert!(
        report.contains("<td class=\"fail\">INVALID signature: "),
        "{report}"
    );
    let (_, json) = verify(&f, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "drill-signature-invalid" && p["subject"] == "drills #1"),
        "{v}"
    );
}

/// Signs with one key and says it is another's.
struct Claiming {
    signer: SoftSigner,
    claims: Option<String>,
}

impl RecordSigner for Claiming {
    fn sign(&mut self, statement: &[u8]) -> nkbackup::Result<DrillSignature> {
        let mut s = self.signer.sign(statement)?;
        if let Some(k) = &self.claims {
            s.key = k.clone();
        }
        Ok(s)
    }
}

#[test]
fn a_signature_by_another_key_is_no_proof() {
    let enrolled = SoftSigner::generate();
    let (f, repo, id) = setup(Some(&enrolled));
    // Honest about its key: not the token's, so nothing is proved, but a
    // regenerated signature key looks the same: not a violation.
    let mut other = Claiming {
        signer: SoftSigner::generate(),
        claims: None,
    };
    let rec = drill_with(&repo, &id, Some(&mut other)).unwrap();
    let state = drill::signature::check(repo.config(), &rec);
    assert!(
        matches!(&state, SignatureState::Unverifiable { reason } if reason.contains("not by the enrolled key")),
        "{state:?}"
    );
    assert_eq!(verify(&f, &[]).0, 0);
    // Claiming to be the token's key: a forgery, and a violation.
    let mut liar = Claiming {
        signer: SoftSigner::generate(),
        claims: Some(enrolled.fingerprint()),
    };
    let rec = drill_with(&repo, &id, Some(&mut liar)).unwrap();
    let state = drill::signature::check(repo.config(), &rec);
    assert!(matches!(state, SignatureState::Invalid { .. }), "{state:?}");
    let (code, out) = verify(&f, &[]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("drills #2"), "{out}");
}

/// A signer that fails as a card does when the PIN is cancelled.
struct Failing(u32);

impl RecordSigner for Failing {
    fn sign(&mut self, _: &[u8]) -> nkbackup::Result<DrillSignature> {
        self.0 += 1;
        Err(nkbackup::Error::from(
            nkbackup::card::CardError::PinCancelled {
                label: "nk-a".into(),
            },
        ))
    }
}

#[test]
fn unsigned_drills_say_why() {
    // A card without a signature key.
    let (f, repo, id) = setup(None);
    let rec = drill_with(&repo, &id, None).unwrap();
    assert!(rec.signature.is_none());
    assert_eq!(
        drill::signature::check(repo.config(), &rec).describe(),
        "unsigned (the token has no signature key)"
    );
    let html = f.path("report.html");
    let (code, out) = verify(&f, &["--report", html.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        fs::read_to_string(&html)
            .unwrap()
            .contains("unsigned (the token has no signature key)")
    );

    // Signing fails: the drill still passed, journaled unsigned with why.
    let signer = SoftSigner::generate();
    let (_f, repo, id) = setup(Some(&signer));
    let mut failing = Failing(0);
    let rec = drill_with(&repo, &id, Some(&mut failing)).unwrap();
    assert_eq!(rec.outcome, drill::Outcome::Passed);
    assert!(
        rec.unsigned.as_deref().unwrap().contains("cancel"),
        "{rec:?}"
    );
    let d = drill::signature::check(repo.config(), &rec).describe();
    assert!(
        d.starts_with("unsigned (signing on the token failed: "),
        "{d}"
    );

    // A failed drill is never signed: the signer is not even asked.
    let b = repo.find("latest").unwrap();
    let mut bytes = fs::read(&b.data_path).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    fs::write(&b.data_path, bytes).unwrap();
    let before = failing.0;
    let e = drill_with(&repo, &id, Some(&mut failing)).unwrap_err();
    let nkbackup::Error::DrillFailed { seq, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(failing.0, before, "the signer was asked for a failed drill");
    let rec = drill::record(&repo, seq).unwrap().unwrap();
    assert!(rec.signature.is_none() && rec.unsigned.is_none());
    assert_eq!(
        drill::signature::check(repo.config(), &rec).describe(),
        "unsigned (failed drills are not signed)"
    );
}

#[test]
fn signing_keys_are_checked_where_they_are_configured() {
    let f = Fixture::new();
    let signer = SoftSigner::generate();
    // Only a card signs drill records.
    let cfg = f.repo_path().join("nkbackup.toml");
    let text = fs::read_to_string(&cfg).unwrap();
    let with_key = text.replacen(
        "type = \"age\"",
        &format!(
            "type = \"age\"\nsigning_key = \"{}\"",
            signer.config_value()
        ),
        1,
    );
    fs::write(&cfg, &with_key).unwrap();
    let e = Repository::open(f.repo_path()).unwrap_err().to_string();
    assert!(e.contains("only a card's signature key"), "{e}");
    fs::write(&cfg, &text).unwrap();
    // A fingerprint that is not the key's is refused when it is set.
    let mut repo = Repository::open(f.repo_path()).unwrap();
    add_soft_card(&mut repo, "nk-a", None);
    let e = repo
        .set_signing_key("nk-a", Some((signer.config_value(), "AB".repeat(20))))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not the fingerprint"), "{e}");
    repo.set_signing_key("nk-a", Some((signer.config_value(), signer.fingerprint())))
        .unwrap();
    let reread = Repository::open(f.repo_path()).unwrap();
    let r = reread
        .config()
        .recipients
        .iter()
        .find(|r| r.label == "nk-a")
        .unwrap();
    assert_eq!(
        r.signing_fingerprint.as_deref(),
        Some(signer.fingerprint().as_str())
    );
    // An unusable enrolled key makes signatures unverifiable, not a crash.
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(&cfg, text.replace(&signer.config_value(), "bm90IGEga2V5")).unwrap();
    let repo = Repository::open(f.repo_path()).unwrap();
    let rec = drill::DrillRecord {
        signature: Some(DrillSignature {
            key: signer.fingerprint(),
            openpgp: "AAAA".into(),
        }),
        ..sample_record()
    };
    let d = drill::signature::check(repo.config(), &rec).describe();
    assert!(d.contains("signing_key of token nk-a is unusable"), "{d}");
}

/// Hostile `signature` values are refused with a reason, never a panic.
#[test]
fn hostile_signatures_are_refused_with_a_reason() {
    let mut signer = SoftSigner::generate();
    let (_f, repo, _id) = setup(Some(&signer));
    let good = sample_record();
    let sign = |s: &mut SoftSigner, r: &drill::DrillRecord| s.sign_b64(&r.statement());
    let literal = {
        use base64::Engine as _;
        // A literal-data packet (tag 11), not a signature.
        base64::engine::general_purpose::STANDARD.encode([0xcb, 0x06, b'b', 0, 0, 0, 0, 0])
    };
    let cases = [
        ("not base64 !!".to_owned(), "not base64"),
        ("A".repeat(5000), "at most 4096"),
        (literal, "not a signature packet"),
        ("AAAA".to_owned(), "not an OpenPGP packet"),
        (
            sign(&mut signer, &sample_record_for("other-backup")),
            "changed after it was signed",
        ),
    ];
    for (value, want) in cases {
        let rec = drill::DrillRecord {
            signature: Some(DrillSignature {
                key: signer.fingerprint(),
                openpgp: value,
            }),
            ..good.clone()
        };
        match drill::signature::check(repo.config(), &rec) {
            SignatureState::Invalid { reason } => {
                assert!(reason.contains(want), "wanted {want:?}: {reason}")
            }
            other => panic!("wanted {want:?}: {other:?}"),
        }
    }
    // And the good one, for contrast.
    let rec = drill::DrillRecord {
        signature: Some(DrillSignature {
            key: signer.fingerprint(),
            openpgp: sign(&mut signer, &good),
        }),
        ..good
    };
    assert!(matches!(
        drill::signature::check(repo.config(), &rec),
        SignatureState::Signed { .. }
    ));
}

fn sample_record() -> drill::DrillRecord {
    sample_record_for("20261201T000000Z-7e57c0de")
}

fn sample_record_for(backup: &str) -> drill::DrillRecord {
    let t = time::OffsetDateTime::from_unix_timestamp(1_796_083_200).unwrap();
    drill::DrillRecord {
        started: t,
        duration_s: 1.5,
        outcome: drill::Outcome::Passed,
        error: None,
        backup_id: backup.into(),
        class: "db".into(),
        backup_created: t,
        token: card_token(),
        members: Vec::new(),
        entries_verified: 3,
        bytes_verified: 4,
        ciphertext_bytes: 500,
        throughput_mib_s: 0.1,
        restored_to: None,
        compare: None,
        host: "test\nhost: \"forged\"".into(),
        tool: "nkbackup test".into(),
        signature: None,
        unsigned: None,
    }
}
