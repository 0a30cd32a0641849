//! Wristband: `POST /api/v1/password-reset/reset-password`, written from its documentation, plus
//! the sandbox's own `POST /_sandbox/wristband/codes`, which plays the reset email.
//!
//! Body: exactly one of `emailAuthCode`, `passwordResetCode`, or `requestCode` +
//! `verificationCode` (the others absent or null), the new password, and the optional
//! "do not send the Password Updated email" boolean. The documentation names neither of the
//! last two, and its `result` values are not in the page either, so all three come from the
//! sandbox's own configuration ([`WristbandOptions`], `credrotate sandbox --wristband-*`), never
//! from what the client sends: any other field is refused with 400, as the documentation-faithful
//! service would, so a client and server that disagree on a name show up as a row error. Bearer
//! token. Answer: 200 `{"result": <configured result>}` (default `SUCCESS`; `{}` when configured
//! without one); the reset also revokes the user's sessions, as documented.
//!
//! Chain: bearer (401) → the `wristband` bucket (429) → error ratio (503) → body (400: unknown
//! field, wrong combination of codes, empty password) → code (400 `invalid_code` when unknown,
//! already used or of another form) → applied. Errors: `{"error", "error_description"}`.
//!
//! `POST /_sandbox/wristband/codes` `{"user", "form": "email_auth_code" | "password_reset_code"
//! | "otp"}` answers the fields to send, e.g. `{"requestCode", "verificationCode"}`.
//!
//! Invariants: the accepted body fields are exactly the four code fields plus the two configured
//! names; a 200 applies the password unless `WristbandOptions::applies` is false.

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

/// The code fields the documentation names.
const CODE_FIELDS: [&str; 4] = [
    "emailAuthCode",
    "passwordResetCode",
    "requestCode",
    "verificationCode",
];

/// What this sandbox's Wristband tenant takes and answers where the documentation is silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WristbandOptions {
    /// JSON name of the new password (default `newPassword`).
    pub password_field: String,
    /// JSON name of the "do not send the Password Updated email" flag (default
    /// `suppressPasswordUpdatedEmail`).
    pub suppress_email_field: String,
    /// The `result` of a 200 answer (default `SUCCESS`); `None`: the answer is `{}`.
    pub result: Option<String>,
    /// Whether a 200 answer comes with the password applied (default true); false plays a
    /// tenant whose `result` means the reset did not (yet) happen.
    pub applies: bool,
}

impl Default for WristbandOptions {
    fn default() -> Self {
        WristbandOptions {
            password_field: "newPassword".into(),
            suppress_email_field: "suppressPasswordUpdatedEmail".into(),
            result: Some("SUCCESS".into()),
            applies: true,
        }
    }
}

impl WristbandOptions {
    /// Refuses names that would make the route ambiguous or unusable.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        let names = [&self.password_field, &self.suppress_email_field];
        for name in names {
            anyhow::ensure!(
                !name.trim().is_empty() && !CODE_FIELDS.contains(&name.as_str()),
                "sandbox wristband field name {name:?} must be non-empty and not a code field"
            );
        }
        anyhow::ensure!(
            self.password_field != self.suppress_email_field,
            "sandbox wristband password_field and suppress_email_field must differ"
        );
        Ok(())
    }
}

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
    let names = &sb.opts.wristband;
    let request = parse(body, names)?;
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
    if names.applies {
        sb.directory().set_password(&user, request.password);
        sb.accounts().revoke(&user);
    }
    let answer = match &names.result {
        Some(result) => json!({ "result": result }),
        None => json!({}),
    };
    Ok((StatusCode::OK, Json(answer)).into_response())
}

struct Request {
    form: CodeForm,
    code: String,
    verification: Option<String>,
    password: String,
}

/// The body, by the field names of `names` (unknown fields are refused).
fn parse(body: &[u8], names: &WristbandOptions) -> Result<Request, PlainError> {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_request", m);
    let map: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(bad("The request body must be a JSON object.")),
    };
    let (password_field, suppress_field) = (&names.password_field, &names.suppress_email_field);
    let known = |k: &String| {
        CODE_FIELDS.contains(&k.as_str()) || k == password_field || k == suppress_field
    };
    if let Some(key) = map.keys().find(|k| !known(k)) {
        return Err(bad(&format!("Unknown field '{key}'.")));
    }
    let text = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (form, code) = form(&text).ok_or_else(|| bad("Provide exactly one of: emailAuthCode; passwordResetCode; requestCode together with verificationCode."))?;
    let password = text(password_field)
        .ok_or_else(|| bad(&format!("{password_field} is required (length >= 1).")))?;
    if !matches!(
        map.get(suppress_field),
        None | Some(Value::Null | Value::Bool(_))
    ) {
        return Err(bad(&format!("{suppress_field} must be a boolean.")));
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
