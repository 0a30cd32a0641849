//! PingOne Directory API: `/api/directory/users/password-reset`, written from its documentation.
//!
//! The page gives the URL, the JSON body `{id, newPassword}` plus `oldPassword` *or*
//! `confirmationToken` (never both), HTTP Basic `clientId:apiKey`, and `200 OK`; it does not
//! name the HTTP method, so the method is the sandbox's own configuration
//! (`Options::pingone_method`, `credrotate sandbox --pingone-method`, default POST) and any other
//! method is answered 405 with `Allow`, as a real server would: a client configured otherwise
//! fails visibly instead of passing against a lenient double.
//!
//! Errors use the PingOne Platform's documented shape (its "Error codes" reference page):
//! `{"id", "code", "message"}`, and for a field `"details": [{"code", "target", "message"}]`. As
//! in the documented example, a validation error's top-level message is the generic one; what
//! is wrong is in `details`.
//!
//! Chain: method (405) → Basic credential (401) → the `pingone` bucket (429) → error ratio (503)
//! → body (400: bad JSON, unknown field, missing id/newPassword, both or neither of the two) →
//! user (404) → old password (400 when the user has a password and it differs) → applied, 200
//! with no body. The client id is `Options::client_id` (default [`DEFAULT_CLIENT_ID`]); the API
//! key is the sandbox token.
//!
//! Invariants: every error body has `id`, `code` and `message`; every request to the route is
//! counted as a write of the `pingone` family, whatever its method.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Map, Value};

use super::plain_wire::{self, Chain, PlainError};
use super::state::Shared;
use super::{auth, random};

pub(crate) const FAMILY: &str = "pingone";
/// PingOne Basic user name when `Options::client_id` is not set.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client";

/// The top-level message of PingOne's documented validation error.
const INVALID_DATA_MESSAGE: &str =
    "The request could not be completed. One or more validation errors were in the request.";

/// The one HTTP method the password-reset route accepts (the documentation names none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PingOneMethod {
    #[default]
    Post,
    Put,
    Patch,
}

impl PingOneMethod {
    fn method(self) -> Method {
        match self {
            PingOneMethod::Post => Method::POST,
            PingOneMethod::Put => Method::PUT,
            PingOneMethod::Patch => Method::PATCH,
        }
    }
}

impl std::str::FromStr for PingOneMethod {
    type Err = String;

    /// `POST`, `PUT` or `PATCH`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Ok(PingOneMethod::Post),
            "PUT" => Ok(PingOneMethod::Put),
            "PATCH" => Ok(PingOneMethod::Patch),
            _ => Err(format!("{s:?}: expected POST, PUT or PATCH")),
        }
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/directory/users/password-reset", any(reset))
}

async fn reset(
    State(sb): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    plain_wire::write(&sb, FAMILY, || decide(&sb, &method, &headers, &body))
}

/// A top-level PingOne error: `{"id", "code", "message"}`.
fn error(status: StatusCode, code: &str, message: &str) -> PlainError {
    let body = json!({ "id": random::guid(), "code": code, "message": message });
    PlainError::new(status, body)
}

/// A 400 `INVALID_DATA` with one detail saying what is wrong with `target`.
fn invalid(detail_code: &str, target: Option<&str>, message: &str) -> PlainError {
    let mut e = error(
        StatusCode::BAD_REQUEST,
        "INVALID_DATA",
        INVALID_DATA_MESSAGE,
    );
    let mut detail = json!({ "code": detail_code, "message": message });
    if let Some(t) = target {
        detail["target"] = json!(t);
    }
    e.body["details"] = json!([detail]);
    e
}

/// A 400 for a missing `field`.
fn required(field: &str) -> PlainError {
    invalid(
        "REQUIRED_VALUE",
        Some(field),
        &format!("{field} is required."),
    )
}

/// 405 with `Allow` unless `method` is the configured one.
fn check_method(sb: &Shared, method: &Method) -> Result<(), PlainError> {
    let allowed = sb.opts.pingone_method.method();
    if *method == allowed {
        return Ok(());
    }
    let message = format!("The request could not be completed. The {method} method is not supported for this resource.");
    let allow = HeaderValue::from_str(allowed.as_str()).expect("a method name is a header value");
    Err(error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &message,
    )
    .with_header(header::ALLOW, allow))
}

const CHAIN: Chain = Chain {
    family: FAMILY,
    unauthorized: || {
        error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "The request could not be completed. Valid HTTP Basic credentials (client id and API key) are required.")
    },
    throttled: || {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMITED",
            "Too many requests; retry after the Retry-After interval.",
        )
    },
    unavailable: || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable (sandbox fault).",
        )
    },
};

fn decide(
    sb: &Shared,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, PlainError> {
    check_method(sb, method)?;
    let client_id = sb.opts.client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID);
    let authed = auth::check_basic(headers, client_id, sb.token.fixed()).is_ok();
    plain_wire::admit(sb, authed, &CHAIN)?;
    let request = parse(body)?;
    if !sb.directory().exists(&request.id) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested user was not found.",
        ));
    }
    let mut dir = sb.directory();
    if let Some(old) = &request.old_password {
        if !dir.password_matches(&request.id, old) && dir.has_password(&request.id) {
            return Err(invalid(
                "INVALID_VALUE",
                Some("oldPassword"),
                "The old password is not the user's current password.",
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
    let map: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => {
            let m = "The request body must be a JSON object.";
            return Err(invalid("INVALID_VALUE", None, m));
        }
    };
    let allowed = ["id", "newPassword", "oldPassword", "confirmationToken"];
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let m = format!("Unknown field '{key}'.");
        return Err(invalid("INVALID_VALUE", Some(key), &m));
    }
    let text = |k: &str| match map.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => {
            let m = format!("{k} must be a non-empty string.");
            Err(invalid("INVALID_VALUE", Some(k), &m))
        }
    };
    let id = text("id")?.ok_or_else(|| required("id"))?;
    let new_password = text("newPassword")?.ok_or_else(|| required("newPassword"))?;
    let (old_password, token) = (text("oldPassword")?, text("confirmationToken")?);
    if old_password.is_some() == token.is_some() {
        let m = "Specify either oldPassword or confirmationToken, but not both.";
        return Err(invalid("INVALID_VALUE", None, m));
    }
    Ok(Request {
        id,
        new_password,
        old_password,
    })
}
