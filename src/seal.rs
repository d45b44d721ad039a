//! Sealing: sources → tar → zstd → age → repository.
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! let report = nkbackup::Sealer::new(&repo, "archive")
//!     .path("/var/lib/prosody")
//!     .bytes("state.json", br#"{"users": 12}"#.to_vec())
//!     .seal()?;
//! println!("sealed {}", report.sidecar.id);
//! # Ok(()) }
//! ```
//!
//! The pipeline streams: memory does not depend on the size of the data.
//! Four kinds of threads share the work: a walk thread lists, opens and
//! reads the sources (with the next files' reads already requested from the
//! disk); the caller's thread hashes and frames them; zstd's workers
//! compress; a `Stage` thread (`src/stage.rs`) encrypts, digests and writes.
//! The backup is written as one [`crate::storage::Upload`] (in a directory:
//! to `tmp/`, fsynced, renamed into `backups/<class>/`, the directory
//! fsynced; in a bucket: a multipart upload), and only once that is
//! committed is the sidecar written. Sealing uses public keys only.

use crate::archive::{ArchiveWriter, EntryMeta, WalkOptions, Walker};
use crate::digest::HashingWriter;
use crate::error::{Error, Result};
use crate::id::BackupId;
use crate::limits::{SOURCE_NAME_COMPONENTS, SOURCES};
use crate::manifest::{EntryPath, InnerHeader, MANIFEST_DIR, SIDECAR_FORMAT, Sidecar};
use crate::repo::{DEFAULT_LOCK_WAIT, Repository};
use crate::stage::Stage;
use serde::Serialize;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

enum Source<'a> {
    Path {
        path: PathBuf,
        name: Option<String>,
    },
    Reader {
        name: String,
        reader: Box<dyn Read + Send + 'a>,
        len: Option<u64>,
    },
}

/// Builds and runs one seal into a repository.
pub struct Sealer<'a> {
    repo: &'a Repository,
    class: String,
    sources: Vec<Source<'a>>,
    skip_unreadable: bool,
    created: Option<OffsetDateTime>,
    lock_wait: Duration,
    strict: bool,
    exclude: Vec<String>,
    one_file_system: bool,
    exclude_caches: bool,
    job: Option<String>,
    progress: Option<crate::archive::Progress<'static>>,
}

/// What a seal produced.
#[derive(Debug, Clone, Serialize)]
pub struct SealReport {
    /// The committed sidecar.
    pub sidecar: Sidecar,
    /// Where the data file is.
    pub data_path: PathBuf,
    /// Where the sidecar is.
    pub sidecar_path: PathBuf,
    /// Warnings (skipped objects, files that changed), at most a thousand.
    pub warnings: Vec<String>,
    /// How many warnings there were in all.
    pub warning_count: u64,
    /// Files older than the class's `source_max_age` (each also a warning).
    pub stale_sources: u64,
    /// Objects the exclusions left out (an excluded directory counts once).
    pub excluded: u64,
}

impl<'a> Sealer<'a> {
    /// Starts a seal of class `class` into `repo`.
    pub fn new(repo: &'a Repository, class: &str) -> Self {
        Sealer {
            repo,
            class: class.to_owned(),
            sources: Vec::new(),
            skip_unreadable: false,
            created: None,
            lock_wait: DEFAULT_LOCK_WAIT,
            strict: false,
            exclude: Vec::new(),
            one_file_system: false,
            exclude_caches: false,
            job: None,
            progress: None,
        }
    }

    /// Calls `f(entries, file_bytes)` as the seal writes entries (after
    /// every 4 MiB of file data or 1000 entries), for progress bars. It
    /// runs on the sealing thread: keep it short.
    pub fn on_progress(mut self, f: impl FnMut(u64, u64) + Send + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Records the `[jobs.NAME]` this seal runs for in the sidecar.
    pub fn job(mut self, name: &str) -> Self {
        self.job = Some(name.to_owned());
        self
    }

    /// Leaves out what `pattern` matches (gitignore syntax, matched against
    /// absolute paths: `*.tmp`, `/var/lib/app/cache`, `tmp/`, `!keep`);
    /// excluded directories are not walked.
    pub fn exclude(mut self, pattern: &str) -> Self {
        self.exclude.push(pattern.to_owned());
        self
    }

    /// Leaves out what each of `patterns` matches (see [`Sealer::exclude`]).
    pub fn excludes(mut self, patterns: &[String]) -> Self {
        self.exclude.extend(patterns.iter().cloned());
        self
    }

    /// Does not descend into other file systems below a source (a mount
    /// point is stored as an empty directory).
    pub fn one_file_system(mut self, yes: bool) -> Self {
        self.one_file_system = yes;
        self
    }

    /// Leaves out the content of directories tagged with a `CACHEDIR.TAG`
    /// (stored as empty directories).
    pub fn exclude_caches(mut self, yes: bool) -> Self {
        self.exclude_caches = yes;
        self
    }

    /// Adds a file or directory tree, stored under its last path component.
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(Source::Path {
            path: path.into(),
            name: None,
        });
        self
    }

