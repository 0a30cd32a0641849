//! Wire helpers for the non-Graph route families (PingOne, Wristband, Keycloak, Okta, Auth0): a
//! JSON error answer as data, the write chain's faults (429 with `Retry-After`, 503; Okta and
//! Auth0 throttle with their own headers instead, see `ratelimit`), and the per-write counting
//! every family does the same way.
//!
//! Each family words its errors as its own documentation does; this module only carries the
//! status, body and headers. Invariant: every write is counted in its family's per-second series
//! before anything is decided, and a 429 also in the throttled series.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::state::Shared;
use super::{faults, observe};

/// An error answer of a non-Graph family.
#[derive(Debug)]
pub(crate) struct PlainError {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl PlainError {
    pub(crate) fn new(status: StatusCode, body: Value) -> Self {
        PlainError {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    fn render(self) -> Response {
        super::graph_wire::json_response(self.status, &self.body, self.headers)
    }
}

/// Which fault the write chain hit.
#[derive(Debug)]
pub(crate) enum Fault {
    /// 429: carry this `Retry-After`.
    Throttled(HeaderValue),
    /// 503 from `error_ratio`.
    Unavailable,
}

/// The family's bucket (429), then the error ratio (503), as for Graph writes (see `faults`).
pub(crate) fn gate(sb: &Shared, family: &'static str) -> Result<(), Fault> {
    if let Err(wait) = sb.take_token(family) {
        let value = faults::retry_after_header(wait, sb.opts.faults.retry_after_http_date);
        return Err(Fault::Throttled(value));
    }
    if sb.error_due() {
        return Err(Fault::Unavailable);
    }
    Ok(())
}

/// How a family words the answers of the shared part of the chain.
pub(crate) struct Chain {
    pub(crate) family: &'static str,
    pub(crate) unauthorized: fn() -> PlainError,
    pub(crate) throttled: fn() -> PlainError,
    pub(crate) unavailable: fn() -> PlainError,
}

/// The shared part of a write's chain: credential (`authed`), then the family's bucket (429
/// with `Retry-After`) and the error ratio (503).
pub(crate) fn admit(sb: &Shared, authed: bool, chain: &Chain) -> Result<(), PlainError> {
    if !authed {
        return Err((chain.unauthorized)());
    }
    gate(sb, chain.family).map_err(|f| match f {
        Fault::Throttled(after) => (chain.throttled)().with_header(header::RETRY_AFTER, after),
        Fault::Unavailable => (chain.unavailable)(),
    })
}

/// Counts a write of `family`, runs `decide`, renders its error, may drop the answer.
pub(crate) fn write(
    sb: &Shared,
    family: &'static str,
    decide: impl FnOnce() -> Result<Response, PlainError>,
) -> Response {
    let second = sb.second_now();
    sb.counters().reset_arrived(family, second);
    let mut resp = decide().unwrap_or_else(|e| {
        if e.status == StatusCode::TOO_MANY_REQUESTS {
            sb.counters().throttled(family, second);
        }
        e.render()
    });
    observe::maybe_drop(sb, &mut resp);
    resp
}
