//! What a repository holds: committed backups with their checked
//! sidecars, and everything else found under `backups/` and `tmp/`
//! (incomplete writes, refused sidecars, unexpected objects).

use super::sidecar_cache::SidecarCache;
use super::*;

/// A committed backup: its checked sidecar and where its objects are.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    /// The sidecar manifest, checked by [`Sidecar::parse`].
    #[serde(flatten)]
    pub sidecar: Sidecar,
    /// The data object's key (`backups/<class>/<id>.age`), made from the
    /// class directory and the id of the sidecar's name.
    pub data_key: ObjectKey,
    /// The sidecar's key (`backups/<class>/<id>.json`).
    pub sidecar_key: ObjectKey,
    /// Where the data is, for people: the file's path in a local
    /// repository, the object's `s3://` URL in a bucket.
    pub data_path: PathBuf,
    /// Where the sidecar is, in the same form.
    pub sidecar_path: PathBuf,
    /// When the sidecar was written, if the store says: orders backups
    /// created in the same second.
    #[serde(skip)]
    pub committed: Option<SystemTime>,
    /// The data object as the same listing saw it (`None`: not listed),
    /// so that checking every backup needs no request per backup.
    #[serde(skip)]
    pub data_listed: Option<ObjectInfo>,
    #[serde(skip)]
    storage: Arc<dyn Storage>,
    #[serde(skip)]
    keyring: Arc<crate::keyring::Keyring>,
}

impl BackupInfo {
    /// The keyring of the repository it was listed from.
    pub fn keyring(&self) -> &Arc<crate::keyring::Keyring> {
        &self.keyring
    }

    /// The repository's storage (for the erasure journal).
    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Opens the data object for reading; [`Error::DataMissing`] if it is
    /// gone.
    pub fn open_data(&self) -> Result<Box<dyn std::io::Read + Send>> {
        self.storage
            .open(&self.data_key)?
            .ok_or_else(|| Error::DataMissing {
                id: self.sidecar.id.clone(),
                path: self.data_path.clone(),
            })
    }

    /// Checks the data against the sidecar without any key: the file
    /// exists, has the recorded length and SHA-256.
    pub fn verify_ciphertext(&self) -> Result<ShallowVerify> {
        let b = self;
        let id = &b.sidecar.id;
        let f = b.open_data()?;
        let d = crate::digest::digest_reader(std::io::BufReader::with_capacity(1 << 20, f))
            .ctx(|| format!("reading {}", b.data_path.display()))?;
        if b.sidecar.accepts(d.len, &d.hex()) {
            return Ok(ShallowVerify {
                id: id.clone(),
                ciphertext_bytes: d.len,
                ciphertext_sha256: d.hex(),
            });
        }
        if d.len != b.sidecar.ciphertext_bytes {
            return Err(Error::Damaged {
                id: id.clone(),
                detail: format!(
                    "the data file has {} bytes, the sidecar says {} (truncated or replaced)",
                    d.len, b.sidecar.ciphertext_bytes
                ),
            });
        }
        if d.hex() != b.sidecar.ciphertext_sha256 {
            return Err(Error::Damaged {
                id: id.clone(),
                detail:
                    "the data file's SHA-256 differs from the sidecar's (corrupted or tampered)"
                        .into(),
            });
        }
        Ok(ShallowVerify {
            id: id.clone(),
            ciphertext_bytes: d.len,
            ciphertext_sha256: d.hex(),
        })
    }

    /// The directory of the repository this backup is in, if local.
    pub fn repository_root(&self) -> Option<&Path> {
        self.storage.local_root()
    }
}

/// Result of a key-less verification.
#[derive(Debug, Clone, Serialize)]
pub struct ShallowVerify {
    /// The backup id.
    pub id: String,
    /// Bytes hashed.
    pub ciphertext_bytes: u64,
    /// The digest computed, equal to the sidecar's.
    pub ciphertext_sha256: String,
}

/// What a listing found besides committed backups.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    /// Committed backups, oldest first (ties in `created`: the sidecar
    /// written last is newest).
    pub backups: Vec<BackupInfo>,
    /// Data objects without a sidecar (incomplete writes).
    pub incomplete: Vec<ObjectInfo>,
    /// Partial writes: `tmp/*.partial` files and a crash's temporary
    /// sidecar files (`backups/<class>/.<id>.json.*.tmp`).
    pub partials: Vec<ObjectInfo>,
    /// Sidecars that were refused, with the reason. Their data objects
    /// are neither backups nor incomplete writes: they are held.
    pub unreadable: Vec<UnreadableSidecar>,
    /// Symlinks, special files and directories where the repository keeps
    /// its files (never followed).
    pub unexpected: Vec<ObjectInfo>,
    /// Sidecars taken from the local sidecar cache instead of the bucket
    /// ([`Repository::with_sidecar_cache`]); the rest were fetched.
    #[serde(skip)]
    pub sidecars_from_cache: usize,
    /// Why the sidecar cache could not be written, if it could not (the
    /// listing is complete regardless; the next one fetches more).
    #[serde(skip)]
    pub cache_problem: Option<String>,
}

