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

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

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
        })
    }

    /// Sends the current buffer; if the thread has stopped, returns its
    /// error.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        let tx = self.tx.as_ref().expect("sender lives until finish");
        if tx.send(full).is_err() {
            // The thread ended early: it can only have failed.
            return Err(self.join().err().unwrap_or_else(|| {
                io::Error::other("the writer thread stopped before the end of the stream")
            }));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

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
