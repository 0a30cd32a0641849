//! One request-retry policy for every request a lane sends (resets and follow-ups alike).
//!
//! Invariants: every request waits on the lane's Retry-After gate and pacer first; a 429 pauses
//! the whole lane (its `Retry-After`, else a backoff delay) and teaches its pacer the rate the
//! provider accepted, a success is counted by the pacer's meter; a request that finds the gate
//! closed after it got its slot (or after its intent was written) goes back for a new slot, so
//! no request leaves during a pause and none leaves in a herd after it; 429s are limited by `max_throttled`, other transient
//! failures by `max_attempts`; retries wait with full-jitter backoff, at least `Retry-After`; a
//! `Retry-After` beyond `max_retry_after` ends the row instead of pausing the lane for it.

use std::time::Duration;

use tokio::time::Instant;

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

/// What to do after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send again after this wait.
    Retry(Duration),
    /// The answer is final (a success, not applied, uncertain, or transient past the limits).
    Done,
    /// The provider asked to wait longer than `max_retry_after`: give up on the row.
    WaitTooLong(Duration),
}

/// Requests sent for one step of one row, and how many were answered 429.
#[derive(Debug, Default, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    pub throttled: u32,
    /// When the last request was let go.
    sent: Option<Instant>,
}

impl Retries {
    /// Waits until the lane lets one more request leave.
    pub async fn ready(&mut self, lane: &Lane) {
        loop {
            lane.gate.wait().await;
            lane.pacer.ready().await;
            // A 429 may have closed the gate while this worker waited for its pacing slot:
            // then it queues for a slot after the pause like everyone else.
            if !lane.gate.closed() {
                break;
            }
        }
        self.sent = Some(Instant::now());
    }

    /// Just before the request leaves (its intent written): spaces sends that the journal's
    /// group commit bunched, and if a 429 closed the gate meanwhile, queues for a new slot after
    /// the pause.
    pub async fn release(&mut self, lane: &Lane) {
        loop {
            lane.pacer.release().await;
            if !lane.gate.closed() {
                break;
            }
            self.ready(lane).await;
        }
        self.sent = Some(Instant::now());
    }

    /// Accounts for an answer and says what comes next.
    pub fn next(&mut self, lane: Pace<'_>, backoff: &Backoff, answer: &Attempt) -> Step {
        self.attempts = self.attempts.saturating_add(1);
        let retry_after = match answer {
            Attempt::Succeeded(_) => {
                lane.pacer.on_success();
                return Step::Done;
            }
            Attempt::NotApplied(_) | Attempt::Uncertain { .. } => return Step::Done,
            Attempt::Transient { retry_after, .. } => *retry_after,
        };
        if let Some(wait) = retry_after.filter(|w| *w > backoff.max_retry_after) {
            return Step::WaitTooLong(wait);
        }
        let exhausted = if answer.is_throttle() {
            self.throttled = self.throttled.saturating_add(1);
            let pause = retry_after.unwrap_or_else(|| backoff.delay(self.throttled, None));
            if let Some(until) = lane.gate.pause(pause) {
                let sent = self.sent.unwrap_or_else(Instant::now);
                lane.pacer.on_throttle(sent, until);
            }
            self.throttled >= backoff.max_throttled
        } else {
            self.attempts - self.throttled >= backoff.max_attempts
        };
        match exhausted {
            true => Step::Done,
            false => Step::Retry(backoff.delay(self.attempts - self.throttled, retry_after)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Failure, Success};
    use crate::values::Rate;

    fn transient(status: u16) -> Attempt {
        let failure = Failure {
            http_status: Some(status),
            code: "x".into(),
            ..Failure::default()
        };
        Attempt::Transient {
            retry_after: Some(Duration::from_secs(2)),
            failure,
            applied: crate::provider::Applied::No,
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
        let Step::Retry(wait) = r.next(lane, &backoff, &transient(503)) else {
            panic!("a 503 is retried")
        };
        assert!(wait >= Duration::from_secs(2), "at least Retry-After");
        assert!(matches!(
            r.next(lane, &backoff, &transient(429)),
            Step::Retry(_)
        ));
        assert!(pacer.learned_rate().is_some(), "a 429 teaches the lane");
        assert!(matches!(
            r.next(lane, &backoff, &transient(429)),
            Step::Retry(_)
        ));
        assert_eq!(
            r.next(lane, &backoff, &transient(429)),
            Step::Done,
            "third 429: max_throttled"
        );
        let mut r = Retries::default();
        r.next(lane, &backoff, &transient(503));
        assert_eq!(
            r.next(lane, &backoff, &transient(500)),
            Step::Done,
            "second failure: max_attempts"
        );
        assert_eq!(r.attempts, 2);
        let ok = Attempt::Succeeded(Success::default());
        assert_eq!(Retries::default().next(lane, &backoff, &ok), Step::Done);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_limit_ends_the_row_without_pausing_the_lane() {
        let (gate, pacer) = (Gate::default(), Pacer::new(Rate::PerSecond(100), 1));
        let lane = Pace {
            gate: &gate,
            pacer: &pacer,
        };
        let backoff = Backoff::default();
        let years = Duration::from_secs(365 * 24 * 3600);
        let mut answer = transient(429);
        if let Attempt::Transient { retry_after, .. } = &mut answer {
            *retry_after = Some(years);
        }
        let mut r = Retries::default();
        assert_eq!(r.next(lane, &backoff, &answer), Step::WaitTooLong(years));
        let start = tokio::time::Instant::now();
        gate.wait().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the lane is not paused");
    }
}
