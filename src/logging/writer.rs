//! The stderr writer of every log line: written above the progress bar, never into it.
//!
//! Invariant: a line is written in one piece while the bar is cleared (indicatif's `suspend`),
//! so the bar is redrawn below it and the two never share a terminal line.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Makes a [`AboveBar`] per event (tracing formats each event whole, then writes it once).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AboveBar;

impl<'a> MakeWriter<'a> for AboveBar {
    type Writer = AboveBar;

    fn make_writer(&'a self) -> AboveBar {
        AboveBar
    }
}

impl Write for AboveBar {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::progress::above_bar(|| io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Writes one whole line to stderr above the progress bar (for lines written without tracing).
pub(crate) fn line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    // Nowhere to report a failed write to stderr.
    let _ = AboveBar.write_all(line.as_bytes());
}
