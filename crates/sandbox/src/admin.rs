//! The sandbox's own routes, outside any provider's API and without authentication:
//! `GET /_sandbox/stats` (counters), `POST /_sandbox/verify` (would these sign-ins succeed?) and
//! `POST /_sandbox/faults` (`{"error_ratio": R}`: a 503 storm starts or ends now) and
//! `POST /_sandbox/users` (`{"user": ID}`: the account now exists, in a sandbox started with
//! a user list).
//! Shapes are documented in the `sandbox` module docs.
//!
//! These routes are not wrapped by the `observe` middleware, so looking at the sandbox never
//! shows up in its request counts, concurrency or latency.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::Shared;

/// A verify batch for 20,000 users is ~1.5 MB; leave ample room above axum's 2 MB default.
const VERIFY_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route(
            "/_sandbox/verify",
            post(verify).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        )
        .route("/_sandbox/faults", post(faults))
        .route("/_sandbox/users", post(add_user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    user: String,
}

/// Creates an account (a sandbox started with `users` knows only those).
async fn add_user(State(sb): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<NewUser>(&body) {
        Ok(u) => {
            sb.directory().add_user(&u.user);
            Json(json!({ "user": u.user })).into_response()
        }
        Err(e) => bad_request(format!("expected {{\"user\": string}} ({e})")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultChange {
    error_ratio: f64,
}

/// Changes the 503 ratio of reset requests from now on.
async fn faults(State(sb): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultChange>(&body) {
        Ok(c) if (0.0..=1.0).contains(&c.error_ratio) => {
            sb.set_error_ratio(c.error_ratio);
            Json(json!({ "error_ratio": c.error_ratio })).into_response()
        }
        Ok(_) => bad_request("error_ratio must be between 0 and 1".into()),
        Err(e) => bad_request(format!("expected {{\"error_ratio\": number}} ({e})")),
    }
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn stats(State(sb): State<Arc<Shared>>) -> Json<Value> {
    // Counters first, directory second, never both locks at once.
    let mut doc = sb.counters().snapshot();
    let dir = sb.directory();
    let extra = json!({
        "resets_total": dir.resets_total(),
        "resets_per_user": dir.resets_per_user(),
        "operations_pending": dir.operations_pending(),
        "operations_failed": dir.operations_failed(),
        "peak_concurrency": sb.in_flight.peak(),
        "in_flight": sb.in_flight.current(),
        "uptime_seconds": sb.uptime().as_secs_f64(),
        "trap_requests": sb.trap.hits(),
    });
    drop(dir);
    let accounts = sb.accounts().snapshot();
    for extra in [extra, accounts] {
        if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
            doc.extend(extra);
        }
    }
    Json(doc)
}

#[derive(Debug, Deserialize)]
struct Credential {
    user: String,
    password: String,
}

async fn verify(State(sb): State<Arc<Shared>>, body: Bytes) -> Response {
    let batch: Vec<Credential> = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            let message = format!(
                "expected a JSON array of {{\"user\": string, \"password\": string}} ({e})"
            );
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response();
        }
    };
    let dir = sb.directory();
    let answers: Vec<Value> = batch
        .iter()
        .map(|c| json!({ "user": c.user, "ok": dir.password_matches(&c.user, &c.password) }))
        .collect();
    drop(dir);
    Json(answers).into_response()
}
