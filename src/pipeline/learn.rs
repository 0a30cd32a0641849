//! Learning a provider's unannounced limit: AIMD with a remembered last-good rate.
//!
//! On the first 429 of an episode (the lane then pauses for `Retry-After`, see `gate`) the lane
//! *learns* the provider's rate from the stretch of sending that ended, and resumes, once the
//! pause is over, at `RESUME` (90 %) of it, not at the ceiling:
//!
//! ```text
//! rate ▲        learned ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─/─ ─ 429 → pause → 0.9·learned …
//!      │  HOLD·learned   ┌──────────────────────────────┐ ╱ probe: slow, then faster
//!      │ 0.9·learned ╱───┘                               ╱
//!      └─────────────┴ramp 2 s┴──────── hold 20 s ────────┴──────────────────────────────▶ t
//! ```
//! - ramp from 90 % to `HOLD` (98 %) of the learned rate in 2 s, hold there for 20 s, then probe
//!   upwards, `0.4 %·x + 0.01 %·x³` of the learned rate after `x` seconds, until the next 429
//!   (the cubic term, as in CUBIC, leaves a learned rate that was too low behind: +85 % after
//!   20 s; a limit that rose is found within about half a minute).
//! - *The first 429 within a second* of the lane's start (a token bucket's burst spent at the
//!   ceiling, or a window that filled at once) measures no rate. It records what got through
//!   (the bucket's capacity, see [`FirstBurst`]) and guesses the geometric mean of that count (as
//!   if per second: a lower bound) and half the rate sent at, marked *unsure*; from an unsure
//!   rate the lane holds for 0.6 s, then triples per second (slow start) until the next
//!   429 gives a real measurement.
//! - *Every later 429* measures. Against a token bucket, what got through in a stretch is the
//!   rate plus the capacity the pause refilled, so the accepted rate overestimates by
//!   capacity / stretch (+40 % at 50/s over the last half second of a slow start). The lane knows
//!   its own schedule, so it solves for the rate `r` that its schedule exceeded by exactly the
//!   capacity before the 429'd request left (a token bucket's arithmetic); the answer stays within
//!   a factor `MODEL_BOUND` of the accepted rate over the stretch's end (two seconds, the last
//!   half second after a slow start), which is used alone when no first burst was seen.
//!
//! Why AIMD with memory rather than CUBIC: a 429 here costs a whole-second `Retry-After`
//! pause (providers round up), so the dominant cost is the number of 429 episodes (each about
//! 1.7 % of a minute), not the time spent 2 % below the limit; an exact reading and a long hold
//! keep episodes rare (three in a minute against a bucket), and the rate never returns to the
//! ceiling after a 429 unless probing finds the limit gone. `rides_an_unannounced_token_bucket`
//! below plays the arithmetic against a simulated bucket; `scripts/bench-pacing` against the
//! sandbox's.
//!
//! Invariants: one decrease per episode (429s of requests sent before the current stretch
//! began are answers to the same excess); the rate never exceeds the ceiling and never falls
//! below `MIN_RATE`; the lane resumes after a pause at 90 % of the learned rate and, over the
//! first second after it, sends on average at most the learned rate.

use std::time::Duration;

use tokio::time::Instant;

/// Slowest adaptive pace: one request every two seconds.
pub const MIN_RATE: f64 = 0.5;
/// Resume at this share of the learned rate.
const RESUME: f64 = 0.9;
/// Hold at this share of the learned rate.
const HOLD: f64 = 0.98;
const RAMP: f64 = 2.0;
const HOLD_FOR: f64 = 20.0;
/// Probe after the hold, in shares of the learned rate: `PROBE·x + PROBE_CUBE·x³` after `x` s
/// (slow at first, so a bucket's burst absorbs it for a while; steep later, so a learned rate
/// that was too low, say measured while the client itself was slow, is left behind).
const PROBE: f64 = 0.004;
const PROBE_CUBE: f64 = 0.0001;
/// Slow start from an unsure rate: held this long (s), then this growth factor per second
/// (the first second after the pause averages at most the learned rate: 0.6 s at 0.9·learned,
/// 0.54, then ∫ 0.9·3^t over 0.4 s, 0.45).
const SLOW_HOLD: f64 = 0.6;
const SLOW_START: f64 = 3.0;

