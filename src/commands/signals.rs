//! SIGINT and SIGTERM as a stream: the first asks the run to stop taking rows, a second (or the
//! end of the grace period) aborts at once. The journal protects every password either way.

use tokio::signal::unix::{signal, Signal, SignalKind};

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

pub struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM and returns its number.
    pub async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => SIGINT,
            _ = self.term.recv() => SIGTERM,
        }
    }
}

pub fn name(signal: i32) -> &'static str {
    if signal == SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    }
}
