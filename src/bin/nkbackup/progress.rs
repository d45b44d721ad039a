//! Progress bars (indicatif) on stderr: drawn when stderr is a terminal
//! and the output is not JSON, never under cron; `--progress` and
//! `--quiet` force either way.

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// The bar being drawn, so that a PIN prompt or a printed line can hide it
/// for a moment ([`suspend`]).
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f` with the current bar (if any) hidden: a PIN prompt on the
/// terminal, a line printed between two bars' updates.
pub fn suspend<T>(f: impl FnOnce() -> T) -> T {
    let bar = ACTIVE.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(pb) if !pb.is_finished() => pb.suspend(f),
        _ => f(),
    }
}

/// `--progress` / `--quiet`.
#[derive(Args, Clone, Copy, Debug, Default)]
#[command(next_help_heading = "Progress")]
pub struct ProgressArgs {
    /// Draw a progress bar even when stderr is not a terminal.
    #[arg(long, conflicts_with = "quiet")]
    pub progress: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl ProgressArgs {
    /// A bar for `what`, or `None` when none is to be drawn. `total`: the
    /// known number of bytes (a restore's, a verify's), else a counter.
    pub fn bar(&self, json: bool, what: &str, total: Option<u64>) -> Option<ProgressBar> {
        let terminal = std::io::stderr().is_terminal();
        if self.quiet || !(self.progress || (terminal && !json)) {
            return None;
        }
        let pb = match total {
            Some(t) => {
                let pb = ProgressBar::new(t);
                pb.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                pb
            }
            None => {
                let pb = ProgressBar::no_length();
                pb.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg} {bytes} {bytes_per_sec} {prefix}",
                    )
                    .expect("valid template"),
                );
                pb
            }
        };
        if !terminal {
            // Forced with --progress: drawn all the same.
            pb.set_draw_target(ProgressDrawTarget::term_like(Box::new(
                console::Term::stderr(),
            )));
        }
        pb.set_message(what.to_owned());
        pb.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut active) = ACTIVE.lock() {
            *active = Some(pb.clone());
        }
        Some(pb)
    }
}

/// Moves `bar` to `done` of `total` bytes (copy and rewrap learn their
/// total when they start).
pub fn advance(bar: &ProgressBar, done: u64, total: u64) {
    bar.set_length(total);
    bar.set_position(done);
}
