//! Auth0's Management API, the sandbox target of `examples/auth0.toml`: `PATCH
//! /api/v2/users/{id}` with a JSON body whose `password` (with the database `connection` it
//! belongs to) sets the password, answered `200 OK` with the user. Any user exists unless
//! `Options::users` says.
//!
//! Chain: bearer (401: the fixed token, or a token of the `/oauth/token` endpoint for the
//! Management API audience, see `token_rfc`) → the `auth0` rate limit and bucket (429 with
//! `x-ratelimit-limit/-remaining/-reset`, no `Retry-After`: see `ratelimit`) → error ratio (503)
//! → user (404 `inexistent_user`) → body (400 `invalid_body`: not an object, a field the
//! update-user schema does not have, a non-string password or connection, a password without a
//! connection) → password policy (400 `PasswordStrengthError`, at least 8 characters) →
//! applied. Errors are `{statusCode, error, message[, errorCode]}`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::patch;
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::plain_wire::{self, PlainError};
use super::ratelimit::{self, Limits, Names};
use super::state::Shared;
use super::tokens::IssuedBy;
use super::{auth, graph_wire};

pub(crate) const FAMILY: &str = "auth0";

const NAMES: Names = Names {
    limit: "x-ratelimit-limit",
    remaining: "x-ratelimit-remaining",
    reset: "x-ratelimit-reset",
};

/// The fields of the update-user body Auth0 documents.
const FIELDS: &[&str] = &[
    "blocked",
    "email_verified",
    "email",
    "phone_number",
    "phone_verified",
    "user_metadata",
    "app_metadata",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "verify_email",
    "verify_phone_number",
    "password",
    "connection",
    "client_id",
    "username",
];

pub(crate) fn routes(limits: Arc<Limits>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v2/users/{id}", patch(update))
        .layer(Extension(limits))
}

fn error(status: StatusCode, message: &str, code: Option<&str>) -> PlainError {
    let mut body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or_default(),
        "message": message,
    });
    if let Some(code) = code {
        body["errorCode"] = code.into();
    }
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
    plain_wire::write(&sb, FAMILY, || decide(&sb, &limits, &user, &headers, &body))
}

fn decide(
    sb: &Shared,
    limits: &Limits,
    user: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, PlainError> {
    let management = IssuedBy {
        tokens: &sb.token,
        issuers: vec!["auth0".into()],
    };
    let authed = auth::check_bearer(headers, sb.token.fixed()).is_ok()
        || auth::check_bearer(headers, &management).is_ok();
    if !authed {
        return Err(error(StatusCode::UNAUTHORIZED, "Invalid token", None));
    }
    let window = match ratelimit::admit(sb, limits, FAMILY) {
        Ok(window) => window,
        Err(Some(window)) => {
            let e = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Global limit has been reached",
                Some("too_many_requests"),
            );
            return ratelimit::stamp(Err(e), Some(window), NAMES);
        }
        Err(None) => {
            let e = error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None);
            return Err(e);
        }
    };
    ratelimit::stamp(apply(sb, user, body), window, NAMES)
}

fn apply(sb: &Shared, user: &str, body: &[u8]) -> Result<Response, PlainError> {
    if !sb.directory().exists(user) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "The user does not exist.",
            Some("inexistent_user"),
        ));
    }
    if let Some(password) = parse(body)? {
        if password.chars().count() < 8 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "PasswordStrengthError: Password is too weak",
                None,
            ));
        }
        sb.directory().set_password(user, password);
    }
    let now = graph_wire::timestamp(SystemTime::now());
    let answer = json!({"user_id": user, "updated_at": now, "identities": []});
    Ok(graph_wire::json_response(
        StatusCode::OK,
        &answer,
        Vec::new(),
    ))
}

/// The new password of an update body, if it sets one.
fn parse(body: &[u8]) -> Result<Option<String>, PlainError> {
    let invalid = |what: String| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Payload validation error: {what}"),
            Some("invalid_body"),
        )
    };
    let map: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(invalid("'Expected type object but found another'.".into())),
    };
    if let Some(key) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(format!(
            "'Additional properties not allowed: {key}'."
        )));
    }
    let string = |key: &str| match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!(
            "'Expected type string' on property {key}."
        ))),
    };
    let (password, connection) = (string("password")?, string("connection")?);
    if password.is_some() && connection.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(
            "'connection' is required when 'password' is set.".into(),
        ));
    }
    Ok(password)
}
