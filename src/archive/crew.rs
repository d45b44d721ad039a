//! The threads that create restored files.
//!
//! Restoring many small files is mostly the kernel creating them (inode
//! allocation, directory entries, owner, mode and times), work that one
//! thread leaves on one core. The restore's main thread parses and checks
//! the stream and hands small files and symlinks to a crew of threads in
//! batches: the entries with the content of their files, which each thread
//! puts in place with its own [`Placer`]. Entries go to a thread by a hash
//! of their path. The main thread creates directories (and the parents of
//! every entry) before it hands over anything inside them, writes large
//! files itself, and waits for the crew before a hard link, whose target
//! may still be queued. Batches come back once done and are reused.
//!
//! A stream never repeats a path: the reader refuses one that does (see
//! `super::order`), so the order in which threads place entries does not
//! matter. Every entry comes with the open descriptor of its parent
//! directory in the staging tree, so nothing is written outside it.
//!
//! The first error a thread meets is kept; the thread then only returns
//! batches, and the main thread reports the error at its next hand-over or
//! at [`Crew::finish`].

use super::placer::{Content, Owner, Placer};
use crate::error::{Error, Result};
use crate::manifest::Entry;
use std::ffi::OsString;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Files up to this size are handed to the crew; larger ones are written
/// by the main thread straight from the stream.
pub(super) const INLINE_MAX: u64 = 64 * 1024;
/// A batch is handed over when it holds this many entries…
const BATCH_ENTRIES: usize = 256;
/// …or this many bytes of file content.
const BATCH_BYTES: usize = 1024 * 1024;
/// Batches queued per thread.
const QUEUE: usize = 4;

/// One entry for a crew thread to put in place: `name` in the open
/// staging directory `parent`.
struct Job {
    entry: Entry,
    parent: Arc<OwnedFd>,
    name: OsString,
    owner: Owner,
    /// The file's content in the batch's `data` (empty for a symlink).
    data: Range<usize>,
}

/// Entries for one thread and the content of their files.
#[derive(Default)]
struct Batch {
    jobs: Vec<Job>,
    data: Vec<u8>,
}

struct Member {
    to: SyncSender<Batch>,
    filling: Batch,
    thread: JoinHandle<()>,
}

/// The first error any thread met.
#[derive(Default)]
struct Failure {
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
}

/// Threads that create files and symlinks, fed in batches.
pub(super) struct Crew {
    members: Vec<Member>,
    back: Receiver<Batch>,
    spare: Vec<Batch>,
    /// Batches handed over and not yet back.
    out: usize,
    failure: Arc<Failure>,
}

impl Crew {
    /// Starts `threads` threads, each placing entries with a sibling of
    /// `placer`.
    pub(super) fn start(placer: &Placer, threads: usize) -> Result<Self> {
        let (back_tx, back) = std::sync::mpsc::channel();
        let failure = Arc::new(Failure::default());
        let mut members = Vec::with_capacity(threads);
        for i in 0..threads {
            let (to, from_main) = std::sync::mpsc::sync_channel(QUEUE);
            let placer = placer.sibling();
            let (back_tx, failure) = (back_tx.clone(), failure.clone());
            let thread = std::thread::Builder::new()
                .name(format!("nkbackup-place-{i}"))
                .spawn(move || work(placer, from_main, back_tx, &failure))
                .map_err(|e| Error::io("starting a restore thread", e))?;
            members.push(Member {
                to,
                filling: Batch::default(),
                thread,
            });
        }
        Ok(Crew {
            members,
            back,
            spare: Vec::new(),
            out: 0,
            failure,
        })
    }

    /// Queues `entry` (a small file, with its content read into the batch
    /// by `fill`, or a symlink) to be put at `name` in `parent`. `fill`
    /// appends to the vector it is given and may fail; then nothing is
    /// queued.
    pub(super) fn push(
        &mut self,
        entry: &Entry,
        parent: &Arc<OwnedFd>,
        name: &std::ffi::OsStr,
        owner: Owner,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let i = BuildHasherDefault::<DefaultHasher>::default().hash_one(entry.path.as_bytes())
            as usize
            % self.members.len();
        let batch = &mut self.members[i].filling;
        let start = batch.data.len();
        if let Err(e) = fill(&mut batch.data) {
            batch.data.truncate(start);
            return Err(e);
        }
        batch.jobs.push(Job {
            entry: entry.clone(),
            parent: Arc::clone(parent),
            name: name.to_owned(),
            owner,
            data: start..batch.data.len(),
        });
        if batch.jobs.len() >= BATCH_ENTRIES || batch.data.len() >= BATCH_BYTES {
            self.send(i)?;
        }
        Ok(())
    }