    /// Adds a file or directory tree, stored under `name`.
    pub fn path_as(mut self, path: impl Into<PathBuf>, name: &str) -> Self {
        self.sources.push(Source::Path {
            path: path.into(),
            name: Some(name.to_owned()),
        });
        self
    }

    /// Adds a stream of unknown length (a database dump) as file `name`.
    /// It is spooled, encrypted, to the repository's tmp directory first.
    pub fn reader(mut self, name: &str, reader: impl Read + Send + 'a) -> Self {
        self.sources.push(Source::Reader {
            name: name.to_owned(),
            reader: Box::new(reader),
            len: None,
        });
        self
    }

    /// Adds a stream of exactly `len` bytes as file `name`, without spooling.
    pub fn reader_with_len(mut self, name: &str, reader: impl Read + Send + 'a, len: u64) -> Self {
        self.sources.push(Source::Reader {
            name: name.to_owned(),
            reader: Box::new(reader),
            len: Some(len),
        });
        self
    }

    /// Adds in-memory bytes as file `name`.
    pub fn bytes(self, name: &str, data: Vec<u8>) -> Self {
        let len = data.len() as u64;
        self.reader_with_len(name, std::io::Cursor::new(data), len)
    }

    /// Records unreadable files as skipped instead of failing.
    pub fn skip_unreadable(mut self, yes: bool) -> Self {
        self.skip_unreadable = yes;
        self
    }

    /// Sets the creation time (default: now). For tests and imports.
    pub fn created_at(mut self, t: OffsetDateTime) -> Self {
        self.created = Some(t);
        self
    }

    /// How long to wait for another writer's lock (default one hour).
    pub fn lock_wait(mut self, d: Duration) -> Self {
        self.lock_wait = d;
        self
    }

    /// Fails the seal, committing nothing, when files older than the
    /// class's `source_max_age` are found (default: only warn).
    pub fn strict(mut self, yes: bool) -> Self {
        self.strict = yes;
        self
    }

