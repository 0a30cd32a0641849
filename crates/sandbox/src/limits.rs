//! Throttle models and the watch on announced `Retry-After` windows.
//!
//! Each route family (`graph`, `pingone`, `wristband`, `keycloak`) meets one limit: a sliding
//! window ([`Window`], like Graph's per-app-and-tenant limit: at most N requests accepted in any
//! W seconds, `Retry-After` = time until the oldest of them leaves the window) or a token bucket
//! ([`Bucket`](super::Bucket), `faults`). Which one, in order: `Options::family_window`,
//! `Options::family_throttle`, `Faults::window`, `Faults::throttle`.
//!
//! A 429 *announces* a window: from when the client has surely been told (decision time plus
//! the latest the answer can arrive, `latency + jitter`, plus [`READ_ALLOWANCE`] for the trip
//! and the client reading it) until the moment the `Retry-After` names (decision time plus its
//! whole seconds). A request of the same family that reaches the limit inside an announced
//! window is counted (`inside_retry_after` in the stats): a client that honours `Retry-After`
//! for the whole provider never adds to it. Requests that arrive after the 429 was decided but
//! before the window opens were on their way already; they are counted apart
//! (`in_flight_after_429`), so the allowance hides nothing.
//!
//! Invariants: a window never holds more than N accepted requests younger than W; a 429 never
//! consumes capacity; `inside_retry_after` counts each request at most once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::faults::{retry_after_secs, TokenBucket};
use super::{Bucket, Faults, Options};

/// Time granted to a 429's answer to reach the client and be read, beyond the latency fault.
pub(crate) const READ_ALLOWANCE: Duration = Duration::from_millis(5);

/// A sliding-window limit: at most `requests` accepted in any `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub requests: u32,
    pub per: Duration,
}

/// A family's limit state.
#[derive(Debug)]
pub(crate) enum Limiter {
    Bucket(TokenBucket),
    Window(SlidingWindow),
}

impl Limiter {
    /// The limit of `family` under `opts`, if any.
    pub(crate) fn for_family(opts: &Options, family: &str, now: Instant) -> Option<Limiter> {
        if let Some(w) = opts.family_window.get(family) {
            return Some(Limiter::Window(SlidingWindow::new(*w)));
        }
        if let Some(b) = opts.family_throttle.get(family) {
            return Some(Limiter::Bucket(TokenBucket::new(*b, now)));
        }
        let Faults {
            window, throttle, ..
        } = &opts.faults;
        match (window, throttle) {
            (Some(w), _) => Some(Limiter::Window(SlidingWindow::new(*w))),
            (None, Some(b)) => Some(Limiter::Bucket(TokenBucket::new(*b, now))),
            (None, None) => None,
        }
    }

    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        match self {
            Limiter::Bucket(b) => b.try_take(now),
            Limiter::Window(w) => w.try_take(now),
        }
    }
}

/// Accepted requests of the last `per`, oldest first.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    spec: Window,
    accepted: VecDeque<Instant>,
}

impl SlidingWindow {
    fn new(spec: Window) -> Self {
        SlidingWindow {
            spec,
            accepted: VecDeque::new(),
        }
    }

    fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&t) = self.accepted.front() {
            if now.saturating_duration_since(t) < self.spec.per {
                break;
            }
            self.accepted.pop_front();
        }
        if self.accepted.len() < self.spec.requests.max(1) as usize {
            self.accepted.push_back(now);
            return Ok(());
        }
        let oldest = self.accepted.front().copied().unwrap_or(now);
        Err((oldest + self.spec.per).saturating_duration_since(now))
    }
}

/// One family's announced `Retry-After` window and the requests that arrived inside one.
#[derive(Debug, Default)]
pub(crate) struct Announced {
    window: Option<(Instant, Instant, Instant)>,
    pub(crate) inside: u64,
    pub(crate) in_flight: u64,
}

impl Announced {
    /// A request reached the limit at `now`: counts it if inside the announced window.
    pub(crate) fn arrived(&mut self, now: Instant) {
        let Some((decided, from, until)) = self.window else {
            return;
        };
        if now >= from && now < until {
            self.inside += 1;
        } else if now >= decided && now < from {
            self.in_flight += 1;
        }
    }

    /// A 429 decided at `now` with `wait` until capacity; `delivery` is the latest its answer
    /// can reach the client.
    pub(crate) fn announce(&mut self, now: Instant, wait: Duration, delivery: Duration) {
        let until = now + Duration::from_secs(retry_after_secs(wait));
        let from = now + delivery + READ_ALLOWANCE;
        self.window = match self.window {
            Some((d, f, u)) if u > now => Some((d, f.min(from), u.max(until))),
            _ => Some((now, from, until)),
        };
    }
}

/// The faults' bucket, for symmetry with [`Window`] in `Options::validate`.
pub(crate) fn valid_bucket(b: &Bucket) -> bool {
    b.rate.is_finite() && b.rate > 0.0 && b.capacity >= 1
}

pub(crate) fn valid_window(w: &Window) -> bool {
    w.requests >= 1 && w.per > Duration::ZERO && w.per <= Duration::from_secs(3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_n_then_says_when_the_oldest_leaves() {
        let spec = Window {
            requests: 3,
            per: Duration::from_secs(10),
        };
        let mut w = SlidingWindow::new(spec);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(w.try_take(t0 + Duration::from_secs(i)).is_ok());
        }
        let wait = w.try_take(t0 + Duration::from_secs(4)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(6));
        assert!(
            w.try_take(t0 + Duration::from_secs(10)).is_ok(),
            "the oldest left"
        );
        assert!(w.try_take(t0 + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn announced_windows_count_arrivals_inside_only() {
        let mut a = Announced::default();
        let t0 = Instant::now();
        a.arrived(t0);
        a.announce(t0, Duration::from_millis(300), Duration::from_millis(5));
        a.arrived(t0 + Duration::from_millis(1)); // in flight before the client could know
        a.arrived(t0 + Duration::from_millis(500));
        a.arrived(t0 + Duration::from_millis(1000)); // Retry-After: 1 s, over
        assert_eq!((a.inside, a.in_flight), (1, 1));
    }
}
