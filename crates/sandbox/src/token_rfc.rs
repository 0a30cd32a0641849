//! The OAuth2 client-credentials grant (RFC 6749 §4.4) at the token endpoints Keycloak, Okta and
//! Auth0 document, for the one client of `OAuthOptions` (`client_id`, `client_secret`):
//!
//! - Keycloak: `POST /realms/{realm}/protocol/openid-connect/token`; tokens of issuer
//!   `keycloak:{realm}`, the only ones the Keycloak admin route accepts (`keycloak`).
//! - Okta, custom authorization server: `POST /oauth2/{authServerId}/v1/token` (e.g. `default`);
//!   `scope` is required (no default scopes are configured). Issuer `okta:{authServerId}`: such
//!   tokens are not accepted by Okta's own API (`okta`), as Okta documents.
//! - Okta, org authorization server: `POST /oauth2/v1/token`: a service app gets Okta-scoped
//!   tokens only with `private_key_jwt`, so a client secret is refused (401 `invalid_client`).
//! - Auth0: `POST /oauth/token`, form or JSON body; `audience` must be the Management API,
//!   `{base_url}/api/v2/` (403 `access_denied` otherwise). Issuer `auth0`.
//! - `OAuthOptions::token_path`, when set: the generic grant at that path (issuer `custom`).
//!
//! The client authenticates by form fields or HTTP Basic (`client_auth`, RFC 6749 §2.3.1). Errors
//! are RFC 6749 §5.2 `{"error","error_description"}`: 400, or 401 for `invalid_client` (with
//! `WWW-Authenticate: Basic` when Basic was tried, §5.2). Success: `{"access_token",
//! "token_type":"Bearer","expires_in"[,"scope"]}`; tokens expire after `token_ttl`. These routes
//! are outside `observe` (they are not the provider API whose requests the stats count).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::BearerCheck;
use super::client_auth::{self, Claimed, Method, Refusal};
use super::state::Shared;
use super::Options;

type Form = HashMap<String, String>;

/// Which documented server a request reached.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Server {
    Keycloak(String),
    OktaCustom(String),
    OktaOrg,
    Auth0,
    Custom,
}

impl Server {
    fn issuer(&self) -> String {
        match self {
            Server::Keycloak(realm) => format!("keycloak:{realm}"),
            Server::OktaCustom(id) => format!("okta:{id}"),
            Server::OktaOrg => "okta:org".into(),
            Server::Auth0 => "auth0".into(),
            Server::Custom => "custom".into(),
        }
    }
}

pub(crate) fn routes(opts: &Options) -> Router<Arc<Shared>> {
    let router = Router::new()
        .route(
            "/realms/{realm}/protocol/openid-connect/token",
            post(keycloak),
        )
        .route("/oauth2/{server}/v1/token", post(okta_custom))
        .route(OKTA_ORG, post(okta_org))
        .route(AUTH0, post(auth0));
    match opts.oauth.token_path.as_deref() {
        Some(path) if !DOCUMENTED.contains(&path) => router.route(path, post(custom)),
        _ => router,
    }
}

const OKTA_ORG: &str = "/oauth2/v1/token";
const AUTH0: &str = "/oauth/token";
/// The literal documented paths (a `token_path` naming one is served already).
const DOCUMENTED: [&str; 2] = [OKTA_ORG, AUTH0];

type Sb = State<Arc<Shared>>;

async fn keycloak(State(sb): Sb, Path(realm): Path<String>, h: HeaderMap, b: Bytes) -> Response {
    grant(&sb, &Server::Keycloak(realm), &h, &b)
}

async fn okta_custom(State(sb): Sb, Path(id): Path<String>, h: HeaderMap, b: Bytes) -> Response {
    grant(&sb, &Server::OktaCustom(id), &h, &b)
}

async fn okta_org(State(sb): Sb, h: HeaderMap, b: Bytes) -> Response {
    grant(&sb, &Server::OktaOrg, &h, &b)
}

async fn auth0(State(sb): Sb, h: HeaderMap, b: Bytes) -> Response {
    grant(&sb, &Server::Auth0, &h, &b)
}

async fn custom(State(sb): Sb, h: HeaderMap, b: Bytes) -> Response {
    grant(&sb, &Server::Custom, &h, &b)
}