/// A sidecar that [`Sidecar::parse`] refused.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadableSidecar {
    /// The id its name gives.
    pub id: String,
    /// The class directory it lies in.
    pub class: String,
    /// Its key.
    pub sidecar_key: ObjectKey,
    /// Where it is, for people.
    pub sidecar_path: PathBuf,
    /// Refused as unreadable or as misplaced.
    pub kind: DefectKind,
    /// What is wrong with it.
    pub message: String,
}

impl UnreadableSidecar {
    /// The error opening this backup gives.
    pub fn error(&self) -> Error {
        Error::SidecarInvalid {
            id: self.id.clone(),
            path: self.sidecar_path.clone(),
            message: self.message.clone(),
        }
    }
}

/// Sidecars asked of the store per call (the store keeps its own number
/// in flight; the batch bounds the requests one call prepares).
const SIDECAR_BATCH: usize = 1024;

/// A listed sidecar: its class, id, listing entry, data key and key.
type Keyed = (String, BackupId, ObjectInfo, ObjectKey, ObjectKey);

impl Repository {
    /// The bytes of the listed sidecars, in order: from the sidecar cache
    /// where it holds them as listed, the rest from the store, several at
    /// a time on a bucket. Updates the cache.
    fn sidecar_bytes(&self, keyed: &[Keyed], out: &mut Listing) -> Vec<crate::storage::Got> {
        let cache = match (&self.sidecar_cache, self.storage.local_root()) {
            (Some(dir), None) => Some(SidecarCache::file_in(
                dir,
                self.storage.location(),
                &self.config.repository.id,
            )),
            _ => None,
        };
        let mut cached = cache
            .as_deref()
            .map(|p| SidecarCache::load(p, self.storage.location()))
            .unwrap_or_default();
        let mut got: Vec<Option<crate::storage::Got>> = keyed
            .iter()
            .map(|k| cached.take(&k.2).map(|b| Ok(Some(b))))
            .collect();
        out.sidecars_from_cache = got.iter().filter(|g| g.is_some()).count();
        let missing: Vec<usize> = (0..keyed.len()).filter(|&i| got[i].is_none()).collect();
        for batch in missing.chunks(SIDECAR_BATCH) {
            let keys: Vec<crate::storage::Wanted<'_>> = batch
                .iter()
                .map(|&i| (&keyed[i].4, Some(keyed[i].2.size)))
                .collect();
            let fetched = crate::storage::get_many(
                self.storage.as_ref(),
                &keys,
                crate::limits::SIDECAR_BYTES,
            );
            for (&i, g) in batch.iter().zip(fetched) {
                got[i] = Some(g);
            }
        }
        let got: Vec<crate::storage::Got> =
            got.into_iter().map(|g| g.unwrap_or(Ok(None))).collect();
        // Rewritten when it changed: a sidecar fetched, or one gone (left
        // in the cache, not taken).
        if let Some(path) = cache
            && (!missing.is_empty() || !cached.is_empty())
        {
            let bytes = SidecarCache::encode(
                self.storage.location(),
                keyed.iter().zip(&got).filter_map(|(k, g)| match g {
                    Ok(Some(b)) => Some((&k.2, b.as_slice())),
                    _ => None,
                }),
            );
            if let Err(e) = SidecarCache::store(&path, &bytes) {
                out.cache_problem = Some(e.to_string());
            }
        }
        got
    }