    /// Runs the seal and commits the backup.
    pub fn seal(mut self) -> Result<SealReport> {
        let repo = self.repo;
        let retention = repo.class_policy(&self.class)?;
        let compression = retention.compression;
        let (mut all_recipients, mut recipients) = repo.sealing_recipients()?;
        let names = self.source_names()?;
        let exclusions = crate::archive::Exclusions::new(
            &self.exclude,
            self.one_file_system,
            self.exclude_caches,
        )?;

        let storage = repo.storage();
        let _lock = if storage.seal_locks() {
            Some(repo.lock(self.lock_wait)?)
        } else {
            None
        };
        let created = self
            .created
            .unwrap_or_else(OffsetDateTime::now_utc)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond");
        // In a locked repository: the bucket is checked and the class
        // must have a deadline, before anything is written.
        let lock = repo.seal_retention(retention, created)?;
        let (id, data_key, sidecar_key) = loop {
            let id = BackupId::new(created);
            let (data_key, sidecar_key) = crate::repo::backup_keys(&self.class, &id)?;
            if !storage.exists(&data_key)? {
                break (id, data_key, sidecar_key);
            }
        };
        // A class with an erasure period seals to its period's key only;
        // the key item is sealed to the repository's recipients.
        let period_key = match retention.erasure_period {
            Some(len) => {
                let period = crate::config::ErasurePeriod::containing(created, len);
                let (r, public) = repo.keyring().for_seal(
                    &self.class,
                    period,
                    &all_recipients,
                    &recipients,
                    created,
                )?;
                all_recipients = vec![crate::manifest::RecipientInfo {
                    label: crate::config::PERIOD_KEY_LABEL.into(),
                    kind: "period".into(),
                    key: public.to_string(),
                    group: None,
                    threshold: None,
                }];
                recipients = vec![Box::new(public)];
                Some(r)
            }
            None => None,
        };
        let data_name = format!("{id}.age");
        let ctx = || {
            format!(
                "sealing backup {id} into {} (nothing was committed; the partial write is removed)",
                repo.location()
            )
        };
        let ioe = |e| Error::io(ctx(), e);

        let upload = storage.upload(&data_key)?;
        let hashing = HashingWriter::new(upload);
        let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_ref() as _))
            .map_err(|e| Error::InvalidRecipient {
                input: "configured recipients".into(),
                reason: e.to_string(),
            })?;
        let sealed = encryptor.wrap_output(hashing).map_err(ioe)?;
        // Encryption, the ciphertext digest and the write run on their own
        // thread, overlapping with reading and compression.
        let staged = Stage::new("nkbackup-encrypt", sealed).map_err(ioe)?;
        let compressed = compression.writer(staged).map_err(ioe)?;
        let mut aw = ArchiveWriter::new(compressed, storage.scratch_file()?).map_err(ioe)?;
        if let Some(f) = self.progress.take() {
            aw.on_progress(f);
        }

        let opts = WalkOptions {
            skip_unreadable: self.skip_unreadable,
            exclude: repo
                .local_root()
                .and_then(|r| std::fs::metadata(r).ok())
                .map(|m| vec![(m.dev(), m.ino())])
                .unwrap_or_default(),
            stale_before: retention
                .source_max_age
                .map(|p| (created - p.to_duration()).unix_timestamp()),
            exclusions: exclusions.clone(),
        };
        let mut walker = Walker::new(opts);
        for (source, name) in self.sources.into_iter().zip(names) {
            match source {
                Source::Path { path, .. } => walker.add_tree(&mut aw, &path, &name, &ctx)?,
                Source::Reader { reader, len, .. } => {
                    add_stream(&mut aw, &name, reader, len, storage.as_ref(), created, &ctx)?
                }
            }
        }

        let stale = stale_warnings(&walker, retention, self.strict)?;

        let header = InnerHeader {
            nkbackup_manifest: 0,
            backup_id: id.to_string(),
            class: self.class.clone(),
            created,
            host: crate::host_name(),
            tool: crate::tool_version(),
            entries: 0,
            skipped: 0,
            file_bytes: 0,
            exclude: exclusions.describe(),
            excluded: walker.excluded(),
        };
        let (compressed, summary) = aw.finish_with(header, |c| c.cut()).map_err(ioe)?;
        let locator = crate::format::seekable::Locator {
            manifest_offset: summary.manifest_offset,
        };
        let staged = compressed.finish(&locator.encode()).map_err(ioe)?;
        let sealed = staged.finish().map_err(ioe)?;
        let hashing = sealed.finish().map_err(ioe)?;
        let (upload, digest) = hashing.finish();
        upload.commit()?;
        if let Some(r) = &lock
            && let Err(e) = storage.retain(&data_key, r)
        {
            // Not locked, so still deletable (if these credentials may;
            // else prune removes it as an incomplete write).
            let _ = storage.delete(&data_key);
            return Err(e);
        }

        let h = &summary.header;
        let sidecar = Sidecar {
            format: SIDECAR_FORMAT.into(),
            id: id.to_string(),
            class: self.class,
            created,
            host: h.host.clone(),
            tool: h.tool.clone(),
            compression: compression.to_string(),
            data: data_name,
            entries: h.entries,
            skipped: h.skipped,
            file_bytes: h.file_bytes,
            tar_bytes: summary.tar_bytes,
            ciphertext_bytes: digest.len,
            ciphertext_sha256: digest.hex(),
            manifest_sha256: summary.manifest_sha256.clone(),
            recipients: all_recipients,
            deadline: retention.deadline(created)?,
            rewrap_pending: None,
            period_key,
            job: self.job,
        };
        let mut json = serde_json::to_vec_pretty(&sidecar).expect("sidecar serializes");
        json.push(b'\n');
        storage.put(&sidecar_key, &json)?;
        if let Some(r) = &lock {
            storage.retain(&sidecar_key, r)?;
        }
        let mut warnings = summary.warnings;
        warnings.extend(
            stale
                .1
                .into_iter()
                .take(1000usize.saturating_sub(warnings.len())),
        );
        Ok(SealReport {
            sidecar,
            data_path: storage.describe(&data_key).into(),
            sidecar_path: storage.describe(&sidecar_key).into(),
            warnings,
            warning_count: summary.warning_count + stale.0,
            stale_sources: stale.0,
            excluded: h.excluded,
        })
    }

    /// The top-level name of every source, checked for safety and clashes.
    fn source_names(&self) -> Result<Vec<EntryPath>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for s in &self.sources {
            let name: Vec<u8> = match s {
                Source::Path { name: Some(n), .. } | Source::Reader { name: n, .. } => {
                    n.as_bytes().to_vec()
                }
                Source::Path { path, name: None } => match path.file_name() {
                    Some(n) => n.as_bytes().to_vec(),
                    None => b"root".to_vec(),
                },
            };
            let checked =
                crate::archive::safe_path("(new)", &name).map_err(|_| Error::InvalidName {
                    what: "source name",
                    value: String::from_utf8_lossy(&name).into_owned(),
                    reason: format!(
                        "it must be a relative path without '..' and not {MANIFEST_DIR}"
                    ),
                })?;
            if checked.as_bytes().split(|&c| c == b'/').count() > SOURCE_NAME_COMPONENTS {
                return Err(Error::InvalidName {
                    what: "source name",
                    value: checked.to_string(),
                    reason: format!("it has more than {SOURCE_NAME_COMPONENTS} components"),
                });
            }
            if !seen.insert(checked.as_bytes().to_vec()) {
                return Err(Error::DuplicateSourceName {
                    name: checked.to_string(),
                });
            }
            out.push(checked);
        }
        if out.len() > SOURCES {
            return Err(Error::SourceTooLarge {
                reason: format!(
                    "{} sources are more than the {SOURCES} one backup holds; seal them as several backups",
                    out.len()
                ),
            });
        }
        // A source stored below another (`a` and `a/b`) would put two
        // entries at one path.
        for b in &out {
            let bytes = b.as_bytes();
            let inside = bytes
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c == b'/')
                .find(|&(i, _)| seen.contains(&bytes[..i]));
            if let Some((i, _)) = inside {
                return Err(Error::DuplicateSourceName {
                    name: format!("{b} (inside {})", EntryPath::from_bytes(&bytes[..i])),
                });
            }
        }
        if out.is_empty() {
            return Err(Error::InvalidName {
                what: "source list",
                value: String::new(),
                reason: "nothing to seal: give at least one path or a stream".into(),
            });
        }
        Ok(out)
    }
}

