//! A repository: a directory holding the configuration, the backups and
//! their sidecars.
//!
//! ```text
//! <repo>/nkbackup.toml                 configuration (recipients, classes)
//! <repo>/lock                          write lock (flock), holder's pid/host/time
//! <repo>/tmp/                          partial writes (.<id>.*.partial)
//! <repo>/backups/<class>/<id>.age      the backup (age v1 file)
//! <repo>/backups/<class>/<id>.json     its sidecar; present = committed
//! ```
//!
//! A backup exists when its sidecar exists. Data without a sidecar is an
//! incomplete write and is never listed as a backup.

mod fsio;
mod lock;

pub use fsio::{ensure_dir, fsync_dir, write_atomic};
pub use lock::RepoLock;

use crate::config::{self, Config, RecipientConfig};
use crate::error::{Error, IoContext, Result};
use crate::id::BackupId;
use crate::manifest::Sidecar;
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the configuration.
pub const CONFIG_FILE: &str = "nkbackup.toml";

/// How long writers wait for the lock by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(3600);

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repository {
    root: PathBuf,
    config: Config,
}

/// A committed backup: its sidecar and where its files are.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    /// The sidecar manifest.
    #[serde(flatten)]
    pub sidecar: Sidecar,
    /// The data file.
    pub data_path: PathBuf,
    /// The sidecar file.
    pub sidecar_path: PathBuf,
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
    /// Data files without a sidecar (incomplete writes).
    pub incomplete: Vec<PathBuf>,
    /// Sidecars that could not be read, with the reason.
    pub unreadable: Vec<String>,
}

impl Repository {
    /// Creates a new repository at `root` (a new or empty directory).
    pub fn init(root: &Path) -> Result<Self> {
        if root.join(CONFIG_FILE).exists() {
            return Err(Error::RepositoryExists {
                path: root.to_owned(),
            });
        }
        if root.exists() {
            let mut it = fs::read_dir(root).ctx(|| format!("reading {}", root.display()))?;
            if it.next().is_some() {
                return Err(Error::NotEmptyNotRepository {
                    path: root.to_owned(),
                });
            }
        }
        ensure_dir(root)?;
        ensure_dir(&root.join("backups"))?;
        ensure_dir(&root.join("tmp"))?;
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut id);
        let text = config::initial_text(&hex::encode(id), &crate::now_rfc3339());
        write_atomic(root, CONFIG_FILE, text.as_bytes())?;
        Self::open(root)
    }

    /// Opens the repository at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        let path = root.join(CONFIG_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::RepositoryNotFound {
                    path: root.to_owned(),
                });
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let config = Config::parse(&text, &path)?;
        Ok(Repository {
            root: root.to_owned(),
            config,
        })
    }

    /// The repository directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where partial writes go.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The directory of a class's backups.
    pub fn class_dir(&self, class: &str) -> PathBuf {
        self.root.join("backups").join(class)
    }

    /// Takes the write lock.
    pub fn lock(&self, wait: Duration) -> Result<RepoLock> {
        RepoLock::exclusive(&self.root, wait)
    }

    /// Adds a recipient to the configuration, keeping the file's comments.
    pub fn add_recipient(&mut self, r: RecipientConfig) -> Result<()> {
        config::check_name("recipient label", &r.label)?;
        crate::recipient::parse(&r)?;
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        // Re-read under the lock: another writer may have changed it.
        let fresh = Self::open(&self.root)?;
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
        if !Self::open(&self.root)?
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
        if let Some(old) = Self::open(&self.root)?.config.recovery
            && !replace
        {
            return Err(Error::RecoveryKeyExists {
                path: self.root.clone(),
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
                path: self.root.clone(),
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
                path: self.root.clone(),
            })
    }

    fn edit_config(
        &mut self,
        f: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), &'static str>,
    ) -> Result<()> {
        let path = self.root.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).ctx(|| format!("reading {}", path.display()))?;
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
        write_atomic(&self.root, CONFIG_FILE, new.as_bytes())?;
        self.config = config;
        Ok(())
    }

    /// Lists committed backups (oldest first), incomplete writes and
    /// unreadable sidecars.
    pub fn list(&self) -> Result<Listing> {
        let mut out = Listing::default();
        let backups = self.root.join("backups");
        let classes = match fs::read_dir(&backups) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(format!("reading {}", backups.display()), e)),
        };
        for class in classes {
            let class = class.ctx(|| format!("reading {}", backups.display()))?;
            if !class.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let dir = class.path();
            let mut datas = std::collections::HashSet::new();
            let mut sidecars = Vec::new();
            for f in fs::read_dir(&dir).ctx(|| format!("reading {}", dir.display()))? {
                let f = f.ctx(|| format!("reading {}", dir.display()))?;
                let name = f.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Some(id) = name.strip_suffix(".age") {
                    if BackupId::is_well_formed(id) {
                        datas.insert(id.to_owned());
                    }
                } else if let Some(id) = name.strip_suffix(".json")
                    && BackupId::is_well_formed(id)
                {
                    sidecars.push(id.to_owned());
                }
            }
            for id in sidecars {
                let sidecar_path = dir.join(format!("{id}.json"));
                match Sidecar::read(&sidecar_path, &id) {
                    Ok(sidecar) => {
                        datas.remove(&id);
                        out.backups.push(BackupInfo {
                            data_path: dir.join(&sidecar.data),
                            sidecar,
                            sidecar_path,
                        });
                    }
                    Err(e) => {
                        datas.remove(&id);
                        out.unreadable.push(e.to_string());
                    }
                }
            }
            out.incomplete
                .extend(datas.into_iter().map(|id| dir.join(format!("{id}.age"))));
        }
        out.backups.sort_by(|a, b| {
            (a.sidecar.created, &a.sidecar.id).cmp(&(b.sidecar.created, &b.sidecar.id))
        });
        out.incomplete.sort();
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
        let f = match fs::File::open(&b.data_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::DataMissing {
                    id: id.clone(),
                    path: b.data_path.clone(),
                });
            }
            Err(e) => return Err(Error::io(format!("reading {}", b.data_path.display()), e)),
        };
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
