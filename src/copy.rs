//! Replication: `nkbackup copy --to REPO` puts every backup (data file and
//! sidecar) into a second repository, a directory or a bucket, for an
//! off-site or immutable copy.
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! let to = nkbackup::storage::open("/mnt/offsite/nkbackup", &Default::default())?;
//! let report = nkbackup::copy::Copy::new(&repo, to).run()?;
//! println!("{} copied, {} already there", report.copied.len(), report.up_to_date);
//! # Ok(()) }
//! ```
//!
//! No key is needed and none is copied: key items (`keys/`) stay in the
//! keyring, so that erasing a period key puts the replica's copies of its
//! backups beyond use too. A new replica gets the original's
//! configuration with `[keyring]` naming the original's keyring, so it can
//! be listed, verified, drilled and restored like any repository.
//!
//! Each backup is streamed, its SHA-256 checked against the sidecar
//! before the copy is committed (a damaged original is not replicated),
//! then its sidecar is written: a killed copy leaves at most a data file
//! without sidecar, which the next copy replaces. A backup already in the
//! replica with the same digest is left alone, so a copy is idempotent
//! and resumes where it stopped. The erasure journal is copied too when
//! the replica's is absent or a prefix of the original's, so that opening
//! an erased period's backup in the replica says it was crypto-erased.

use crate::digest::HashingReader;
use crate::error::{Error, Result};
use crate::keyring::ERASURES;
use crate::progress::ProgressReader;
use crate::repo::{BackupInfo, Repository, config_key};
use crate::storage::Storage;
use serde::Serialize;
use std::io::BufReader;
use std::sync::Arc;

/// A copy of a repository's backups into another.
pub struct Copy<'r> {
    from: &'r Repository,
    to: Arc<dyn Storage>,
    class: Option<String>,
    on_item: Option<OnItem<'r>>,
    on_progress: Option<OnProgress<'r>>,
}

/// A callback after each backup.
type OnItem<'r> = Box<dyn Fn(&CopyItem) + 'r>;

/// A callback with bytes done and bytes in all.
type OnProgress<'r> = Box<dyn Fn(u64, u64) + 'r>;

/// What happened to one backup.
#[derive(Debug, Clone, Serialize)]
pub struct CopyItem {
    /// The backup id.
    pub id: String,
    /// Its class.
    pub class: String,
    /// Whether it was copied now (`false`: the replica had it).
    pub copied: bool,
    /// Bytes copied.
    pub bytes: u64,
}

/// What a copy did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyReport {
    /// Where to.
    pub to: String,
    /// Whether the replica was created by this copy.
    pub created: bool,
    /// Backups copied now.
    pub copied: Vec<String>,
    /// Backups the replica already had, with the same digest.
    pub up_to_date: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Whether the erasure journal was brought up to date.
    pub erasure_journal: bool,
    /// Things to look at (a replica whose erasure journal differs).
    pub warnings: Vec<String>,
}

impl<'r> Copy<'r> {
    /// A copy of every backup of `from` into the repository in `to` (made
    /// if it does not exist yet).
    pub fn new(from: &'r Repository, to: Arc<dyn Storage>) -> Self {
        Copy {
            from,
            to,
            class: None,
            on_item: None,
            on_progress: None,
        }
    }

    /// Only backups of this class.
    pub fn class(mut self, class: Option<String>) -> Self {
        self.class = class;
        self
    }

    /// Calls `f` after each backup (for progress lines).
    pub fn on_item(mut self, f: impl Fn(&CopyItem) + 'r) -> Self {
        self.on_item = Some(Box::new(f));
        self
    }

    /// Calls `f(done, total)` as data is copied, at most every 4 MiB:
    /// `total` is the size of every selected backup's data file, and a
    /// backup the replica already has counts as done at once (for
    /// progress bars).
    pub fn on_progress(mut self, f: impl Fn(u64, u64) + 'r) -> Self {
        self.on_progress = Some(Box::new(f));
        self
    }

    /// Runs it, under the replica's lock.
    pub fn run(self) -> Result<CopyReport> {
        let from = self.from;
        if from.storage().location() == self.to.location() {
            return Err(Error::InvalidName {
                what: "copy destination",
                value: self.to.location().to_owned(),
                reason: "it is the repository itself; name another directory or bucket".into(),
            });
        }
        if let Some(c) = &self.class {
            from.class_policy(c)?;
        }
        let mut report = CopyReport {
            to: self.to.location().to_owned(),
            ..Default::default()
        };
        report.created = ensure_replica(from, &self.to)?;
        let replica = Repository::open_in(self.to.clone())?;
        let _lock = replica.lock(crate::repo::DEFAULT_LOCK_WAIT)?;
        let selected: Vec<BackupInfo> = from
            .list()?
            .backups
            .into_iter()
            .filter(|b| self.class.as_ref().is_none_or(|c| *c == b.sidecar.class))
            .collect();
        let total: u64 = selected.iter().map(|b| b.sidecar.ciphertext_bytes).sum();
        let mut done = 0u64;
        for b in &selected {
            let progress = self.on_progress.as_ref().map(|f| {
                let base = done;
                move |n: u64| f(base + n, total)
            });
            let item = copy_backup(b, self.to.as_ref(), progress)?;
            done += b.sidecar.ciphertext_bytes;
            if let Some(f) = &self.on_progress {
                f(done, total);
            }
            if item.copied {
                report.copied.push(item.id.clone());
                report.bytes += item.bytes;
            } else {
                report.up_to_date += 1;
            }
            if let Some(f) = &self.on_item {
                f(&item);
            }
        }
        match copy_journal(from.storage().as_ref(), self.to.as_ref())? {
            Ok(changed) => report.erasure_journal = changed,
            Err(w) => report.warnings.push(w),
        }
        Ok(report)
    }
}

