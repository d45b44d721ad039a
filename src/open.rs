//! Opening: repository → age decrypt → zstd → tar, checked end to end.
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! let backup = repo.find("latest")?;
//! let report = nkbackup::Opener::new(&backup)
//!     .identity_file("key.txt".as_ref())?
//!     .restore("/tmp/r".as_ref(), &nkbackup::RestoreOptions::default())?;
//! println!("restored {} entries", report.entries);
//! # Ok(()) }
//! ```
//!
//! Every open is a full check: the ciphertext is hashed against the
//! sidecar, age authenticates every chunk, every entry is hashed and
//! compared with the inner manifest, and the manifest with the sidecar. A
//! restore writes into a staging directory and moves it into place only
//! after all of that passed.

use crate::archive::{self, EntrySink, Extractor, NullSink, StreamReport, Target};
use crate::compression::decompressing_reader;
use crate::digest::HashingReader;
use crate::error::{Error, IoContext, Result};
use crate::format::age_header::{HeaderError, read_prefix_raw};
use crate::limits::{AGE_HEADER_BYTES, AGE_HEADER_LINES};
use crate::manifest::EntryPath;
use crate::progress::ProgressReader;
use crate::repo::BackupInfo;
use crate::stage::StageReader;
use serde::Serialize;
use std::fs::{self};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Opens one backup with the identities given.
pub struct Opener<'a> {
    backup: &'a BackupInfo,
    keys: crate::unlock::Keys<'a>,
    shared: Option<&'a crate::unlock::Keys<'a>>,
    progress: Option<Box<dyn Fn(u64) + Send + Sync + 'a>>,
}

/// Options for [`Opener::restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Only restore entries at or below this path (e.g. `logs/x.log`).
    pub path: Option<String>,
    /// Restore into a non-empty target, replacing same-named files.
    pub force: bool,
}

/// Result of a deep verification.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The backup id.
    pub id: String,
    /// Stored entries checked against the inner manifest.
    pub entries_checked: u64,
    /// File bytes hashed.
    pub file_bytes: u64,
    /// Ciphertext bytes read.
    pub ciphertext_bytes: u64,
    /// How long it took.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

/// What [`Opener::read_index`] read.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// The backup id.
    pub id: String,
    /// Entries the manifest lists.
    pub entries: u64,
    /// Ciphertext bytes read from the file or object: the age header, the
    /// index, the manifest's frames and, for a restore, the entries'
    /// frames (a bucket fetches them in ranges of 256 KiB to 8 MiB, so up
    /// to one range more may cross the network).
    pub ciphertext_read: u64,
    /// Length of the whole backup file.
    pub ciphertext_bytes: u64,
    /// How long it took.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

