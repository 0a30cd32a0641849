//! The other Microsoft Graph routes credrotate uses, written from Graph's documentation:
//!
//! - `POST /beta/users/{id}/authentication/softwareOathMethods/{methodId}/resetPassword`, body
//!   `{"newPassword"?, "requireChangeOnNextSignIn"?}`: 200 with a `passwordResetResponse`
//!   (`{"value": {"@odata.type", "newPassword"}}`; `newPassword` set only when the server
//!   generated it). Any method id is taken (the beta page is a stub that says nothing of them).
//! - `PATCH /v1.0/users/{id}` with `{"passwordProfile": {"password",
//!   "forceChangePasswordNextSignIn"?, "forceChangePasswordNextSignInWithMfa"?}}`: 204. A password
//!   under 8 characters fails Graph's complexity check (400 `Request_BadRequest`).
//! - `POST /{v1.0|beta}/users/{id}/revokeSignInSessions`: 200 `{"value": true}`.
//!
//! Users are addressed as in `graph_users` (`users('$id')` for ids starting with `$`). Each
//! route meets the same chain as v1.0 resets: bearer (401) → the `graph` family's bucket (429)
//! → error ratio (503) → user (404) → body (400) → applied at once; app-only tokens are welcome
//! here (passwordProfile is the app-only path), but `profile_missing_role` answers the PATCH 403
//! as Graph does without the directory role. All are writes in the stats.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::graph_users::user_of;
use super::graph_v1::{gate_write, FAMILY};
use super::graph_wire::{self, GraphError, RequestIds};
use super::state::Shared;
use super::{auth, observe, random};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/beta/users/{id}/authentication/softwareOathMethods/{method}/resetPassword",
            post(beta_reset),
        )
        .route("/v1.0/users/{id}", patch(patch_user))
        .route("/v1.0/{key}", patch(patch_user).fallback(observe::fallback))
        .route("/v1.0/users/{id}/revokeSignInSessions", post(revoke))
        .route(
            "/v1.0/{key}/revokeSignInSessions",
            post(revoke).fallback(observe::fallback),
        )
        .route("/beta/users/{id}/revokeSignInSessions", post(revoke))
        .route(
            "/beta/{key}/revokeSignInSessions",
            post(revoke).fallback(observe::fallback),
        )
}

/// Counts a write, runs `decide`, renders its error, may drop the answer.
fn write(
    sb: &Shared,
    ids: &RequestIds,
    decide: impl FnOnce() -> Result<Response, GraphError>,
) -> Response {
    let second = sb.second_now();
    sb.counters().reset_arrived(FAMILY, second);
    let mut resp = decide().unwrap_or_else(|e| {
        if e.status() == StatusCode::TOO_MANY_REQUESTS {
            sb.counters().throttled(FAMILY, second);
        }
        e.render(ids)
    });
    observe::maybe_drop(sb, &mut resp);
    resp
}

/// Path, token, throttle and user checks every route here starts with; returns the user id.
fn admit(
    sb: &Shared,
    user: Result<String, PathRejection>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, GraphError> {
    let user = user.map_err(|e| GraphError::invalid_request(e.body_text()))?;
    let user = user_of(user, uri)?;
    auth::check_bearer(headers, &sb.token).map_err(GraphError::unauthorized)?;
    gate_write(sb)?;
    if !sb.directory().exists(&user) {
        return Err(GraphError::not_found(&user));
    }
    Ok(user)
}

fn object(body: &[u8]) -> Result<Map<String, Value>, GraphError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(GraphError::invalid_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(GraphError::invalid_request(format!(
            "The request body is not valid JSON ({e})."
        ))),
    }
}

fn only(map: &Map<String, Value>, allowed: &[&str], action: &str) -> Result<(), GraphError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(GraphError::invalid_request(format!(
            "The parameter '{key}' in the request payload is not a valid parameter for the operation '{action}'."
        ))),
        None => Ok(()),
    }
}

