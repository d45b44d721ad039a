//! Escrow of small secrets: a service's own keys, sealed to the same
//! recipients as its backups.
//!
//! A homeserver's signing key or a database encryption key is useless to
//! back up with the data it protects if nobody can open it after a
//! disaster. `escrow` seals such a secret to the repository's recipients
//! (cards, offsite keys, the recovery key), so whoever can open a backup can
//! also open the keys needed to run it.
//!
//! Layout: `<repo>/escrow/<name>/<id>.age` with a sidecar `<id>.json`. Each
//! seal adds a version; opening takes the newest unless an id is given. The
//! plaintext is one JSON header line `{"nkbackup_escrow":1,"name":…,
//! "created":…}` followed by the secret bytes, so the name is authenticated
//! and a blob moved to another name is refused. Listing shows names and
//! dates, never contents.
//!
//! An escrowed secret opens with any of those recipients' keys, a card
//! included: the item's `recipients` are in stanza order, like a backup
//! sidecar's, and serve a card identity as the same unauthenticated hint
//! (docs/FORMAT.md §8.3, §9).

use crate::error::{Error, Result};
use crate::id::BackupId;
use crate::manifest::RecipientInfo;
use crate::repo::Repository;
use crate::storage::{ObjectKey, Storage};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

/// Largest secret accepted: escrow is for keys, not data.
pub const MAX_SECRET: usize = 1 << 20;
/// `format` of escrow sidecars.
pub const ESCROW_FORMAT: &str = "nkbackup-escrow/1";

/// One escrowed version of a secret, as listed (no contents).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EscrowItem {
    /// Always [`ESCROW_FORMAT`].
    pub format: String,
    /// The secret's name.
    pub name: String,
    /// This version's id.
    pub id: String,
    /// When it was escrowed.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Who can open it.
    pub recipients: Vec<RecipientInfo>,
    /// SHA-256 of the age file.
    pub ciphertext_sha256: String,
    /// A rewrap in progress: the age file is the one above or this one
    /// (as for backups, docs/FORMAT.md §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrap_pending: Option<crate::manifest::PendingRewrap>,
    /// Where the age file is (a path, or an object URL).
    #[serde(skip)]
    pub path: PathBuf,
    /// The age file's key in the repository.
    #[serde(skip)]
    key: Option<ObjectKey>,
    #[serde(skip)]
    storage: Option<Arc<dyn Storage>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    nkbackup_escrow: u32,
    name: String,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
}

/// Seals `secret` under `name` to `recipients`, returning the age file.
pub fn seal_to(
    name: &str,
    secret: &SecretSlice<u8>,
    recipients: &[Box<dyn age::Recipient + Send>],
    created: OffsetDateTime,
) -> Result<Vec<u8>> {
    crate::config::check_name("escrow name", name)?;
    if secret.expose_secret().len() > MAX_SECRET {
        return Err(Error::InvalidName {
            what: "escrowed secret",
            value: name.to_owned(),
            reason: format!(
                "it is larger than {MAX_SECRET} bytes; escrow is for keys, seal data as a backup"
            ),
        });
    }
    let mut header = serde_json::to_vec(&Header {
        nkbackup_escrow: 1,
        name: name.to_owned(),
        created,
    })
    .expect("header serializes");
    header.push(b'\n');
    // One allocation, zeroized when dropped: the secret is copied once.
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(
        header.len() + secret.expose_secret().len(),
    ));
    plain.extend_from_slice(&header);
    plain.extend_from_slice(secret.expose_secret());
    crate::keyring::seal_small(&plain, recipients)
}

/// Opens an age file made by [`seal_to`] with `keys`, checking it was
/// sealed as `name`; `hint` is its recipient list in stanza order (which
/// stanza is whose, for cards and groups).
pub fn open_with(
    name: &str,
    blob: &[u8],
    keys: &crate::unlock::Keys<'_>,
    hint: &[RecipientInfo],
    labels: &str,
) -> Result<SecretSlice<u8>> {
    let what = format!("escrow {name}");
    let damaged = |detail: String| Error::Damaged {
        id: what.clone(),
        detail,
    };
    let plain = crate::unlock::decrypt_small(&what, blob, keys, hint, labels)?;
    let nl = plain
        .iter()
        .position(|&c| c == b'\n')
        .ok_or_else(|| damaged("it has no header".into()))?;
    let header: Header = serde_json::from_slice(&plain[..nl])
        .map_err(|e| damaged(format!("its header is invalid: {e}")))?;
    if header.name != name {
        return Err(damaged(format!(
            "it was sealed as {:?}, not {name:?} (blob moved between names)",
            header.name
        )));
    }
    Ok(SecretSlice::from(plain[nl + 1..].to_vec()))
}