/// Result of a restore.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The backup id.
    pub id: String,
    /// Where it was restored.
    pub target: PathBuf,
    /// Entries written.
    pub entries: u64,
    /// File bytes written.
    pub bytes: u64,
    /// What was checked: everything, as for verify; or, when `index` is
    /// set, the manifest and the restored entries (`ciphertext_bytes` is
    /// then what was read of the file).
    pub verified: VerifyReport,
    /// Set when a `path` was restored through the payload's index, reading
    /// only the frames that hold its entries (docs/FORMAT.md §2.1).
    pub index: Option<IndexReport>,
    /// What could not be restored exactly.
    pub warnings: Vec<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl<'a> Opener<'a> {
    /// Prepares to open `backup`.
    pub fn new(backup: &'a BackupInfo) -> Self {
        Opener {
            backup,
            keys: crate::unlock::Keys::new(),
            shared: None,
            progress: None,
        }
    }

    /// Calls `f` with the number of ciphertext bytes read so far, as the
    /// backup streams (for progress bars; the total is in the sidecar).
    /// `f` runs on the thread that reads and decrypts, hence `Send + Sync`.
    pub fn on_progress(mut self, f: impl Fn(u64) + Send + Sync + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Adds an identity (an age key, a recovery key…).
    pub fn identity(mut self, id: Box<dyn age::Identity + 'a>) -> Self {
        self.keys.add(id);
        self
    }

    /// Adds a smartcard identity. The backup's sidecar tells it which
    /// stanza is whose, so that each token is used once, on its own stanza
    /// or share (see [`crate::card::identity`], [`crate::unlock`]).
    pub fn card(mut self, card: crate::card::CardIdentity) -> Self {
        self.keys.set_card(card);
        self
    }

    /// Uses `keys` (replacing any identities given so far).
    pub fn keys(mut self, keys: crate::unlock::Keys<'a>) -> Self {
        self.keys = keys;
        self
    }

    /// Opens with `keys`, borrowed, instead of any identities given to
    /// this opener: keys shared by several openers remember the period
    /// keys they opened, so a restore or drill of a whole period asks a
    /// card once (docs/FORMAT.md §11).
    pub fn shared_keys(mut self, keys: &'a crate::unlock::Keys<'a>) -> Self {
        self.shared = Some(keys);
        self
    }

    fn keyset(&self) -> &crate::unlock::Keys<'a> {
        self.shared.unwrap_or(&self.keys)
    }

    /// After an open: the labels of the recipients whose stanzas opened
    /// it (one on its own, or every group member whose share was used;
    /// see [`crate::unlock::Keys::opened_with`]).
    pub fn opened_with(&self) -> Vec<String> {
        self.keyset().opened_with()
    }

    /// Adds the recovery key (check it against the repository first with
    /// [`crate::recovery::setup::check_key`] for a clearer error).
    pub fn recovery_key(self, key: &crate::recovery::RecoveryKey) -> Self {
        self.identity(Box::new(key.to_age_identity()))
    }

    /// Adds every identity in an age identity file (`AGE-SECRET-KEY-1…`).
    pub fn identity_file(mut self, path: &Path) -> Result<Self> {
        for id in crate::identity::load_file(path)? {
            self.keys.add(id);
        }
        Ok(self)
    }

    /// The backup it opens.
    pub fn backup(&self) -> &BackupInfo {
        self.backup
    }

    /// Decrypts and checks everything without writing any data.
    pub fn verify_deep(&self) -> Result<VerifyReport> {
        self.run(&mut NullSink).map(|(v, _)| v)
    }

    /// Like [`Opener::verify_deep`], also feeding every entry to `sink`
    /// (which must not write outside a place of its own).
    pub fn verify_with(&self, sink: &mut dyn EntrySink) -> Result<VerifyReport> {
        self.run(sink).map(|(v, _)| v)
    }

    /// Restores into `target` (new, empty, or with `force` non-empty).
    ///
    /// With [`RestoreOptions::path`], a backup whose payload has an index
    /// (format 2, a compressed class; in a bucket by range requests) is read only
    /// where that path's entries lie: the manifest, then their frames; each
    /// entry is checked against the authenticated manifest, its content
    /// against its SHA-256 ([`RestoreReport::index`] says so).
    ///
    /// Refuses a target that is the repository or lies inside it, and a
    /// `--force` restore whose tree would replace or merge into a
    /// repository lying below the target. Everything is staged first; a
    /// new target appears whole or not at all; a merge into an existing
    /// one that fails part-way says what it changed
    /// ([`Error::CommitFailed`]).
    pub fn restore(&self, target: &Path, opts: &RestoreOptions) -> Result<RestoreReport> {
        let id = self.backup.sidecar.id.clone();
        let place = Target::open(target, opts.force)?;
        let guarded = match self.backup.repository_root() {
            Some(root) => repository_below(&place, root)?,
            None => None,
        };
        let staging = place.stage()?;
        let filter = opts
            .path
            .as_ref()
            .map(|p| EntryPath::from_bytes(p.trim_matches('/').as_bytes()));
        let mut ex = Extractor::new(
            &id,
            staging.fd()?,
            staging.path().to_owned(),
            filter.clone(),
        )?;
        // On any error `staging` is dropped and removes the staging tree.
        // One path of a backup with an index: only its frames are read.
        let indexed = match &filter {
            Some(f) => self.restore_indexed(f, &mut ex)?,
            None => None,
        };
        let (verified, index) = match indexed {
            Some((v, i)) => (v, Some(i)),
            None => (self.run(&mut ex)?.0, None),
        };
        if let (Some(f), 0) = (&filter, ex.restored) {
            return Err(Error::PathNotInBackup {
                id,
                path: f.to_string(),
            });
        }
        ex.finish()?;
        let (entries, bytes, warnings) = (ex.restored, ex.bytes, std::mem::take(&mut ex.warnings));
        // The extractor's descriptors of the staging tree go before it moves.
        drop(ex);
        place.commit(staging, guarded.as_deref())?;
        Ok(RestoreReport {
            id,
            target: target.to_owned(),
            entries,
            bytes,
            verified,
            index,
            warnings,
        })
    }

    /// Decrypts the age file `input` whose header is `header`, with the
    /// keys given (one card operation at most).
    fn decrypt<R: std::io::BufRead>(
        &self,
        input: R,
        header: &[u8],
    ) -> Result<age::stream::StreamReader<R>> {
        let b = self.backup;
        let id = b.sidecar.id.as_str();
        let hint = b.sidecar.recipients_for(header);
        let dec = age::Decryptor::new_buffered(input).map_err(|e| decrypt_error(b, e))?;
        let keys = self.keyset().with_hint(hint);
        let period_key = match &b.sidecar.period_key {
            Some(r) => Some(b.keyring().open_for_backup(
                b.storage().as_ref(),
                id,
                &b.sidecar.class,
                r,
                self.keyset(),
            )?),
            None => None,
        };
        let identity: &dyn age::Identity = match &period_key {
            Some(k) => k,
            None => &keys,
        };
        dec.decrypt(std::iter::once(identity))
            .map_err(|e| decrypt_error(b, e))
    }

    /// Reads the inner manifest through the payload's index, feeding its
    /// entries to `sink`'s `manifest_entry`, without reading the frames
    /// before it: `Ok(None)` if the backup cannot be read that way (its
    /// repository cannot seek, or the backup has no index: an uncompressed
    /// class, or one sealed before format 2), then read it whole.
    ///
    /// What this checks: the age header and every chunk read authenticate,
    /// the manifest's frames decompress with their checksums, the manifest
    /// is well-formed and the last entry, and it agrees with the sidecar.
    /// It does not read the entries' content: [`Opener::verify_deep`] does.
    pub fn read_index(&self, sink: &mut dyn EntrySink) -> Result<Option<IndexReport>> {
        let start = Instant::now();
        let read = std::cell::Cell::new(0u64);
        Ok(self
            .manifest_by_index(&read, sink)?
            .map(|(_, _, n)| IndexReport {
                id: self.backup.sidecar.id.clone(),
                entries: n,
                ciphertext_read: read.get(),
                ciphertext_bytes: self.backup.sidecar.ciphertext_bytes,
                duration: start.elapsed(),
            }))
    }

    /// Reads the manifest through the index into `sink` and checks it
    /// against the sidecar: the payload, its index and the manifest's
    /// entry count, or `None` without an index.
    fn manifest_by_index<'c>(
        &self,
        read: &'c std::cell::Cell<u64>,
        sink: &mut dyn EntrySink,
    ) -> Result<Option<(Plain<'c>, crate::format::seekable::SeekIndex, u64)>> {
        let Some((mut plain, index)) = self.open_indexed(read)? else {
            return Ok(None);
        };
        let id = self.backup.sidecar.id.as_str();
        let report = archive::read_manifest(&mut plain, &index, id, sink)?;
        self.agrees(&report)?;
        Ok(Some((plain, index, report.header.entries)))
    }

    /// Decrypts the backup for reading at any offset and reads its seek
    /// table: `None` if its storage cannot seek or it has no index.
    fn open_indexed<'c>(
        &self,
        read: &'c std::cell::Cell<u64>,
    ) -> Result<Option<(Plain<'c>, crate::format::seekable::SeekIndex)>> {
        let b = self.backup;
        let id = b.sidecar.id.as_str();
        if self.keyset().is_empty() {
            return Err(Error::NoIdentity { id: id.to_owned() });
        }
        let Some(file) = b.storage().open_seekable(&b.data_key)? else {
            return Ok(None);
        };
        let ioe = |e| Error::io(format!("reading {}", b.data_path.display()), e);
        let mut input = BufReader::with_capacity(64 << 10, Counted { inner: file, read });
        let header = read_prefix_raw(&mut input).map_err(|e| match e {
            HeaderError::Io(e) => ioe(e),
            HeaderError::TooLong => header_too_long(id),
        })?;
        use std::io::Seek;
        input.seek(std::io::SeekFrom::Start(0)).map_err(ioe)?;
        let mut plain = self.decrypt(input, &header)?;
        Ok(archive::seek_index(&mut plain, id)?.map(|index| (plain, index)))
    }

    /// Checks the sidecar against what the authenticated manifest says.
    fn agrees(&self, report: &StreamReport) -> Result<()> {
        let b = self.backup;
        let problems = b
            .sidecar
            .disagreements(&report.header, &report.manifest_sha256);
        if problems.is_empty() {
            return Ok(());
        }
        Err(Error::Damaged {
            id: b.sidecar.id.clone(),
            detail: format!(
                "the sidecar disagrees with the authenticated inner manifest: {}",
                problems.join("; ")
            ),
        })
    }

    /// A restore of the entries at or below `filter` through the index:
    /// reads the manifest, then only the frames that hold those entries,
    /// into `sink`. `None` if the backup has no index (or its storage
    /// cannot seek): then it is read whole.
    fn restore_indexed(
        &self,
        filter: &EntryPath,
        sink: &mut dyn EntrySink,
    ) -> Result<Option<(VerifyReport, IndexReport)>> {
        let start = Instant::now();
        let read = std::cell::Cell::new(0u64);
        let mut wanted = archive::Collect {
            keep: |e: &crate::manifest::Entry| e.is_stored() && e.path.starts_with(filter),
            entries: Vec::new(),
        };
        let Some((mut plain, index, entries)) = self.manifest_by_index(&read, &mut wanted)? else {
            return Ok(None);
        };
        let b = self.backup;
        let id = b.sidecar.id.as_str();
        archive::read_entries(&mut plain, &index, id, &wanted.entries, sink)?;
        drop(plain);
        let file_bytes = wanted.entries.iter().map(|e| e.size).sum();
        let ciphertext_read = read.get();
        Ok(Some((
            VerifyReport {
                id: id.to_owned(),
                entries_checked: wanted.entries.len() as u64,
                file_bytes,
                ciphertext_bytes: ciphertext_read,
                duration: start.elapsed(),
            },
            IndexReport {
                id: id.to_owned(),
                entries,
                ciphertext_read,
                ciphertext_bytes: b.sidecar.ciphertext_bytes,
                duration: start.elapsed(),
            },
        )))
    }

    fn run(&self, sink: &mut dyn EntrySink) -> Result<(VerifyReport, StreamReport)> {
        let start = Instant::now();
        let b = self.backup;
        let id = b.sidecar.id.as_str();
        if self.keyset().is_empty() {
            return Err(Error::NoIdentity { id: id.to_owned() });
        }
        let file = b.open_data()?;
        let mut hashing =
            HashingReader::new(ProgressReader::new(file, 0, self.progress.as_deref()));
        let report = {
            let mut input = BufReader::with_capacity(1 << 20, &mut hashing);
            let header = read_prefix_raw(&mut input).map_err(|e| match e {
                HeaderError::Io(e) => Error::io(format!("reading {}", b.data_path.display()), e),
                HeaderError::TooLong => header_too_long(id),
            })?;
            let plain = self.decrypt(std::io::Cursor::new(&header).chain(input), &header)?;
            // Reading, the ciphertext digest, decryption and decompression
            // run on their own thread while this one parses, verifies and
            // hands entries to the sink (a restore's extractor places small
            // files from threads of its own); errors arrive here unchanged.
            std::thread::scope(|s| {
                let tar = StageReader::spawn(s, "nkbackup-decrypt", move || {
                    decompressing_reader(BufReader::with_capacity(1 << 20, plain))
                })
                .map_err(|e| archive::stream_error(id, e))?;
                archive::read_stream(tar, id, sink)
            })?
        };
        // Read whatever follows the end of the tar stream (age's final chunk)
        // so that the ciphertext digest covers the whole file.
        std::io::copy(&mut hashing.by_ref(), &mut std::io::sink())
            .ctx(|| format!("reading {}", b.data_path.display()))?;
        let digest = hashing.finish();
        let damaged = |detail: String| Error::Damaged {
            id: id.to_owned(),
            detail,
        };
        if !b.sidecar.accepts(digest.len, &digest.hex()) {
            return Err(damaged(
                "its content decrypts and checks out, but the file differs from what the sidecar recorded at seal time (sidecar edited or file replaced)".into(),
            ));
        }
        let problems = b
            .sidecar
            .disagreements(&report.header, &report.manifest_sha256);
        if !problems.is_empty() {
            return Err(damaged(format!(
                "the sidecar disagrees with the authenticated inner manifest: {}",
                problems.join("; ")
            )));
        }
        Ok((
            VerifyReport {
                id: id.to_owned(),
                entries_checked: report.entries_checked,
                file_bytes: report.file_bytes,
                ciphertext_bytes: digest.len,
                duration: start.elapsed(),
            },
            report,
        ))
    }
}

