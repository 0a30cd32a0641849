//! The progress bar: rows done, rate and ETA on stderr, drawn only when stderr is a terminal
//! (or when asked to); hidden under cron and Kubernetes, where logs are the record.
//!
//! Invariants: it shows counts only; no user or secret is ever drawn. While a bar is drawn it is
//! registered here, so log lines are written above it ([`above_bar`]), never into its line.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--progress auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    #[default]
    Auto,
    Always,
    Never,
}

/// The bar being drawn, if any (one per process: one session at a time).
static DRAWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `write` with the drawn bar (if any) cleared, then redraws the bar below what was written.
pub fn above_bar<R>(write: impl FnOnce() -> R) -> R {
    let bar = DRAWN.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

pub struct Progress {
    bar: ProgressBar,
    failed: u64,
}

impl Progress {
    pub fn new(total: u64, mode: ProgressMode) -> Progress {
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        if show {
            *DRAWN.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
        }
        Progress { bar, failed: 0 }
    }

    pub fn row_done(&mut self, failed: bool) {
        if failed {
            self.failed += 1;
            self.bar.set_message(format!("{} failed", self.failed));
        }
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        DRAWN.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.bar.finish_and_clear();
    }
}
