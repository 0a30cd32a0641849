//! Retry policy: exponential backoff with full jitter, and which answers deserve a retry.
//!
//! Full jitter (a uniform wait in `[0, min(cap, base·2^n)]`) spreads retries of many workers so
//! they do not return in lockstep and re-trigger the throttling they are backing off from.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Requests per row, 429 answers not counted (the server said when to come back).
    pub max_attempts: u32,
    /// 429 answers per row before the row is given up.
    pub max_throttled: u32,
    /// The longest `Retry-After` worth waiting for; a longer one fails the row.
    pub max_retry_after: Duration,
}

/// Default of `--max-retry-after`.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            max_attempts: 5,
            max_throttled: 50,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry), at least `floor`.
    pub fn delay(&self, retry: u32, floor: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1).min(20)));
        let ceiling = exp.min(self.cap);
        let jitter = rand::thread_rng().gen_range(Duration::ZERO..=ceiling);
        jitter.max(floor.unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_stays_within_bounds() {
        let b = Backoff::default();
        for retry in 1..30 {
            let d = b.delay(retry, None);
            assert!(d <= b.cap);
        }
        assert!(b.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }
}
