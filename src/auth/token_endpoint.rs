//! The token endpoint of an OAuth2 client registration (Microsoft identity platform v2.0 paths,
//! or any `token_url`), and what every grant shares: the form POST to it, the token answer and
//! the OAuth2 error answer.
//! The grants themselves live in `oauth` (client credentials, the token cache) and `device`
//! (device code, refresh); both build on this module, which depends on neither.
//!
//! Invariants:
//! - Token answers stay secret: the access and refresh tokens are [`SecretString`]s from the
//!   moment they are parsed, the body is zeroized after parsing, and a body that does not parse
//!   is never quoted in an error (serde's messages may quote it).
//! - A token's lifetime is bounded (1 s to one day, 300 s when the server names none), whatever
//!   `expires_in` says.

use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;

use super::ClientAuth;
use crate::secret::SecretString;

/// Which token server: Microsoft Entra ID's paths, or any OAuth2 token endpoint.
#[derive(Debug, Clone)]
pub(crate) enum Server {
    /// `{authority}/{tenant}/oauth2/v2.0/{token|devicecode}`.
    Entra { authority: Url, tenant: String },
    /// The token endpoint itself (Keycloak, Okta, Auth0...): client credentials only.
    TokenUrl(Url),
}

/// The token endpoint of one client registration, and what its grants send.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) server: Server,
    pub(crate) client_id: String,
    /// Sent when set (Entra always has one).
    pub(crate) scope: Option<String>,
    /// Sent when set (Auth0 names the API it wants a token for).
    pub(crate) audience: Option<String>,
    pub(crate) client_auth: ClientAuth,
}

impl Endpoint {
    /// Where access tokens come from.
    pub(crate) fn token_url(&self) -> Url {
        match &self.server {
            Server::Entra { .. } => self.entra_url("token"),
            Server::TokenUrl(url) => url.clone(),
        }
    }

    /// `{authority}/{tenant}/oauth2/v2.0/{leaf}` (for a `TokenUrl` server, the token URL).
    pub(crate) fn entra_url(&self, leaf: &str) -> Url {
        let Server::Entra { authority, tenant } = &self.server else {
            return self.token_url();
        };
        let mut url = authority.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty()
                .extend([tenant.as_str(), "oauth2", "v2.0", leaf]);
        }
        url
    }

    /// The tenant, or the token server's host: for messages.
    pub(crate) fn server_name(&self) -> String {
        match &self.server {
            Server::Entra { tenant, .. } => tenant.clone(),
            Server::TokenUrl(url) => url.host_str().unwrap_or_default().to_owned(),
        }
    }

    /// The hint after a refused client-credentials request: which keys to check.
    pub(crate) fn refusal_hint(&self) -> &'static str {
        match &self.server {
            Server::Entra { .. } => "check tenant, client_id and the secret in client_secret_file / client_secret_env",
            Server::TokenUrl(_) => "check token_url, client_id, client_auth, scope/audience and the secret in client_secret_file / client_secret_env",
        }
    }
}

/// A successful token answer.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: SecretString,
    /// Seconds; a number, though some servers send a string.
    expires_in: Option<serde_json::Value>,
    pub(crate) refresh_token: Option<SecretString>,
}

impl TokenAnswer {
    /// How long the access token is valid, bounded.
    pub(crate) fn lifetime(&self) -> Duration {
        let secs = match &self.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        // Bounded: a hostile or broken `expires_in` must not overflow the clock, nor keep a
        // token past a day (or renew it in a hot loop).
        Duration::from_secs(secs.unwrap_or(300).clamp(1, 24 * 3600))
    }
}

/// An OAuth2 error answer (RFC 6749 §5.2).
#[derive(Debug, Deserialize)]
pub(crate) struct OAuthError {
    pub(crate) error: String,
    error_description: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(d) => write!(f, "{}: {}", self.error, d.lines().next().unwrap_or("")),
            None => f.write_str(&self.error),
        }
    }
}

/// POSTs a token-endpoint form. `Ok(Err(..))` is the server's OAuth2 error answer.
pub(crate) async fn post_form(
    http: &Client,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<Result<TokenAnswer, OAuthError>> {
    send_form(http.post(url.clone()).form(form), url).await
}

/// Sends a token request to `url` (built by the caller: its form, any client authentication).
/// `Ok(Err(..))` is the server's OAuth2 error answer.
pub(crate) async fn send_form(
    request: RequestBuilder,
    url: &Url,
) -> Result<Result<TokenAnswer, OAuthError>> {
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the token endpoint {url}"))?;
    let status = response.status();
    let body = zeroize::Zeroizing::new(response.bytes().await?.to_vec());
    if status.is_success() {
        // serde's messages may quote the body (a token): say only what was wrong with it.
        return serde_json::from_slice::<TokenAnswer>(&body)
            .map(Ok)
            .map_err(|_| {
                anyhow!("the token endpoint {url} answered {status} without an access_token")
            });
    }
    match serde_json::from_slice::<OAuthError>(&body) {
        Ok(e) => Ok(Err(e)),
        Err(_) => bail!("the token endpoint {url} answered HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_and_lifetimes() {
        let mut e = Endpoint {
            server: Server::Entra {
                authority: Url::parse("https://login.microsoftonline.us/").unwrap(),
                tenant: "contoso.onmicrosoft.com".into(),
            },
            client_id: "c".into(),
            scope: None,
            audience: None,
            client_auth: ClientAuth::Form,
        };
        assert_eq!(
            e.token_url().as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let kc = "https://kc.example.com/realms/r/protocol/openid-connect/token";
        e.server = Server::TokenUrl(Url::parse(kc).unwrap());
        assert_eq!(e.token_url().as_str(), kc);
        assert_eq!(e.server_name(), "kc.example.com");
        let a: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"x","expires_in":"3599"}"#).unwrap();
        assert_eq!(a.lifetime(), Duration::from_secs(3599));
        let a: TokenAnswer = serde_json::from_str(r#"{"access_token":"x"}"#).unwrap();
        assert_eq!(a.lifetime(), Duration::from_secs(300));
        let a: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"x","expires_in":18446744073709551615}"#)
                .unwrap();
        assert_eq!(a.lifetime(), Duration::from_secs(24 * 3600), "bounded");
    }

    #[test]
    fn oauth_errors_show_the_first_line_only() {
        let e: OAuthError = serde_json::from_str(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: bad\r\nTrace ID: x"}"#,
        )
        .unwrap();
        assert_eq!(e.to_string(), "invalid_client: AADSTS7000215: bad");
    }
}
