//! The circuit breaker of one lane: it watches every answer to a reset request and trips when
//! sending more would only burn the manifest — a run of authentication/authorization refusals
//! (a wrong or expired credential, a missing permission) or a failure ratio over a sliding window
//! of recent requests (the provider is in trouble).
//!
//! Until the provider has answered anything but 401/403 (its credential is proven), a lane has
//! one request in flight at a time ([`Breaker::admit`]), so a credential that is wrong from the
//! start costs exactly `max_auth_failures` requests whatever the concurrency.
//!
//! Invariants: a 429 is neither a failure nor a success here (throttling is the pacer's job);
//! the breaker trips at most once and then stays open, so the cause is named once; the window
//! check waits for a minimum sample so that a few unlucky first answers do not stop a run; it
//! only decides — stopping the run is the [`super::Halt`]'s job.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::provider::Attempt;
pub use crate::values::BreakerSettings;

/// Requests in the sliding window of the failure-ratio check.
pub const WINDOW: usize = 100;
/// Requests the window must hold before its ratio counts (a 5 % failure rate then trips a 20 %
/// breaker with a chance far below one in a million per window).
pub const MIN_SAMPLE: usize = 50;

/// Why a breaker tripped: one line an operator can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub lane: String,
    pub cause: String,
}

/// One lane's breaker.
#[derive(Debug)]
pub struct Breaker {
    lane: String,
    settings: BreakerSettings,
    state: Mutex<State>,
    /// The provider answered something other than 401/403: its credential is accepted.
    proven: AtomicBool,
    /// One request at a time until `proven`.
    probe: Semaphore,
}

#[derive(Debug, Default)]
struct State {
    consecutive_auth: u32,
    /// Recent answers: `Some(label)` for a failure, `None` for a success.
    window: VecDeque<Option<String>>,
    tripped: bool,
}

impl Breaker {
    pub fn new(lane: &str, settings: BreakerSettings) -> Breaker {
        Breaker {
            lane: lane.to_owned(),
            settings,
            state: Mutex::default(),
            proven: AtomicBool::new(settings.max_auth_failures == 0),
            probe: Semaphore::new(1),
        }
    }

    /// Waits until a request may leave: at once once the credential is proven, else when no
    /// other request of the lane is in flight (hold the permit until the answer is observed).
    pub async fn admit(&self) -> Option<SemaphorePermit<'_>> {
        if self.proven.load(Ordering::Acquire) {
            return None;
        }
        let permit = self.probe.acquire().await.ok();
        match self.proven.load(Ordering::Acquire) {
            true => None,
            false => permit,
        }
    }

    /// Accounts for one answer; `Some` the one time the breaker trips.
    pub fn observe(&self, answer: &Attempt) -> Option<Trip> {
        if answer.is_throttle() {
            return None;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.tripped {
            return None;
        }
        let label = answer.failure().map(label);
        let auth = answer
            .failure()
            .is_some_and(|f| matches!(f.http_status, Some(401 | 403)));
        s.consecutive_auth = if auth { s.consecutive_auth + 1 } else { 0 };
        if !auth {
            self.proven.store(true, Ordering::Release);
        }
        s.window.push_back(label.clone());
        if s.window.len() > WINDOW {
            s.window.pop_front();
        }
        let cause = self
            .auth_cause(&s, label.as_deref())
            .or_else(|| self.rate_cause(&s))?;
        s.tripped = true;
        Some(Trip {
            lane: self.lane.clone(),
            cause,
        })
    }

    /// The cause, when the run of auth refusals is long enough.
    fn auth_cause(&self, s: &State, label: Option<&str>) -> Option<String> {
        let max = self.settings.max_auth_failures;
        if max == 0 || s.consecutive_auth < max {
            return None;
        }
        let label = label.unwrap_or("refusal");
        let hint = if label.starts_with("401") {
            "check the credential (wrong, expired or for another tenant?)"
        } else {
            "check the credential's permissions and roles"
        };
        Some(format!(
            "{} consecutive {label} from {}: {hint}",
            s.consecutive_auth, self.lane
        ))
    }

    fn rate_cause(&self, s: &State) -> Option<String> {
        let max = self.settings.max_failure_rate;
        if s.window.len() < MIN_SAMPLE || max >= 1.0 {
            return None;
        }
        let failed = s.window.iter().filter(|l| l.is_some()).count();
        let ratio = failed as f64 / s.window.len() as f64;
        if ratio <= max {
            return None;
        }
        Some(format!(
            "{failed} of the last {} requests to {} failed ({:.0} % > --max-failure-rate {:.0} %), most often {}: the provider may be in trouble; wait for it to recover",
            s.window.len(),
            self.lane,
            ratio * 100.0,
            max * 100.0,
            most_common(&s.window)
        ))
    }
}

