//! Fault machinery: the token bucket behind 429s, the `Retry-After` it advertises, latency.
//!
//! Order in which a reset write meets the faults (see `graph_v1`): authentication first (a 401
//! never costs a token, since an unauthenticated caller cannot be charged to an app), then the
//! bucket (429), then the error ratio (503). A 503 therefore *has* consumed a token, as a real
//! gateway counts every authenticated request it forwarded. Neither a 429 nor a 503 touches any
//! password. Latency and jitter are added by the `observe` middleware to every API response.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;

use super::{random, Bucket, Faults};

/// Longest `Retry-After` we ever advertise: keeps a degenerate bucket (rate ~0) from telling
/// clients to come back next year.
const MAX_RETRY_AFTER_SECS: u64 = 3600;

/// A token bucket that starts full. Invariant: `0 <= tokens <= capacity`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(spec: Bucket, now: Instant) -> Self {
        let capacity = f64::from(spec.capacity.max(1));
        TokenBucket {
            rate: spec.rate.max(0.0),
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes one token, or says how long until one will be available.
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.rate <= 0.0 {
            return Err(Duration::from_secs(MAX_RETRY_AFTER_SECS));
        }
        let wait = (1.0 - self.tokens) / self.rate;
        Err(Duration::from_secs_f64(
            wait.min(MAX_RETRY_AFTER_SECS as f64),
        ))
    }

    fn refill(&mut self, now: Instant) {
        // `saturating_duration_since` because callers may race and pass a slightly older instant.
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = self.last.max(now);
    }
}

/// Whole seconds a client should wait: rounded up, at least 1 (0 would invite a hot loop).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.clamp(1, MAX_RETRY_AFTER_SECS)
}

/// The `Retry-After` header for `wait`: delay-seconds, or an HTTP-date when asked for.
///
/// HTTP-dates have one-second resolution, so the date is rounded *up* to the next whole second:
/// a client that waits until that date never comes back before a token exists.
pub(crate) fn retry_after_header(wait: Duration, http_date: bool) -> HeaderValue {
    let secs = retry_after_secs(wait);
    if !http_date {
        return HeaderValue::from(secs);
    }
    let target = SystemTime::now() + Duration::from_secs(secs);
    let target = round_up_to_second(target);
    HeaderValue::from_str(&httpdate::fmt_http_date(target)).unwrap_or_else(|_| secs.into())
}

fn round_up_to_second(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.subsec_nanos() > 0 => UNIX_EPOCH + Duration::from_secs(d.as_secs() + 1),
        _ => t,
    }
}

/// The extra delay for one API response: `latency` plus uniform `[0, jitter]`.
pub(crate) fn response_delay(faults: &Faults) -> Duration {
    faults.latency + random::up_to(faults.jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(rate: f64, capacity: u32) -> (TokenBucket, Instant) {
        let t0 = Instant::now();
        (TokenBucket::new(Bucket { rate, capacity }, t0), t0)
    }

    #[test]
    fn starts_full_then_drains() {
        let (mut b, t0) = bucket(1.0, 3);
        for _ in 0..3 {
            assert!(b.try_take(t0).is_ok());
        }
        let wait = b.try_take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-9, "{wait:?}");
    }

    #[test]
    fn refills_at_rate_up_to_capacity() {
        let (mut b, t0) = bucket(2.0, 2);
        assert!(b.try_take(t0).is_ok());
        assert!(b.try_take(t0).is_ok());
        assert!(b.try_take(t0).is_err());
        // 0.5 s at 2/s is one token.
        assert!(b.try_take(t0 + Duration::from_millis(500)).is_ok());
        assert!(b.try_take(t0 + Duration::from_millis(500)).is_err());
        // A long idle period refills only to capacity.
        let later = t0 + Duration::from_secs(100);
        assert!(b.try_take(later).is_ok());
        assert!(b.try_take(later).is_ok());
        assert!(b.try_take(later).is_err());
    }

    #[test]
    fn partial_token_shortens_the_wait() {
        let (mut b, t0) = bucket(0.5, 1);
        assert!(b.try_take(t0).is_ok());
        let wait = b.try_take(t0 + Duration::from_secs(1)).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn degenerate_buckets_do_not_panic() {
        let (mut b, t0) = bucket(0.0, 0);
        assert!(b.try_take(t0).is_ok()); // capacity 0 is treated as 1
        assert_eq!(
            b.try_take(t0).unwrap_err(),
            Duration::from_secs(MAX_RETRY_AFTER_SECS)
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_header(Duration::from_millis(2500), false), "3");
    }

    #[test]
    fn retry_after_http_date_is_not_early() {
        let before = SystemTime::now();
        let v = retry_after_header(Duration::from_millis(1500), true);
        let date = httpdate::parse_http_date(v.to_str().unwrap()).unwrap();
        assert!(date >= before + Duration::from_millis(1500), "{v:?}");
    }
}
