//! PingOne Directory API: `/api/directory/users/password-reset`, written from its documentation.
//!
//! The page gives the URL, the JSON body `{id, newPassword}` plus `oldPassword` *or*
//! `confirmationToken` (never both), HTTP Basic `clientId:apiKey`, and `200 OK`; it does not
//! name the HTTP method, so the sandbox takes POST, PUT and PATCH. Errors use PingOne's
//! `{"code", "message", "details": [{"code", "target", "message"}]}` shape.
//!
//! Chain: Basic credential (401) → the `pingone` bucket (429) → error ratio (503) → body (400:
//! bad JSON, unknown field, missing id/newPassword, both or neither of the two) → user (404) →
//! old password (400 when the user has a password and it differs) → applied, 200 with no body.
//! The client id is `Options::client_id` (default [`DEFAULT_CLIENT_ID`]); the API key is the
//! sandbox token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};

use super::auth;
use super::plain_wire::{self, Chain, PlainError};
use super::state::Shared;

pub(crate) const FAMILY: &str = "pingone";
/// PingOne Basic user name when `Options::client_id` is not set.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/api/directory/users/password-reset",
        post(reset).put(reset).patch(reset),
    )
}

async fn reset(State(sb): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    plain_wire::write(&sb, FAMILY, || decide(&sb, &headers, &body))
}

fn error(status: StatusCode, code: &str, message: &str, target: Option<&str>) -> PlainError {
    let mut body = json!({ "code": code, "message": message });
    if let Some(t) = target {
        body["details"] = json!([{ "code": "INVALID_VALUE", "target": t, "message": message }]);
    }
    PlainError::new(status, body)
}

const CHAIN: Chain = Chain {
    family: FAMILY,
    unauthorized: || {
        error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "The request could not be completed. Valid HTTP Basic credentials (client id and API key) are required.", None)
    },
    throttled: || {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMITED",
            "Too many requests; retry after the Retry-After interval.",
            None,
        )
    },
    unavailable: || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable (sandbox fault).",
            None,
        )
    },
};

fn decide(sb: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, PlainError> {
    let client_id = sb.opts.client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID);
    let authed = auth::check_basic(headers, client_id, sb.token.fixed()).is_ok();
    plain_wire::admit(sb, authed, &CHAIN)?;
    let request = parse(body)?;
    if !sb.directory().exists(&request.id) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested user was not found.",
            Some("id"),
        ));
    }
    let mut dir = sb.directory();
    if let Some(old) = &request.old_password {
        if !dir.password_matches(&request.id, old) && dir.has_password(&request.id) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "INVALID_DATA",
                "The old password is not the user's current password.",
                Some("oldPassword"),
            ));
        }
    }
    dir.set_password(&request.id, request.new_password);
    Ok(StatusCode::OK.into_response())
}

struct Request {
    id: String,
    new_password: String,
    old_password: Option<String>,
}

fn parse(body: &[u8]) -> Result<Request, PlainError> {
    let bad = |m: &str, t: Option<&str>| error(StatusCode::BAD_REQUEST, "INVALID_DATA", m, t);
    let map: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(bad("The request body must be a JSON object.", None)),
    };
    let allowed = ["id", "newPassword", "oldPassword", "confirmationToken"];
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(&format!("Unknown field '{key}'."), Some(key)));
    }
    let text = |k: &str| match map.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(bad(&format!("{k} must be a non-empty string."), Some(k))),
    };
    let id = text("id")?.ok_or_else(|| bad("id is required.", Some("id")))?;
    let new_password =
        text("newPassword")?.ok_or_else(|| bad("newPassword is required.", Some("newPassword")))?;
    let (old_password, token) = (text("oldPassword")?, text("confirmationToken")?);
    if old_password.is_some() == token.is_some() {
        return Err(bad(
            "Specify either oldPassword or confirmationToken, but not both.",
            None,
        ));
    }
    Ok(Request {
        id,
        new_password,
        old_password,
    })
}