fn optional_bool(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, GraphError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(GraphError::invalid_request(format!(
            "{key} must be a boolean."
        ))),
    }
}

async fn beta_reset(
    State(sb): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = path.map(|Path((user, _method))| user);
    write(&sb, &ids, || {
        let user = admit(&sb, user, &uri, &headers)?;
        let map = object(&body)?;
        only(
            &map,
            &["newPassword", "requireChangeOnNextSignIn"],
            "resetPassword",
        )?;
        let requested = match map.get("newPassword") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(GraphError::invalid_request(
                "newPassword must be a non-empty string; omit it to have the server generate one.",
            )),
        };
        let must = optional_bool(&map, "requireChangeOnNextSignIn")?.unwrap_or(false);
        let generated = requested.is_none().then(random::password);
        let password = requested.or_else(|| generated.clone()).unwrap_or_default();
        sb.directory().set_password(&user, password);
        sb.accounts().set_must_change(&user, must);
        let body = json!({
            "@odata.context": format!("{}/beta/$metadata#microsoft.graph.passwordResetResponse", sb.base_url),
            "value": {"@odata.type": "#microsoft.graph.passwordResetResponse", "newPassword": generated},
        });
        Ok(graph_wire::odata(StatusCode::OK, &body))
    })
}

async fn patch_user(
    State(sb): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&sb, &ids, || {
        let user = admit(&sb, path.map(|Path(u)| u), &uri, &headers)?;
        if sb.opts.faults.profile_missing_role {
            return Err(denied("Insufficient privileges to complete the operation."));
        }
        let (password, must) = password_profile(&object(&body)?)?;
        sb.directory().set_password(&user, password);
        sb.accounts().set_must_change(&user, must);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Graph's 403 for a caller without the permission or directory role an action needs.
fn denied(message: &'static str) -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        message,
    )
}

/// `(password, forceChangePasswordNextSignIn)` from a `PATCH /users` body.
fn password_profile(map: &Map<String, Value>) -> Result<(String, bool), GraphError> {
    if let Some(key) = map.keys().find(|k| *k != "passwordProfile") {
        return Err(GraphError::invalid_request(format!(
            "The sandbox only updates passwordProfile; property '{key}' is not supported here."
        )));
    }
    let Some(Value::Object(profile)) = map.get("passwordProfile") else {
        return Err(GraphError::invalid_request(
            "passwordProfile must be an object with a password.",
        ));
    };
    let allowed = [
        "password",
        "forceChangePasswordNextSignIn",
        "forceChangePasswordNextSignInWithMfa",
    ];
    if let Some(key) = profile.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(GraphError::invalid_request(format!(
            "Property '{key}' does not exist on type 'microsoft.graph.passwordProfile'."
        )));
    }
    let Some(Value::String(password)) = profile.get("password") else {
        return Err(GraphError::invalid_request(
            "passwordProfile.password is required and must be a string.",
        ));
    };
    if password.chars().count() < 8 {
        return Err(GraphError::new(StatusCode::BAD_REQUEST, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password."));
    }
    optional_bool(profile, "forceChangePasswordNextSignInWithMfa")?;
    let must = optional_bool(profile, "forceChangePasswordNextSignIn")?.unwrap_or(true);
    Ok((password.clone(), must))
}

async fn revoke(
    State(sb): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&sb, &ids, || {
        let user = admit(&sb, path.map(|Path(u)| u), &uri, &headers)?;
        if sb.opts.faults.revoke_denied {
            return Err(denied(
                "Insufficient privileges to complete the operation (sandbox fault).",
            ));
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            only(&object(&body)?, &[], "revokeSignInSessions")?;
        }
        sb.accounts().revoke(&user);
        let body = json!({
            "@odata.context": format!("{}/v1.0/$metadata#Edm.Boolean", sb.base_url),
            "value": true,
        });
        Ok(graph_wire::odata(StatusCode::OK, &body))
    })
}