/// What a 429 at the end of a slow start measures: the accepted rate over this last stretch.
const SLOW_SPAN: Duration = Duration::from_millis(500);

/// One 429 episode lowers a measured learned rate to no less than this share of it.
const FLOOR: f64 = 0.5;
/// How far the bucket model may stray from the accepted rate (a factor either way).
const MODEL_BOUND: f64 = 1.25;
/// The bucket model reads the last this much of a stretch, sampled every `MODEL_STEP` s.
const MODEL_SPAN: Duration = Duration::from_secs(30);
const MODEL_STEP: f64 = 0.01;

/// Bins of the meter: 100 ms each, two seconds in all.
const BINS: u64 = 20;

/// Successes in 100 ms bins over the last two seconds.
#[derive(Debug)]
struct Meter {
    bins: [u32; BINS as usize],
    /// Index (100 ms ticks since `origin`) of the newest bin.
    head: u64,
    origin: Instant,
}

impl Meter {
    fn new(now: Instant) -> Self {
        Meter {
            bins: [0; BINS as usize],
            head: 0,
            origin: now,
        }
    }

    fn tick(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.origin).as_millis() / 100) as u64
    }

    fn advance(&mut self, now: Instant) {
        let tick = self.tick(now);
        let steps = tick.saturating_sub(self.head).min(BINS);
        for i in 1..=steps {
            self.bins[((self.head + i) % BINS) as usize] = 0;
        }
        self.head = self.head.max(tick);
    }

    fn is_empty(&self) -> bool {
        self.bins.iter().all(|b| *b == 0)
    }

    fn add(&mut self, now: Instant) {
        self.advance(now);
        self.bins[(self.head % BINS) as usize] += 1;
    }

    /// Successes over the last `span` (whole 100 ms bins, half a second to two) and the seconds
    /// they cover: the newest bin is still filling, so only the time it covers so far counts.
    fn accepted_over(&mut self, now: Instant, span: Duration) -> (f64, f64) {
        self.advance(now);
        let n = (span.as_millis() / 100).clamp(5, u128::from(BINS)) as u64;
        let sum: u32 = (0..n)
            .map(|i| self.bins[((self.head + BINS - i) % BINS) as usize])
            .sum();
        let into_head =
            now.saturating_duration_since(self.origin).as_secs_f64() - self.head as f64 / 10.0;
        let covered = (n - 1) as f64 / 10.0 + into_head.clamp(0.01, 0.1);
        (f64::from(sum), covered)
    }
}

/// The first stretch of a lane whose 429 came within a second.
#[derive(Debug, Clone, Copy)]
struct FirstBurst {
    accepted: f64,
    /// The rate the lane sent at (its ceiling).
    sent_at: f64,
}

impl FirstBurst {
    /// A bucket of rate `r` that let `accepted` through while the lane sent at `sent_at` held
    /// `accepted · (1 − r/sent_at)` when the stretch began (the rest was refilled during it).
    fn capacity(&self, r: f64) -> f64 {
        self.accepted * (1.0 - (r / self.sent_at).min(1.0))
    }
}

/// The adaptive part of a lane's pacer.
#[derive(Debug)]
pub struct Learner {
    ceiling: Option<f64>,
    /// The learned rate and whether it was measured over a full second.
    learned: Option<(f64, bool)>,
    /// Where the current stretch of sending begins (lane start or the end of the last pause).
    resumed: Instant,
    accepted_in_stretch: u64,
    /// What the provider let through in the first stretch, when its 429 came within a second
    /// (a token bucket's capacity, and its rate during the stretch); `Some(None)` once a first
    /// 429 came later.
    burst: Option<Option<FirstBurst>>,
    meter: Meter,
}

impl Learner {
    pub fn new(ceiling: Option<f64>, now: Instant) -> Self {
        Learner {
            ceiling,
            learned: None,
            resumed: now,
            accepted_in_stretch: 0,
            burst: None,
            meter: Meter::new(now),
        }
    }

