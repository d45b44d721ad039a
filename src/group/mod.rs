//! k-of-n token groups: the file key split between members.
//!
//! "Two of our three officers must be present to restore": a group of
//! recipients with a threshold (`[[groups]]` in nkbackup.toml,
//! [`crate::config::GroupConfig`]). [`GroupRecipient`] is an age recipient
//! that splits each file key with Shamir's scheme over GF(256) (the
//! `vsss-rs` crate, as the recovery key's shares, see
//! [`crate::recovery::shares`]) and wraps share *i* to member *i* with the
//! member's own recipient, in an `nkbackup/share` stanza
//! ([`crate::format::share_stanza`]). [`combine`] rebuilds the file key
//! from `threshold` unwrapped shares; the header MAC then proves it right.
//! Opening with members' tokens, one after another or several readers at
//! once, is [`crate::unlock`]'s job.

use crate::format::share_stanza::ShareStanza;
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use std::collections::HashSet;
use vsss_rs::{Gf256, IdentifierGf256};
use zeroize::Zeroizing;

/// An age recipient for a k-of-n group: one `nkbackup/share` stanza per
/// member, in member order, member *i* (from 1) holding the share at x = *i*.
pub struct GroupRecipient {
    name: String,
    threshold: u8,
    members: Vec<Box<dyn age::Recipient + Send>>,
}

impl GroupRecipient {
    /// The group `name` of `members` (their age recipients, in order), any
    /// `threshold` of which open what it seals. Requires 2 ≤ threshold ≤
    /// members ≤ 255 (the configuration check enforces it first).
    pub fn new(
        name: &str,
        threshold: u8,
        members: Vec<Box<dyn age::Recipient + Send>>,
    ) -> crate::Result<Self> {
        if threshold < 2 || usize::from(threshold) > members.len() || members.len() > 255 {
            return Err(crate::Error::InvalidRecipient {
                input: format!("group {name}"),
                reason: format!(
                    "threshold {threshold} of {} members; a group needs 2 ≤ threshold ≤ members ≤ 255",
                    members.len()
                ),
            });
        }
        Ok(GroupRecipient {
            name: name.to_owned(),
            threshold,
            members,
        })
    }
}

impl age::Recipient for GroupRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let n = self.members.len();
        let ids = (1..=n).map(|i| IdentifierGf256(Gf256(i as u8)));
        let shares = Zeroizing::new(
            Gf256::split_bytes_with_participant_ids_iter(
                usize::from(self.threshold),
                n,
                file_key.expose_secret(),
                UnwrapErr(SysRng),
                ids,
            )
            .map_err(|e| age::EncryptError::Io(std::io::Error::other(format!("{e:?}"))))?,
        );
        let mut stanzas = Vec::with_capacity(n);
        let mut labels = HashSet::new();
        for (i, (member, share)) in self.members.iter().zip(shares.iter()).enumerate() {
            // vsss-rs lays a share out as identifier ‖ one byte per secret byte.
            if share.len() != 1 + FILE_KEY_BYTES || usize::from(share[0]) != i + 1 {
                return Err(age::EncryptError::Io(std::io::Error::other(
                    "unexpected share layout from vsss-rs",
                )));
            }
            let value = FileKey::init_with_mut(|v| v.copy_from_slice(&share[1..]));
            let (mut inner, l) = member.wrap_file_key(&value)?;
            if inner.len() != 1 {
                return Err(age::EncryptError::Io(std::io::Error::other(format!(
                    "member {} of group {} wrote {} stanzas, not one",
                    i + 1,
                    self.name,
                    inner.len()
                ))));
            }
            labels.extend(l);
            stanzas.push(
                ShareStanza {
                    group: self.name.clone(),
                    threshold: self.threshold,
                    index: (i + 1) as u8,
                    inner: inner.pop().expect("one stanza"),
                }
                .to_stanza(),
            );
        }
        Ok((stanzas, labels))
    }
}

/// Rebuilds a file key from shares `(x, value)` with distinct nonzero
/// x (at least the threshold of them; with fewer the result is a wrong
/// key, which the header MAC refuses). `None` if there are none or an x
/// repeats.
pub fn combine(shares: &[(u8, &FileKey)]) -> Option<FileKey> {
    let mut seen = HashSet::new();
    if shares.is_empty() || !shares.iter().all(|(x, _)| *x != 0 && seen.insert(*x)) {
        return None;
    }
    let raw: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(
        shares
            .iter()
            .map(|(x, value)| {
                let mut v = Vec::with_capacity(1 + FILE_KEY_BYTES);
                v.push(*x);
                v.extend_from_slice(value.expose_secret());
                v
            })
            .collect(),
    );
    let secret = Zeroizing::new(Gf256::combine_bytes(&raw[..]).ok()?);
    let bytes: &[u8; FILE_KEY_BYTES] = secret.as_slice().try_into().ok()?;
    Some(FileKey::init_with_mut(|k| k.copy_from_slice(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::{Identity, Recipient};

    #[test]
    fn any_two_of_three_members_rebuild_the_file_key() {
        let ids: Vec<_> = (0..3).map(|_| age::x25519::Identity::generate()).collect();
        let members: Vec<Box<dyn age::Recipient + Send>> = ids
            .iter()
            .map(|i| Box::new(i.to_public()) as Box<dyn age::Recipient + Send>)
            .collect();
        let g = GroupRecipient::new("officers", 2, members).unwrap();
        let fk = FileKey::new(Box::new([42u8; 16]));
        let (stanzas, _) = g.wrap_file_key(&fk).unwrap();
        assert_eq!(stanzas.len(), 3);
        let shares: Vec<(u8, FileKey)> = stanzas
            .iter()
            .zip(&ids)
            .map(|(s, id)| {
                let p = ShareStanza::parse(s).unwrap().unwrap();
                assert_eq!((p.group.as_str(), p.threshold), ("officers", 2));
                // Stock age's own identity does not take the outer stanza.
                assert!(id.unwrap_stanza(s).is_none());
                (p.index, id.unwrap_stanza(&p.inner).unwrap().unwrap())
            })
            .collect();
        for pair in [[0, 1], [0, 2], [1, 2]] {
            let two: Vec<(u8, &FileKey)> =
                pair.iter().map(|&i| (shares[i].0, &shares[i].1)).collect();
            assert_eq!(combine(&two).unwrap().expose_secret(), &[42u8; 16]);
        }
        let one = [(shares[0].0, &shares[0].1)];
        assert_ne!(
            combine(&one).map(|k| *k.expose_secret()),
            Some([42u8; 16]),
            "one share alone does not give the key"
        );
        let twice = [(shares[0].0, &shares[0].1), (shares[0].0, &shares[0].1)];
        assert!(combine(&twice).is_none(), "an index twice is refused");
        assert!(GroupRecipient::new("g", 1, vec![]).is_err());
    }
}
