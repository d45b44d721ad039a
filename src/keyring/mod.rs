//! The keyring: period keys of classes with `erasure_period`, kept apart
//! from the data they open (docs/FORMAT.md §11).
//!
//! A class with `erasure_period = "7d"` seals each backup to the X25519
//! key of the period its creation time falls in, and nothing else. The
//! first seal of a (class, period) makes the key pair, seals its private
//! half as a small *key item* to the repository's recipients and groups,
//! writes it to every keyring location, and forgets it. Opening a period
//! backup opens its key item with the caller's keys (one card operation
//! per period: [`crate::unlock::Keys`] remembers the period key), then the
//! backup. Erasing the key items of a period (retention, or `nkbackup
//! erase`) puts every copy of that period's backups beyond use: the
//! replica, the bucket version, the disk in a drawer.
//!
//! Layout in each location: `keys/<class>/<period>/<key id>.age` (the
//! sealed age identity file, [`secret`]) and `<key id>.json` (its sidecar,
//! [`KeyItem`]). The first location is the primary (by default the
//! repository itself); `[keyring] mirrors` are written and erased alike.

pub mod item;
pub mod journal;
pub mod secret;

pub use item::{KEY_ITEM_FORMAT, KeyItem};
pub use journal::{ERASURES, ErasureEvent, ErasureReason, ErasureRecord, LocationCheck};

use crate::config::ErasurePeriod;
use crate::error::{Error, Result};
use crate::manifest::{PeriodKeyRef, RecipientInfo};
use crate::storage::{ObjectKey, Storage};
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

/// Directory of key items in a keyring location.
pub const KEYS_DIR: &str = "keys";
/// Largest key item sidecar read.
const ITEM_SIDECAR_BYTES: u64 = 1 << 20;
/// Largest key item read.
const ITEM_BYTES: u64 = 1 << 20;

/// Where period keys are kept: a primary location and its mirrors.
#[derive(Debug, Clone)]
pub struct Keyring {
    locations: Vec<Arc<dyn Storage>>,
}

/// A key item as found in one location.
#[derive(Debug, Clone)]
pub struct StoredKeyItem {
    /// Its sidecar.
    pub item: KeyItem,
    /// The location it was found in.
    pub location: String,
    /// Where its age file is, for messages.
    pub path: PathBuf,
    storage: Arc<dyn Storage>,
}

/// The keys of the key item `<class>/<period>/<key_id>`: age file and
/// sidecar.
pub fn item_keys(class: &str, period: &str, key_id: &str) -> (ObjectKey, ObjectKey) {
    (
        ObjectKey::from_parts(&[KEYS_DIR, class, period, &format!("{key_id}.age")]),
        ObjectKey::from_parts(&[KEYS_DIR, class, period, &format!("{key_id}.json")]),
    )
}

fn period_dir(class: &str, period: &str) -> ObjectKey {
    ObjectKey::from_parts(&[KEYS_DIR, class, period])
}

impl Keyring {
    /// A keyring in `primary`, written to `mirrors` as well.
    pub fn new(primary: Arc<dyn Storage>, mirrors: Vec<Arc<dyn Storage>>) -> Self {
        let mut locations = vec![primary];
        locations.extend(mirrors);
        Keyring { locations }
    }

    /// Every location, primary first.
    pub fn locations(&self) -> &[Arc<dyn Storage>] {
        &self.locations
    }

