//! A repository: the configuration, the backups and their sidecars,
//! kept in a [`Storage`] (a local directory or an S3-compatible bucket).
//!
//! ```text
//! nkbackup.toml                 configuration (recipients, classes)
//! lock                          write lock (flock on a directory; a lease object on S3)
//! tmp/                          partial writes (.<id>.*.partial; directory only)
//! backups/<class>/<id>.age      the backup (age v1 file)
//! backups/<class>/<id>.json     its sidecar; present = committed
//! journal/<name>.jsonl, .head   hash-chained journals (deletions, drills)
//! ```
//!
//! A backup exists when its sidecar exists. Data without a sidecar is an
//! incomplete write and is never listed as a backup.

pub use crate::fsio::{ensure_dir, fsync_dir, write_atomic, write_new};
pub use crate::storage::RepoLock;

use crate::config::{self, Config, RecipientConfig};
use crate::error::{Error, IoContext, Result};
use crate::id::BackupId;
use crate::manifest::{DefectKind, Sidecar};
use crate::storage::{LocalStorage, LockGuard, ObjectInfo, ObjectKey, ObjectKind, Storage};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// File name of the configuration.
pub const CONFIG_FILE: &str = "nkbackup.toml";

/// The key of the configuration object.
pub fn config_key() -> ObjectKey {
    ObjectKey::from_parts(&[CONFIG_FILE])
}

/// The key of the directory of backups.
pub fn backups_key() -> ObjectKey {
    ObjectKey::from_parts(&["backups"])
}

/// The key of the directory of partial writes.
pub fn tmp_key() -> ObjectKey {
    ObjectKey::from_parts(&["tmp"])
}

/// The keys of a backup's data object and sidecar, made from its checked
/// class and id (never from anything a sidecar says).
pub fn backup_keys(class: &str, id: &BackupId) -> Result<(ObjectKey, ObjectKey)> {
    config::check_name("class", class)?;
    Ok((
        ObjectKey::from_parts(&["backups", class, &format!("{id}.age")]),
        ObjectKey::from_parts(&["backups", class, &format!("{id}.json")]),
    ))
}

/// How long writers wait for the lock by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(3600);

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repository {
    storage: Arc<dyn Storage>,
    config: Config,
    policy: crate::config::Policy,
}

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
    #[serde(skip)]
    storage: Arc<dyn Storage>,
}

impl BackupInfo {
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

impl Repository {
    /// Creates a new repository in the directory `root` (new or empty).
    pub fn init(root: &Path) -> Result<Self> {
        if root.exists() && !root.join(CONFIG_FILE).exists() {
            let mut it = fs::read_dir(root).ctx(|| format!("reading {}", root.display()))?;
            if it.next().is_some() {
                return Err(Error::NotEmptyNotRepository {
                    path: root.to_owned(),
                });
            }
        }
        ensure_dir(root)?;
        let repo = Self::init_in(Arc::new(LocalStorage::new(root)))?;
        ensure_dir(&root.join("backups"))?;
        ensure_dir(&root.join("tmp"))?;
        Ok(repo)
    }

    /// Creates a new repository in `storage`, which must hold nothing.
    pub fn init_in(storage: Arc<dyn Storage>) -> Result<Self> {
        let here = || PathBuf::from(storage.location());
        if storage.stat(&config_key())?.is_some() {
            return Err(Error::RepositoryExists { path: here() });
        }
        if storage.local_root().is_none() && !storage.list(None)?.is_empty() {
            return Err(Error::NotEmptyNotRepository { path: here() });
        }
        let mut id = [0u8; 16];
        crate::util::fill_random(&mut id);
        let text = config::initial_text(&hex::encode(id), &crate::now_rfc3339());
        if !storage.put_new(&config_key(), text.as_bytes())? {
            return Err(Error::RepositoryExists { path: here() });
        }
        Self::open_in(storage)
    }

    /// Creates a new repository where a `--repo` argument says: a
    /// directory ([`Repository::init`]) or `s3://bucket[/prefix]`
    /// ([`Repository::init_in`]).
    pub fn init_url(repo: &str, settings: &crate::storage::S3Settings) -> Result<Self> {
        match crate::storage::Location::parse(repo)? {
            crate::storage::Location::Local(dir) => Self::init(&dir),
            _ => Self::init_in(crate::storage::open(repo, settings)?),
        }
    }

    /// Opens the repository in the directory `root`.
    pub fn open(root: &Path) -> Result<Self> {
        Self::open_in(Arc::new(LocalStorage::new(root)))
    }

