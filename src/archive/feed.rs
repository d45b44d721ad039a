//! The queue between the walk and the archive writer.
//!
//! Sealing a tree of small files is mostly system calls (open, stat, read,
//! close) on one side and hashing, tar framing and manifest lines on the
//! other. The walk runs on its own thread and hands what it finds to the
//! thread that writes the archive in batches: entries in walk order, with
//! the content of small files read into the batch, and large files passed
//! as open descriptors for the writer to stream. Batches go back to the
//! walk once written, so their buffers are reused rather than reallocated.

use super::writer::{AddFileError, ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};
use crate::manifest::EntryPath;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

/// Files up to this size are read by the walk into the batch; larger ones
/// are streamed by the writer from the open descriptor.
const INLINE_MAX: u64 = 64 * 1024;
/// A batch is sent when it holds this many entries…
const BATCH_ENTRIES: usize = 512;
/// …or this many bytes of file content.
const BATCH_BYTES: usize = 1024 * 1024;
/// Batches in flight between the threads.
pub(super) const QUEUE: usize = 4;

/// One object found by the walk.
pub(super) enum Item {
    Dir {
        entry: EntryPath,
        meta: EntryMeta,
    },
    File {
        entry: EntryPath,
        meta: EntryMeta,
        size: u64,
        body: Body,
    },
    Symlink {
        entry: EntryPath,
        meta: EntryMeta,
        target: EntryPath,
    },
    Hardlink {
        entry: EntryPath,
        meta: EntryMeta,
        first: EntryPath,
    },
    Skipped {
        entry: EntryPath,
        note: String,
    },
}

/// Where a file's content is.
pub(super) enum Body {
    /// In the batch's `data`, already read (shorter than the size if the
    /// file shrank: the writer pads and notes it).
    Inline(Range<usize>),
    /// Still in the file; `path` names it in a read error.
    Open { file: File, path: PathBuf },
}

/// Entries and the content of their small files.
#[derive(Default)]
pub(super) struct Batch {
    items: Vec<Item>,
    data: Vec<u8>,
}

/// The walk's end of the queue.
pub(super) struct Feed {
    batch: Batch,
    to_writer: SyncSender<Batch>,
    recycled: Receiver<Batch>,
}

/// The writer has stopped (it failed, and says why); the walk just ends.
#[derive(Debug)]
pub(super) struct WriterGone;

impl Feed {
    pub(super) fn new(to_writer: SyncSender<Batch>, recycled: Receiver<Batch>) -> Self {
        Feed {
            batch: Batch::default(),
            to_writer,
            recycled,
        }
    }

    /// Queues an entry.
    pub(super) fn push(&mut self, item: Item) -> Result<(), WriterGone> {
        self.batch.items.push(item);
        if self.batch.items.len() >= BATCH_ENTRIES || self.batch.data.len() >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    /// The body of a regular file of `size` bytes: read into the batch now
    /// if it is small, else the open file. Push the [`Item::File`] before
    /// anything else. A read error leaves nothing queued, so the caller can
    /// still skip the file. `path` gives the file's path, needed only for a
    /// large file.
    pub(super) fn body(
        &mut self,
        mut file: File,
        size: u64,
        path: impl FnOnce() -> PathBuf,
    ) -> io::Result<Body> {
        if size > INLINE_MAX {
            return Ok(Body::Open { file, path: path() });
        }
        let data = &mut self.batch.data;
        let start = data.len();
        data.resize(start + size as usize, 0);
        match crate::stage::fill(&mut file, &mut data[start..]) {
            (n, None) => {
                data.truncate(start + n);
                Ok(Body::Inline(start..start + n))
            }
            (_, Some(e)) => {
                data.truncate(start);
                Err(e)
            }
        }
    }

    /// Sends what is queued; the walk is done.
    pub(super) fn finish(mut self) -> Result<(), WriterGone> {
        if !self.batch.items.is_empty() {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), WriterGone> {
        let next = self.recycled.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        self.to_writer.send(full).map_err(|_| WriterGone)
    }
}

/// Writes every batch from `from_walk` into `aw`, returning emptied batches
/// through `recycle`. Stops at the first error; dropping `from_walk` then
/// ends the walk.
pub(super) fn write_batches<W: Write>(
    aw: &mut ArchiveWriter<W>,
    from_walk: Receiver<Batch>,
    recycle: Sender<Batch>,
    ctx: &dyn Fn() -> String,
) -> Result<()> {
    let out = |e: io::Error| Error::io(ctx(), e);
    for mut batch in from_walk {
        for item in batch.items.drain(..) {
            match item {
                Item::Dir { entry, meta } => aw.add_dir(&entry, &meta).map_err(out)?,
                Item::Symlink {
                    entry,
                    meta,
                    target,
                } => aw.add_symlink(&entry, &meta, &target).map_err(out)?,
                Item::Hardlink { entry, meta, first } => {
                    aw.add_hardlink(&entry, &meta, &first).map_err(out)?
                }
                Item::Skipped { entry, note } => aw.add_skipped(&entry, note).map_err(out)?,
                Item::File {
                    entry,
                    meta,
                    size,
                    body: Body::Inline(range),
                } => {
                    // Reading a slice cannot fail: every error is the output's.
                    let data = &batch.data[range];
                    if let Err(AddFileError::Output(e) | AddFileError::Source(e)) =
                        aw.add_file(&entry, &meta, size, data)
                    {
                        return Err(out(e));
                    }
                }
                Item::File {
                    entry,
                    meta,
                    size,
                    body: Body::Open { file, path },
                } => match aw.add_file(&entry, &meta, size, file) {
                    Ok(_) => {}
                    Err(AddFileError::Output(e)) => return Err(out(e)),
                    // The header is already in the stream: a read error in
                    // the middle of a file cannot be skipped, it fails the seal.
                    Err(AddFileError::Source(e)) => {
                        return Err(Error::Unreadable { path, source: e });
                    }
                },
            }
        }
        batch.data.clear();
        // The walk may have finished already; then the batch is just freed.
        let _ = recycle.send(batch);
    }
    Ok(())
}