    /// The locations, comma-separated, for messages.
    pub fn describe(&self) -> String {
        self.locations
            .iter()
            .map(|l| l.location().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every key item of one location (`class`: only that class's), by
    /// class, period and age. A sidecar that is refused is an error naming
    /// it: a keyring is small and must be whole.
    pub fn items_in(&self, location: usize, class: Option<&str>) -> Result<Vec<StoredKeyItem>> {
        let storage = &self.locations[location];
        let dir = match class {
            Some(c) => ObjectKey::from_parts(&[KEYS_DIR, c]),
            None => ObjectKey::from_parts(&[KEYS_DIR]),
        };
        let mut out = Vec::new();
        for o in storage.list(Some(&dir))? {
            let mut parts = o.key.components().skip(1);
            let (Some(c), Some(p), Some(file), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(key_id) = file.strip_suffix(".json") else {
                continue;
            };
            let place = format!("{c}/{p}/{key_id}");
            let path = PathBuf::from(storage.describe(&o.key));
            let bytes = storage.get(&o.key, ITEM_SIDECAR_BYTES)?.unwrap_or_default();
            let item =
                KeyItem::parse(&bytes, c, p, key_id).map_err(|message| Error::KeyItemInvalid {
                    place: crate::text::escape(&place),
                    path: path.clone(),
                    message,
                })?;
            let (age, _) = item_keys(c, p, key_id);
            out.push(StoredKeyItem {
                item,
                location: storage.location().to_owned(),
                path: storage.describe(&age).into(),
                storage: storage.clone(),
            });
        }
        out.sort_by(|a, b| {
            (&a.item.class, &a.item.period, a.item.created).cmp(&(
                &b.item.class,
                &b.item.period,
                b.item.created,
            ))
        });
        Ok(out)
    }

    /// Every key item of every location.
    pub fn items(&self, class: Option<&str>) -> Result<Vec<StoredKeyItem>> {
        let mut out = Vec::new();
        for i in 0..self.locations.len() {
            out.extend(self.items_in(i, class)?);
        }
        Ok(out)
    }

    /// The key a seal of `class` at `created` encrypts to: the newest key
    /// item of that period in the primary location, or a new one sealed
    /// to `recipients` (the repository's, `infos` in stanza order) and
    /// written to every location. The secret half is never kept.
    pub fn for_seal(
        &self,
        class: &str,
        period: ErasurePeriod,
        infos: &[RecipientInfo],
        recipients: &[Box<dyn age::Recipient + Send>],
        created: OffsetDateTime,
    ) -> Result<(PeriodKeyRef, age::x25519::Recipient)> {
        let name = period.to_string();
        let existing = self
            .items_in(0, Some(class))?
            .into_iter()
            .rfind(|s| s.item.period == name);
        if let Some(s) = existing {
            let public = crate::format::age_key::parse_age(&s.item.public_key)?;
            return Ok((
                PeriodKeyRef {
                    period: name,
                    key_id: s.item.key_id,
                },
                public,
            ));
        }
        let key = age::x25519::Identity::generate();
        let public = key.to_public();
        let public_text = public.to_string();
        let key_id = PeriodKeyRef::key_id_of(&public_text);
        let plain = secret::encode(class, &name, &key);
        drop(key);
        let blob = seal_small(&plain, recipients)?;
        let item = KeyItem {
            format: KEY_ITEM_FORMAT.into(),
            class: class.to_owned(),
            period: name.clone(),
            key_id: key_id.clone(),
            created,
            public_key: public_text,
            recipients: infos.to_vec(),
            ciphertext_sha256: crate::digest::sha256_hex(&blob),
            rewrap_pending: None,
        };
        let (age_key, json_key) = item_keys(class, &name, &key_id);
        let json = item_json(&item);
        for l in &self.locations {
            // The age file first: a sidecar always has its file.
            l.put(&age_key, &blob)?;
            l.put(&json_key, &json)?;
        }
        Ok((
            PeriodKeyRef {
                period: name,
                key_id,
            },
            public,
        ))
    }

    /// The key item `r` of `class`, from the first location that has it.
    pub fn find(&self, class: &str, r: &PeriodKeyRef) -> Result<Option<StoredKeyItem>> {
        for i in 0..self.locations.len() {
            let storage = &self.locations[i];
            let (age_key, json_key) = item_keys(class, &r.period, &r.key_id);
            let Some(bytes) = storage.get(&json_key, ITEM_SIDECAR_BYTES)? else {
                continue;
            };
            let place = format!("{class}/{}/{}", r.period, r.key_id);
            let item = KeyItem::parse(&bytes, class, &r.period, &r.key_id).map_err(|message| {
                Error::KeyItemInvalid {
                    place: place.clone(),
                    path: storage.describe(&json_key).into(),
                    message,
                }
            })?;
            return Ok(Some(StoredKeyItem {
                item,
                location: storage.location().to_owned(),
                path: storage.describe(&age_key).into(),
                storage: storage.clone(),
            }));
        }
        Ok(None)
    }

    /// The period key of backup `id` (class `class`), opened with `keys`
    /// (or remembered from an earlier open with them). `None` when no
    /// location has its key item.
    pub fn open(
        &self,
        id: &str,
        class: &str,
        r: &PeriodKeyRef,
        keys: &crate::unlock::Keys<'_>,
    ) -> Result<Option<age::x25519::Identity>> {
        let place = format!("{class}/{}/{}", r.period, r.key_id);
        if let Some(k) = keys.period_key(&place) {
            return Ok(Some(k));
        }
        let Some(stored) = self.find(class, r)? else {
            return Ok(None);
        };
        let key = stored.open(keys).map_err(|e| match e {
            Error::NoMatchingIdentity { labels, .. } => Error::NoMatchingIdentity {
                id: format!("{id} (through its period key {place})"),
                labels,
            },
            e => e,
        })?;
        keys.remember_period_key(&place, key.clone());
        Ok(Some(key))
    }

    /// The period key of backup `id`, opened with `keys`; when no keyring
    /// location has it, [`Error::CryptoErased`] if the erasure journal of
    /// the repository (`repo`) or of a keyring location records its
    /// erasure, else [`Error::PeriodKeyMissing`].
    pub fn open_for_backup(
        &self,
        repo: &dyn Storage,
        id: &str,
        class: &str,
        r: &PeriodKeyRef,
        keys: &crate::unlock::Keys<'_>,
    ) -> Result<age::x25519::Identity> {
        if let Some(k) = self.open(id, class, r, keys)? {
            return Ok(k);
        }
        let journals = std::iter::once(repo).chain(self.locations.iter().map(|l| l.as_ref()));
        for j in journals {
            // A damaged or unreadable journal explains nothing; the
            // generic error below still says what is missing.
            let Ok(state) = crate::journal::read::<ErasureRecord>(j, ERASURES) else {
                continue;
            };
            let found = state.records.iter().rev().find(|e| {
                e.class == class && e.period == r.period && e.key_ids.contains(&r.key_id)
            });
            if let Some(e) = found {
                return Err(Error::CryptoErased {
                    id: id.to_owned(),
                    period: format!("{class}/{}", r.period),
                    when: format!("{} ({})", crate::util::rfc3339(e.at), e.reason),
                });
            }
        }
        Err(Error::PeriodKeyMissing {
            id: id.to_owned(),
            place: format!("{class}/{}/{}", r.period, r.key_id),
            locations: self.describe(),
        })
    }

    /// Deletes every object below `keys/<class>/<period>/` in each
    /// location, then checks each is empty (listing) and that none of
    /// `key_ids` is there (direct lookup). A location that fails is
    /// reported, not skipped silently; the others are still erased.
    pub fn erase(&self, class: &str, period: &str, key_ids: &[String]) -> Vec<LocationCheck> {
        self.locations
            .iter()
            .map(|l| {
                let mut deleted = 0;
                let r = (|| -> Result<bool> {
                    let mut objects = l.list(Some(&period_dir(class, period)))?;
                    // Secrets first, sidecars after.
                    objects.sort_by_key(|o| !o.key.as_str().ends_with(".age"));
                    for o in objects {
                        if o.kind != crate::storage::ObjectKind::Directory {
                            l.delete(&o.key)?;
                            deleted += 1;
                        }
                    }
                    if let Some(root) = l.local_root() {
                        let _ = std::fs::remove_dir(root.join(KEYS_DIR).join(class).join(period));
                    }
                    absent_in(l.as_ref(), class, period, key_ids)
                })();
                check(l.location(), deleted, r)
            })
            .collect()
    }

    /// Checks, in each location, that nothing of the period is left
    /// (listing and direct lookup of `key_ids`).
    pub fn check_absent(
        &self,
        class: &str,
        period: &str,
        key_ids: &[String],
    ) -> Vec<LocationCheck> {
        self.locations
            .iter()
            .map(|l| {
                check(
                    l.location(),
                    0,
                    absent_in(l.as_ref(), class, period, key_ids),
                )
            })
            .collect()
    }
}

fn check(location: &str, deleted: u32, r: Result<bool>) -> LocationCheck {
    match r {
        Ok(absent) => LocationCheck {
            location: location.to_owned(),
            deleted,
            absent,
            error: None,
        },
        Err(e) => LocationCheck {
            location: location.to_owned(),
            deleted,
            absent: false,
            error: Some(e.to_string()),
        },
    }
}

fn absent_in(l: &dyn Storage, class: &str, period: &str, key_ids: &[String]) -> Result<bool> {
    let listed = l
        .list(Some(&period_dir(class, period)))?
        .into_iter()
        .any(|o| o.kind != crate::storage::ObjectKind::Directory);
    let mut found = listed;
    for k in key_ids {
        let (a, j) = item_keys(class, period, k);
        found |= l.stat(&a)?.is_some() || l.stat(&j)?.is_some();
    }
    Ok(!found)
}

fn item_json(item: &KeyItem) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(item).expect("key item serializes");
    json.push(b'\n');
    json
}

/// Seals a small plaintext (a key item's, an escrow item's) to
/// `recipients`: an age file in memory.
pub(crate) fn seal_small(
    plain: &[u8],
    recipients: &[Box<dyn age::Recipient + Send>],
) -> Result<Vec<u8>> {
    use std::io::Write;
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_ref() as _)).map_err(
        |e| Error::InvalidRecipient {
            input: "configured recipients".into(),
            reason: e.to_string(),
        },
    )?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| Error::io("encrypting", e))?;
    w.write_all(plain)
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| Error::io("encrypting", e))?;
    Ok(out)
}

