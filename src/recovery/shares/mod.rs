//! Splitting the recovery key k-of-n between custodians (Shamir).
//!
//! An operator may not want one envelope to be able to open every backup,
//! nor one lost envelope to lose them all. [`split`] cuts the 32-byte key
//! into `n` shares of which any `k` rebuild it ([`combine`]) and any `k − 1`
//! reveal nothing about it.
//!
//! The arithmetic is Shamir secret sharing over GF(256), byte by byte, from
//! the [`vsss_rs`] crate (`Gf256::split_bytes_with_participant_ids_iter` /
//! `Gf256::combine_bytes`). It was chosen over `blahaj` because its GF(256)
//! multiplication and inversion are constant-time (blahaj uses log/exp
//! table lookups indexed by secret bytes), it has had funded third-party
//! audits, its audit fixes include uniform coefficients over the whole field
//! (the bug class of RUSTSEC-2024-0398 in `sharks`), it rejects duplicate
//! and zero share identifiers itself, and it lets us choose the share
//! identifiers, so share *i* is evaluated at x = *i*. (`sharks` is never
//! used: RUSTSEC-2024-0398.)
//!
//! # Share text
//!
//! A share is printed as one line (documented in
//! `docs/RECOVERY-KEY-FORMAT.md`):
//!
//! ```text
//! nkbs1-k2-i1 3kPq Jx7v …  (about 15 groups of 4)
//! ```
//!
//! * `nkbs1` — "nkbackup share", format version 1;
//! * `k2` — the threshold K: how many shares rebuild the key;
//! * `i1` — this share's index (its x coordinate, 1…255);
//! * the rest is Bitcoin base58, grouped by 4 like the recovery key, of
//!   `key id (8) ‖ share value (32) ‖ checksum (4)` = 44 bytes, where
//!   `checksum = SHA-256("nkbackup recovery-key share v1" ‖ K ‖ i ‖ key id ‖ value)[..4]`.
//!
//! The checksum covers the header's K and index too, so a typo anywhere is
//! caught (with probability 1 − 2⁻³²) before any arithmetic. The key id
//! (see [`KeyId`]) tells shares of different recovery keys apart, and after
//! combining, the rebuilt key's id must equal it: this catches a share that
//! is well formed but wrong (another split of the same key, or a forgery).

use std::fmt;
use std::str::FromStr;

use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use vsss_rs::{Gf256, IdentifierGf256};
use zeroize::Zeroizing;

use super::encoding::{group_by_4, strip_base58};
use super::key::{KeyId, RecoveryKey};
use crate::error::RecoveryError;

/// First part of every share's text: "nkbackup share", version 1.
pub const PREFIX: &str = "nkbs1";

/// Domain separation for the share checksum.
const CHECKSUM_DOMAIN: &[u8] = b"nkbackup recovery-key share v1";
/// Checksum length in bytes.
const CHECKSUM_LEN: usize = 4;
/// Length of a share's base58 body: key id, value, checksum.
const BODY_LEN: usize = KeyId::LEN + RecoveryKey::LEN + CHECKSUM_LEN;

/// One custodian's share of a recovery key.
///
/// The share value is secret: it lives in a zeroizing buffer, leaves only
/// as a [`SecretString`] ([`Share::to_text`]), and `Debug` shows only the
/// index, threshold and key id.
#[derive(Clone)]
pub struct Share {
    threshold: u8,
    index: u8,
    key_id: KeyId,
    value: Zeroizing<[u8; RecoveryKey::LEN]>,
}

impl Share {
    /// This share's index (1…255), printed as `i<index>`.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// How many shares are needed to rebuild the key, printed as `k<K>`.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The id of the recovery key this share belongs to.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The share's printable text: `nkbs1-k<K>-i<index>` then base58 groups.
    pub fn to_text(&self) -> SecretString {
        let mut body = Zeroizing::new([0u8; BODY_LEN]);
        body[..KeyId::LEN].copy_from_slice(self.key_id.as_bytes());
        body[KeyId::LEN..KeyId::LEN + RecoveryKey::LEN].copy_from_slice(self.value.as_ref());
        body[BODY_LEN - CHECKSUM_LEN..].copy_from_slice(&self.checksum());
        let encoded = Zeroizing::new(bs58::encode(body.as_ref()).into_string());
        SecretString::from(format!(
            "{PREFIX}-k{}-i{} {}",
            self.threshold,
            self.index,
            group_by_4(&encoded)
        ))
    }

    /// Parses a share's text (whitespace between groups is free; the header
    /// is case-insensitive). Verifies the checksum.
    pub fn parse(text: &str) -> crate::Result<Self> {
        Ok(Self::parse_typed(text)?)
    }

