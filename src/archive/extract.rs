//! Extracting entries into a staging directory, then committing it.
//!
//! The reader has already refused absolute paths, `..`, reserved names,
//! device nodes and entries that pass through a stored symlink, so every
//! entry names a place inside the staging directory. The staging directory
//! is fresh and only this extractor writes to it. Nothing becomes visible at
//! the target until the whole stream has been checked against the manifest:
//! then [`commit`] moves the staged tree into place.

use super::crew::{Crew, INLINE_MAX};
use super::placer::{Content, Placer, chown, remove_non_dir, to_system_time};
use super::reader::{EntrySink, stream_error};
use crate::error::{IoContext, Result};
use crate::manifest::{Entry, EntryKind, EntryPath};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Threads creating small files next to the main thread (which parses,
/// checks, and writes large files). Creating files is kernel work that
/// scales with cores; more threads than cores only contend.
fn crew_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Writes entries below `root`, optionally only those under `filter`.
///
/// Small files and symlinks are put in place by a crew of threads; call
/// [`Extractor::finish`] after the last entry to wait for them and to
/// apply directory modes and times. Dropping an extractor without
/// `finish` (after an error) stops the crew and drops what is still
/// queued.
pub struct Extractor {
    root: PathBuf,
    filter: Option<EntryPath>,
    dirs: Vec<(PathBuf, u32, i64)>,
    /// The copy buffer for large files, reused for every file (a fresh
    /// zeroed buffer per file cost more than writing small files).
    buf: Vec<u8>,
    /// The directory the previous entry was put in, known to exist: the
    /// stream lists a directory's entries together, so most entries skip
    /// `create_dir_all`.
    made: Option<PathBuf>,
    /// Places large files, on this thread.
    placer: Placer,
    crew: Option<Crew>,
    /// Entries written.
    pub restored: u64,
    /// File bytes written.
    pub bytes: u64,
    /// Things that could not be restored exactly.
    pub warnings: Vec<String>,
}

impl Extractor {
    /// An extractor for backup `id` into the (existing, empty) directory
    /// `root`. Set-id bits are kept only when running as root.
    pub fn new(id: &str, root: &Path, filter: Option<EntryPath>) -> Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let as_root = fs::metadata(root)
            .ctx(|| format!("reading {}", root.display()))?
            .uid()
            == 0;
        let placer = Placer::new(id, root, as_root);
        Ok(Extractor {
            root: root.to_owned(),
            filter,
            dirs: Vec::new(),
            buf: vec![0; COPY_BUF],
            made: None,
            crew: Some(Crew::start(&placer, crew_size())?),
            placer,
            restored: 0,
            bytes: 0,
            warnings: Vec::new(),
        })
    }

    /// Waits until every entry is in place, then applies directory modes
    /// and times, deepest first.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(crew) = self.crew.take() {
            crew.finish()?;
        }
        while let Some((dir, mode, mtime)) = self.dirs.pop() {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                .ctx(|| format!("setting permissions of {}", dir.display()))?;
            if let Ok(f) = File::open(&dir) {
                let _ = f.set_modified(to_system_time(mtime));
            }
        }
        Ok(())
    }

    fn crew(&mut self) -> &mut Crew {
        self.crew.as_mut().expect("entries arrive before finish")
    }
}

impl EntrySink for Extractor {
    fn entry(&mut self, e: &Entry, data: &mut dyn Read) -> Result<()> {
        if let Some(f) = &self.filter
            && !e.path.starts_with(f)
        {
            return Ok(());
        }
        let dst = self.root.join(e.path.as_path());
        let at = || format!("restoring {}", dst.display());
        let parent = dst.parent().expect("entries lie below the root");
        if self.made.as_deref() != Some(parent) {
            fs::create_dir_all(parent).ctx(at)?;
            self.made = Some(parent.to_owned());
        }
        match e.kind {
            EntryKind::Dir => {
                match fs::symlink_metadata(&dst) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => remove_non_dir(&dst)
                        .and_then(|_| fs::create_dir(&dst))
                        .ctx(at)?,
                    Err(_) => fs::create_dir(&dst).ctx(at)?,
                }
                if self.placer.as_root() {
                    chown(e, &dst, None)?;
                }
                self.dirs.push((dst, self.placer.mode(e.mode), e.mtime));
            }
            EntryKind::File if e.size <= INLINE_MAX => {
                let id = self.placer.id();
                let crew = self.crew.as_mut().expect("entries arrive before finish");
                crew.push(e, dst, |buf| {
                    buf.reserve(e.size as usize);
                    data.take(INLINE_MAX)
                        .read_to_end(buf)
                        .map(|_| ())
                        .map_err(|err| stream_error(id, err))
                })?;
                self.bytes += e.size;
            }
            EntryKind::File => {
                let content = Content::Stream(data, &mut self.buf);
                self.bytes += self.placer.file(e, &dst, content)?;
            }
            EntryKind::Symlink => self.crew().push(e, dst, |_| Ok(()))?,
            EntryKind::Hardlink => {
                let target = e.target.as_ref().expect("reader sets link targets");
                let src = self.root.join(target.as_path());
                // The link's target may still be queued.
                self.crew().sync()?;
                if fs::symlink_metadata(&src).is_err() {
                    self.warnings.push(format!(
                        "{}: not restored, its hard-link target {} was not restored",
                        e.path, target
                    ));
                    return Ok(());
                }
                remove_non_dir(&dst).ctx(at)?;
                fs::hard_link(&src, &dst).ctx(at)?;
            }
            EntryKind::Skipped => return Ok(()),
        }
        self.restored += 1;
        Ok(())
    }
}

/// Bytes per read and write when restoring a large file.
const COPY_BUF: usize = 256 * 1024;

/// Moves everything in `staging` into `target`, merging directories: an
/// entry of the backup replaces what is at the same path in `target`, a
/// symlink in `target` is replaced, never followed; other files in `target`
/// stay. `staging` is removed.
pub fn commit(staging: &Path, target: &Path) -> Result<()> {
    merge(staging, target)?;
    fs::remove_dir(staging).ctx(|| format!("removing {}", staging.display()))?;
    crate::repo::fsync_dir(target)
}

fn merge(from: &Path, to: &Path) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(from)
        .ctx(|| format!("reading {}", from.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .ctx(|| format!("reading {}", from.display()))?;
    names.sort();
    for name in names {
        let src = from.join(&name);
        let dst = to.join(&name);
        let at = || format!("moving restored {} into place", dst.display());
        let s = fs::symlink_metadata(&src).ctx(at)?;
        match fs::symlink_metadata(&dst) {
            Ok(d) if d.is_dir() && s.is_dir() => {
                merge(&src, &dst)?;
                let perm = s.permissions();
                fs::remove_dir(&src).ctx(at)?;
                fs::set_permissions(&dst, perm).ctx(at)?;
                continue;
            }
            Ok(d) if d.is_dir() => fs::remove_dir_all(&dst).ctx(at)?,
            Ok(_) => fs::remove_file(&dst).ctx(at)?,
            Err(_) => {}
        }
        fs::rename(&src, &dst).ctx(at)?;
    }
    Ok(())
}