    pub fn learned(&self) -> Option<f64> {
        self.learned.map(|(rate, _)| rate)
    }

    pub fn on_success(&mut self, now: Instant) {
        if self.learned.is_none() && self.meter.is_empty() {
            // The lane's first success: before it, the lane sent one request at a time (the
            // breaker's probe) or was refused, which says nothing about the provider's rate; the
            // first stretch starts here.
            self.resumed = now;
            self.accepted_in_stretch = 0;
        }
        self.meter.add(now);
        if now >= self.resumed {
            self.accepted_in_stretch += 1;
        }
    }

    /// A 429 for a request sent at `sent`; the lane is paused until `until`. Returns the newly
    /// learned rate, or `None` when this 429 belongs to an episode already accounted for.
    pub fn on_throttle(&mut self, sent: Instant, now: Instant, until: Instant) -> Option<f64> {
        if sent < self.resumed || now < self.resumed {
            return None;
        }
        let stretch = now.duration_since(self.resumed);
        let learned = match self.burst {
            // The first 429 came too soon to measure a rate; what got through is the burst.
            // Nothing got through yet: no rate to read, only that the start was too fast.
            None if stretch < Duration::from_secs(1) || self.accepted_in_stretch == 0 => {
                self.burst = Some(Some(FirstBurst {
                    accepted: self.accepted_in_stretch as f64,
                    sent_at: self.rate(now).or(self.ceiling).unwrap_or(f64::INFINITY),
                }));
                (self.unsure(now).max(MIN_RATE), false)
            }
            _ => {
                // In slow start the rate climbed through the last seconds: measure its end only.
                let slow_start = self.learned.is_some_and(|(_, sure)| !sure);
                let span = if slow_start { SLOW_SPAN } else { stretch };
                (self.measured(sent, now, span).max(MIN_RATE), true)
            }
        };
        self.burst.get_or_insert(None);
        self.learned = Some(learned);
        self.resumed = until.max(now);
        self.accepted_in_stretch = 0;
        Some(learned.0)
    }

    /// The provider's rate, read from this stretch. Against a token bucket of the capacity the
    /// first 429 revealed, the rate `r` at which the lane's own schedule exceeded `r` by exactly
    /// that burst before the request that got the 429 (the bucket was full when the stretch
    /// began: the pause refilled it); kept within `MODEL_BOUND` of the accepted rate over the
    /// last `span`, which is used alone when no burst was seen (a first 429 after a second) or
    /// the schedule never exceeded anything by the burst (a window's "burst" is all of it).
    fn measured(&mut self, sent: Instant, now: Instant, span: Duration) -> f64 {
        let (accepted, covered) = self.meter.accepted_over(now, span);
        let metered = accepted / covered;
        // A stretch shorter than the meter's window (a 429 soon after resuming) reads low: the
        // window reaches back into the pause, when nothing was sent. What the stretch itself
        // got through reads high (the pause refilled the bucket). The bucket model may range
        // between the two; without a model, the lane cuts to at most half its rate (`FLOOR`)
        // rather than believe a near-zero reading (which collapsed a lane to `MIN_RATE` in a
        // storm of 503s and timeouts).
        let stretch = now.saturating_duration_since(self.resumed).as_secs_f64();
        let upper = match stretch < covered {
            true => metered.max(self.accepted_in_stretch as f64 / stretch.max(0.1)),
            false => metered,
        };
        // Only a measured rate sets the floor: a first guess (unsure) may be far too high.
        let floor = match self.learned {
            Some((l, true)) => l * FLOOR,
            _ => MIN_RATE,
        };
        let rate = match self.bucket_rate(sent) {
            Some(r) => r.clamp(metered / MODEL_BOUND, upper * MODEL_BOUND),
            None => metered,
        };
        rate.max(floor)
    }

    /// Solves `∫ max(0, rate(t) − r) dt = burst(r)` over the stretch up to `sent` (its last
    /// `MODEL_SPAN`) for `r`, by bisection on 10 ms samples of the lane's schedule, a few rounds
    /// (the burst depends on the rate: see [`FirstBurst::capacity`]).
    fn bucket_rate(&self, sent: Instant) -> Option<f64> {
        let first = self.burst.flatten()?;
        let mut rate = self.learned()?;
        for _ in 0..3 {
            rate = self.bucket_rate_for(sent, first.capacity(rate))?;
        }
        Some(rate)
    }