fn header_too_long(id: &str) -> Error {
    Error::Damaged {
        id: id.to_owned(),
        detail: format!(
            "its age header is longer than {AGE_HEADER_BYTES} bytes or {AGE_HEADER_LINES} lines, more than nkbackup writes for 256 recipients"
        ),
    }
}

/// The decrypted payload of a backup opened for reading at any offset.
type Plain<'c> =
    age::stream::StreamReader<BufReader<Counted<'c, Box<dyn crate::storage::ReadSeek>>>>;

/// A reader that counts the bytes read through it.
struct Counted<'c, R> {
    inner: R,
    read: &'c std::cell::Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl<R: std::io::Seek> std::io::Seek for Counted<'_, R> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(to)
    }
}

/// Where the repository at `root` lies relative to the restore target: an
/// error if the target is the repository or inside it; for an existing
/// target that holds the repository, the repository's path below it.
fn repository_below(place: &Target, root: &Path) -> Result<Option<Vec<std::ffi::OsString>>> {
    let target = place.path();
    let canon = |p: &Path| {
        fs::canonicalize(p).map_err(|e| Error::io(format!("resolving {}", p.display()), e))
    };
    let repo = canon(root)?;
    // The directory restored into: the existing target, or a new target's
    // parent (then the target itself cannot hold the repository).
    let (dir, new) = match place {
        Target::New { .. } => (
            target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned(),
            true,
        ),
        Target::Existing { .. } => (target.to_owned(), false),
    };
    let dir = canon(&dir)?;
    // The path must still name what was opened (nobody swapped it since).
    let st = fs::metadata(&dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    {
        use std::os::unix::fs::MetadataExt;
        if (st.dev(), st.ino()) != place.identity()? {
            return Err(Error::io(
                format!("restoring into {}", target.display()),
                std::io::Error::other(
                    "the target directory was replaced while the restore opened it; try again, and find out who changes it",
                ),
            ));
        }
    }
    if dir == repo || dir.starts_with(&repo) {
        return Err(Error::TargetInRepository {
            target: target.to_owned(),
            repo: root.to_owned(),
        });
    }
    if new {
        return Ok(None);
    }
    Ok(repo
        .strip_prefix(&dir)
        .ok()
        .map(|rel| rel.iter().map(ToOwned::to_owned).collect()))
}

fn decrypt_error(b: &BackupInfo, e: age::DecryptError) -> Error {
    let id = b.sidecar.id.clone();
    // The keys report their own errors (a card's, a group's) through
    // DecryptError::Io.
    let e = match crate::unlock::from_decrypt_error(e) {
        Ok(err) => return crate::unlock::in_context(err, &id),
        Err(other) => other,
    };
    match e {
        // A damaged stanza looks like one for somebody else: tell the two
        // apart by the file's own digest.
        age::DecryptError::NoMatchingKeys => match b.verify_ciphertext() {
            Err(Error::Damaged { detail, .. }) => Error::Damaged {
                id,
                detail: format!(
                    "none of the given keys opens it, and {detail}: its header was damaged, which makes it unopenable for every key"
                ),
            },
            _ => Error::NoMatchingIdentity {
                id,
                labels: b.sidecar.labels(),
            },
        },
        age::DecryptError::Io(io) if io.raw_os_error().is_some() => {
            Error::io(format!("reading {}", b.data_path.display()), io)
        }
        other => Error::Damaged {
            id,
            detail: format!("its age header is invalid ({other})"),
        },
    }
}
