//! Request pacing: a slot scheduler (GCRA) at the lane's rate, below it the learned rate.
//!
//! The scheduler keeps a theoretical arrival time (`tat`): each request takes the slot `tat` and
//! moves it on by one interval. It never restarts from `now` unless the lane fell behind by more
//! than its tolerance (`burst - 1` intervals, at least `LAG`), so a wake-up that overshoots its
//! slot (timer resolution, a busy core) is made up by the next slot instead of being lost: the
//! achieved rate is the configured one. The interval is that of the lower of the ceiling
//! (`--rate`) and the adaptive rate ([`Learner`]).
//!
//! Workers take their slots one at a time, each when the previous slot has come (a fair async
//! queue): a slot is never reserved at an old pace, so a change of rate (a 429, a slow start
//! doubling) applies to the very next request, not after 64 slots already handed out.
//!
//! Invariants: every request a worker sends first takes a slot here, so a provider sees at most
//! the rate in force plus the burst; after a `Retry-After` pause no slot lies before the pause's
//! end and the tolerance gives no credit for the paused time, so waiting workers leave one by
//! one at the learned pace, never as a herd; each lane has its own pacer (a 429 of one provider
//! never slows another).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::learn::Learner;
use crate::values::Rate;

/// The least catch-up tolerance: a late wake-up of up to this much is made up for.
const LAG: Duration = Duration::from_millis(2);

/// Sleeps until `slot` unless it has come (a timer would round a past slot up to its next tick).
async fn sleep_until(slot: Instant) {
    if slot > Instant::now() {
        tokio::time::sleep_until(slot).await;
    }
}

/// A lane's pacer.
#[derive(Debug)]
pub struct Pacer {
    ceiling: Option<f64>,
    burst: u32,
    state: Mutex<State>,
    /// Whose turn it is to take a slot of `ready` and of `release` (FIFO).
    ready_turn: tokio::sync::Mutex<()>,
    release_turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    tat: Instant,
    /// The release scheduler's arrival time (see [`Pacer::release`]).
    release_tat: Instant,
    /// No credit for time before this instant (the end of the last pause).
    floor: Instant,
    learner: Learner,
    throttled: u64,
}

impl Pacer {
    pub fn new(rate: Rate, burst: u32) -> Pacer {
        let now = Instant::now();
        let ceiling = rate.per_second();
        Pacer {
            ceiling,
            burst: burst.max(1),
            state: Mutex::new(State {
                tat: now,
                release_tat: now,
                floor: now,
                learner: Learner::new(ceiling, now),
                throttled: 0,
            }),
            ready_turn: tokio::sync::Mutex::new(()),
            release_turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits until one more request may leave.
    pub async fn ready(&self) {
        if !self.limited() {
            return;
        }
        let _turn = self.ready_turn.lock().await;
        if let Some(slot) = self.take_slot(Instant::now()) {
            sleep_until(slot).await;
        }
    }

    /// Whether a rate applies (a ceiling, or a learned rate after a 429).
    fn limited(&self) -> bool {
        self.ceiling.is_some() || self.lock().learner.learned().is_some()
    }

    /// Waits until the request, its intent written, may go on the wire: the journal's group
    /// commit finishes a batch of intents at once, and this spaces their sends out again at the
    /// same rate (a second scheduler that only undoes bunching, it never lowers the rate).
    pub async fn release(&self) {
        if !self.limited() {
            return;
        }
        let _turn = self.release_turn.lock().await;
        let slot = {
            let mut s = self.lock();
            let now = Instant::now();
            let tat = s.release_tat;
            self.slot(&mut s, now, tat).map(|(slot, next)| {
                s.release_tat = next;
                slot
            })
        };
        if let Some(slot) = slot {
            sleep_until(slot).await;
        }
    }

    /// Reserves the next slot; `None` when nothing limits the lane.
    fn take_slot(&self, now: Instant) -> Option<Instant> {
        let mut s = self.lock();
        let tat = s.tat;
        let (slot, next) = self.slot(&mut s, now, tat)?;
        s.tat = next;
        Some(slot)
    }

    /// GCRA: the slot for a scheduler at `tat`, and its next `tat`.
    fn slot(&self, s: &mut State, now: Instant, tat: Instant) -> Option<(Instant, Instant)> {
        let rate = s.learner.rate(now).or(self.ceiling)?;
        let interval = Duration::from_secs_f64(1.0 / rate);
        let tolerance = (interval * (self.burst - 1)).max(LAG);
        let earliest = now.checked_sub(tolerance).unwrap_or(now).max(s.floor);
        let slot = tat.max(earliest);
        Some((slot, slot + interval))
    }

    /// The lane is paused until `until` (a `Retry-After`): no slot before it, no credit for it.
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        s.tat = s.tat.max(until);
        s.release_tat = s.release_tat.max(until);
        s.floor = s.floor.max(until);
    }

    /// A 429 answered a request sent at `sent`; the lane is paused until `until`.
    pub fn on_throttle(&self, sent: Instant, until: Instant) {
        self.pause_until(until);
        let learned = {
            let mut s = self.lock();
            s.throttled += 1;
            s.learner.on_throttle(sent, Instant::now(), until)
        };
        if let Some(rate) = learned {
            tracing::info!(
                learned = format!("{rate:.1}/s"),
                "provider throttled; resuming below the rate it accepted"
            );
        }
    }

    /// A request succeeded.
    pub fn on_success(&self) {
        self.lock().learner.on_success(Instant::now());
    }

    /// The learned rate (what the provider accepted before its last 429), if it throttled.
    pub fn learned_rate(&self) -> Option<f64> {
        self.lock().learner.learned()
    }

    /// 429 answers that paused the lane.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    /// The adaptive rate now in force, if the provider has throttled.
    #[cfg(test)]
    pub fn adaptive_rate(&self) -> Option<f64> {
        self.lock().learner.rate(Instant::now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    async fn slots_keep_their_times_so_late_wakeups_are_made_up() {
        let p = Pacer::new(Rate::PerSecond(200), 1);
        let start = Instant::now();
        for _ in 0..1000 {
            p.ready().await;
            // A wake-up that overshoots by 1 ms (under LAG): the next slot is not pushed back.
            tokio::time::advance(Duration::from_micros(1000)).await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!(
            (took - 5.0).abs() < 0.05,
            "1000 slots at 200/s took {took}s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_pause_requests_leave_one_by_one() {
        let p = Pacer::new(Rate::PerSecond(1000), 1);
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs(1);
        p.on_throttle(t0, until);
        let rate = p.learned_rate().unwrap();
        let mut slots = Vec::new();
        for _ in 0..5 {
            slots.push(p.take_slot(until).unwrap());
        }
        assert!(slots[0] >= until);
        for w in slots.windows(2) {
            let gap = w[1].duration_since(w[0]).as_secs_f64();
            assert!(gap >= 0.99 / rate, "a herd: {gap}s apart at {rate}/s");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_and_unthrottled_does_not_wait() {
        let p = Pacer::new(Rate::Unlimited, 1);
        assert_eq!(p.take_slot(Instant::now()), None);
        assert_eq!(p.adaptive_rate(), None);
    }
}
