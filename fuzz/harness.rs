//! What each fuzz target feeds its input to: every parser of something
//! read from a repository, a key sheet or a custodian. The targets in
//! fuzz_targets/ call these (`cargo +nightly fuzz run <target>`), and so
//! does `tests/fuzz_corpora.rs`, which replays every corpus file on stable
//! in the ordinary test suite. A target fails only by panicking, aborting
//! or hanging: refusals are the expected outcome for most inputs.
#![allow(dead_code)]

use age_core::format::Stanza;
use nkbackup::archive::{NullSink, read_stream};
use nkbackup::card::key::{CardKey, KeyAlgorithm};
use nkbackup::format::tar::TarReader;
use nkbackup::id::BackupId;
use nkbackup::manifest::Sidecar;
use std::path::Path;

/// The whole stream reader: tar framing, path and shape checks, the
/// manifest and its comparison with the entries.
pub fn stream(data: &[u8]) {
    let _ = read_stream(data, "fuzz", &mut NullSink);
}

/// The tar framing alone, entry by entry, reading every entry's content.
pub fn tar_headers(data: &[u8]) {
    let mut r = TarReader::new(data);
    let mut buf = [0u8; 4096];
    while let Ok(Some(_)) = r.next_entry() {
        while let Ok(n) = r.read_data(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    let _ = r.finish();
    let _ = nkbackup::format::pax::parse(data);
    // The bound read before age parses a backup's header.
    let _ = nkbackup::format::age_header::read_prefix(&mut &data[..]);
}

/// A sidecar, as listed from `backups/archive/<id>.json`.
pub fn sidecar(data: &[u8]) {
    // A file name's id, as a listing checks it.
    if let Ok(name) = std::str::from_utf8(&data[..data.len().min(25)]) {
        let _ = BackupId::parse(name).map(|id| id.created());
    }
    let id = BackupId::parse("20261101T000000Z-7e57c0de").expect("a valid id");
    if let Ok(s) = Sidecar::parse(data, "archive", &id) {
        // What a listing and retention do with a parsed one.
        let _ = s.labels();
        let policy = nkbackup::retention::ClassPolicy {
            class: "archive".into(),
            promise: None,
            max_age: nkbackup::retention::Period::parse("36500d").ok(),
            forever: None,
            tolerance: None,
            promise_max: None,
            keep: Default::default(),
            source_max_age: None,
            erasure_period: None,
            compression: Default::default(),
        };
        let _ = policy.deadline(s.created);
    }
}

/// `nkbackup.toml`.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cfg) = nkbackup::config::Config::parse(text, Path::new("nkbackup.toml"))
    {
        let _ = nkbackup::retention::Policy::from_config(&cfg);
        let _ = cfg.drill_max_interval();
        let _ = cfg.sealing_recipients();
    }
}

/// A deletion journal; input before the first 0xff byte is the journal,
/// after it the head record. Within the journal, 0xfe bytes separate the
/// main object from segments, each `NAME:BYTES` (as in a bucket:
/// `00000000000000000001.jsonl:{...}`).
pub fn journal(data: &[u8]) {
    let (lines, head) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut parts = lines.split(|&b| b == 0xfe);
    let main = parts.next().unwrap_or_default();
    let segments: Vec<(&str, &[u8])> = parts
        .map(|p| {
            let at = p.iter().position(|&b| b == b':').unwrap_or(p.len());
            let name = std::str::from_utf8(&p[..at]).unwrap_or("?");
            (name, p.get(at + 1..).unwrap_or_default())
        })
        .collect();
    if let Ok(st) = nkbackup::journal::check_segmented::<nkbackup::retention::journal::Record>(
        main,
        &segments,
        head,
        "fuzz.jsonl",
        "fuzz.head",
    ) {
        let _ = st.pending();
        // Journaled paths become object keys before prune touches them.
        for r in &st.records {
            let _ = nkbackup::storage::ObjectKey::new(r.path.as_str());
        }
        // Anchors: the journal's own head, and the head bytes read as an
        // auditor's `--expect-head SEQ:SHA256`.
        let _ = st.extends(&st.head());
        if let Some(h) = head.and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(h) = h.parse::<nkbackup::journal::Head>()
        {
            let _ = st.extends(&h);
        }
    }
}

/// A recovery key as typed or read from a file.
pub fn recovery_key(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nkbackup::recovery::RecoveryKey::from_encoded(text);
    }
}

/// Custodians' share texts, one per line, combined.
pub fn share(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nkbackup::recovery::shares::Share::parse(text);
        let lines: Vec<&str> = text.lines().collect();
        let _ = nkbackup::recovery::shares::combine_text(&lines);
    }
}

