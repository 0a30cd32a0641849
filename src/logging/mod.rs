//! Logging to stderr with tracing: human text or one JSON object per line (for Kubernetes).
//!
//! `-v` raises credrotate's own level (info → debug → trace); `RUST_LOG` overrides everything.
//! Other crates stay at `warn` unless `RUST_LOG` says otherwise, so `-vv` does not flood the log
//! with HTTP internals.
//!
//! Invariants:
//! - Colour (ANSI escapes) only when stderr is a terminal and `NO_COLOR` is unset or empty:
//!   cron mail, files and Kubernetes logs get plain text.
//! - Every line goes through [`writer::AboveBar`], which clears the progress bar, writes the
//!   line and redraws the bar below it: a log line never lands inside the bar's line.
//! - With `--log-format json` every line credrotate writes to stderr is one JSON object: tracing
//!   events, fatal errors (with their exit code) and the final "run finished" event
//!   ([`events`]).

mod events;
mod writer;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

pub use events::{block, fatal, problem, run_finished};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The format chosen at start-up, for the lines written without tracing.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Installs the global subscriber. Safe to call more than once (later calls are ignored).
pub fn init(format: LogFormat, verbosity: u8) {
    let _ = FORMAT.set(format);
    let level = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,credrotate={level}")));
    let colour = colour_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer::AboveBar);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The log format in force (text before [`init`]).
pub(crate) fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Colour for a person at a terminal who has not opted out (<https://no-color.org>: any
/// non-empty `NO_COLOR`).
fn colour_wanted(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some("".into())));
        assert!(!colour_wanted(true, Some("1".into())));
        assert!(!colour_wanted(false, None));
    }
}