/// Makes `to` a replica of `from` if it holds no repository yet: the
/// original's configuration, its keyring named explicitly. Returns
/// whether it was made.
fn ensure_replica(from: &Repository, to: &Arc<dyn Storage>) -> Result<bool> {
    if to.stat(&config_key())?.is_some() {
        return Ok(false);
    }
    if let Some(root) = to.local_root() {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::io(format!("creating {}", root.display()), e))?;
    }
    let others = to
        .list(None)?
        .into_iter()
        .any(|o| o.kind != crate::storage::ObjectKind::Directory);
    if others {
        return Err(Error::NotEmptyNotRepository {
            path: to.location().into(),
        });
    }
    let text = from
        .storage()
        .get(&config_key(), crate::limits::CONFIG_BYTES)?
        .ok_or_else(|| Error::RepositoryNotFound {
            path: from.location().into(),
        })?;
    let text = String::from_utf8(text).map_err(|_| Error::ConfigInvalid {
        path: from.storage().describe(&config_key()).into(),
        message: "not UTF-8 text".into(),
    })?;
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| Error::ConfigSyntax {
                path: from.storage().describe(&config_key()).into(),
                message: e.to_string(),
            })?;
    let keyring = from.keyring();
    let primary = absolute(keyring.locations()[0].as_ref());
    let table = doc
        .entry("keyring")
        .or_insert(toml_edit::Item::Table(Default::default()));
    if table.get("location").is_none() {
        table["location"] = toml_edit::value(primary);
    }
    let mut out = String::from(
        "# A replica made by `nkbackup copy`: backups only; its period keys stay in\n# the original's keyring, named below.\n",
    );
    out.push_str(&doc.to_string());
    Repository::open_check(&out, &to.describe(&config_key()))?;
    if !to.put_new(&config_key(), out.as_bytes())? {
        return Err(Error::RepositoryExists {
            path: to.location().into(),
        });
    }
    if let Some(root) = to.local_root() {
        for d in ["backups", "tmp"] {
            std::fs::create_dir_all(root.join(d))
                .map_err(|e| Error::io(format!("creating {}", root.join(d).display()), e))?;
        }
    }
    Ok(true)
}

/// A location string another repository's configuration can use: a
/// directory made absolute, a bucket URL as it is.
fn absolute(s: &dyn Storage) -> String {
    match s.local_root() {
        Some(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_owned())
            .display()
            .to_string(),
        None => s.location().to_owned(),
    }
}

/// Copies one backup unless the replica has it with the same digest.
fn copy_backup(
    b: &BackupInfo,
    to: &dyn Storage,
    progress: Option<impl Fn(u64)>,
) -> Result<CopyItem> {
    let s = &b.sidecar;
    let mut item = CopyItem {
        id: s.id.clone(),
        class: s.class.clone(),
        copied: false,
        bytes: 0,
    };
    let source_sidecar = b
        .storage()
        .get(&b.sidecar_key, crate::limits::SIDECAR_BYTES)?
        .ok_or_else(|| Error::DataMissing {
            id: s.id.clone(),
            path: b.sidecar_path.clone(),
        })?;
    let there = to.get(&b.sidecar_key, crate::limits::SIDECAR_BYTES)?;
    let size = to.stat(&b.data_key)?.map(|o| o.size);
    if there.as_deref() == Some(&source_sidecar[..]) && size == Some(s.ciphertext_bytes) {
        return Ok(item);
    }
    let ctx = || {
        format!(
            "copying backup {} to {} (nothing of it is committed there; run the copy again)",
            s.id,
            to.location()
        )
    };
    let data = ProgressReader::new(b.open_data()?, 0, progress);
    let mut reader = HashingReader::new(BufReader::with_capacity(1 << 20, data));
    let mut upload = to.upload(&b.data_key)?;
    std::io::copy(&mut reader, &mut upload).map_err(|e| Error::io(ctx(), e))?;
    let digest = reader.finish();
    if !s.accepts(digest.len, &digest.hex()) {
        upload.abort()?;
        return Err(Error::Damaged {
            id: s.id.clone(),
            detail: format!(
                "its data file differs from what the sidecar recorded; it was not copied to {} (verify it)",
                to.location()
            ),
        });
    }
    upload.commit()?;
    if to.stat(&b.data_key)?.map(|o| o.size) != Some(digest.len) {
        return Err(Error::io(
            ctx(),
            std::io::Error::other("the copied data file has another length than was written"),
        ));
    }
    to.put(&b.sidecar_key, &source_sidecar)?;
    item.copied = true;
    item.bytes = digest.len;
    Ok(item)
}

/// Brings the replica's erasure journal up to the original's when it is
/// absent or a prefix; `Err(warning)` when it diverges.
fn copy_journal(from: &dyn Storage, to: &dyn Storage) -> Result<std::result::Result<bool, String>> {
    crate::journal::copy(from, to, ERASURES)
}
