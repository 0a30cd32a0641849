//! One request-retry policy for every request a lane sends (resets and follow-ups alike).
//!
//! Invariants: every request waits on the lane's Retry-After gate and pacer first; a 429 pauses
//! the whole lane (its `Retry-After`, else a backoff delay) and slows its adaptive pacer, a
//! success lets the pacer climb back; 429s are limited by `max_throttled`, other transient
//! failures by `max_attempts`; retries wait with full-jitter backoff, at least `Retry-After`.

use std::time::Duration;

use crate::provider::Attempt;

use super::{Backoff, Gate, Lane, Pacer};

/// The parts of a lane the retry policy acts on.
#[derive(Clone, Copy)]
pub struct Pace<'a> {
    pub gate: &'a Gate,
    pub pacer: &'a Pacer,
}

impl<'a> From<&'a Lane> for Pace<'a> {
    fn from(lane: &'a Lane) -> Self {
        Pace {
            gate: &lane.gate,
            pacer: &lane.pacer,
        }
    }
}

/// Requests sent for one step of one row, and how many were answered 429.
#[derive(Debug, Default, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    pub throttled: u32,
}

impl Retries {
    /// Waits until the lane lets one more request leave.
    pub async fn ready(&self, lane: &Lane) {
        lane.gate.wait().await;
        lane.pacer.ready().await;
        // A 429 may have closed the gate while this worker waited for its pacing slot.
        lane.gate.wait().await;
    }

    /// Accounts for an answer. Returns the wait before the next request, or `None` when the
    /// answer is final: a success, a permanent failure, or a transient one past the limits.
    pub fn next(
        &mut self,
        lane: Pace<'_>,
        backoff: &Backoff,
        answer: &Attempt,
    ) -> Option<Duration> {
        self.attempts += 1;
        let retry_after = match answer {
            Attempt::Succeeded(_) => {
                lane.pacer.on_success();
                return None;
            }
            Attempt::Permanent(_) => return None,
            Attempt::Transient { retry_after, .. } => *retry_after,
        };
        let exhausted = if answer.is_throttle() {
            self.throttled += 1;
            lane.pacer.on_throttle();
            lane.gate
                .pause(retry_after.unwrap_or_else(|| backoff.delay(self.throttled, None)));
            self.throttled >= backoff.max_throttled
        } else {
            self.attempts - self.throttled >= backoff.max_attempts
        };
        (!exhausted).then(|| backoff.delay(self.attempts - self.throttled, retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Rate;
    use crate::provider::{Failure, Success};

    fn transient(status: u16) -> Attempt {
        let failure = Failure {
            http_status: Some(status),
            code: "x".into(),
            ..Failure::default()
        };
        Attempt::Transient {
            retry_after: Some(Duration::from_secs(2)),
            failure,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limits_429s_and_other_failures_separately() {
        let (gate, pacer) = (Gate::default(), Pacer::new(Rate::PerSecond(100), 1));
        let lane = Pace {
            gate: &gate,
            pacer: &pacer,
        };
        let backoff = Backoff {
            max_attempts: 2,
            max_throttled: 3,
            ..Backoff::default()
        };
        let mut r = Retries::default();
        let wait = r.next(lane, &backoff, &transient(503)).unwrap();
        assert!(wait >= Duration::from_secs(2), "at least Retry-After");
        assert!(r.next(lane, &backoff, &transient(429)).is_some());
        assert_eq!(pacer.adaptive_rate(), Some(50.0), "a 429 slows the lane");
        assert!(r.next(lane, &backoff, &transient(429)).is_some());
        assert!(
            r.next(lane, &backoff, &transient(429)).is_none(),
            "third 429: max_throttled"
        );
        let mut r = Retries::default();
        r.next(lane, &backoff, &transient(503));
        assert!(
            r.next(lane, &backoff, &transient(500)).is_none(),
            "second failure: max_attempts"
        );
        assert_eq!(r.attempts, 2);
        let ok = Attempt::Succeeded(Success::default());
        assert!(Retries::default().next(lane, &backoff, &ok).is_none());
    }
}
