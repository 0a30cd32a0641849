//! Rate limits answered the way Okta and Auth0 document them: no `Retry-After`, but on every
//! answer the limit, what remains of it and when it resets, as epoch seconds (Okta's
//! `X-Rate-Limit-Limit/-Remaining/-Reset`, Auth0's `x-ratelimit-limit/-remaining/-reset`), and
//! a 429 once the window is spent. A window is fixed: `Options::reset_limits[family]` requests,
//! refilled whole at each reset (which falls on a whole second, `window` after the window began).
//! The family's token bucket (`faults.throttle`, `family_throttle`) throttles with the same
//! headers, its reset being when the next token is due, rounded up to the second.
//!
//! The sandbox also watches whether clients honour the hint: every 429 announces a reset time,
//! and a request of the family that arrives before the latest announced reset is counted in
//! `early_requests` (with concurrency 1, a client that waits as told has none).
//! `GET /_sandbox/ratelimits`: `{"okta": {"limit", "window_seconds", "requests", "throttled",
//! "early_requests", "last_announced_reset"}, ...}` for every family that has a limit or was
//! throttled.
//!
//! Invariants: the lock is never held across an `.await`; `remaining <= limit`; an announced
//! reset never moves earlier.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::plain_wire::PlainError;
use super::state::Shared;
use super::{Options, WindowLimit};

/// The header names of one provider.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names {
    pub(crate) limit: &'static str,
    pub(crate) remaining: &'static str,
    pub(crate) reset: &'static str,
}

/// What a request found: the window's numbers, for the headers of its answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    limit: u32,
    remaining: u32,
    /// Epoch seconds.
    reset: u64,
}

impl Window {
    pub(crate) fn headers(&self, names: Names) -> Vec<(HeaderName, HeaderValue)> {
        [
            (names.limit, u64::from(self.limit)),
            (names.remaining, u64::from(self.remaining)),
            (names.reset, self.reset),
        ]
        .into_iter()
        .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from(v)))
        .collect()
    }
}

#[derive(Debug, Default)]
struct Family {
    spec: Option<WindowLimit>,
    count: u32,
    reset: u64,
    requests: u64,
    throttled: u64,
    early: u64,
    announced: Option<u64>,
}

/// Every family's window, shared by its routes.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    specs: BTreeMap<String, WindowLimit>,
    families: Mutex<BTreeMap<&'static str, Family>>,
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Limits {
    pub(crate) fn new(opts: &Options) -> Limits {
        Limits {
            specs: opts.reset_limits.clone(),
            families: Mutex::default(),
        }
    }

    fn with<T>(&self, family: &'static str, f: impl FnOnce(&mut Family) -> T) -> T {
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = families.entry(family).or_insert_with(|| Family {
            spec: self.specs.get(family).copied(),
            ..Family::default()
        });
        f(entry)
    }

    /// Counts an arrival of `family` (early if before the latest announced reset).
    pub(crate) fn arrive(&self, family: &'static str) {
        let now = epoch(SystemTime::now());
        self.with(family, |f| {
            f.requests += 1;
            if f.announced.is_some_and(|reset| now < reset as f64) {
                f.early += 1;
            }
        });
    }

    /// Takes one request from `family`'s window: `Ok` with its numbers (`None` without a
    /// limit), `Err` with them when it is spent (the 429 is announced).
    pub(crate) fn take(&self, family: &'static str) -> Result<Option<Window>, Window> {
        let now = epoch(SystemTime::now());
        self.with(family, |f| {
            let Some(spec) = f.spec else { return Ok(None) };
            if now >= f.reset as f64 {
                f.count = 0;
                f.reset = now.ceil() as u64 + spec.window.as_secs().max(1);
            }
            let window = |count: u32| Window {
                limit: spec.limit,
                remaining: spec.limit.saturating_sub(count),
                reset: f.reset,
            };
            if f.count < spec.limit {
                f.count += 1;
                return Ok(Some(window(f.count)));
            }
            let spent = window(f.count);
            announce(f, spent.reset);
            Err(spent)
        })
    }

    /// The token bucket said `wait`: a spent window resetting then (rounded up), announced.
    pub(crate) fn bucket_throttled(&self, family: &'static str, wait: Duration) -> Window {
        let reset = epoch(SystemTime::now() + wait).ceil() as u64;
        self.with(family, |f| {
            announce(f, reset);
            Window {
                limit: f.spec.map_or(0, |s| s.limit),
                remaining: 0,
                reset,
            }
        })
    }

    fn snapshot(&self) -> Value {
        let families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let doc: serde_json::Map<String, Value> = families
            .iter()
            .filter(|(_, f)| f.spec.is_some() || f.throttled > 0)
            .map(|(name, f)| {
                let v = json!({
                    "limit": f.spec.map(|s| s.limit),
                    "window_seconds": f.spec.map(|s| s.window.as_secs()),
                    "requests": f.requests,
                    "throttled": f.throttled,
                    "early_requests": f.early,
                    "last_announced_reset": f.announced,
                });
                ((*name).to_owned(), v)
            })
            .collect();
        Value::Object(doc)
    }
}

fn announce(f: &mut Family, reset: u64) {
    f.throttled += 1;
    f.announced = Some(f.announced.map_or(reset, |a| a.max(reset)));
}

/// Window first, then the family's token bucket, then the error ratio: `Ok(window)`, or the
/// throttle (`Err(Some(window))`) or 503 (`Err(None)`) the request meets.
pub(crate) fn admit(
    sb: &Shared,
    limits: &Limits,
    family: &'static str,
) -> Result<Option<Window>, Option<Window>> {
    let window = limits.take(family).map_err(Some)?;
    if let Err(wait) = sb.take_token(family) {
        return Err(Some(limits.bucket_throttled(family, wait)));
    }
    if sb.error_due() {
        return Err(None);
    }
    Ok(window)
}

pub(crate) fn routes(limits: Arc<Limits>) -> Router<Arc<Shared>> {
    Router::new().route(
        "/_sandbox/ratelimits",
        get(move |State(_): State<Arc<Shared>>| {
            let limits = limits.clone();
            async move { Json(limits.snapshot()) }
        }),
    )
}

/// Puts the window's headers on an answer, success or error.
pub(crate) fn stamp(
    answer: Result<Response, PlainError>,
    window: Option<Window>,
    names: Names,
) -> Result<Response, PlainError> {
    let Some(window) = window else {
        return answer;
    };
    let headers = window.headers(names);
    match answer {
        Ok(mut resp) => {
            resp.headers_mut().extend(headers);
            Ok(resp)
        }
        Err(e) => Err(headers
            .into_iter()
            .fold(e, |e, (name, value)| e.with_header(name, value))),
    }
}
