//! Request counters behind `GET /_sandbox/stats`: statuses, per-second reset arrivals,
//! throttles, polls, dropped connections, and in-flight concurrency.
//!
//! Invariants: `reset_series` and `throttled_series` always have the same length (index = whole
//! second since the sandbox started); every throttled request was also counted as a reset
//! arrival in the same second, so `throttled_series[i] <= reset_series[i]`. The same holds per
//! route family (`graph`, `pingone`, `wristband`, `keycloak`): every write is counted both in the
//! totals and in its family's series, and so is every request inside an announced `Retry-After`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use serde_json::{json, Value};

#[derive(Debug, Default)]
pub(crate) struct Counters {
    by_status: BTreeMap<u16, u64>,
    reset_series: Vec<u64>,
    throttled_series: Vec<u64>,
    first_throttle_second: Option<usize>,
    families: BTreeMap<&'static str, Series>,
    polls_total: u64,
    polls_throttled: u64,
    dropped_total: u64,
    inside_retry_after: u64,
    in_flight_after_429: u64,
    /// Wall-clock arrival of the first and the last write (Unix ms): benchmarks compare them
    /// with the client process's own start and exit.
    first_write_unix_ms: Option<u128>,
    last_write_unix_ms: Option<u128>,
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

impl Counters {
    /// One API response left the handlers with `status` (counted before any latency fault, so a
    /// client that gives up during the delay is still counted).
    pub(crate) fn response(&mut self, status: StatusCode) {
        *self.by_status.entry(status.as_u16()).or_default() += 1;
    }

    /// A write (reset, revoke) of route `family` reached the server in `second`, whatever its
    /// answer will be.
    pub(crate) fn reset_arrived(&mut self, family: &'static str, second: usize) {
        self.cover(second);
        self.reset_series[second] += 1;
        let now = unix_ms();
        self.first_write_unix_ms.get_or_insert(now);
        self.last_write_unix_ms = Some(now);
        self.families.entry(family).or_default().arrived(second);
    }

    /// A write of `family` that arrived in `second` was answered 429.
    pub(crate) fn throttled(&mut self, family: &'static str, second: usize) {
        self.cover(second);
        self.throttled_series[second] += 1;
        self.first_throttle_second.get_or_insert(second);
        self.families.entry(family).or_default().throttled(second);
    }

    /// Grows both series together so they stay aligned.
    fn cover(&mut self, second: usize) {
        if self.reset_series.len() <= second {
            self.reset_series.resize(second + 1, 0);
            self.throttled_series.resize(second + 1, 0);
        }
    }

    pub(crate) fn poll(&mut self) {
        self.polls_total += 1;
    }

    /// An operation poll was answered 429.
    pub(crate) fn poll_throttled(&mut self) {
        self.polls_throttled += 1;
    }

    /// A request of `family` came inside a `Retry-After` window announced to it (`limits`).
    pub(crate) fn inside_retry_after(&mut self, family: &'static str) {
        self.inside_retry_after += 1;
        self.families.entry(family).or_default().inside_retry_after += 1;
    }

    /// A request of `family` came after a 429 was decided but before its window opened.
    pub(crate) fn in_flight_after_429(&mut self, family: &'static str) {
        self.in_flight_after_429 += 1;
        self.families.entry(family).or_default().in_flight_after_429 += 1;
    }

    pub(crate) fn dropped(&mut self) {
        self.dropped_total += 1;
    }

    /// The request-side fields of the stats document (see the module docs of `sandbox`).
    pub(crate) fn snapshot(&self) -> Value {
        let by_status: BTreeMap<String, u64> = self
            .by_status
            .iter()
            .map(|(status, n)| (status.to_string(), *n))
            .collect();
        json!({
            "requests_total": self.by_status.values().sum::<u64>(),
            "requests_by_status": by_status,
            "reset_requests_total": self.reset_series.iter().sum::<u64>(),
            "peak_rps": self.reset_series.iter().copied().max().unwrap_or(0),
            "rps_series": self.reset_series,
            "throttled_series": self.throttled_series,
            "first_throttle_second": self.first_throttle_second,
            "polls_total": self.polls_total,
            "polls_throttled": self.polls_throttled,
            "dropped_total": self.dropped_total,
            "inside_retry_after": self.inside_retry_after,
            "in_flight_after_429": self.in_flight_after_429,
            "first_write_unix_ms": self.first_write_unix_ms,
            "last_write_unix_ms": self.last_write_unix_ms,
            "families": self.families.iter().map(|(k, v)| (*k, v.snapshot())).collect::<BTreeMap<_, _>>(),
        })
    }
}

/// One route family's writes per second and 429s per second (always the same length).
#[derive(Debug, Default)]
struct Series {
    writes: Vec<u64>,
    throttled: Vec<u64>,
    inside_retry_after: u64,
    in_flight_after_429: u64,
}

impl Series {
    fn cover(&mut self, second: usize) {
        if self.writes.len() <= second {
            self.writes.resize(second + 1, 0);
            self.throttled.resize(second + 1, 0);
        }
    }

    fn arrived(&mut self, second: usize) {
        self.cover(second);
        self.writes[second] += 1;
    }

    fn throttled(&mut self, second: usize) {
        self.cover(second);
        self.throttled[second] += 1;
    }

    fn snapshot(&self) -> Value {
        json!({
            "requests": self.writes.iter().sum::<u64>(),
            "peak_rps": self.writes.iter().copied().max().unwrap_or(0),
            "rps_series": self.writes,
            "throttled_series": self.throttled,
            "inside_retry_after": self.inside_retry_after,
            "in_flight_after_429": self.in_flight_after_429,
        })
    }
}

/// In-flight API requests and the highest number ever seen at once. Lock-free, since every API
/// request touches it twice.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    /// Counts a request in; it is counted out when the guard drops (also when the client hangs up
    /// and the request future is dropped mid-way).
    pub(crate) fn enter(&self) -> InFlightGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlightGuard(self)
    }

    pub(crate) fn current(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

pub(crate) struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_stay_aligned() {
        let mut c = Counters::default();
        c.reset_arrived("graph", 0);
        c.reset_arrived("pingone", 3);
        c.throttled("pingone", 3);
        c.throttled("graph", 5); // without arrival: still aligned
        let s = c.snapshot();
        assert_eq!(s["rps_series"], json!([1, 0, 0, 1, 0, 0]));
        assert_eq!(s["throttled_series"], json!([0, 0, 0, 1, 0, 1]));
        assert_eq!(s["first_throttle_second"], json!(3));
        assert_eq!(s["peak_rps"], json!(1));
        assert_eq!(s["families"]["pingone"]["rps_series"], json!([0, 0, 0, 1]));
        assert_eq!(
            s["families"]["graph"]["throttled_series"],
            json!([0, 0, 0, 0, 0, 1])
        );
        assert_eq!(s["families"]["graph"]["requests"], json!(1));
    }

    #[test]
    fn in_flight_peak() {
        let f = InFlight::default();
        {
            let _a = f.enter();
            let _b = f.enter();
            assert_eq!(f.current(), 2);
        }
        let _c = f.enter();
        assert_eq!((f.current(), f.peak()), (1, 2));
    }
}