    fn bucket_rate_for(&self, sent: Instant, burst: f64) -> Option<f64> {
        if burst < 1.0 {
            return None;
        }
        let span = sent.saturating_duration_since(self.resumed).min(MODEL_SPAN);
        let from = sent - span;
        let steps = (span.as_secs_f64() / MODEL_STEP).ceil() as u32;
        let rates: Vec<f64> = (0..steps)
            .map(|i| self.rate(from + Duration::from_secs_f64(f64::from(i) * MODEL_STEP)))
            .collect::<Option<_>>()?;
        let excess = |r: f64| rates.iter().map(|s| (s - r).max(0.0)).sum::<f64>() * MODEL_STEP;
        let (mut lo, mut hi) = (MIN_RATE, rates.iter().copied().fold(MIN_RATE, f64::max));
        if excess(lo) < burst {
            return None;
        }
        for _ in 0..40 {
            let mid = (lo + hi) / 2.0;
            match excess(mid) > burst {
                true => lo = mid,
                false => hi = mid,
            }
        }
        Some(lo)
    }

    /// A guess from a first stretch shorter than a second: between what was accepted in it (as
    /// if per second: a lower bound) and half the rate sent at, their geometric mean.
    fn unsure(&self, now: Instant) -> f64 {
        let sent_at = self.rate(now).or(self.ceiling).unwrap_or(0.0);
        let accepted = (self.accepted_in_stretch as f64).max(1.0);
        (accepted * sent_at / 2.0).sqrt().max(accepted)
    }

