//! Middleware wrapped around every provider (API) route, and the API fallback.
//!
//! Per request, in this order: count it in flight (peak concurrency), give it request ids, run
//! the handler, count the status, add the latency fault, stamp the id headers, and cut the
//! connection if the handler asked for it ([`DropConnection`]). `/_sandbox/*` routes are not
//! wrapped: watching the sandbox must not change what it measures.
//!
//! Latency is added *after* the handler on purpose: the server decides (and counts the request
//! in its arrival second) at once, and the client waits for the answer, as with a slow network
//! or a slow front end. A client that times out meanwhile is left not knowing the outcome,
//! which is the case the client's journal exists for.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::graph_wire::{GraphError, RequestIds};
use super::net::KillSwitch;
use super::state::Shared;
use super::{faults, random};

/// Response extension: lose this response by closing the connection instead of sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

pub(crate) async fn observe(
    State(sb): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let _in_flight = sb.in_flight.enter();
    let ids = RequestIds::from_request(req.headers());
    req.extensions_mut().insert(ids.clone());
    let switch = req
        .extensions()
        .get::<ConnectInfo<KillSwitch>>()
        .map(|c| c.0.clone());

    let mut resp = next.run(req).await;
    sb.counters().response(resp.status());

    let slow = resp
        .extensions()
        .get::<super::hostile::SlowAnswer>()
        .map_or(std::time::Duration::ZERO, |s| s.0);
    let delay = faults::response_delay(&sb.opts.faults) + slow;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    ids.stamp(resp.headers_mut());
    if resp.extensions().get::<DropConnection>().is_some() {
        if let Some(switch) = switch {
            sb.counters().dropped();
            switch.kill();
        }
    }
    resp
}

/// Marks `resp` to be dropped with probability `drop_ratio`.
pub(crate) fn maybe_drop(sb: &Shared, resp: &mut Response) {
    if random::roll(sb.opts.faults.drop_ratio) {
        resp.extensions_mut().insert(DropConnection);
    }
}

/// Any API path the sandbox does not serve: a Graph-shaped 404 that names the route, so a
/// mistyped base URL or path is obvious from the client's error message.
pub(crate) async fn fallback(
    ids: Option<axum::Extension<RequestIds>>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    let ids = ids.map_or_else(|| RequestIds::from_request(&headers), |e| e.0);
    let message = format!("The sandbox does not serve {method} {}.", uri.path());
    GraphError::new(StatusCode::NOT_FOUND, "UnknownRoute", message).render(&ids)
}
