//! Microsoft Graph `resetPassword` and its long-running operation resource.
//!
//! `POST /{v1.0|beta}/users/{id}/authentication/methods/{methodId}/resetPassword` and beta's
//! `.../passwordMethods/{methodId}/resetPassword`, body `{"newPassword": "..."}` or `{}` (the
//! server then generates one and returns it); users also addressed as `users('{id}')`, which
//! ids starting with `$` must be (see `graph_users`). `GET .../authentication/operations/{opId}`
//! reports the operation: `notStarted`, then `running`, then `succeeded` or `failed`. The
//! `Location` of a 202 is absolute and carries a query string, as Graph's does. A reset that
//! takes effect marks the user must-change (Graph always prompts a change at next sign-in).
//!
//! A reset write meets, in order: path (400), bearer token (401, no token charged), an app-only
//! token (403: delegated only), throttle bucket (429 + `Retry-After`), error ratio (503 +
//! `Retry-After`), user (404 when `Options::users` is set),
//! method id (404 unless it is the password method), body (400), and is then accepted as
//! [`GraphMode`] says. Only an accepted request changes a password: at once for Sync200/Sync204,
//! when its operation succeeds (after `op_delay`) for Async. Every reset that reaches a handler
//! is counted in the per-second series first, whatever the answer. The `drop_ratio` fault may then
//! lose any answer (the reset still took effect when accepted).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::graph_users::{delegated_only, user_of, user_path};
use super::graph_wire::{self, GraphError, RequestIds};
use super::hostile::{self, Odd, OpMask};
use super::state::Shared;
use super::{auth, faults, observe, random, GraphMode};

/// The route family name in stats and throttle buckets.
pub(crate) const FAMILY: &str = "graph";

/// The password authentication method's well-known id in Graph.
pub(crate) const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

type UserAnd = Result<Path<(String, String)>, PathRejection>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    // `{key}` is `users('...')`: the same resources addressed by key.
    for users in ["users/{id}", "{key}"] {
        for path in [
            "/v1.0/{users}/authentication/methods/{method}/resetPassword",
            "/beta/{users}/authentication/methods/{method}/resetPassword",
            "/beta/{users}/authentication/passwordMethods/{method}/resetPassword",
        ] {
            let handler = post(reset_password).fallback(observe::fallback);
            router = router.route(&path.replace("{users}", users), handler);
        }
        for version in ["v1.0", "beta"] {
            let path = format!("/{version}/{users}/authentication/operations/{{op}}");
            router = router.route(&path, get(get_operation).fallback(observe::fallback));
        }
    }
    router
}

/// `v1.0` or `beta`, from the request's path.
fn version(uri: &Uri) -> &'static str {
    if uri.path().starts_with("/beta/") {
        "beta"
    } else {
        "v1.0"
    }
}

async fn reset_password(
    State(sb): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    uri: Uri,
    path: UserAnd,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let second = sb.second_now();
    sb.counters().reset_arrived(FAMILY, second);
    let odd = sb.opts.faults.odd.pick();
    if odd == Some(Odd::Redirect) {
        return hostile::redirect(&sb.trap.url, &uri);
    }
    let mut resp = reset(&sb, &uri, path, &headers, body, odd).unwrap_or_else(|e| {
        if e.status() == StatusCode::TOO_MANY_REQUESTS {
            sb.counters().throttled(FAMILY, second);
        }
        e.render(&ids)
    });
    observe::maybe_drop(&sb, &mut resp);
    resp
}

/// The decision chain of one reset write.
fn reset(
    sb: &Shared,
    uri: &Uri,
    path: UserAnd,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    odd: Option<Odd>,
) -> Result<Response, GraphError> {
    let Path((user, method)) = path.map_err(|e| GraphError::invalid_request(e.body_text()))?;
    let user = user_of(user, uri)?;
    auth::check_bearer(headers, &sb.token).map_err(GraphError::unauthorized)?;
    delegated_only(sb, headers)?;
    gate_write(sb)?;
    if !sb.directory().exists(&user) {
        return Err(GraphError::not_found(&user));
    }
    if method != PASSWORD_METHOD_ID {
        return Err(GraphError::not_found(&method));
    }
    // Mostly "body too large" (413); keep the rejection's own status.
    let body = body.map_err(|e| GraphError::new(e.status(), "invalidRequest", e.body_text()))?;
    let requested = parse_body(&body).map_err(GraphError::invalid_request)?;
    let generated = requested.is_none();
    let password = requested.unwrap_or_else(random::password);
    let op = Accepted {
        version: version(uri),
        user: &user,
        method: &method,
    };
    if let Some(odd) = odd {
        return Ok(odd_answer(sb, odd, &op, password, generated));
    }
    Ok(match sb.opts.graph_mode {
        GraphMode::Async => accepted(sb, &op, password, generated),
        GraphMode::Sync200 | GraphMode::Sync204 => applied(sb, &user, password, generated),
    })
}

