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

use crate::config::{self, Config, LockMode, RecipientConfig};
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
    keyring: Arc<crate::keyring::Keyring>,
    witness: Option<Arc<dyn Storage>>,
    /// Set once the store was seen to enforce Object Lock.
    lock_checked: Arc<std::sync::OnceLock<()>>,
    /// Where a bucket's sidecars are cached ([`Repository::with_sidecar_cache`]).
    sidecar_cache: Option<PathBuf>,
}

mod config_edit;
mod listing;
mod object_lock;
pub mod sidecar_cache;

pub use listing::{BackupInfo, Listing, ShallowVerify, UnreadableSidecar};

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
        Self::init_in_with(storage, None)
    }

    /// Creates a new repository in `storage`, which must hold nothing,
    /// whose backups are written with S3 Object Lock in `object_lock`
    /// mode (checked first: the bucket must keep versions and enforce
    /// Object Lock).
    pub fn init_in_with(storage: Arc<dyn Storage>, object_lock: Option<LockMode>) -> Result<Self> {
        if let Some(mode) = object_lock {
            object_lock::check_store(storage.as_ref(), mode)?;
        }
        let here = || PathBuf::from(storage.location());
        if storage.stat(&config_key())?.is_some() {
            return Err(Error::RepositoryExists { path: here() });
        }
        if storage.local_root().is_none() && !storage.list(None)?.is_empty() {
            return Err(Error::NotEmptyNotRepository { path: here() });
        }
        let mut id = [0u8; 16];
        crate::util::fill_random(&mut id);
        let text = config::initial_text(&hex::encode(id), &crate::now_rfc3339(), object_lock);
        if !storage.put_new(&config_key(), text.as_bytes())? {
            return Err(Error::RepositoryExists { path: here() });
        }
        Self::open_in(storage)
    }

    /// Creates a new repository where a `--repo` argument says: a
    /// directory ([`Repository::init`]) or `s3://bucket[/prefix]`
    /// ([`Repository::init_in`]).
    pub fn init_url(repo: &str, settings: &crate::storage::S3Settings) -> Result<Self> {
        Self::init_url_with(repo, settings, None)
    }

    /// [`Repository::init_url`] with S3 Object Lock in `object_lock` mode
    /// ([`Repository::init_in_with`]); a directory cannot have it.
    pub fn init_url_with(
        repo: &str,
        settings: &crate::storage::S3Settings,
        object_lock: Option<LockMode>,
    ) -> Result<Self> {
        match crate::storage::Location::parse(repo)? {
            crate::storage::Location::Local(dir) => match object_lock {
                Some(mode) => Err(Error::ObjectLock {
                    location: dir.display().to_string(),
                    mode: mode.as_str(),
                    problem: "a directory has no Object Lock".into(),
                    hint: "give an s3:// repository in a bucket made with Object Lock (docs/STORAGE.md)",
                }),
                None => Self::init(&dir),
            },
            _ => Self::init_in_with(crate::storage::open(repo, settings)?, object_lock),
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
        Self::open_with(crate::storage::open(repo, settings)?, settings)
    }

    /// Opens the repository in `storage`; a keyring in a bucket is reached
    /// with the `AWS_*` environment.
    pub fn open_in(storage: Arc<dyn Storage>) -> Result<Self> {
        Self::open_with(storage, &crate::storage::S3Settings::from_env())
    }

    /// Opens the repository in `storage`, reaching keyring locations in a
    /// bucket with `settings`.
    pub fn open_with(
        storage: Arc<dyn Storage>,
        settings: &crate::storage::S3Settings,
    ) -> Result<Self> {
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
        if config.repository.object_lock.is_some() && storage.local_root().is_some() {
            return Err(Error::ConfigInvalid {
                path,
                message: "object_lock is set, but this repository is a directory: S3 Object Lock is for bucket repositories (remove the line, or move the repository to a bucket made with Object Lock)".into(),
            });
        }
        let keyring = keyring(&config, &storage, settings)?;
        let witness = match &config.witness {
            Some(w) => {
                let ws = crate::storage::open(&w.location, settings)?;
                if ws.location() == storage.location() {
                    return Err(Error::ConfigInvalid {
                        path,
                        message: "[witness] location is the repository itself; name another directory or bucket (a witness the repository's writer can rewrite proves nothing)".into(),
                    });
                }
                Some(ws)
            }
            None => None,
        };
        Ok(Repository {
            storage,
            config,
            policy,
            keyring: Arc::new(keyring),
            witness,
            lock_checked: Default::default(),
            sidecar_cache: None,
        })
    }

    /// Keeps a copy of a bucket repository's sidecars in the directory
    /// `dir` (made 0700 if absent), so that a listing fetches only the
    /// sidecars written or replaced since the last one
    /// ([`sidecar_cache`]). A directory repository reads its sidecars
    /// directly and ignores it. Nothing secret is cached: sidecars are
    /// stored in the clear in the repository.
    pub fn with_sidecar_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sidecar_cache = Some(dir.into());
        self
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

    /// Checks configuration text as opening a repository would (for a
    /// configuration written elsewhere, such as a replica's).
    pub fn open_check(text: &str, path: &str) -> Result<()> {
        resolve(text, Path::new(path)).map(|_| ())
    }

    /// Where the period keys of classes with `erasure_period` are kept.
    pub fn keyring(&self) -> &Arc<crate::keyring::Keyring> {
        &self.keyring
    }

    /// Where every new journal head is also written (`[witness]`), if
    /// configured.
    pub fn witness(&self) -> Option<&Arc<dyn Storage>> {
        self.witness.as_ref()
    }

    /// Opens journal `name` for appending (refusing a damaged one), with
    /// the repository's witness.
    pub fn journal_writer<T: crate::journal::Record>(
        &self,
        name: &str,
    ) -> Result<crate::journal::JournalWriter<T>> {
        Ok(
            crate::journal::JournalWriter::open(self.storage.clone(), name)?
                .witness(self.witness.clone()),
        )
    }

    /// Takes the write lock.
    /// With `object_lock` configured, first checks that the store
    /// enforces it ([`Repository::check_object_lock`]).
    pub fn lock(&self, wait: Duration) -> Result<Box<dyn LockGuard>> {
        self.check_object_lock()?;
        self.storage.lock(wait)
    }
}

