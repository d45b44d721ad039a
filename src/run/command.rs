//! A command source: a program's standard output, sealed as a file.
//!
//! The program is started with its argv (no shell), standard input from
//! `/dev/null`. Its output is read by the seal; when it ends, the program
//! is waited for, and an exit status other than 0, a signal or the timeout
//! make the read fail, so the seal commits nothing. Its standard error is
//! kept (the last 64 KiB) for the job's report.

use std::io::{self, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much of a command's standard error is kept.
pub const STDERR_KEPT: usize = 64 << 10;

/// The reading end of a running command.
pub struct CommandReader {
    stdout: ChildStdout,
    child: Arc<Mutex<Child>>,
    timed_out: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    timeout: Duration,
    what: String,
    finished: bool,
}

/// What a command left on its standard error, shared with the job.
#[derive(Clone, Default)]
pub struct Stderr {
    kept: Arc<Mutex<Vec<u8>>>,
    /// Set when the pipe reached its end.
    ended: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

/// How long [`Stderr::collect`] waits for the pipe's end once the command
/// is gone (a program it left running may hold the pipe open).
const STDERR_GRACE: Duration = Duration::from_secs(2);

impl Stderr {
    /// What was kept, once the pipe reached its end (or after a grace
    /// period): the reading thread may still be copying the last bytes
    /// when the command has already exited.
    pub fn collect(&self) -> Vec<u8> {
        let (lock, cv) = &*self.ended;
        let ended = lock.lock().unwrap_or_else(|p| p.into_inner());
        drop(
            cv.wait_timeout_while(ended, STDERR_GRACE, |e| !*e)
                .unwrap_or_else(|p| p.into_inner()),
        );
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl CommandReader {
    /// Starts `argv` with a timeout; its standard error goes to the
    /// returned buffer.
    pub fn start(argv: &[String], timeout: Duration) -> io::Result<(Self, Stderr)> {
        use std::os::unix::process::CommandExt as _;
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            // Its own process group, so that a timeout also stops what it
            // started (a shell's pipeline) and nothing keeps its output open.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {:?}: {e}", argv[0])))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let stderr = Stderr::default();
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buf) {
                let mut k = keep.kept.lock().unwrap_or_else(|p| p.into_inner());
                k.extend_from_slice(&buf[..n]);
                if k.len() > STDERR_KEPT {
                    let cut = k.len() - STDERR_KEPT;
                    k.drain(..cut);
                }
            }
            let (lock, cv) = &*keep.ended;
            *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
            cv.notify_all();
        });
        let child = Arc::new(Mutex::new(child));
        let timed_out = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        {
            let (child, timed_out, done) = (child.clone(), timed_out.clone(), done.clone());
            let start = Instant::now();
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    if start.elapsed() >= timeout {
                        // Our own child's process group, by its id (never
                        // by name); `done` is checked under the lock that
                        // reaping takes, so the id is still the child's.
                        let c = child.lock().unwrap_or_else(|p| p.into_inner());
                        if !done.load(Ordering::SeqCst) {
                            timed_out.store(true, Ordering::SeqCst);
                            kill_group(&c);
                        }
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
        Ok((
            CommandReader {
                stdout,
                child,
                timed_out,
                done,
                timeout,
                what: argv.join(" "),
                finished: false,
            },
            stderr,
        ))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.finished = true;
        // Polled, so that the timeout can still kill a program that closed
        // its output but does not exit.
        let status = loop {
            let mut c = self.child.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(st) = c.try_wait()? {
                self.done.store(true, Ordering::SeqCst);
                break st;
            }
            drop(c);
            std::thread::sleep(Duration::from_millis(20));
        };
        if self.timed_out.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!(
                "{} did not finish within {}s and was killed",
                self.what,
                self.timeout.as_secs()
            )));
        }
        if !status.success() {
            return Err(io::Error::other(format!("{} failed ({status})", self.what)));
        }
        Ok(())
    }
}

/// Kills the process group the child leads.
fn kill_group(c: &Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

impl Read for CommandReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.finished {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.finish()?;
        }
        Ok(n)
    }
}

impl Drop for CommandReader {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if !self.finished {
            let mut c = self.child.lock().unwrap_or_else(|p| p.into_inner());
            kill_group(&c);
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last bytes a failing command writes to standard error are in
    /// its report, although it exits at once: collecting waits for the
    /// pipe's end (a job's report once missed them under load).
    #[test]
    fn stderr_written_just_before_exit_is_collected() {
        for _ in 0..20 {
            let argv =
                ["sh", "-c", "echo out; echo 'pg_dump: failed' >&2; exit 2"].map(String::from);
            let (mut r, err) = CommandReader::start(&argv, Duration::from_secs(10)).unwrap();
            let mut out = Vec::new();
            let e = r.read_to_end(&mut out).unwrap_err();
            assert!(e.to_string().contains("failed"), "{e}");
            assert_eq!(out, b"out\n");
            assert_eq!(err.collect(), b"pg_dump: failed\n");
        }
    }
}
