//! Hostile answers: a provider (or the proxy in front of it) that applies the password and then
//! answers badly, or redirects the request elsewhere. They rehearse the client's ambiguity rule
//! (docs/DESIGN.md §4.4) with server-side truth: the password really changed, whatever was answered.
//!
//! Invariants: a redirect never changes a password (a redirecting front end does not forward the
//! request); every other odd answer comes after the password was applied (at once, or through an
//! operation that falls due as usual); the trap listener that redirects and foreign `Location`s
//! point at counts every request it gets and never changes anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::random;

/// Ratios (each 0.0..=1.0) of Graph v1.0 reset writes that get an odd answer. Rolled in field
/// order, the first hit wins, so later kinds come out slightly rarer than their ratio.
#[derive(Debug, Clone, Default)]
pub struct OddAnswers {
    /// 307 to the trap listener, password untouched.
    pub redirect: f64,
    /// Applied, then 200 with a body that is not JSON.
    pub text_200: f64,
    /// Accepted as an operation, then 202 whose `Location` is on the trap listener.
    pub foreign_location: f64,
    /// Accepted as an operation whose status resource answers 404.
    pub poll_404: f64,
    /// Applied, then 500, 502 or 504.
    pub error_after_apply: f64,
    /// Accepted as an operation that reports `unknownFutureValue` (and applies as usual).
    pub unknown_state: f64,
    /// Applied, then answered as usual but only after `slow_delay` (beyond a client's timeout).
    pub slow: f64,
    pub slow_delay: Duration,
}

impl OddAnswers {
    pub(crate) fn ratios(&self) -> [(&'static str, f64); 7] {
        [
            ("redirect", self.redirect),
            ("text_200", self.text_200),
            ("foreign_location", self.foreign_location),
            ("poll_404", self.poll_404),
            ("error_after_apply", self.error_after_apply),
            ("unknown_state", self.unknown_state),
            ("slow", self.slow),
        ]
    }

    /// The odd answer this write gets, if any.
    pub(crate) fn pick(&self) -> Option<Odd> {
        const KINDS: [Odd; 7] = [
            Odd::Redirect,
            Odd::Text200,
            Odd::ForeignLocation,
            Odd::Poll404,
            Odd::ErrorAfterApply,
            Odd::UnknownState,
            Odd::Slow,
        ];
        let ratios = self.ratios();
        KINDS
            .into_iter()
            .zip(ratios)
            .find(|(_, (_, p))| random::roll(*p))
            .map(|(k, _)| k)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Odd {
    Redirect,
    Text200,
    ForeignLocation,
    Poll404,
    ErrorAfterApply,
    UnknownState,
    Slow,
}

/// How an accepted operation's status resource misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OpMask {
    #[default]
    Honest,
    /// 404, as if the operation did not exist.
    Hidden,
    /// `status: unknownFutureValue`, forever.
    UnknownState,
}

/// Response extension: hold this answer back for the given time (the `observe` middleware).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlowAnswer(pub(crate) Duration);

/// 307 to the same path on the trap listener.
pub(crate) fn redirect(trap_url: &str, uri: &Uri) -> Response {
    let location = format!("{trap_url}{}", uri.path());
    let mut resp = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A 200 whose body a JSON client cannot read.
pub(crate) fn text_200() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body>Password updated.</body></html>",
    )
        .into_response()
}

/// One of the gateway errors, with a Graph-shaped body.
pub(crate) fn error_after_apply() -> Response {
    let status = match random::up_to(Duration::from_millis(3)).as_millis() {
        0 => StatusCode::INTERNAL_SERVER_ERROR,
        1 => StatusCode::BAD_GATEWAY,
        _ => StatusCode::GATEWAY_TIMEOUT,
    };
    let body = serde_json::json!({"error": {"code": "generalException", "message": "An unexpected error occurred (sandbox fault, after the password was applied)."}});
    (status, axum::Json(body)).into_response()
}

/// The listener redirects and foreign `Location`s point at: counts what reaches it, answers
/// 200 `{}` (what a naive client would take for success).
pub(crate) struct Trap {
    pub(crate) url: String,
    hits: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Trap {
    pub(crate) async fn start(ip: std::net::IpAddr) -> std::io::Result<Trap> {
        let listener = TcpListener::bind((ip, 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let hits = Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        let app = Router::new().fallback(move |_body: Bytes| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (StatusCode::OK, axum::Json(serde_json::json!({})))
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Trap { url, hits, task })
    }

    /// Requests that reached the trap.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}