    /// The adaptive rate in force at `now`; `None` when only the ceiling applies.
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let (learned, sure) = self.learned?;
        let t = now.saturating_duration_since(self.resumed).as_secs_f64();
        let start = learned * RESUME;
        let rate = match sure {
            false if t <= SLOW_HOLD => start,
            false => start * SLOW_START.powf((t - SLOW_HOLD).min(30.0)),
            true if t < RAMP => start + (HOLD - RESUME) * learned * t / RAMP,
            true if t < RAMP + HOLD_FOR => HOLD * learned,
            true => {
                let x = t - RAMP - HOLD_FOR;
                learned * (HOLD + PROBE * x + PROBE_CUBE * x * x * x)
            }
        };
        let rate = rate.max(MIN_RATE);
        match self.ceiling {
            Some(c) => Some(rate.min(c)),
            None => Some(rate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A lane that got 100 successes/s for 3 s, then a 429 with a 1 s pause: the learner, the
    /// rate it learned (checked to be about 100/s) and the end of the pause.
    fn throttled_after_three_seconds_at_100(ceiling: Option<f64>) -> (Learner, f64, Instant) {
        let t0 = Instant::now();
        let mut l = Learner::new(ceiling, t0);
        assert_eq!(l.rate(t0), None, "no 429 yet: the ceiling only");
        for i in 0..300 {
            l.on_success(t0 + secs(f64::from(i) / 100.0));
        }
        let now = t0 + secs(3.0);
        let until = now + secs(1.0);
        let learned = l.on_throttle(now, now, until).unwrap();
        assert!((learned - 100.0).abs() <= 10.0, "{learned}");
        (l, learned, until)
    }

    #[tokio::test(start_paused = true)]
    async fn learns_the_accepted_rate_and_resumes_below_it() {
        let (mut l, learned, until) = throttled_after_three_seconds_at_100(Some(1000.0));
        let now = until - secs(1.0);
        assert_eq!(l.on_throttle(now, now, until), None, "same episode");
        let resume = l.rate(until).unwrap();
        assert!(resume <= learned * 0.91, "{resume}");
        let held = l.rate(until + secs(5.0)).unwrap();
        assert!((held - learned * HOLD).abs() < 1e-6);
        let probing = l.rate(until + secs(RAMP + HOLD_FOR + 10.0)).unwrap();
        assert!(probing > learned, "probes above after the hold: {probing}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_stretch_is_unsure_and_slow_starts() {
        let t0 = Instant::now();
        let mut l = Learner::new(Some(1000.0), t0);
        for _ in 0..20 {
            l.on_success(t0);
        }
        let now = t0 + secs(0.01);
        let learned = l.on_throttle(t0, now, now + secs(1.0)).unwrap();
        assert_eq!(learned, 100.0, "sqrt(20 accepted x 1000/s / 2)");
        let at = now + secs(1.0);
        assert_eq!(l.rate(at + secs(0.4)), Some(90.0), "held for 0.6 s");
        assert!(l.rate(at + secs(2.0)).unwrap() > 200.0);
        assert_eq!(
            l.rate(at + secs(20.0)),
            Some(1000.0),
            "never above the ceiling"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_soon_after_resuming_reads_the_stretch_not_the_pause() {
        let (mut l, learned, until) = throttled_after_three_seconds_at_100(None);
        // Resumed at 90 rows/s; 0.2 s later, after 18 successes, another 429.
        for i in 0..18 {
            l.on_success(until + secs(f64::from(i) / 90.0));
        }
        let soon = until + secs(0.2);
        let again = l.on_throttle(soon, soon, soon + secs(1.0)).unwrap();
        assert!(again >= learned * FLOOR, "{again} after {learned}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_of_a_request_sent_before_the_pause_is_ignored() {
        let t0 = Instant::now();
        let mut l = Learner::new(None, t0);
        let now = t0 + secs(2.0);
        l.on_throttle(now, now, now + secs(1.0)).unwrap();
        let later = now + secs(1.5);
        assert_eq!(l.on_throttle(now, later, later + secs(1.0)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_ending_a_slow_start_learns_what_its_last_half_second_got_through() {
        let t0 = Instant::now();
        let mut l = Learner::new(Some(1000.0), t0);
        let first = t0 + secs(0.01);
        l.on_throttle(t0, first, first + secs(1.0)).unwrap();
        // Slow start: 100/s for a second, then a bucket lets 200/s through for 0.6 s.
        let start = first + secs(1.0);
        for i in 0..100 {
            l.on_success(start + secs(f64::from(i) / 100.0));
        }
        for i in 0..120 {
            l.on_success(start + secs(1.0 + f64::from(i) / 200.0));
        }
        let now = start + secs(1.6);
        let learned = l.on_throttle(now, now, now + secs(1.0)).unwrap();
        assert!((learned - 200.0).abs() <= 12.0, "{learned}");
    }

    /// A token bucket (rate `r`, capacity `b`, whole-second `Retry-After`) against a lane with a
    /// 1000/s ceiling and zero latency: what share of `r` it gets over a minute, in how many
    /// 429 episodes.
    fn ride_bucket(r: f64, b: f64) -> (f64, u32) {
        let t0 = Instant::now();
        let mut l = Learner::new(Some(1000.0), t0);
        let (mut tokens, mut last, mut t) = (b, t0, t0);
        let (mut accepted, mut episodes) = (0u32, 0u32);
        let end = t0 + secs(60.0);
        while t < end {
            tokens = (tokens + t.duration_since(last).as_secs_f64() * r).min(b);
            last = t;
            if tokens >= 1.0 {
                tokens -= 1.0;
                accepted += 1;
                l.on_success(t);
                t += secs(1.0 / l.rate(t).unwrap_or(1000.0));
            } else {
                let wait = ((1.0 - tokens) / r).ceil().max(1.0);
                let until = t + secs(wait);
                if l.on_throttle(t, t, until).is_some() {
                    episodes += 1;
                }
                t = until;
            }
        }
        (f64::from(accepted) / 60.0 / r, episodes)
    }

    #[tokio::test(start_paused = true)]
    async fn rides_an_unannounced_token_bucket_at_90_percent_or_more() {
        for r in [20.0, 50.0, 200.0, 1000.0 / 3.0] {
            let (share, episodes) = ride_bucket(r, 10.0);
            assert!(share >= 0.9, "{r}/s: {share:.3} in {episodes} episodes");
            assert!(episodes <= 4, "{r}/s: {share:.3} in {episodes} episodes");
        }
    }
}