/// A retention duration (`7d`, `1d12h`).
pub fn duration(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(p) = nkbackup::retention::Period::parse(text)
    {
        assert_eq!(
            nkbackup::retention::Period::parse(&p.to_string()).ok(),
            Some(p)
        );
    }
}

/// A stanza from input: its first line is the tag and arguments, the rest
/// its body.
fn stanza(data: &[u8]) -> Option<Stanza> {
    let nl = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let line = std::str::from_utf8(&data[..nl]).ok()?;
    let mut words = line.split(' ');
    let tag = words.next()?.to_owned();
    Some(Stanza {
        tag,
        args: words.map(str::to_owned).collect(),
        body: data.get(nl + 1..).unwrap_or_default().to_vec(),
    })
}

/// The card X25519 stanza parser.
pub fn x25519_stanza(data: &[u8]) {
    if let Some(s) = stanza(data)
        && let Some(Ok(parsed)) = nkbackup::card::x25519::X25519Stanza::parse(&s)
    {
        // The software half of an unwrap, with a made-up shared secret.
        let _ = parsed.unwrap(&[7u8; 32], &[9u8; 32]);
    }
}

/// The `nkbackup/openpgp` stanza parser, for a NIST P-256 card key.
pub fn openpgp_stanza(data: &[u8]) {
    let key = CardKey {
        algorithm: KeyAlgorithm::NistP256,
        // 2·G on P-256, uncompressed.
        public: [
            &[0x04u8][..],
            &[
                0x7c, 0xf2, 0x7b, 0x18, 0x8d, 0x03, 0x4f, 0x7e, 0x8a, 0x52, 0x38, 0x03, 0x04, 0xb5,
                0x1a, 0xc3, 0xc0, 0x89, 0x69, 0xe2, 0x77, 0xf2, 0x1b, 0x35, 0xa6, 0x0b, 0x48, 0xfc,
                0x47, 0x66, 0x99, 0x78,
            ],
            &[
                0x07, 0x77, 0x55, 0x10, 0xdb, 0x8e, 0xd0, 0x40, 0x29, 0x3d, 0x9a, 0xc6, 0x9f, 0x74,
                0x30, 0xdb, 0xba, 0x7d, 0xad, 0xe6, 0x3c, 0xe9, 0x82, 0x29, 0x9e, 0x04, 0xb7, 0x9d,
                0x22, 0x78, 0x73, 0xd1,
            ],
        ]
        .concat(),
        exponent: Vec::new(),
        created: 1_700_000_000,
    };
    if let Some(mut s) = stanza(data) {
        let _ = nkbackup::card::openpgp::OpenpgpStanza::parse(&s, &key);
        // The same body under the key's own fingerprint, so the packet
        // parser is reached whatever the first line says.
        s.tag = nkbackup::card::openpgp::STANZA_TAG.into();
        s.args = vec![key.fingerprint_hex()];
        let _ = nkbackup::card::openpgp::OpenpgpStanza::parse(&s, &key);
    }
}

/// An age header as a rewrap parses it: the bounded prefix, its stanzas
/// and MAC; what parses must write back byte for byte under a key whose
/// MAC it then carries.
pub fn age_header(data: &[u8]) {
    use nkbackup::format::age_header::{Header, read_prefix};
    let mut r = data;
    let Ok(prefix) = read_prefix(&mut r) else {
        return;
    };
    if let Ok(h) = Header::parse(&prefix) {
        let fk = age_core::format::FileKey::new(Box::new([7u8; 16]));
        let _ = h.verify_mac(&fk);
        let again = Header::encode(&h.stanzas, &fk);
        let back = Header::parse(&again).expect("an encoded header parses");
        assert!(back.verify_mac(&fk), "an encoded header carries its MAC");
        assert_eq!(back.stanzas, h.stanzas, "stanzas survive encoding");
    }
}

/// The `nkbackup/share` stanza (first line: tag and arguments; the rest:
/// body); what parses must write back the same.
pub fn share_stanza(data: &[u8]) {
    use nkbackup::format::share_stanza::ShareStanza;
    if let Some(s) = stanza(data)
        && let Some(Ok(parsed)) = ShareStanza::parse(&s)
    {
        assert_eq!(
            parsed.to_stanza(),
            s,
            "a parsed share stanza writes back the same"
        );
    }
}

/// A key item's sidecar as listed from `keys/chat/<period>/<key id>.json`,
/// a period name, and a key item's decrypted plaintext (anyone holding the
/// public keys can seal one).
pub fn key_item(data: &[u8]) {
    use nkbackup::keyring::{KeyItem, secret};
    const PERIOD: &str = "20261126T000000Z-7d";
    const PUBLIC: &str = "age1eznufznpk69yh6ahgqly8drh7zmeup6d0pzyd6luydr8grhezu3q29dgm8";
    if let Ok(text) = std::str::from_utf8(&data[..data.len().min(48)]) {
        let _ = nkbackup::config::ErasurePeriod::parse(text);
    }
    let key_id = nkbackup::manifest::PeriodKeyRef::key_id_of(PUBLIC);
    if let Ok(k) = KeyItem::parse(data, "chat", PERIOD, &key_id) {
        let _ = (k.place(), k.labels());
    }
    let _ = secret::decode(data, "chat", PERIOD, PUBLIC);
}