/// A hostile answer to a valid reset; every kind but a redirect applies the password.
fn odd_answer(sb: &Shared, odd: Odd, op: &Accepted, password: String, generated: bool) -> Response {
    let user = op.user;
    let mask = match odd {
        Odd::Text200 | Odd::ErrorAfterApply => {
            sb.directory().set_password(user, password);
            return match odd {
                Odd::Text200 => hostile::text_200(),
                _ => hostile::error_after_apply(),
            };
        }
        Odd::Slow => {
            let mut resp = match sb.opts.graph_mode {
                GraphMode::Async => accepted(sb, op, password, generated),
                _ => applied(sb, user, password, generated),
            };
            let delay = hostile::SlowAnswer(sb.opts.faults.odd.slow_delay);
            resp.extensions_mut().insert(delay);
            return resp;
        }
        Odd::Poll404 => OpMask::Hidden,
        Odd::UnknownState => OpMask::UnknownState,
        Odd::ForeignLocation | Odd::Redirect => OpMask::Honest,
    };
    let mut resp = accepted(sb, op, password, generated);
    let location = resp.headers().get(header::LOCATION).cloned();
    let op_id = location
        .as_ref()
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.split('?').next()?.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    sb.directory().mask_operation(&op_id, mask);
    if odd == Odd::ForeignLocation {
        let foreign = format!("{}/v1.0/operations/{op_id}", sb.trap.url);
        if let Ok(v) = HeaderValue::from_str(&foreign) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    resp
}

/// The throttle bucket (429) and the error ratio (503), in that order; see `faults`. Every
/// Graph write (resets, `PATCH /users`, revokes) shares the family's bucket, as Graph's own
/// limits are per app and tenant.
pub(crate) fn gate_write(sb: &Shared) -> Result<(), GraphError> {
    if let Err(wait) = sb.take_token(FAMILY) {
        return Err(throttled(sb, wait));
    }
    unavailable(sb)
}

/// Graph's 429: `Retry-After`, and `x-ms-throttle-scope` naming the limit that was hit (the
/// application's within the tenant, for writes).
fn throttled(sb: &Shared, wait: std::time::Duration) -> GraphError {
    let value = faults::retry_after_header(wait, sb.opts.faults.retry_after_http_date);
    GraphError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests. Please retry after the interval in the Retry-After header.",
    )
    .with_header(header::RETRY_AFTER, value)
    .with_header(
        header::HeaderName::from_static("x-ms-throttle-scope"),
        HeaderValue::from_static("Tenant_Application/ReadWrite/sandbox-tenant/credrotate-sandbox"),
    )
}

/// The error ratio: 503 with a `Retry-After`, as Graph sends it.
fn unavailable(sb: &Shared) -> Result<(), GraphError> {
    if sb.error_due() {
        return Err(GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable (sandbox fault). Retry later.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")));
    }
    Ok(())
}

/// Polls meet the family's bucket too (Graph's limits count every request), without being
/// counted as writes: 429 + `Retry-After`, then the error ratio's 503.
fn gate_poll(sb: &Shared) -> Result<(), GraphError> {
    if let Err(wait) = sb.take_token(FAMILY) {
        sb.counters().poll_throttled();
        return Err(throttled(sb, wait));
    }
    unavailable(sb)
}

/// `Ok(None)`: the server is to generate the password. `Err`: what is wrong with the body.
fn parse_body(body: &[u8]) -> Result<Option<String>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "The request body is not valid JSON ({e}); send {{\"newPassword\": \"...\"}} or {{}}."
        )
    })?;
    let Value::Object(map) = value else {
        return Err(
            "The request body must be a JSON object: {\"newPassword\": \"...\"} or {}.".into(),
        );
    };
    reject_unknown_parameters(&map)?;
    match map.get("newPassword") {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err("newPassword must not be empty; omit it to have the server generate one.".into())
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("newPassword must be a string.".into()),
    }
}