/// `401 InvalidAuthenticationToken`: the status and the provider's code.
fn label(f: &crate::provider::Failure) -> String {
    match f.http_status {
        Some(status) => format!("{status} {}", f.code),
        None => f.code.clone(),
    }
}

fn most_common(window: &VecDeque<Option<String>>) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for l in window.iter().flatten() {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(l, _)| l.to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Applied, Failure, Success};

    fn refused(status: u16, code: &str) -> Attempt {
        Attempt::NotApplied(Failure {
            http_status: Some(status),
            code: code.into(),
            ..Failure::default()
        })
    }

    fn transient(status: u16) -> Attempt {
        Attempt::Transient {
            retry_after: None,
            failure: Failure {
                http_status: Some(status),
                code: "serviceUnavailable".into(),
                ..Failure::default()
            },
            applied: Applied::No,
        }
    }

    fn ok() -> Attempt {
        Attempt::Succeeded(Success::default())
    }

    #[test]
    fn trips_once_after_n_consecutive_auth_refusals() {
        let b = Breaker::new("graph", BreakerSettings::default());
        let bad = refused(401, "InvalidAuthenticationToken");
        for _ in 0..4 {
            assert_eq!(b.observe(&bad), None);
        }
        let trip = b.observe(&bad).expect("fifth 401 trips");
        assert_eq!(
            trip.cause,
            "5 consecutive 401 InvalidAuthenticationToken from graph: check the credential (wrong, expired or for another tenant?)"
        );
        assert_eq!(b.observe(&bad), None, "named once");
    }

    #[tokio::test]
    async fn one_request_at_a_time_until_the_credential_is_proven() {
        let b = Breaker::new("graph", BreakerSettings::default());
        let first = b.admit().await.expect("unproven: a permit");
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), b.admit());
        assert!(second.await.is_err(), "a second request waits");
        b.observe(&refused(401, "InvalidAuthenticationToken"));
        assert!(!b.proven.load(Ordering::Acquire));
        drop(first);
        let next = b.admit().await.expect("still unproven");
        b.observe(&refused(404, "Request_ResourceNotFound"));
        drop(next);
        assert!(b.admit().await.is_none(), "proven: no waiting");
    }

    #[test]
    fn a_success_or_another_answer_breaks_the_run_and_429s_do_not_count() {
        let only_auth = BreakerSettings {
            max_failure_rate: 1.0,
            ..BreakerSettings::default()
        };
        let b = Breaker::new("g", only_auth);
        let bad = refused(403, "Authorization_RequestDenied");
        for round in 0..10 {
            for _ in 0..4 {
                assert_eq!(b.observe(&bad), None);
            }
            let other = if round % 2 == 0 {
                ok()
            } else {
                refused(404, "x")
            };
            assert_eq!(b.observe(&transient(429)), None);
            assert_eq!(b.observe(&other), None);
        }
        let off = Breaker::new(
            "g",
            BreakerSettings {
                max_auth_failures: 0,
                max_failure_rate: 1.0,
            },
        );
        assert!((0..500).all(|_| off.observe(&bad).is_none()));
    }

    #[test]
    fn the_window_trips_past_the_ratio_after_the_minimum_sample() {
        let b = Breaker::new("ping", BreakerSettings::default());
        // 1 in 3 fails: above 20 %, but not before MIN_SAMPLE requests.
        let mut tripped_at = None;
        for i in 1..=200 {
            let answer = if i % 3 == 0 { transient(503) } else { ok() };
            if let Some(trip) = b.observe(&answer) {
                tripped_at = Some((i, trip));
                break;
            }
        }
        let (i, trip) = tripped_at.expect("trips");
        assert_eq!(i, MIN_SAMPLE, "{trip:?}");
        assert!(
            trip.cause
                .starts_with("16 of the last 50 requests to ping failed")
                && trip.cause.contains("503 serviceUnavailable"),
            "{}",
            trip.cause
        );
        // 1 in 10 never trips.
        let calm = Breaker::new("ping", BreakerSettings::default());
        assert!((1..=1000).all(|i| calm
            .observe(&if i % 10 == 0 { transient(503) } else { ok() })
            .is_none()));
    }
}
