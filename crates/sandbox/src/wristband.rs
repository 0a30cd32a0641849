//! Wristband: `POST /api/v1/password-reset/reset-password`, written from its documentation, plus
//! the sandbox's own `POST /_sandbox/wristband/codes`, which plays the reset email.
//!
//! Body: exactly one of `emailAuthCode`, `passwordResetCode`, or `requestCode` +
//! `verificationCode` (the others absent or null), the new password, and the optional
//! "do not send the Password Updated email" boolean. The documentation names neither of the
//! last two; the sandbox takes `newPassword` and `suppressPasswordUpdatedEmail` and rejects any
//! other field, so a misnamed field shows up as a 400. Bearer token. Success is 200
//! `{"result": "SUCCESS"}`; the reset also revokes the user's sessions, as documented.
//!
//! Chain: bearer (401) → the `wristband` bucket (429) → error ratio (503) → body (400: unknown
//! field, wrong combination of codes, empty password) → code (400 `invalid_code` when unknown,
//! already used or of another form) → applied. Errors: `{"error", "error_description"}`.
//!
//! `POST /_sandbox/wristband/codes` `{"user", "form": "email_auth_code" | "password_reset_code"
//! | "otp"}` answers the fields to send, e.g. `{"requestCode", "verificationCode"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::accounts::CodeForm;
use super::auth;
use super::plain_wire::{self, Chain, PlainError};
use super::state::Shared;

pub(crate) const FAMILY: &str = "wristband";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/v1/password-reset/reset-password", post(reset))
}

/// The sandbox-only route that issues codes (not counted as API traffic).
pub(crate) fn admin_routes() -> Router<Arc<Shared>> {
    Router::new().route("/_sandbox/wristband/codes", post(issue))
}

fn error(status: StatusCode, code: &str, description: &str) -> PlainError {
    PlainError::new(
        status,
        json!({ "error": code, "error_description": description }),
    )
}

async fn reset(State(sb): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    plain_wire::write(&sb, FAMILY, || decide(&sb, &headers, &body))
}

const CHAIN: Chain = Chain {
    family: FAMILY,
    unauthorized: || {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required.",
        )
    },
    throttled: || {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Rate limit exceeded.",
        )
    },
    unavailable: || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Temporarily unavailable (sandbox fault).",
        )
    },
};

fn decide(sb: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, PlainError> {
    plain_wire::admit(sb, auth::check_bearer(headers, &sb.token).is_ok(), &CHAIN)?;
    let request = parse(body)?;
    let user = sb
        .accounts()
        .redeem(request.form, &request.code, request.verification.as_deref())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "The code is unknown, expired or already used.",
            )
        })?;
    sb.directory().set_password(&user, request.password);
    sb.accounts().revoke(&user);
    Ok((StatusCode::OK, Json(json!({ "result": "SUCCESS" }))).into_response())
}

struct Request {
    form: CodeForm,
    code: String,
    verification: Option<String>,
    password: String,
}

fn parse(body: &[u8]) -> Result<Request, PlainError> {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_request", m);
    let map: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(bad("The request body must be a JSON object.")),
    };
    let allowed = [
        "emailAuthCode",
        "passwordResetCode",
        "requestCode",
        "verificationCode",
        "newPassword",
        "suppressPasswordUpdatedEmail",
    ];
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(&format!("Unknown field '{key}'.")));
    }
    let text = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (form, code) = form(&text).ok_or_else(|| bad("Provide exactly one of: emailAuthCode; passwordResetCode; requestCode together with verificationCode."))?;
    let password =
        text("newPassword").ok_or_else(|| bad("newPassword is required (length >= 1)."))?;
    if !matches!(
        map.get("suppressPasswordUpdatedEmail"),
        None | Some(Value::Null | Value::Bool(_))
    ) {
        return Err(bad("suppressPasswordUpdatedEmail must be a boolean."));
    }
    Ok(Request {
        form,
        code: code.to_owned(),
        verification: text("verificationCode").map(str::to_owned),
        password: password.to_owned(),
    })
}

/// The one code form the body uses, or `None` for none, several, or half an OTP.
fn form<'a>(text: &dyn Fn(&str) -> Option<&'a str>) -> Option<(CodeForm, &'a str)> {
    let (email, link) = (text("emailAuthCode"), text("passwordResetCode"));
    let (request, verification) = (text("requestCode"), text("verificationCode"));
    match (email, link, request, verification) {
        (Some(c), None, None, None) => Some((CodeForm::EmailLink, c)),
        (None, Some(c), None, None) => Some((CodeForm::ResetLink, c)),
        (None, None, Some(c), Some(_)) => Some((CodeForm::Otp, c)),
        _ => None,
    }
}

async fn issue(State(sb): State<Arc<Shared>>, body: Bytes) -> Response {
    let parsed: Option<(String, CodeForm)> =
        serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            let user = v.get("user")?.as_str()?.to_owned();
            Some((user, CodeForm::parse(v.get("form")?.as_str()?)?))
        });
    let Some((user, form)) = parsed else {
        let message = "expected {\"user\": string, \"form\": \"email_auth_code\" | \"password_reset_code\" | \"otp\"}";
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response();
    };
    if !sb.directory().exists(&user) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such user" })),
        )
            .into_response();
    }
    Json(sb.accounts().issue(&user, form)).into_response()
}