    pub(crate) fn parse_typed(text: &str) -> Result<Self, RecoveryError> {
        super::encoding::check_length(text, "share")?;
        // Header: the first whitespace-free word.
        let leading = text.chars().take_while(|c| c.is_whitespace()).count();
        let header: String = text
            .chars()
            .skip(leading)
            .take_while(|c| !c.is_whitespace())
            .collect();
        let (threshold, index) = parse_header(&header)?;

        // Body: the rest, positions counted in the whole text as typed.
        let consumed = leading + header.chars().count();
        let body_text: String = text.chars().skip(consumed).collect();
        let body_text = Zeroizing::new(body_text);
        let compact = strip_base58(&body_text, consumed).map_err(|(character, position)| {
            RecoveryError::ShareInvalidCharacter {
                character,
                position,
            }
        })?;
        let body = Zeroizing::new(
            bs58::decode(compact.as_bytes())
                .into_vec()
                .expect("only base58 characters are left"),
        );
        if body.len() != BODY_LEN {
            return Err(RecoveryError::ShareWrongLength {
                actual: body.len(),
                expected: BODY_LEN,
            });
        }

        let mut key_id = [0u8; KeyId::LEN];
        key_id.copy_from_slice(&body[..KeyId::LEN]);
        let mut value = Zeroizing::new([0u8; RecoveryKey::LEN]);
        value.copy_from_slice(&body[KeyId::LEN..KeyId::LEN + RecoveryKey::LEN]);
        let share = Share {
            threshold,
            index,
            key_id: KeyId(key_id),
            value,
        };
        // Not secret-dependent in any useful way (a typo check), but cheap
        // to do in constant time anyway.
        let stored = &body[BODY_LEN - CHECKSUM_LEN..];
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&share.checksum()[..], stored)) {
            return Err(RecoveryError::ShareChecksum);
        }
        Ok(share)
    }

    fn checksum(&self) -> [u8; CHECKSUM_LEN] {
        let mut h = Sha256::new();
        h.update(CHECKSUM_DOMAIN);
        h.update([self.threshold, self.index]);
        h.update(self.key_id.as_bytes());
        h.update(self.value.as_ref());
        let digest = h.finalize();
        let mut out = [0u8; CHECKSUM_LEN];
        out.copy_from_slice(&digest[..CHECKSUM_LEN]);
        out
    }
}

impl FromStr for Share {
    type Err = RecoveryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Share::parse_typed(s)
    }
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Share(i{} of k{}, key id {})",
            self.index, self.threshold, self.key_id
        )
    }
}

/// Parses `nkbs1-k<K>-i<index>` (any case).
fn parse_header(header: &str) -> Result<(u8, u8), RecoveryError> {
    let lower = header.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix(PREFIX) else {
        if lower.starts_with("nkbs") {
            return Err(RecoveryError::ShareMalformedHeader {
                reason: "unknown share format version; this nkbackup reads nkbs1",
            });
        }
        return Err(RecoveryError::ShareWrongPrefix);
    };
    let malformed = |reason| RecoveryError::ShareMalformedHeader { reason };
    let rest = rest
        .strip_prefix("-k")
        .ok_or(malformed("expected \"-k<threshold>\" after nkbs1"))?;
    let (k, i) = rest
        .split_once("-i")
        .ok_or(malformed("expected \"-i<index>\" after the threshold"))?;
    let threshold: u8 = k
        .parse()
        .map_err(|_| malformed("the threshold is not a number from 2 to 255"))?;
    let index: u8 = i
        .parse()
        .map_err(|_| malformed("the index is not a number from 1 to 255"))?;
    if threshold < 2 {
        return Err(malformed("the threshold is not a number from 2 to 255"));
    }
    if index == 0 {
        return Err(malformed("the index is not a number from 1 to 255"));
    }
    Ok((threshold, index))
}

/// Splits `key` into `count` shares, any `threshold` of which rebuild it.
///
/// Requires 2 ≤ `threshold` ≤ `count` ≤ 255. Shares get indices 1…`count`.
pub fn split(key: &RecoveryKey, threshold: usize, count: usize) -> crate::Result<Vec<Share>> {
    Ok(split_key(key, threshold, count)?)
}