/// Seals `secret` under `name` to all of the repository's recipients.
pub fn seal(repo: &Repository, name: &str, secret: &SecretSlice<u8>) -> Result<EscrowItem> {
    let (all, recipients) = repo.sealing_recipients()?;
    let created = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let blob = seal_to(name, secret, &recipients, created)?;
    let _lock = repo.lock(crate::repo::DEFAULT_LOCK_WAIT)?;
    let storage = repo.storage();
    crate::config::check_name("escrow name", name)?;
    let id = BackupId::new(created).to_string();
    let key = ObjectKey::from_parts(&["escrow", name, &format!("{id}.age")]);
    let item = EscrowItem {
        format: ESCROW_FORMAT.into(),
        name: name.to_owned(),
        id: id.clone(),
        created,
        recipients: all,
        ciphertext_sha256: hex::encode(Sha256::digest(&blob)),
        rewrap_pending: None,
        path: storage.describe(&key).into(),
        key: Some(key.clone()),
        storage: Some(storage.clone()),
    };
    storage.put(&key, &blob)?;
    let mut json = serde_json::to_vec_pretty(&item).expect("item serializes");
    json.push(b'\n');
    storage.put(
        &ObjectKey::from_parts(&["escrow", name, &format!("{id}.json")]),
        &json,
    )?;
    Ok(item)
}

