//! The Microsoft identity platform's OAuth2 v2.0 endpoints, as documented, on the sandbox:
//!
//! - `POST /{tenant}/oauth2/v2.0/token`, form-encoded, grants `client_credentials`
//!   (`client_id`, `client_secret` or HTTP Basic as RFC 6749 §2.3.1 says, `scope`),
//!   `urn:ietf:params:oauth:grant-type:device_code`
//!   (`client_id`, `device_code`) and `refresh_token` (`client_id`, `refresh_token`). Success:
//!   `{"token_type":"Bearer","scope","expires_in","ext_expires_in","access_token"[,"refresh_token"]}`.
//!   Errors (RFC 6749 §5.2 as Entra ID sends them): 400 (401 for `invalid_client`)
//!   `{"error","error_description":"AADSTS…","error_codes":[…]}`; device polls answer
//!   `authorization_pending` (the first `device_pending_polls` times), then the token, or
//!   `expired_token` once the code's lifetime is over.
//! - `POST /{tenant}/oauth2/v2.0/devicecode` (`client_id`, `scope`) →
//!   `{"device_code","user_code","verification_uri","expires_in","interval","message"}`.
//! - `GET /_sandbox/oauth`: the token endpoint's counters (`tokens::OAuthStats`), no auth.
//!
//! Any tenant segment is accepted. Issued access tokens expire for real after `token_ttl`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::BearerCheck;
use super::client_auth::{self, Claimed, Refusal};
use super::random;
use super::state::Shared;
use super::tokens::{DevicePoll, Grant, Tokens};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The issuer of this endpoint's tokens (see `tokens::IssuedBy`).
const ENTRA: &str = "entra";

type Form = HashMap<String, String>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
        .route("/_sandbox/oauth", get(stats))
}

/// An OAuth2 error answer.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    code: u32,
}

fn oauth_error(error: &'static str, code: u32, description: &str) -> OAuthError {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    OAuthError {
        status,
        error,
        description: format!("AADSTS{code}: {description}"),
        code,
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": self.description,
            "error_codes": [self.code],
            "trace_id": random::guid(),
            "correlation_id": random::guid(),
        });
        (self.status, Json(body)).into_response()
    }
}

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(oauth_error(
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

fn required<'a>(form: &'a Form, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            oauth_error(
                "invalid_request",
                900144,
                &format!("The request body must contain the following parameter: '{name}'."),
            )
        })
}

fn check_client(tokens: &Tokens, form: &Form) -> Result<(), OAuthError> {
    known_client(tokens, required(form, "client_id")?)
}

fn known_client(tokens: &Tokens, client_id: &str) -> Result<(), OAuthError> {
    if client_id != tokens.oauth.client_id {
        return Err(oauth_error(
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        ));
    }
    Ok(())
}

/// The client of a token request, authenticated by form fields or Basic (RFC 6749 §2.3.1).
fn claimed_client(
    tokens: &Tokens,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Claimed, OAuthError> {
    let claimed = client_auth::claimed(headers, form).map_err(|r| match r {
        Refusal::TwoMethods => oauth_error(
            "invalid_request",
            90023,
            "The request must use one client authentication method only.",
        ),
        Refusal::BadBasic => oauth_error(
            "invalid_client",
            7000216,
            "The Basic credentials cannot be decoded.",
        ),
        Refusal::NoClient => oauth_error(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ),
    })?;
    known_client(tokens, &claimed.client_id)?;
    Ok(claimed)
}

async fn token(State(sb): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let tokens = &sb.token;
    let result = parse_form(&headers, &body).and_then(|form| {
        let client = claimed_client(tokens, &headers, &form)?;
        match required(&form, "grant_type")? {
            "client_credentials" => client_credentials(tokens, &form, &client),
            DEVICE_GRANT => device_grant(tokens, &form),
            "refresh_token" => refresh(tokens, &form),
            _ => Err(oauth_error(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            )),
        }
    });
    match result {
        Ok((grant, scope)) => Json(grant_json(grant, &scope)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn grant_json(grant: Grant, scope: &str) -> Value {
    let mut v = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": grant.expires_in,
        "ext_expires_in": grant.expires_in,
        "access_token": grant.access_token,
    });
    if let Some(r) = grant.refresh_token {
        v["refresh_token"] = Value::String(r);
    }
    v
}

fn client_credentials(
    tokens: &Tokens,
    form: &Form,
    client: &Claimed,
) -> Result<(Grant, String), OAuthError> {
    let secret = client.secret.as_deref().unwrap_or_default();
    let expected = tokens.oauth.client_secret.as_deref().unwrap_or_default();
    if secret.is_empty() || expected.is_empty() || expected.accepts(secret).is_err() {
        return Err(oauth_error(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        ));
    }
    let scope = required(form, "scope")?.to_owned();
    tokens.count_client_credentials(client.method);
    Ok((tokens.issue(ENTRA, false), scope))
}

fn device_grant(tokens: &Tokens, form: &Form) -> Result<(Grant, String), OAuthError> {
    let code = required(form, "device_code")?;
    match tokens.poll_device(code) {
        DevicePoll::Approved => Ok((tokens.issue(ENTRA, true), delegated_scope())),
        DevicePoll::Pending => Err(oauth_error(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )),
        DevicePoll::Expired => Err(oauth_error(
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        )),
        DevicePoll::Unknown => Err(oauth_error(
            "invalid_grant",
            70000,
            "The provided value for the 'device_code' is not valid.",
        )),
    }
}

fn refresh(tokens: &Tokens, form: &Form) -> Result<(Grant, String), OAuthError> {
    if !tokens.knows_refresh(required(form, "refresh_token")?) {
        return Err(oauth_error(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    }
    tokens.count(|s| s.refreshes += 1);
    Ok((tokens.issue(ENTRA, true), delegated_scope()))
}

fn delegated_scope() -> String {
    "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All".into()
}

async fn device_code(State(sb): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let tokens = &sb.token;
    let result = parse_form(&headers, &body).and_then(|form| {
        check_client(tokens, &form)?;
        required(&form, "scope")?;
        Ok(tokens.new_device())
    });
    let code = match result {
        Ok(code) => code,
        Err(e) => return e.into_response(),
    };
    let user_code: String = random::guid()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(9)
        .collect::<String>()
        .to_ascii_uppercase();
    let uri = format!("{}/devicelogin", sb.base_url);
    Json(json!({
        "device_code": code,
        "user_code": user_code,
        "verification_uri": uri,
        "expires_in": tokens.oauth.device_code_ttl.as_secs(),
        "interval": tokens.oauth.device_interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

async fn stats(State(sb): State<Arc<Shared>>) -> Response {
    Json(sb.token.stats()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_entra_shapes() {
        let e = oauth_error("invalid_client", 7000215, "bad");
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(e.description, "AADSTS7000215: bad");
        let e = oauth_error("authorization_pending", 70016, "wait");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn form_needs_the_form_content_type() {
        let mut h = HeaderMap::new();
        assert!(parse_form(&h, b"a=b").is_err());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let form = parse_form(&h, b"grant_type=client_credentials&scope=a%20b").unwrap();
        assert_eq!(form["scope"], "a b");
    }
}