/// Checks `token_path`: a documented path, or a literal absolute path that shadows no other
/// route (the sandbox's own, the provider APIs, the documented token endpoints' patterns).
pub(crate) fn validate_token_path(path: &str) -> anyhow::Result<()> {
    if DOCUMENTED.contains(&path) {
        return Ok(());
    }
    let segments_ok = path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        })
    });
    anyhow::ensure!(
        segments_ok,
        "sandbox token_path must be an absolute path of plain segments (letters, digits, -._~), got {path:?}"
    );
    let taken = [
        "/_sandbox/",
        "/api/",
        "/admin/",
        "/v1.0/",
        "/beta/",
        "/realms/",
        "/oauth2/",
    ];
    anyhow::ensure!(
        !taken.iter().any(|p| path.starts_with(p)) && !path.contains("/oauth2/v2.0/"),
        "sandbox token_path {path:?} would shadow a sandbox route (under {} or .../oauth2/v2.0/)",
        taken.join(", ")
    );
    Ok(())
}

/// An RFC 6749 §5.2 error answer.
struct Refused {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

fn refused(status: StatusCode, error: &'static str, description: &str) -> Refused {
    Refused {
        status,
        error,
        description: description.to_owned(),
        basic_challenge: false,
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut resp = (self.status, Json(body)).into_response();
        if self.basic_challenge {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        resp
    }
}

fn grant(sb: &Shared, server: &Server, headers: &HeaderMap, body: &[u8]) -> Response {
    match decide(sb, server, headers, body) {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

fn decide(
    sb: &Shared,
    server: &Server,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Refused> {
    let form = parse_body(server, headers, body)?;
    let client = authenticate(sb, headers, &form)?;
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        ));
    }
    server_rules(sb, server, &form)?;
    let tokens = &sb.token;
    tokens.count_client_credentials(client.method);
    let grant = tokens.issue(&server.issuer(), false);
    let mut answer = json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
    });
    if let Some(scope) = form.get("scope") {
        answer["scope"] = Value::String(scope.clone());
    }
    Ok(answer)
}

/// Form-encoded, as RFC 6749 requires; Auth0 also takes a JSON object of strings.
fn parse_body(server: &Server, headers: &HeaderMap, body: &[u8]) -> Result<Form, Refused> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(url::form_urlencoded::parse(body).into_owned().collect());
    }
    let bad = || {
        refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )
    };
    if *server != Server::Auth0 || !content_type.starts_with("application/json") {
        return Err(bad());
    }
    match serde_json::from_slice::<HashMap<String, Value>>(body) {
        Ok(map) => Ok(map
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect()),
        Err(_) => Err(bad()),
    }
}

/// RFC 6749 §2.3.1: the one known client, by form fields or Basic, with its secret.
fn authenticate(sb: &Shared, headers: &HeaderMap, form: &Form) -> Result<Claimed, Refused> {
    let claimed = client_auth::claimed(headers, form).map_err(|r| match r {
        Refusal::TwoMethods => refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the client must use one authentication method per request (RFC 6749 §2.3)",
        ),
        Refusal::BadBasic | Refusal::NoClient => invalid_client(true),
    })?;
    let expected = sb.token.oauth.client_secret.as_deref().unwrap_or_default();
    let secret_ok = claimed
        .secret
        .as_deref()
        .is_some_and(|s| !expected.is_empty() && expected.accepts(s).is_ok());
    if claimed.client_id != sb.token.oauth.client_id || !secret_ok {
        return Err(invalid_client(claimed.method == Method::Basic));
    }
    Ok(claimed)
}

fn invalid_client(tried_basic: bool) -> Refused {
    Refused {
        basic_challenge: tried_basic,
        ..refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        )
    }
}

/// What each server documents beyond RFC 6749.
fn server_rules(sb: &Shared, server: &Server, form: &Form) -> Result<(), Refused> {
    match server {
        Server::OktaCustom(_) if !form.contains_key("scope") => Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        )),
        Server::OktaOrg => Err(refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
        )),
        Server::Auth0 => {
            let expected = format!("{}/api/v2/", sb.base_url);
            match form.get("audience") {
                Some(a) if *a == expected => Ok(()),
                Some(a) => Err(refused(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    &format!("Service not found: {a}"),
                )),
                None => Err(refused(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "No audience parameter was provided, and no default audience has been configured",
                )),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_are_plain_and_do_not_shadow_routes() {
        assert!(validate_token_path("/auth/realms/r/protocol/openid-connect/token").is_ok());
        assert!(validate_token_path("/token").is_ok());
        assert!(
            validate_token_path("/oauth2/v1/token").is_ok(),
            "documented"
        );
        for bad in [
            "token",
            "/a//b",
            "/a/../b",
            "/a/{x}",
            "/_sandbox/t",
            "/api/v1/t",
            "/realms/x",
            "/oauth2/x/v1/token",
            "/t/oauth2/v2.0/token",
        ] {
            assert!(validate_token_path(bad).is_err(), "{bad}");
        }
    }
}