/// Every escrowed version, by name then age (oldest first). A sidecar that
/// does not describe the item its place says (another name or id, another
/// format, a malformed field) is an error naming it.
pub fn list(repo: &Repository) -> Result<Vec<EscrowItem>> {
    let storage = repo.storage();
    let mut out = Vec::new();
    for o in storage.list(Some(&ObjectKey::from_parts(&["escrow"])))? {
        let mut parts = o.key.components().skip(1);
        let (Some(name), Some(file), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some(id) = file.strip_suffix(".json") else {
            continue;
        };
        if crate::config::check_name("escrow name", name).is_err() || !BackupId::is_well_formed(id)
        {
            continue;
        }
        let p = PathBuf::from(storage.describe(&o.key));
        let bad = |message: String| Error::SidecarInvalid {
            id: format!("escrow {name}/{id}"),
            path: p.clone(),
            message,
        };
        let bytes = storage
            .get(&o.key, crate::limits::ESCROW_SIDECAR_BYTES)?
            .unwrap_or_default();
        let mut item: EscrowItem =
            serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if item.format != ESCROW_FORMAT {
            return Err(bad(format!("format is not {ESCROW_FORMAT:?}")));
        }
        if item.name != name || item.id != id {
            return Err(bad(format!(
                "it describes {:?}/{:?}, not the item of its place; it was moved or edited",
                crate::text::escape(&item.name),
                crate::text::escape(&item.id)
            )));
        }
        if let Some(p) = &item.rewrap_pending {
            p.check().map_err(|e| bad(format!("rewrap_pending: {e}")))?;
        }
        if !crate::manifest::is_sha256_hex(&item.ciphertext_sha256) {
            return Err(bad(
                "ciphertext_sha256 is not 64 lowercase hex digits".into()
            ));
        }
        if item.recipients.len() > 256 {
            return Err(bad("it lists more than 256 recipients".into()));
        }
        for r in &item.recipients {
            r.check().map_err(bad)?;
        }
        let key = ObjectKey::from_parts(&["escrow", name, &format!("{id}.age")]);
        item.path = storage.describe(&key).into();
        item.key = Some(key);
        item.storage = Some(storage.clone());
        out.push(item);
    }
    out.sort_by(|a, b| (&a.name, a.created, &a.id).cmp(&(&b.name, b.created, &b.id)));
    Ok(out)
}

/// The newest version of `name` (or the version `id`).
pub fn find(repo: &Repository, name: &str, id: Option<&str>) -> Result<EscrowItem> {
    list(repo)?
        .into_iter()
        .rfind(|i| i.name == name && id.is_none_or(|id| i.id == id))
        .ok_or_else(|| Error::EscrowNotFound {
            name: name.to_owned(),
        })
}

/// Opens an escrowed version with `keys`. The item's recipients tell a
/// card which stanza is its own (one card operation) and a k-of-n group
/// which share is whose.
pub fn open(item: &EscrowItem, keys: &crate::unlock::Keys<'_>) -> Result<SecretSlice<u8>> {
    let blob = item.read_blob()?.ok_or_else(|| Error::DataMissing {
        id: format!("escrow {}", item.name),
        path: item.path.clone(),
    })?;
    let digest = hex::encode(Sha256::digest(&blob));
    let pending = item
        .rewrap_pending
        .as_ref()
        .filter(|p| p.ciphertext_sha256 == digest);
    if digest != item.ciphertext_sha256 && pending.is_none() {
        return Err(Error::Damaged {
            id: format!("escrow {}", item.name),
            detail: "the file differs from what its sidecar recorded (corrupted or replaced)"
                .into(),
        });
    }
    let labels = item
        .recipients
        .iter()
        .map(|r| format!("{} ({})", r.label, r.kind))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = pending.map_or(&item.recipients, |p| &p.recipients);
    open_with(&item.name, &blob, keys, hint, &labels)
}

impl EscrowItem {
    /// The age file's bytes; `None` if it is gone.
    pub(crate) fn read_blob(&self) -> Result<Option<Vec<u8>>> {
        match (&self.storage, &self.key) {
            (Some(s), Some(k)) => s.get(k, crate::limits::ESCROW_ITEM_BYTES),
            _ => Ok(None),
        }
    }

    /// Replaces the age file (atomically: the store's `put`).
    pub(crate) fn write_blob(&self, blob: &[u8]) -> Result<()> {
        let (s, k) = self.place()?;
        s.put(k, blob)?;
        // A bucket that keeps versions would keep the old blob, open to
        // the old recipients (nothing locks escrow items).
        s.delete_noncurrent(k).map(|_| ())
    }

    /// Writes this item's sidecar, `escrow/<name>/<id>.json`.
    pub(crate) fn write_sidecar(&self) -> Result<()> {
        let (s, _) = self.place()?;
        let mut json = serde_json::to_vec_pretty(self).expect("item serializes");
        json.push(b'\n');
        s.put(
            &ObjectKey::from_parts(&["escrow", &self.name, &format!("{}.json", self.id)]),
            &json,
        )
    }

    fn place(&self) -> Result<(&Arc<dyn Storage>, &ObjectKey)> {
        match (&self.storage, &self.key) {
            (Some(s), Some(k)) => Ok((s, k)),
            _ => Err(Error::DataMissing {
                id: format!("escrow {}", self.name),
                path: self.path.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &age::x25519::Identity) -> crate::unlock::Keys<'static> {
        let mut keys = crate::unlock::Keys::new();
        keys.add(Box::new(k.clone()));
        keys
    }

    fn boxed(k: &age::x25519::Identity) -> Vec<Box<dyn age::Recipient + Send>> {
        vec![Box::new(k.to_public())]
    }

    #[test]
    fn round_trip_and_name_binding() {
        let k = age::x25519::Identity::generate();
        let secret = SecretSlice::from(b"ed25519 a_XYZ signing-key-bytes".to_vec());
        let now = OffsetDateTime::now_utc();
        let blob = seal_to("synapse-signing-key", &secret, &boxed(&k), now).unwrap();
        let ids = keys(&k);
        let back = open_with("synapse-signing-key", &blob, &ids, &[], "k").unwrap();
        assert_eq!(back.expose_secret(), secret.expose_secret());
        let e = open_with("db-key", &blob, &ids, &[], "k").unwrap_err();
        assert!(e.to_string().contains("moved between names"), "{e}");
    }

    #[test]
    fn tampered_blob_and_wrong_key_are_distinct_errors() {
        let k = age::x25519::Identity::generate();
        let secret = SecretSlice::from(vec![7u8; 64]);
        let mut blob = seal_to("k", &secret, &boxed(&k), OffsetDateTime::now_utc()).unwrap();
        let n = blob.len();
        blob[n - 3] ^= 0x40;
        let ids = keys(&k);
        let e = open_with("k", &blob, &ids, &[], "k").unwrap_err();
        assert!(matches!(e, Error::Damaged { .. }), "{e}");
        let other = keys(&age::x25519::Identity::generate());
        let blob = seal_to("k", &secret, &boxed(&k), OffsetDateTime::now_utc()).unwrap();
        let e = open_with("k", &blob, &other, &[], "offsite (age)").unwrap_err();
        assert!(matches!(e, Error::NoMatchingIdentity { .. }), "{e}");
        assert!(e.to_string().contains("offsite (age)"));
    }
}
