//! Request pacing: the governor limiter built from a lane's [`Rate`].
//!
//! Invariant: every request a worker sends first waits on its lane's [`Pacer`], so the rate a
//! provider sees is bounded by the configured rate plus the configured burst.

use std::num::NonZeroU32;

use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::values::Rate;

/// A lane's pacer: the configured rate as a hard ceiling (governor), and below it an adaptive
/// rate that halves when the provider throttles and creeps back up with each success (AIMD), so
/// a provider whose real limit is below `--rate` is not hammered after every `Retry-After`.
#[derive(Debug)]
pub struct Pacer {
    ceiling: Option<DefaultDirectRateLimiter>,
    ceiling_rate: Option<f64>,
    adaptive: Mutex<Adaptive>,
}

#[derive(Debug)]
struct Adaptive {
    /// Current adaptive rate (requests/s); `None` until the provider first throttles.
    rate: Option<f64>,
    next_slot: Instant,
    last_decrease: Option<Instant>,
    started: Instant,
    sent: u64,
}

/// Slowest adaptive pace: one request every two seconds.
const MIN_RATE: f64 = 0.5;

impl Pacer {
    pub fn new(rate: Rate, burst: u32) -> Pacer {
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = match rate {
            Rate::Unlimited => None,
            Rate::PerSecond(n) => Some(Quota::per_second(nonzero(n))),
            Rate::PerMinute(n) => Some(Quota::per_minute(nonzero(n))),
            Rate::PerHour(n) => Some(Quota::per_hour(nonzero(n))),
        };
        let now = Instant::now();
        Pacer {
            ceiling: quota.map(|q| RateLimiter::direct(q.allow_burst(burst))),
            ceiling_rate: rate.per_second(),
            adaptive: Mutex::new(Adaptive {
                rate: None,
                next_slot: now,
                last_decrease: None,
                started: now,
                sent: 0,
            }),
        }
    }

    /// Waits until one more request may leave.
    pub async fn ready(&self) {
        if let Some(limiter) = &self.ceiling {
            limiter.until_ready().await;
        }
        let slot = {
            let mut a = self.lock();
            a.sent += 1;
            let Some(rate) = a.rate else { return };
            let slot = a.next_slot.max(Instant::now());
            a.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// The provider throttled: halve the adaptive rate (once per second, however many in-flight
    /// requests come back 429 together).
    pub fn on_throttle(&self) {
        let mut a = self.lock();
        let now = Instant::now();
        if a.last_decrease
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        let current = a.rate.or(self.ceiling_rate).unwrap_or_else(|| {
            a.sent as f64 / now.duration_since(a.started).as_secs_f64().max(1.0)
        });
        let halved = (current / 2.0).max(MIN_RATE);
        tracing::info!(
            rate = format!("{halved:.1}/s"),
            "provider throttled; slowing down"
        );
        a.rate = Some(halved);
        a.last_decrease = Some(now);
    }

    /// A request succeeded: raise the adaptive rate a little, back to the ceiling eventually.
    pub fn on_success(&self) {
        let mut a = self.lock();
        let Some(rate) = a.rate else { return };
        let step = (self.ceiling_rate.unwrap_or(rate * 2.0) / 100.0).max(0.05);
        let raised = rate + step;
        a.rate = match self.ceiling_rate {
            Some(ceiling) if raised >= ceiling => None,
            _ => Some(raised),
        };
    }

    /// The adaptive rate now in force, if the provider has throttled.
    #[cfg(test)]
    pub fn adaptive_rate(&self) -> Option<f64> {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Adaptive> {
        self.adaptive.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!("20/s".parse::<Rate>().unwrap(), Rate::PerSecond(20));
        assert_eq!("600/m".parse::<Rate>().unwrap(), Rate::PerMinute(600));
        assert_eq!("unlimited".parse::<Rate>().unwrap(), Rate::Unlimited);
        assert!("0/s".parse::<Rate>().is_err());
        assert!("20".parse::<Rate>().is_err());
        assert!("20/d".parse::<Rate>().is_err());
        assert_eq!(Rate::PerMinute(30).per_second(), Some(0.5));
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_halves_and_success_recovers() {
        let p = Pacer::new(Rate::PerSecond(100), 1);
        assert_eq!(p.adaptive_rate(), None);
        p.on_throttle();
        assert_eq!(p.adaptive_rate(), Some(50.0));
        p.on_throttle(); // same burst of 429s: no second halving
        assert_eq!(p.adaptive_rate(), Some(50.0));
        for _ in 0..49 {
            p.on_success();
        }
        assert!(p.adaptive_rate().unwrap() > 98.0);
        p.on_success();
        assert_eq!(
            p.adaptive_rate(),
            None,
            "back at the ceiling: adaptive pacing off"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_rate_spaces_requests() {
        let p = Pacer::new(Rate::Unlimited, 1);
        p.on_throttle();
        let rate = p.adaptive_rate().unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            p.ready().await;
        }
        let expected = Duration::from_secs_f64(4.0 / rate);
        assert!(
            start.elapsed() >= expected,
            "{:?} < {expected:?}",
            start.elapsed()
        );
    }
}
