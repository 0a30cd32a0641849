//! Lines on standard output (the summary, the plan, the demo's findings) written so that a
//! reader that went away (`credrotate run … | head -1`) ends nothing: a broken pipe is ignored,
//! any other write error is logged. The run's real results are its files and exit code.
//!
//! Invariants: nothing here panics (Rust ignores SIGPIPE, so `println!` would panic on a closed
//! pipe).

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};

/// Writes `args` to stdout as it is; see the module doc for errors.
pub fn write(args: Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() != ErrorKind::BrokenPipe {
            tracing::warn!("cannot write to standard output: {e}");
        }
    }
}

/// `println!` that never panics (see [`write`]).
#[macro_export]
macro_rules! say {
    () => { $crate::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that never panics (see [`write`]).
#[macro_export]
macro_rules! say_part {
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*)) };
}
