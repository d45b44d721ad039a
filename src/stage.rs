//! A pipeline stage: a writer whose downstream runs on its own thread.
//!
//! Sealing reads, hashes and frames the sources on the calling thread and
//! compresses on zstd's workers; [`Stage`] moves the last part (age
//! encryption, the ciphertext digest and the storage write) to a thread of
//! its own, fed through a bounded queue of [`CHUNK`]-byte buffers, so the
//! three overlap instead of taking turns. Memory stays bounded: at most
//! [`DEPTH`] chunks are queued.
//!
//! Errors cross back: when the downstream fails, the next write (or
//! [`Stage::finish`]) returns that error. Dropping a stage without
//! finishing it waits for the thread, then drops the downstream before
//! returning (for an upload that means: removed, nothing committed).
//!
//! [`StageReader`] is the mirror image for opening a backup: reading,
//! the ciphertext digest, decryption and decompression run on a scoped
//! thread while the caller parses the tar stream, verifies and writes.
//! An upstream error reaches the caller's next read unchanged.

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

/// Bytes per queued buffer.
pub const CHUNK: usize = 1 << 20;
/// Buffers queued at most between the two threads.
pub const DEPTH: usize = 4;

/// A [`Write`] that hands its bytes to `W` on another thread.
pub struct Stage<W: Write + Send + 'static> {
    buf: Vec<u8>,
    tx: Option<SyncSender<Vec<u8>>>,
    /// Empty buffers coming back, so steady state allocates nothing.
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<io::Result<W>>>,
    /// The downstream's error, once it failed: every later write returns
    /// it again (a caller such as zstd's writer may write again after an
    /// error).
    failed: Option<(io::ErrorKind, String)>,
}

impl<W: Write + Send + 'static> Stage<W> {
    /// Starts the thread that writes into `downstream`; `name` names it.
    pub fn new(name: &str, downstream: W) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (spare_tx, spare) = sync_channel::<Vec<u8>>(DEPTH + 1);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut w = downstream;
                for mut chunk in rx {
                    w.write_all(&chunk)?;
                    chunk.clear();
                    // The writer may be gone or the queue full: then the
                    // buffer is simply freed.
                    let _ = spare_tx.try_send(chunk);
                }
                Ok(w)
            })?;
        Ok(Stage {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            spare,
            thread: Some(thread),
            failed: None,
        })
    }

    /// Sends the current buffer; if the thread has stopped, returns its
    /// error.
    fn send(&mut self) -> io::Result<()> {
        self.check()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = match &self.tx {
            Some(tx) => tx.send(full).is_ok(),
            None => false,
        };
        if !sent {
            // The thread ended early: it can only have failed.
            let e = self.join().err().unwrap_or_else(|| {
                io::Error::other("the writer thread stopped before the end of the stream")
            });
            self.failed = Some((e.kind(), e.to_string()));
            return Err(e);
        }
        Ok(())
    }

    /// The downstream's earlier error, if it failed.
    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
            None => Ok(()),
        }
    }

    fn join(&mut self) -> io::Result<W> {
        self.tx = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked"))),
            None => Err(io::Error::other("the writer thread was already joined")),
        }
    }

    /// Sends what is left, waits for the thread and returns the downstream
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.send()?;
        self.join()
    }
}

impl<W: Write + Send + 'static> Write for Stage<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Bytes are passed on a chunk at a time; the downstream is flushed by
    /// [`Stage::finish`]'s caller.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for Stage<W> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Unfinished: stop the thread and drop the downstream there.
            let _ = self.join();
        }
    }
}

/// A [`BufRead`] over bytes produced by a reader on a scoped thread.
pub struct StageReader<'scope> {
    rx: Option<Receiver<io::Result<Vec<u8>>>>,
    /// Used buffers going back, so steady state allocates and zeroes
    /// nothing.
    spare: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    thread: Option<ScopedJoinHandle<'scope, ()>>,
}

impl<'scope> StageReader<'scope> {
    /// Spawns a thread in `scope` that builds its reader with `make` and
    /// reads it to the end (or the first error) in [`CHUNK`]-byte pieces.
    pub fn spawn<'env, R, F>(
        scope: &'scope Scope<'scope, 'env>,
        name: &str,
        make: F,
    ) -> io::Result<Self>
    where
        R: Read,
        F: FnOnce() -> io::Result<R> + Send + 'scope,
    {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (spare, spare_rx) = sync_channel::<Vec<u8>>(DEPTH + 1);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn_scoped(scope, move || {
                let mut r = match make() {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let mut chunk = spare_rx.try_recv().unwrap_or_default();
                    chunk.resize(CHUNK, 0);
                    let (n, err) = fill(&mut r, &mut chunk);
                    chunk.truncate(n);
                    // A send fails when the reader stopped listening: then
                    // stop reading.
                    if n > 0 && tx.send(Ok(chunk)).is_err() {
                        return;
                    }
                    match err {
                        Some(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                        None if n < CHUNK => return,
                        None => {}
                    }
                }
            })?;
        Ok(StageReader {
            rx: Some(rx),
            spare,
            cur: Vec::new(),
            pos: 0,
            thread: Some(thread),
        })
    }

    /// Stops the thread (it may not have reached the end) and waits for
    /// it; dropping the reader does this too.
    fn stop(&mut self) -> io::Result<()> {
        self.rx = None;
        match self.thread.take().map(ScopedJoinHandle::join) {
            Some(Err(_)) => Err(io::Error::other("the reading thread panicked")),
            _ => Ok(()),
        }
    }
}