impl StoredKeyItem {
    /// Its place, `<class>/<period>/<key id>`.
    pub fn place(&self) -> String {
        self.item.place()
    }

    /// Opens it with `keys`: the period key, checked against the item.
    pub fn open(&self, keys: &crate::unlock::Keys<'_>) -> Result<age::x25519::Identity> {
        let what = format!("period key {}", self.place());
        let blob = self.read_blob()?.ok_or_else(|| Error::DataMissing {
            id: what.clone(),
            path: self.path.clone(),
        })?;
        let digest = crate::digest::sha256_hex(&blob);
        let pending = self
            .item
            .rewrap_pending
            .as_ref()
            .filter(|p| p.ciphertext_sha256 == digest);
        if digest != self.item.ciphertext_sha256 && pending.is_none() {
            return Err(Error::Damaged {
                id: what,
                detail: "the file differs from what its sidecar recorded (corrupted or replaced)"
                    .into(),
            });
        }
        let hint = pending.map_or(&self.item.recipients, |p| &p.recipients);
        let plain = crate::unlock::decrypt_small(&what, &blob, keys, hint, &self.item.labels())?;
        secret::decode(
            &plain,
            &self.item.class,
            &self.item.period,
            &self.item.public_key,
        )
        .map_err(|detail| Error::Damaged { id: what, detail })
    }

    /// The age file's bytes; `None` if it is gone.
    pub(crate) fn read_blob(&self) -> Result<Option<Vec<u8>>> {
        let (a, _) = item_keys(&self.item.class, &self.item.period, &self.item.key_id);
        self.storage.get(&a, ITEM_BYTES)
    }

    /// Replaces the age file (atomically).
    pub(crate) fn write_blob(&self, blob: &[u8]) -> Result<()> {
        let (a, _) = item_keys(&self.item.class, &self.item.period, &self.item.key_id);
        self.storage.put(&a, blob)?;
        // A bucket that keeps versions would keep the old blob, open to
        // the old recipients (nothing locks key items).
        self.storage.delete_noncurrent(&a).map(|_| ())
    }

    /// Writes its sidecar.
    pub(crate) fn write_sidecar(&self) -> Result<()> {
        let (_, j) = item_keys(&self.item.class, &self.item.period, &self.item.key_id);
        self.storage.put(&j, &item_json(&self.item))
    }
}