/// The keyring `[keyring]` describes (default: the repository itself).
fn keyring(
    config: &Config,
    storage: &Arc<dyn Storage>,
    settings: &crate::storage::S3Settings,
) -> Result<crate::keyring::Keyring> {
    let k = config.keyring.clone().unwrap_or_default();
    let primary = match &k.location {
        Some(l) => crate::storage::open(l, settings)?,
        None => storage.clone(),
    };
    let mirrors = k
        .mirrors
        .iter()
        .map(|m| crate::storage::open(m, settings))
        .collect::<Result<_>>()?;
    Ok(crate::keyring::Keyring::new(primary, mirrors))
}

/// Parses the configuration text read from `path`, resolves every
/// configured recipient to a key a seal can encrypt to, and the classes
/// to their typed policies: the file's own shape is [`Config::parse`]'s
/// job, the recipient types belong to [`crate::recipient`], one layer up.
fn resolve(text: &str, path: &Path) -> Result<(Config, crate::config::Policy)> {
    let config = Config::parse(text, path)?;
    let policy = crate::config::Policy::from_config(&config)?;
    if let Some(k) = &config.keyring {
        for l in k.location.iter().chain(&k.mirrors) {
            crate::storage::Location::parse(l).map_err(|e| Error::ConfigInvalid {
                path: path.to_owned(),
                message: format!("[keyring] location {l:?}: {e}"),
            })?;
        }
    }
    for r in &config.recipients {
        crate::recipient::parse(r).map_err(|e| Error::ConfigInvalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    }
    Ok((config, policy))
}
