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

mod fsio;
mod lock;

pub use fsio::{ensure_dir, fsync_dir, write_atomic, write_new};
pub use lock::RepoLock;

use crate::config::{self, Config, RecipientConfig};
use crate::error::{Error, IoContext, Result};
use crate::id::BackupId;
use crate::manifest::Sidecar;
use crate::storage::{LocalStorage, LockGuard, ObjectInfo, Storage};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// File name of the configuration.
pub const CONFIG_FILE: &str = "nkbackup.toml";

/// How long writers wait for the lock by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(3600);

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repository {
    storage: Arc<dyn Storage>,
    config: Config,
}

/// A committed backup: its sidecar and where its objects are.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    /// The sidecar manifest.
    #[serde(flatten)]
    pub sidecar: Sidecar,
    /// The data object's key (`backups/<class>/<id>.age`).
    pub data_key: String,
    /// The sidecar's key (`backups/<class>/<id>.json`).
    pub sidecar_key: String,
    /// Where the data is, for people: the file's path in a local
    /// repository, the object's `s3://` URL in a bucket.
    pub data_path: PathBuf,
    /// Where the sidecar is, in the same form.
    pub sidecar_path: PathBuf,
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
    /// Committed backups, oldest first.
    pub backups: Vec<BackupInfo>,
    /// Data objects without a sidecar (incomplete writes).
    pub incomplete: Vec<ObjectInfo>,
    /// Partial writes: `tmp/*.partial` files and a crash's temporary
    /// sidecar files (`backups/<class>/.<id>.json.*.tmp`).
    pub partials: Vec<ObjectInfo>,
    /// Sidecars that could not be read, with the reason.
    pub unreadable: Vec<String>,
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
        let repo = Self::init_in(Arc::new(LocalStorage::new(root)))?;
        ensure_dir(&root.join("backups"))?;
        ensure_dir(&root.join("tmp"))?;
        Ok(repo)
    }

    /// Creates a new repository in `storage`, which must hold nothing.
    pub fn init_in(storage: Arc<dyn Storage>) -> Result<Self> {
        let here = || PathBuf::from(storage.location());
        if storage.stat(CONFIG_FILE)?.is_some() {
            return Err(Error::RepositoryExists { path: here() });
        }
        if storage.local_root().is_none() && !storage.list("")?.is_empty() {
            return Err(Error::NotEmptyNotRepository { path: here() });
        }
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut id);
        let text = config::initial_text(&hex::encode(id), &crate::now_rfc3339());
        if !storage.put_new(CONFIG_FILE, text.as_bytes())? {
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
        let path = PathBuf::from(storage.describe(CONFIG_FILE));
        let Some(bytes) = storage.get(CONFIG_FILE)? else {
            return Err(Error::RepositoryNotFound {
                path: PathBuf::from(storage.location()),
            });
        };
        let text = String::from_utf8(bytes).map_err(|_| Error::ConfigInvalid {
            path: path.clone(),
            message: "not UTF-8 text".into(),
        })?;
        let config = Config::parse(&text, &path)?;
        Ok(Repository { storage, config })
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
            t["type"] = toml_edit::value(r.kind.clone());
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
        let path = PathBuf::from(self.storage.describe(CONFIG_FILE));
        let text = self
            .storage
            .get(CONFIG_FILE)?
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::RepositoryNotFound {
                path: PathBuf::from(self.location()),
            })?;
        let mut doc: toml_edit::DocumentMut =
            text.parse()
                .map_err(|e: toml_edit::TomlError| Error::ConfigSyntax {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        f(&mut doc).map_err(|m| Error::ConfigInvalid {
            path: path.clone(),
            message: m.to_owned(),
        })?;
        let new = doc.to_string();
        let config = Config::parse(&new, &path)?;
        self.storage.put(CONFIG_FILE, new.as_bytes())?;
        self.config = config;
        Ok(())
    }

    /// Lists committed backups (oldest first), incomplete writes, partial
    /// writes and unreadable sidecars.
    pub fn list(&self) -> Result<Listing> {
        let mut out = Listing::default();
        let mut datas = std::collections::BTreeMap::new();
        let mut sidecars = Vec::new();
        for o in self.storage.list("backups/")? {
            let Some((class, name)) = o
                .key
                .strip_prefix("backups/")
                .and_then(|r| r.split_once('/'))
            else {
                continue;
            };
            if class.is_empty() || name.contains('/') {
                continue;
            }
            if let Some(id) = name.strip_suffix(".age") {
                if BackupId::is_well_formed(id) {
                    datas.insert(o.key.clone(), o);
                }
            } else if let Some(id) = name.strip_suffix(".json")
                && BackupId::is_well_formed(id)
            {
                sidecars.push((class.to_owned(), id.to_owned(), o.key.clone()));
            } else if name.starts_with('.') && name.contains(".json.") && name.ends_with(".tmp") {
                out.partials.push(o);
            }
        }
        for (class, id, sidecar_key) in sidecars {
            let data_key = format!("backups/{class}/{id}.age");
            datas.remove(&data_key);
            let sidecar_path = PathBuf::from(self.storage.describe(&sidecar_key));
            let parsed = self
                .storage
                .get(&sidecar_key)?
                .ok_or_else(|| Error::SidecarInvalid {
                    id: id.clone(),
                    path: sidecar_path.clone(),
                    message: "it vanished while listing".into(),
                })
                .and_then(|b| Sidecar::parse(&b, &sidecar_path, &id));
            match parsed {
                Ok(sidecar) => {
                    let data_key = format!("backups/{class}/{}", sidecar.data);
                    out.backups.push(BackupInfo {
                        data_path: PathBuf::from(self.storage.describe(&data_key)),
                        data_key,
                        sidecar,
                        sidecar_key,
                        sidecar_path,
                        storage: self.storage.clone(),
                    });
                }
                Err(e) => out.unreadable.push(e.to_string()),
            }
        }
        out.incomplete = datas.into_values().collect();
        out.partials.extend(
            self.storage
                .list("tmp/")?
                .into_iter()
                .filter(|o| o.key.ends_with(".partial")),
        );
        out.partials.sort_by(|a, b| a.key.cmp(&b.key));
        out.backups.sort_by(|a, b| {
            (a.sidecar.created, &a.sidecar.id).cmp(&(b.sidecar.created, &b.sidecar.id))
        });
        Ok(out)
    }
    /// Finds one backup by id, unique prefix, or `latest`.
    pub fn find(&self, query: &str) -> Result<BackupInfo> {
        let mut all = self.list()?.backups;
        if query == "latest" {
            return all.pop().ok_or_else(|| Error::BackupNotFound {
                id: query.to_owned(),
            });
        }
        if let Some(i) = all.iter().position(|b| b.sidecar.id == query) {
            return Ok(all.swap_remove(i));
        }
        let mut hits: Vec<BackupInfo> = all
            .into_iter()
            .filter(|b| BackupId::parse(&b.sidecar.id).is_ok_and(|id| id.matches(query)))
            .collect();
        match hits.len() {
            0 => Err(Error::BackupNotFound {
                id: query.to_owned(),
            }),
            1 => Ok(hits.pop().expect("one hit")),
            _ => Err(Error::AmbiguousId {
                id: query.to_owned(),
                candidates: hits
                    .iter()
                    .take(5)
                    .map(|b| b.sidecar.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Checks a backup's data against its sidecar without any key: the file
    /// exists, has the recorded length and SHA-256.
    pub fn verify(&self, b: &BackupInfo) -> Result<ShallowVerify> {
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
}
