//! A lane-wide pause: when the provider answers 429 with `Retry-After`, every worker of that
//! provider waits until the moment passes, not only the one that was told.
//!
//! Invariant: the pause only ever extends (a shorter `Retry-After` never cuts a longer one short).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Gate {
    until: Mutex<Option<Instant>>,
}

impl Gate {
    /// Closes the gate for `pause` from now (or keeps a later reopening time).
    pub fn pause(&self, pause: Duration) {
        // Checked: a hostile Retry-After must not overflow the clock (it is bounded earlier too).
        let Some(until) = Instant::now().checked_add(pause) else {
            return;
        };
        let mut guard = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|t| t < until) {
            *guard = Some(until);
        }
    }

    /// Returns once the gate is open.
    pub async fn wait(&self) {
        loop {
            let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pause_extends_and_wait_blocks() {
        let gate = Gate::default();
        gate.pause(Duration::from_secs(5));
        gate.pause(Duration::from_secs(1));
        let start = Instant::now();
        gate.wait().await;
        assert!(start.elapsed() >= Duration::from_secs(5));
    }
}