/// The erasure journal (lines, then optionally `0xff` and the head).
pub fn erasure_journal(data: &[u8]) {
    let (lines, head) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    if let Ok(st) = nkbackup::journal::check::<nkbackup::keyring::ErasureRecord>(
        lines,
        head,
        "erasures.jsonl",
        "erasures.head",
    ) {
        let _ = nkbackup::retention::erasure::pending(&st);
        for r in &st.records {
            let _ = r.check();
        }
    }
}

/// A drill record's signature checked against a card recipient's
/// `signing_key`: input before the first 0xff byte is the drill journal
/// line (JSON), between the first and second the `signing_key` value,
/// after it the record's `signature.openpgp`.
pub fn drill_signature(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let line = parts.next().unwrap_or_default();
    let key = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("");
    let sig = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("");
    let _ = nkbackup::card::signing::parse_signature(sig);
    if let Ok(k) = nkbackup::card::SigningKey::from_config(key) {
        let _ = k.verify(b"nkbackup drill statement v1\n", sig);
        let _ = k.config_value();
    }
    let Ok(mut record) = serde_json::from_slice::<nkbackup::drill::DrillRecord>(line) else {
        return;
    };
    let _ = record.statement();
    record.signature = Some(nkbackup::drill::DrillSignature {
        key: record
            .signature
            .as_ref()
            .map(|s| s.key.clone())
            .unwrap_or_default(),
        openpgp: sig.to_owned(),
    });
    let mut cfg = nkbackup::config::Config::parse(
        "[repository]\nid = \"fuzz\"\nformat = 1\ncreated = \"2026-12-01T00:00:00Z\"\n",
        Path::new("nkbackup.toml"),
    );
    assert!(cfg.is_ok(), "the fixed configuration parses");
    if let Ok(cfg) = cfg.as_mut() {
        cfg.recipients.push(nkbackup::config::RecipientConfig {
            label: record.token.label.clone(),
            kind: "card-x25519".into(),
            key: String::new(),
            ident: Some("FFFE:00000000".into()),
            signing_key: Some(key.to_owned()),
            ..Default::default()
        });
        let _ = nkbackup::drill::signature::check(cfg, &record).describe();
    }
}

/// The object store's Object Lock answers (GetObjectRetention,
/// GetBucketVersioning, GetObjectLockConfiguration, error bodies): hostile
/// like everything a repository's store sends.
pub fn s3_lock_answer(data: &[u8]) {
    use nkbackup::storage::retention;
    if let Ok(r) = retention::Retention::from_xml(data) {
        // What parses is a date S3 can be sent back.
        let again = retention::Retention::from_xml(r.to_xml().as_bytes());
        assert_eq!(again.ok(), Some(r));
    }
    let _ = retention::versioning_enabled(data);
    let _ = retention::object_lock_enabled(data);
    let _ = retention::error_code(data);
}

/// A local sidecar cache file (not repository input, but read back on
/// every listing): as given, and with its checksum made right so that the
/// records behind it are reached.
pub fn sidecar_cache(data: &[u8]) {
    use nkbackup::repo::sidecar_cache::SidecarCache;
    use sha2::Digest;
    let loc = "s3://nkb/fuzz";
    let _ = SidecarCache::parse(data, loc);
    let mut summed = data.to_vec();
    summed.extend_from_slice(&sha2::Sha256::digest(data));
    let _ = SidecarCache::parse(&summed, loc);
}

/// A decrypted payload's tail and index: the seek table, the locator, and
/// through them the manifest's frames, tar header and lines.
pub fn seek_table(data: &[u8]) {
    use nkbackup::format::seekable::{SeekIndex, tail_len};
    let mut c = std::io::Cursor::new(data);
    let _ = nkbackup::archive::read_index(&mut c, "fuzz", &mut NullSink);
    let len = data.len() as u64;
    if data.len() >= 9
        && let Ok(n) = tail_len(&data[data.len() - 9..], len)
        && let Ok(ix) = SeekIndex::parse(&data[data.len() - n..], len)
    {
        assert!(ix.manifest_offset() < ix.tar_len());
        let at = ix.frame_at(ix.manifest_offset());
        assert_eq!(
            at.map(|i| ix.frames()[i].tar_offset),
            Some(ix.manifest_offset())
        );
    }
}