    /// Waits until every queued entry is in place (before the main thread
    /// does something that depends on them, such as a hard link).
    pub(super) fn sync(&mut self) -> Result<()> {
        for i in 0..self.members.len() {
            if !self.members[i].filling.jobs.is_empty() {
                self.send(i)?;
            }
        }
        while self.out > 0 {
            match self.back.recv_timeout(Duration::from_millis(200)) {
                Ok(b) => self.returned(b),
                // A thread that ended before it was stopped (a panic) never
                // returns the batches it held.
                Err(_) if self.members.iter().any(|m| m.thread.is_finished()) => {
                    return Err(stopped());
                }
                Err(_) => {}
            }
        }
        self.check()
    }

    /// Places everything queued, stops the threads and reports the first
    /// error any of them met.
    pub(super) fn finish(mut self) -> Result<()> {
        self.sync()?;
        self.stop();
        self.check()
    }

    fn send(&mut self, i: usize) -> Result<()> {
        self.check()?;
        while let Ok(b) = self.back.try_recv() {
            self.returned(b);
        }
        let next = self.spare.pop().unwrap_or_default();
        let full = std::mem::replace(&mut self.members[i].filling, next);
        // A thread stops early only if it panicked.
        self.members[i].to.send(full).map_err(|_| stopped())?;
        self.out += 1;
        Ok(())
    }

    fn returned(&mut self, mut b: Batch) {
        self.out -= 1;
        b.jobs.clear();
        b.data.clear();
        self.spare.push(b);
    }

    fn check(&self) -> Result<()> {
        if self.failure.failed.load(Ordering::Acquire) {
            let e = self.failure.error.lock().expect("not poisoned").take();
            // Taken once: the restore stops at the first error.
            return Err(e.unwrap_or_else(stopped));
        }
        Ok(())
    }

    /// Closes the queues and waits for the threads.
    fn stop(&mut self) {
        for m in self.members.drain(..) {
            drop(m.to);
            // A panic in a thread is a bug; it surfaces as a missing file
            // in the staging tree at worst, which is never committed.
            let _ = m.thread.join();
        }
    }
}

impl Drop for Crew {
    /// On an error the staging tree is removed after the crew: wait for the
    /// threads so that none still writes into it.
    fn drop(&mut self) {
        // What is still queued is not wanted any more.
        self.failure.failed.store(true, Ordering::Release);
        self.stop();
    }
}

/// A crew thread ended before it was stopped (a bug).
fn stopped() -> Error {
    Error::io(
        "restoring files",
        std::io::Error::other("a restore thread stopped unexpectedly"),
    )
}

fn work(placer: Placer, from_main: Receiver<Batch>, back: Sender<Batch>, failure: &Failure) {
    for mut batch in from_main {
        if !failure.failed.load(Ordering::Relaxed) {
            for job in &batch.jobs {
                let parent = job.parent.as_fd();
                let r = match job.entry.kind {
                    crate::manifest::EntryKind::Symlink => {
                        placer.symlink(&job.entry, parent, &job.name, job.owner)
                    }
                    _ => placer
                        .file(
                            &job.entry,
                            parent,
                            &job.name,
                            job.owner,
                            Content::Bytes(&batch.data[job.data.clone()]),
                        )
                        .map(|_| ()),
                };
                if let Err(e) = r {
                    let mut slot = failure.error.lock().expect("not poisoned");
                    if slot.is_none() {
                        *slot = Some(e);
                    }
                    failure.failed.store(true, Ordering::Release);
                    break;
                }
            }
        }
        // Descriptors are not kept past the batch.
        batch.jobs.clear();
        // The main thread may have gone (an error of its own).
        let _ = back.send(batch);
    }
}