/// Reads until `buf` is full, the end or an error; returns the bytes read
/// and the error, if one stopped it.
pub(crate) fn fill(r: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

impl BufRead for StageReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.cur.len() {
            let next = match &self.rx {
                Some(rx) => rx.recv(),
                None => return Ok(&[]),
            };
            match next {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.cur, chunk);
                    // The thread may be done or the queue full: then the
                    // buffer is simply freed.
                    let _ = self.spare.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.rx = None;
                    return Err(e);
                }
                // The thread is done: end of stream, or it panicked.
                Err(_) => {
                    self.stop()?;
                    return Ok(&[]);
                }
            }
        }
        Ok(&self.cur[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.cur.len());
    }
}

impl Read for StageReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Drop for StageReader<'_> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_stage_reader_passes_bytes_and_then_the_error() {
        let data: Vec<u8> = (0..(2 * CHUNK + 999)).map(|i| (i % 253) as u8).collect();
        let failing = io::Cursor::new(data.clone()).chain(FailingRead);
        std::thread::scope(|s| {
            let mut r = StageReader::spawn(s, "test", || Ok(failing)).unwrap();
            let mut back = vec![0u8; data.len()];
            r.read_exact(&mut back).unwrap();
            assert!(back == data);
            let e = r.read(&mut [0u8; 10]).unwrap_err();
            assert_eq!(e.to_string(), "bad chunk");
            // An early stop (the tar stream ended) does not hang.
            let mut early = StageReader::spawn(s, "test", || Ok(io::repeat(7))).unwrap();
            early.read_exact(&mut [0u8; 3]).unwrap();
            early.stop().unwrap();
            // An error building the reader is the first read's error.
            let mut bad = StageReader::spawn(s, "test", || {
                Err::<io::Empty, _>(io::Error::other("no file"))
            })
            .unwrap();
            assert_eq!(bad.fill_buf().unwrap_err().to_string(), "no file");
        });
    }

    struct FailingRead;
    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::InvalidData, "bad chunk"))
        }
    }

    #[test]
    fn passes_every_byte_in_order() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12_345)).map(|i| (i % 251) as u8).collect();
        let mut s = Stage::new("test", Vec::new()).unwrap();
        for c in data.chunks(70_001) {
            s.write_all(c).unwrap();
        }
        assert_eq!(s.finish().unwrap(), data);
    }

    struct FailAfter(usize);
    impl Write for FailAfter {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.0 < b.len() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.0 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_downstream_error_reaches_the_writer() {
        let mut s = Stage::new("test", FailAfter(CHUNK + 10)).unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let err = (0..10 * CHUNK / chunk.len())
            .find_map(|_| s.write_all(&chunk).err())
            .or_else(|| s.finish().err())
            .expect("the failure must surface");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(err.to_string(), "disk full");
    }

    /// A caller that writes again after an error (zstd's writer does) gets
    /// the error again, never a panic (a full disk used to crash a seal).
    #[test]
    fn writes_after_a_downstream_error_fail_again() {
        let mut s = Stage::new("test", FailAfter(10)).unwrap();
        let chunk = vec![1u8; CHUNK];
        let mut failed = false;
        for i in 0..20 {
            match s.write_all(&chunk) {
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
                    failed = true;
                }
                Ok(()) => assert!(!failed, "write {i} succeeded after a failed one"),
            }
        }
        assert!(failed, "the failure must surface");
        let Err(e) = s.finish() else {
            panic!("finish must fail after a failed write")
        };
        assert_eq!(e.to_string(), "disk full");
    }

    struct Dropped(Arc<Mutex<bool>>);
    impl Write for Dropped {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Dropped {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = true;
        }
    }

    #[test]
    fn dropping_unfinished_drops_the_downstream_before_returning() {
        let flag = Arc::new(Mutex::new(false));
        let mut s = Stage::new("test", Dropped(Arc::clone(&flag))).unwrap();
        s.write_all(&[0u8; 100]).unwrap();
        drop(s);
        assert!(
            *flag.lock().unwrap(),
            "the upload must be gone when drop returns"
        );
    }
}