fn split_key(
    key: &RecoveryKey,
    threshold: usize,
    count: usize,
) -> Result<Vec<Share>, RecoveryError> {
    if threshold < 2 || threshold > count || count > 255 {
        return Err(RecoveryError::InvalidSplit { threshold, count });
    }
    let ids = (1..=count).map(|i| IdentifierGf256(Gf256(i as u8)));
    let raw = Zeroizing::new(
        Gf256::split_bytes_with_participant_ids_iter(
            threshold,
            count,
            key.secret_bytes(),
            UnwrapErr(SysRng),
            ids,
        )
        .map_err(|e| RecoveryError::Sharing(format!("{e:?}")))?,
    );
    let key_id = key.key_id();
    raw.iter()
        .zip(1..=count)
        .map(|(bytes, i)| {
            // vsss-rs lays a share out as identifier ‖ one byte per secret byte.
            if bytes.len() != 1 + RecoveryKey::LEN || usize::from(bytes[0]) != i {
                return Err(RecoveryError::Sharing(
                    "unexpected share layout from vsss-rs".into(),
                ));
            }
            let mut value = Zeroizing::new([0u8; RecoveryKey::LEN]);
            value.copy_from_slice(&bytes[1..]);
            Ok(Share {
                threshold: threshold as u8,
                index: i as u8,
                key_id,
                value,
            })
        })
        .collect()
}

/// Rebuilds the recovery key from shares.
///
/// Checks, in order: at least one share ([`RecoveryError::NoShares`]); all
/// of the same key ([`RecoveryError::MixedKeys`]) and threshold
/// ([`RecoveryError::MismatchedThresholds`]); no index twice
/// ([`RecoveryError::DuplicateShare`]); at least K of them
/// ([`RecoveryError::TooFewShares`]). After interpolation the rebuilt key's
/// id must equal the shares' ([`RecoveryError::CombinedKeyMismatch`]).
/// Share numbers in errors are 1-based positions in `shares`.
pub fn combine(shares: &[Share]) -> crate::Result<RecoveryKey> {
    Ok(combine_shares(shares)?)
}

pub(crate) fn combine_shares(shares: &[Share]) -> Result<RecoveryKey, RecoveryError> {
    let first = shares.first().ok_or(RecoveryError::NoShares)?;
    for (n, share) in shares.iter().enumerate().skip(1) {
        if share.key_id != first.key_id {
            return Err(RecoveryError::MixedKeys {
                number: n + 1,
                expected: first.key_id,
                found: share.key_id,
            });
        }
    }
    for (n, share) in shares.iter().enumerate().skip(1) {
        if share.threshold != first.threshold {
            return Err(RecoveryError::MismatchedThresholds {
                number: n + 1,
                expected: first.threshold,
                found: share.threshold,
            });
        }
    }
    for (a, sa) in shares.iter().enumerate() {
        if let Some(b) = shares[a + 1..].iter().position(|sb| sb.index == sa.index) {
            return Err(RecoveryError::DuplicateShare {
                index: sa.index,
                first: a + 1,
                second: a + 1 + b + 1,
            });
        }
    }
    if shares.len() < usize::from(first.threshold) {
        return Err(RecoveryError::TooFewShares {
            needed: first.threshold,
            got: shares.len(),
        });
    }

    let raw: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(
        shares
            .iter()
            .map(|s| {
                let mut v = Vec::with_capacity(1 + RecoveryKey::LEN);
                v.push(s.index);
                v.extend_from_slice(s.value.as_ref());
                v
            })
            .collect(),
    );
    let secret = Zeroizing::new(
        Gf256::combine_bytes(&raw[..]).map_err(|e| RecoveryError::Sharing(format!("{e:?}")))?,
    );
    let bytes: &[u8; RecoveryKey::LEN] = secret
        .as_slice()
        .try_into()
        .map_err(|_| RecoveryError::Sharing("combined secret has the wrong length".into()))?;
    let key = RecoveryKey::from_bytes(bytes);
    if key.key_id() != first.key_id {
        return Err(RecoveryError::CombinedKeyMismatch);
    }
    Ok(key)
}

/// Parses a list of share texts, reporting which one is wrong as
/// [`RecoveryError::InShare`] (1-based).
pub(crate) fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Share>, RecoveryError> {
    texts
        .iter()
        .enumerate()
        .map(|(n, t)| {
            Share::parse_typed(t.as_ref()).map_err(|e| RecoveryError::InShare {
                number: n + 1,
                source: Box::new(e),
            })
        })
        .collect()
}

/// Parses share texts (each as [`Share::parse`]) and combines them ([`combine`]).
pub fn combine_text<S: AsRef<str>>(texts: &[S]) -> crate::Result<RecoveryKey> {
    Ok(combine_text_typed(texts)?)
}

pub(crate) fn combine_text_typed<S: AsRef<str>>(texts: &[S]) -> Result<RecoveryKey, RecoveryError> {
    combine_shares(&parse_all(texts)?)
}

#[cfg(test)]
mod tests;
