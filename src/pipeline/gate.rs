//! A lane-wide pause: when the provider answers 429 with `Retry-After`, every worker of that
//! provider waits until the moment passes, not only the one that was told.
//!
//! Invariants: the pause only ever extends (a shorter `Retry-After` never cuts a longer one
//! short); `paused` is the union of the pause intervals (overlapping pauses are counted once).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    until: Option<Instant>,
    paused: Duration,
}

impl Gate {
    /// Closes the gate for `pause` from now (or keeps a later reopening time); returns the
    /// reopening time, `None` if `pause` overflows the clock.
    pub fn pause(&self, pause: Duration) -> Option<Instant> {
        // Checked: a hostile Retry-After must not overflow the clock (it is bounded earlier too).
        let now = Instant::now();
        let until = now.checked_add(pause)?;
        let mut s = self.lock();
        match s.until {
            Some(t) if t >= until => return Some(t),
            Some(t) if t > now => s.paused += until - t,
            _ => s.paused += pause,
        }
        s.until = Some(until);
        Some(until)
    }

    /// Whether the gate is closed now.
    pub fn closed(&self) -> bool {
        self.lock().until.is_some_and(|t| t > Instant::now())
    }

    /// Total time the lane has been paused (future part of a pause in force included).
    pub fn paused(&self) -> Duration {
        self.lock().paused
    }

    /// Returns once the gate is open.
    pub async fn wait(&self) {
        loop {
            let until = self.lock().until;
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
        assert!(gate.closed());
        let start = Instant::now();
        gate.wait().await;
        assert!(start.elapsed() >= Duration::from_secs(5));
        assert!(!gate.closed());
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_pauses_count_once() {
        let gate = Gate::default();
        gate.pause(Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(1)).await;
        gate.pause(Duration::from_secs(2)); // extends by 1 s
        tokio::time::advance(Duration::from_secs(5)).await;
        gate.pause(Duration::from_secs(1));
        assert_eq!(gate.paused(), Duration::from_secs(4));
    }
}
