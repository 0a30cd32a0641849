//! Okta's Users API, the sandbox target of `examples/okta.toml`: `POST /api/v1/users/{id}`, a
//! partial update whose body sets the password as `{"credentials": {"password": {"value":
//! "..."}}}`, answered `200 OK` with the user. Any user exists unless `Options::users` says.
//!
//! Chain: bearer (401 `E0000011`: the fixed token, standing for an API token got elsewhere, or a
//! token of the org authorization server; a custom authorization server's token is refused, as
//! Okta documents) → the `okta` rate limit and bucket (429 `E0000047` with
//! `X-Rate-Limit-Limit/-Remaining/-Reset`, no `Retry-After`: see `ratelimit`) → error ratio
//! (503) → user (404 `E0000007`) → body (400 `E0000003` when not well-formed: not an object,
//! an unknown field, a non-string value; `profile` is accepted and ignored; `hash`/`hook`
//! passwords are not simulated) → password policy (400 `E0000001`, at least 8 characters) →
//! applied. Errors are `{errorCode, errorSummary, errorLink, errorId, errorCauses}`; every
//! answer carries `X-Okta-Request-Id`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::plain_wire::{self, PlainError};
use super::ratelimit::{self, Limits, Names};
use super::state::Shared;
use super::tokens::IssuedBy;
use super::{auth, graph_wire, random};

pub(crate) const FAMILY: &str = "okta";

const NAMES: Names = Names {
    limit: "x-rate-limit-limit",
    remaining: "x-rate-limit-remaining",
    reset: "x-rate-limit-reset",
};

pub(crate) fn routes(limits: Arc<Limits>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/users/{id}", post(update))
        .layer(Extension(limits))
}

fn error(status: StatusCode, code: &str, summary: &str, causes: &[String]) -> PlainError {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    let body = json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", random::hex(20)),
        "errorCauses": causes,
    });
    PlainError::new(status, body)
}

async fn update(
    State(sb): State<Arc<Shared>>,
    Extension(limits): Extension<Arc<Limits>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    limits.arrive(FAMILY);
    let mut resp = plain_wire::write(&sb, FAMILY, || decide(&sb, &limits, &user, &headers, &body));
    if let Ok(id) = HeaderValue::from_str(&random::hex(24)) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-okta-request-id"), id);
    }
    resp
}

fn decide(
    sb: &Shared,
    limits: &Limits,
    user: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, PlainError> {
    if !authed(sb, headers) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        ));
    }
    let window = match ratelimit::admit(sb, limits, FAMILY) {
        Ok(window) => window,
        Err(throttled) => {
            return ratelimit::stamp(Err(refusal(throttled.is_some())), throttled, NAMES)
        }
    };
    ratelimit::stamp(apply(sb, user, body), window, NAMES)
}

/// The fixed token, or one of the org authorization server.
fn authed(sb: &Shared, headers: &HeaderMap) -> bool {
    let org = IssuedBy {
        tokens: &sb.token,
        issuers: vec!["okta:org".into()],
    };
    auth::check_bearer(headers, sb.token.fixed()).is_ok()
        || auth::check_bearer(headers, &org).is_ok()
}

fn refusal(throttled: bool) -> PlainError {
    match throttled {
        true => error(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            &[],
        ),
        false => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "E0000010",
            "Service is in read only mode.",
            &[],
        ),
    }
}

fn apply(sb: &Shared, user: &str, body: &[u8]) -> Result<Response, PlainError> {
    if !sb.directory().exists(user) {
        let summary = format!("Not found: Resource not found: {user} (User)");
        return Err(error(StatusCode::NOT_FOUND, "E0000007", &summary, &[]));
    }
    if let Some(value) = parse(body)? {
        if value.chars().count() < 8 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: password",
                &["password: Password requirements were not met. Password requirements: at least 8 characters.".into()],
            ));
        }
        sb.directory().set_password(user, value);
    }
    let now = graph_wire::timestamp(SystemTime::now());
    let user = json!({
        "id": user,
        "status": "ACTIVE",
        "lastUpdated": now,
        "passwordChanged": now,
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
    });
    Ok(graph_wire::json_response(StatusCode::OK, &user, Vec::new()))
}

/// The new password of an update body, if it sets one.
fn parse(body: &[u8]) -> Result<Option<String>, PlainError> {
    let root = object(
        serde_json::from_slice(body).ok(),
        "the body",
        &["profile", "credentials"],
    )?;
    let Some(credentials) = root.get("credentials") else {
        return Ok(None);
    };
    let credentials = object(Some(credentials.clone()), "credentials", &["password"])?;
    let Some(password) = credentials.get("password") else {
        return Ok(None);
    };
    let password = object(Some(password.clone()), "credentials.password", &["value"])?;
    match password.get("value") {
        Some(Value::String(value)) => Ok(Some(value.clone())),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "E0000001",
            "Api validation failed: password",
            &["password: The field cannot be left blank.".into()],
        )),
    }
}

/// `value` as an object holding only `known` keys, else `E0000003`.
fn object(
    value: Option<Value>,
    what: &str,
    known: &[&str],
) -> Result<Map<String, Value>, PlainError> {
    let malformed = |cause: String| {
        error(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
            &[cause],
        )
    };
    let Some(Value::Object(map)) = value else {
        return Err(malformed(format!("{what} must be a JSON object")));
    };
    if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(malformed(format!("Unrecognized field \"{key}\" in {what}")));
    }
    Ok(map)
}