/// OData actions reject parameters they do not declare (a typo must not silently mean "generate").
fn reject_unknown_parameters(map: &Map<String, Value>) -> Result<(), String> {
    match map.keys().find(|k| k.as_str() != "newPassword") {
        Some(key) => Err(format!(
            "The parameter '{key}' in the request payload is not a valid parameter for the operation 'resetPassword'."
        )),
        None => Ok(()),
    }
}

/// Which reset a 202 accepts: the API version it came in on, the user and the method.
struct Accepted<'a> {
    version: &'static str,
    user: &'a str,
    method: &'a str,
}

/// Async mode: 202 + `Location` of an operation that succeeds after `op_delay`.
fn accepted(sb: &Shared, op: &Accepted, password: String, generated: bool) -> Response {
    let fail = random::roll(sb.opts.faults.op_failure_ratio);
    let body = if generated {
        json!({ "newPassword": password })
    } else {
        json!({})
    };
    let op_id = sb
        .directory()
        .accept(op.user, op.method, password, sb.opts.op_delay, fail);
    let location = format!(
        "{}/{}/{}/authentication/operations/{op_id}?aadOperationId={}",
        sb.base_url,
        op.version,
        user_path(op.user),
        random::guid()
    );
    let mut resp = graph_wire::odata(StatusCode::ACCEPTED, &body);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(secs) = sb.opts.op_retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    resp
}

/// Sync modes: the password changes now. 204 only when there is nothing to return.
fn applied(sb: &Shared, user: &str, password: String, generated: bool) -> Response {
    let returned = generated.then(|| password.clone());
    sb.directory().set_password(user, password);
    sb.accounts().set_must_change(user, true);
    if sb.opts.graph_mode == GraphMode::Sync204 && !generated {
        return StatusCode::NO_CONTENT.into_response();
    }
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.passwordResetResponse", sb.base_url),
        "newPassword": returned,
    });
    graph_wire::odata(StatusCode::OK, &body)
}

async fn get_operation(
    State(sb): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    uri: Uri,
    path: UserAnd,
    headers: HeaderMap,
) -> Response {
    sb.counters().poll();
    operation(&sb, &uri, path, &headers).unwrap_or_else(|e| e.render(&ids))
}

fn operation(
    sb: &Shared,
    uri: &Uri,
    path: UserAnd,
    headers: &HeaderMap,
) -> Result<Response, GraphError> {
    let version = version(uri);
    let Path((user, op_id)) = path.map_err(|e| GraphError::invalid_request(e.body_text()))?;
    let user = user_of(user, uri)?;
    auth::check_bearer(headers, &sb.token).map_err(GraphError::unauthorized)?;
    delegated_only(sb, headers)?;
    gate_poll(sb)?;
    let view = sb
        .directory()
        .operation(&user, &op_id)
        .ok_or_else(|| GraphError::not_found(&op_id))?;
    let base = &sb.base_url;
    let status_detail =
        (view.status == "failed").then_some("The password could not be reset (sandbox fault).");
    let body = json!({
        "@odata.context": format!(
            "{base}/{version}/$metadata#users('{}')/authentication/operations/$entity",
            user.replace('\'', "''")
        ),
        "id": op_id,
        "status": view.status,
        "createdDateTime": graph_wire::timestamp(view.created),
        "lastActionDateTime": graph_wire::timestamp(view.last_action),
        "resourceLocation": format!(
            "{base}/{version}/{}/authentication/methods/{}",
            user_path(&user),
            graph_wire::encode_segment(&view.method)
        ),
        "statusDetail": status_detail,
    });
    let mut resp = graph_wire::odata(StatusCode::OK, &body);
    if let (Some(secs), "running") = (sb.opts.op_retry_after, view.status) {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::parse_body;

    #[test]
    fn bodies() {
        assert_eq!(parse_body(br#"{"newPassword":"x"}"#), Ok(Some("x".into())));
        assert_eq!(parse_body(b"{}"), Ok(None));
        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            b"null",
            br#"{"newPassword":5}"#,
            br#"{"newPassword":null}"#,
            br#"{"newPassword":""}"#,
            br#"{"newpassword":"x"}"#,
        ] {
            assert!(parse_body(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