    /// Opens the repository a `--repo` argument names: a directory, or
    /// `s3://bucket[/prefix]` reached with `settings` (see
    /// [`crate::storage::S3Settings`]).
    pub fn open_url(repo: &str, settings: &crate::storage::S3Settings) -> Result<Self> {
        Self::open_in(crate::storage::open(repo, settings)?)
    }

    /// Opens the repository in `storage`.
    pub fn open_in(storage: Arc<dyn Storage>) -> Result<Self> {
        let path = PathBuf::from(storage.describe(&config_key()));
        let Some(bytes) = storage.get(&config_key(), crate::limits::CONFIG_BYTES)? else {
            return Err(Error::RepositoryNotFound {
                path: PathBuf::from(storage.location()),
            });
        };
        let text = String::from_utf8(bytes).map_err(|_| Error::ConfigInvalid {
            path: path.clone(),
            message: "not UTF-8 text".into(),
        })?;
        let (config, policy) = resolve(&text, &path)?;
        Ok(Repository {
            storage,
            config,
            policy,
        })
    }

    /// Where the repository is: a directory path or `s3://bucket/prefix`.
    pub fn location(&self) -> &str {
        self.storage.location()
    }

    /// The repository directory, for a local repository.
    pub fn local_root(&self) -> Option<&Path> {
        self.storage.local_root()
    }

    /// Where its objects are kept.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The classes' typed policies (retention and compression), resolved
    /// from the configuration once, when it was read.
    pub fn policy(&self) -> &crate::config::Policy {
        &self.policy
    }