/// Retention lint: files older than the class's `source_max_age`, as a
/// count and warnings; with `strict`, an error.
fn stale_warnings(
    walker: &Walker,
    policy: &crate::config::ClassPolicy,
    strict: bool,
) -> Result<(u64, Vec<String>)> {
    let (count, files) = walker.stale();
    let Some(max_age) = policy.source_max_age else {
        return Ok((0, Vec::new()));
    };
    if count > 0 && strict {
        let examples: Vec<String> = files.iter().take(5).map(|(p, _)| p.to_string()).collect();
        return Err(crate::error::RetentionError::StaleSources {
            class: policy.class.clone(),
            count,
            max_age: max_age.to_string(),
            examples: examples.join(", "),
        }
        .into());
    }
    let warnings = files
        .iter()
        .map(|(p, mtime)| {
            let when = OffsetDateTime::from_unix_timestamp(*mtime)
                .map(crate::util::rfc3339)
                .unwrap_or_else(|_| mtime.to_string());
            format!(
                "{p}: last modified {when}, older than source_max_age {max_age} of class {}; the service keeps data its policy says is deleted",
                policy.class
            )
        })
        .collect();
    Ok((count, warnings))
}

fn add_stream<W: Write>(
    aw: &mut ArchiveWriter<W>,
    name: &EntryPath,
    reader: Box<dyn Read + Send + '_>,
    len: Option<u64>,
    storage: &dyn crate::storage::Storage,
    created: OffsetDateTime,
    ctx: &dyn Fn() -> String,
) -> Result<()> {
    let meta = EntryMeta {
        mode: 0o600,
        mtime: created.unix_timestamp(),
        uid: 0,
        gid: 0,
    };
    let (len, reader): (u64, Box<dyn Read + Send + '_>) = match len {
        Some(l) => (l, reader),
        None => {
            let s = crate::spool::spool(reader, storage.scratch_file()?).map_err(|e| match e {
                crate::spool::SpoolError::Read(e) => Error::Unreadable {
                    path: name.as_path().to_owned(),
                    source: e,
                },
                crate::spool::SpoolError::Scratch(e) => Error::io(
                    format!("spooling {name} (encrypted) to a scratch file: {}", ctx()),
                    e,
                ),
            })?;
            (s.len, s.reader)
        }
    };
    match aw.add_file(name, &meta, len, reader) {
        Ok(_) => Ok(()),
        Err(crate::archive::AddFileError::Output(e)) => Err(Error::io(ctx(), e)),
        Err(crate::archive::AddFileError::Source(e)) => Err(Error::Unreadable {
            path: name.as_path().to_owned(),
            source: e,
        }),
    }
}