    /// Lists committed backups (oldest first), incomplete writes, partial
    /// writes, refused sidecars and unexpected objects.
    pub fn list(&self) -> Result<Listing> {
        let mut out = Listing::default();
        let mut datas = std::collections::BTreeMap::new();
        let mut sidecars = Vec::new();
        for o in self.storage.list(Some(&backups_key()))? {
            let key = o.key.clone();
            let mut parts = key.components().skip(1);
            let (Some(class), name, None) = (parts.next(), parts.next(), parts.next()) else {
                // Deeper than backups/<class>/<name>: nothing of ours.
                continue;
            };
            let Some(name) = name else {
                // A class directory; a symlink or file in its place hides
                // whatever it points to and is reported.
                if o.kind != ObjectKind::Directory {
                    out.unexpected.push(o);
                }
                continue;
            };
            if config::check_name("class", class).is_err() {
                continue;
            }
            let shaped = |suffix: &str| {
                name.strip_suffix(suffix)
                    .filter(|id| BackupId::is_well_formed(id))
                    .and_then(|id| BackupId::parse(id).ok())
            };
            if let Some(id) = shaped(".age") {
                if o.kind != ObjectKind::Object {
                    out.unexpected.push(o.clone());
                }
                datas.insert(o.key.clone(), (o, id));
            } else if let Some(id) = shaped(".json") {
                sidecars.push((class.to_owned(), id, o));
            } else if name.starts_with('.') && name.contains(".json.") && name.ends_with(".tmp") {
                out.partials.push(o);
            } else if o.kind != ObjectKind::Object {
                out.unexpected.push(o);
            }
        }
        // The keys first, then their bytes, several at a time on a bucket.
        let mut keyed = Vec::with_capacity(sidecars.len());
        for (class, id, o) in sidecars {
            let (data_key, sidecar_key) = backup_keys(&class, &id)?;
            keyed.push((class, id, o, data_key, sidecar_key));
        }
        let got = self.sidecar_bytes(&keyed, &mut out);
        for ((class, id, o, data_key, sidecar_key), fetched) in keyed.into_iter().zip(got) {
            let data_listed = datas.remove(&data_key).map(|(d, _)| d);
            let sidecar_path = PathBuf::from(self.storage.describe(&sidecar_key));
            let refuse = |kind, message: String| UnreadableSidecar {
                id: id.to_string(),
                class: class.clone(),
                sidecar_key: sidecar_key.clone(),
                sidecar_path: sidecar_path.clone(),
                kind,
                message,
            };
            let bytes = match fetched {
                Ok(Some(b)) => b,
                Ok(None) => {
                    out.unreadable.push(refuse(
                        DefectKind::Unreadable,
                        "it vanished while listing".into(),
                    ));
                    continue;
                }
                Err(e @ (Error::TooLarge { .. } | Error::NotAFile { .. })) => {
                    out.unreadable
                        .push(refuse(DefectKind::Unreadable, e.to_string()));
                    continue;
                }
                Err(e) => return Err(e),
            };
            match Sidecar::parse(&bytes, &class, &id) {
                Ok(sidecar) => out.backups.push(BackupInfo {
                    data_path: PathBuf::from(self.storage.describe(&data_key)),
                    data_key,
                    sidecar,
                    sidecar_key,
                    sidecar_path,
                    committed: o.modified,
                    data_listed,
                    storage: self.storage.clone(),
                    keyring: self.keyring().clone(),
                }),
                Err(d) => out.unreadable.push(refuse(d.kind, d.message)),
            }
        }
        out.incomplete = datas.into_values().map(|(o, _)| o).collect();
        out.partials.extend(
            self.storage
                .list(Some(&tmp_key()))?
                .into_iter()
                .filter(|o| o.key.as_str().ends_with(".partial")),
        );
        out.partials.sort_by(|a, b| a.key.cmp(&b.key));
        out.backups.sort_by(|a, b| {
            (a.sidecar.created, a.committed, &a.sidecar.id).cmp(&(
                b.sidecar.created,
                b.committed,
                &b.sidecar.id,
            ))
        });
        Ok(out)
    }

    /// Finds one backup by id, unique prefix, or `latest`. A backup whose
    /// sidecar was refused is found too, and the error names the sidecar
    /// and its defect.
    pub fn find(&self, query: &str) -> Result<BackupInfo> {
        let listing = self.list()?;
        let mut all = listing.backups;
        let not_found = || Error::BackupNotFound {
            id: crate::text::escape(query),
        };
        if query == "latest" {
            return all.pop().ok_or_else(not_found);
        }
        if let Some(i) = all.iter().position(|b| b.sidecar.id == query) {
            return Ok(all.swap_remove(i));
        }
        if let Some(u) = listing.unreadable.iter().find(|u| u.id == query) {
            return Err(u.error());
        }
        let matches = |id: &str| BackupId::parse(id).is_ok_and(|id| id.matches(query));
        let mut hits: Vec<BackupInfo> =
            all.into_iter().filter(|b| matches(&b.sidecar.id)).collect();
        let refused: Vec<&UnreadableSidecar> = listing
            .unreadable
            .iter()
            .filter(|u| matches(&u.id))
            .collect();
        match (hits.len(), refused.as_slice()) {
            (0, []) => Err(not_found()),
            (0, [u]) => Err(u.error()),
            (1, []) => Ok(hits.pop().expect("one hit")),
            _ => Err(Error::AmbiguousId {
                id: crate::text::escape(query),
                candidates: hits
                    .iter()
                    .map(|b| b.sidecar.id.as_str())
                    .chain(refused.iter().map(|u| u.id.as_str()))
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Checks a backup's data against its sidecar without any key: the file
    /// exists, has the recorded length and SHA-256.
    pub fn verify_shallow(&self, b: &BackupInfo) -> Result<ShallowVerify> {
        b.verify_ciphertext()
    }
}