    /// The typed policy of class `name`, or an error listing the classes.
    pub fn class_policy(&self, name: &str) -> Result<&crate::config::ClassPolicy> {
        self.config.class(name)?;
        self.policy.class(name).ok_or_else(|| Error::UnknownClass {
            class: name.to_owned(),
            known: self
                .policy
                .classes
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Takes the write lock.
    pub fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>> {
        self.storage.lock(wait)
    }

    /// Adds a recipient to the configuration, keeping the file's comments.
    pub fn add_recipient(&mut self, r: RecipientConfig) -> Result<()> {
        config::check_name("recipient label", &r.label)?;
        crate::recipient::parse(&r)?;
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        // Re-read under the lock: another writer may have changed it.
        let fresh = Self::open_in(self.storage.clone())?;
        if fresh.config.recipients.iter().any(|x| x.label == r.label) {
            return Err(Error::DuplicateRecipient {
                what: format!("labelled {:?}", r.label),
            });
        }
        if let Some(x) = fresh.config.recipients.iter().find(|x| x.key == r.key) {
            return Err(Error::DuplicateRecipient {
                what: format!("with this key (labelled {:?})", x.label),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .entry("recipients")
                .or_insert(toml_edit::Item::ArrayOfTables(Default::default()))
                .as_array_of_tables_mut()
                .ok_or("`recipients` is not an array of tables")?;
            let mut t = toml_edit::Table::new();
            t["label"] = toml_edit::value(r.label.clone());
            t["type"] = toml_edit::value(r.kind.as_str());
            t["key"] = toml_edit::value(r.key.clone());
            for (name, v) in [
                ("ident", &r.ident),
                ("algorithm", &r.algorithm),
                ("fingerprint", &r.fingerprint),
                ("created", &r.created),
            ] {
                if let Some(v) = v {
                    t[name] = toml_edit::value(v.clone());
                }
            }
            arr.push(t);
            Ok(())
        })
    }

    /// Removes the recipient labelled `label`.
    pub fn remove_recipient(&mut self, label: &str) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        if !Self::open_in(self.storage.clone())?
            .config
            .recipients
            .iter()
            .any(|x| x.label == label)
        {
            return Err(Error::UnknownRecipient {
                label: label.to_owned(),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .get_mut("recipients")
                .and_then(|i| i.as_array_of_tables_mut())
                .ok_or("`recipients` is not an array of tables")?;
            arr.retain(|t| t.get("label").and_then(|v| v.as_str()) != Some(label));
            Ok(())
        })
    }

    /// Stores the recovery key's public data (`[recovery]`). Refuses to
    /// replace an existing one unless `replace`.
    pub fn set_recovery(&mut self, cfg: config::RecoveryConfig, replace: bool) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        if let Some(old) = Self::open_in(self.storage.clone())?.config.recovery
            && !replace
        {
            return Err(Error::RecoveryKeyExists {
                path: PathBuf::from(self.location()),
                key_id: old.key_id,
            });
        }
        let mut t = toml_edit::Table::new();
        t.decor_mut().set_prefix(
            "\n# The offline recovery key: public data only (`nkbackup recovery-key new`).\n",
        );
        t["key_id"] = toml_edit::value(cfg.key_id.clone());
        t["recipient"] = toml_edit::value(cfg.recipient.clone());
        t["created"] = toml_edit::value(cfg.created.clone());
        let mut check = toml_edit::InlineTable::new();
        check.insert("iv", cfg.check.iv.clone().into());
        check.insert("mac", cfg.check.mac.clone().into());
        t["check"] = toml_edit::value(check);
        if let Some(p) = &cfg.passphrase {
            let mut pp = toml_edit::InlineTable::new();
            pp.insert("algorithm", p.algorithm.clone().into());
            pp.insert("salt", p.salt.clone().into());
            pp.insert("iterations", i64::from(p.iterations).into());
            pp.insert("bits", i64::from(p.bits).into());
            t["passphrase"] = toml_edit::value(pp);
        }
        self.edit_config(|doc| {
            doc["recovery"] = toml_edit::Item::Table(t);
            Ok(())
        })
    }

    /// Every sealing recipient (configuration order, then the recovery key)
    /// with its parsed age recipient; an error if there are none.
    #[allow(clippy::type_complexity)]
    pub fn sealing_recipients(
        &self,
    ) -> Result<(Vec<RecipientConfig>, Vec<Box<dyn age::Recipient + Send>>)> {
        let all = self.config.sealing_recipients();
        if all.is_empty() {
            return Err(Error::NoRecipients {
                path: PathBuf::from(self.location()),
            });
        }
        let parsed = all
            .iter()
            .map(crate::recipient::parse)
            .collect::<Result<Vec<_>>>()?;
        Ok((all, parsed))
    }

    /// The recovery key's configuration, or an error saying how to make one.
    pub fn recovery(&self) -> Result<&config::RecoveryConfig> {
        self.config
            .recovery
            .as_ref()
            .ok_or_else(|| Error::NoRecoveryKey {
                path: PathBuf::from(self.location()),
            })
    }

    fn edit_config(
        &mut self,
        f: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), &'static str>,
    ) -> Result<()> {
        let path = PathBuf::from(self.storage.describe(&config_key()));
        let text = self
            .storage
            .get(&config_key(), crate::limits::CONFIG_BYTES)?
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::RepositoryNotFound {
                path: PathBuf::from(self.location()),
            })?;
        let mut doc: toml_edit::DocumentMut =
            text.parse()
                .map_err(|e: toml_edit::TomlError| Error::ConfigSyntax {
                    path: path.clone(),
                    message: config::parser_message(&e.to_string()),
                })?;
        f(&mut doc).map_err(|m| Error::ConfigInvalid {
            path: path.clone(),
            message: m.to_owned(),
        })?;
        let new = doc.to_string();
        let (config, policy) = resolve(&new, &path)?;
        self.storage.put(&config_key(), new.as_bytes())?;
        self.config = config;
        self.policy = policy;
        Ok(())
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
        for (class, id, o) in sidecars {
            let (data_key, sidecar_key) = backup_keys(&class, &id)?;
            datas.remove(&data_key);
            let sidecar_path = PathBuf::from(self.storage.describe(&sidecar_key));
            let refuse = |kind, message: String| UnreadableSidecar {
                id: id.to_string(),
                class: class.clone(),
                sidecar_key: sidecar_key.clone(),
                sidecar_path: sidecar_path.clone(),
                kind,
                message,
            };
            let bytes = match self.storage.get(&sidecar_key, crate::limits::SIDECAR_BYTES) {
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
                    storage: self.storage.clone(),
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

/// Parses the configuration text read from `path`, resolves every
/// configured recipient to a key a seal can encrypt to, and the classes
/// to their typed policies: the file's own shape is [`Config::parse`]'s
/// job, the recipient types belong to [`crate::recipient`], one layer up.
fn resolve(text: &str, path: &Path) -> Result<(Config, crate::config::Policy)> {
    let config = Config::parse(text, path)?;
    let policy = crate::config::Policy::from_config(&config)?;
    for r in &config.recipients {
        crate::recipient::parse(r).map_err(|e| Error::ConfigInvalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    }
    Ok((config, policy))
}
