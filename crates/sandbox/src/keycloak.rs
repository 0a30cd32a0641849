//! Keycloak's admin REST API reset, the sandbox target of the generic HTTP provider
//! (`examples/keycloak.toml`): `PUT /admin/realms/{realm}/users/{id}/reset-password` with a
//! `CredentialRepresentation` `{"type": "password", "value": "...", "temporary": bool}`,
//! answered `204 No Content`. Any realm exists.
//!
//! Chain: bearer (401: only an unexpired access token the realm's token endpoint issued, or the
//! `master` realm's, as Keycloak's admin API takes only its own realm tokens; never the sandbox's
//! fixed token) → the `keycloak` bucket (429) → error ratio (503) → user (404
//! `{"error": "User not found"}`) → body (400: not an object, unknown field, type other than
//! "password", missing value) → password policy (400 `invalidPasswordMinLengthMessage` under 8
//! characters, Keycloak's default length policy) → applied; `temporary` sets "must change".
//! Errors use Keycloak's `{"error", "error_description"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use serde_json::{json, Map, Value};

use super::auth;
use super::plain_wire::{self, Chain, PlainError};
use super::state::Shared;
use super::tokens::IssuedBy;

pub(crate) const FAMILY: &str = "keycloak";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/admin/realms/{realm}/users/{id}/reset-password",
        put(reset),
    )
}

fn error(status: StatusCode, code: &str, description: Option<&str>) -> PlainError {
    let mut body = json!({ "error": code });
    if let Some(d) = description {
        body["error_description"] = d.into();
    }
    PlainError::new(status, body)
}

async fn reset(
    State(sb): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    plain_wire::write(&sb, FAMILY, || {
        let Path((realm, user)) = path.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(&e.body_text()),
            )
        })?;
        decide(&sb, &realm, &user, &headers, &body)
    })
}

const CHAIN: Chain = Chain {
    family: FAMILY,
    unauthorized: || error(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized", None),
    throttled: || error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", None),
    unavailable: || error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", None),
};

fn decide(
    sb: &Shared,
    realm: &str,
    user: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, PlainError> {
    let realm_tokens = IssuedBy {
        tokens: &sb.token,
        issuers: vec![format!("keycloak:{realm}"), "keycloak:master".into()],
    };
    plain_wire::admit(
        sb,
        auth::check_bearer(headers, &realm_tokens).is_ok(),
        &CHAIN,
    )?;
    if !sb.directory().exists(user) {
        return Err(error(StatusCode::NOT_FOUND, "User not found", None));
    }
    let (value, temporary) = parse(body)?;
    if value.chars().count() < 8 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalidPasswordMinLengthMessage",
            Some("Invalid password: minimum length 8."),
        ));
    }
    sb.directory().set_password(user, value);
    sb.accounts().set_must_change(user, temporary);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A CredentialRepresentation of type password: `(value, temporary)`.
fn parse(body: &[u8]) -> Result<(String, bool), PlainError> {
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, "invalid_request", Some(d));
    let map: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(bad("expected a CredentialRepresentation JSON object")),
    };
    if let Some(key) = map
        .keys()
        .find(|k| !["type", "value", "temporary"].contains(&k.as_str()))
    {
        return Err(bad(&format!("Unrecognized field \"{key}\"")));
    }
    if map.get("type").and_then(Value::as_str) != Some("password") {
        return Err(bad("type must be \"password\""));
    }
    let Some(Value::String(value)) = map.get("value") else {
        return Err(bad("value is required"));
    };
    match map.get("temporary") {
        None | Some(Value::Null) => Ok((value.clone(), false)),
        Some(Value::Bool(b)) => Ok((value.clone(), *b)),
        Some(_) => Err(bad("temporary must be a boolean")),
    }
}
