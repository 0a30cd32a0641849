//! The token endpoint of an OAuth2 app registration (Microsoft identity platform v2.0 paths), and
//! what every grant shares: the form POST to it, the token answer and the OAuth2 error answer.
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
use reqwest::{Client, Url};
use serde::Deserialize;

use crate::secret::SecretString;

/// The token endpoint of one app registration in one tenant.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) authority: Url,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
}

impl Endpoint {
    /// `{authority}/{tenant}/oauth2/v2.0/{leaf}`.
    pub(crate) fn url(&self, leaf: &str) -> Url {
        let mut url = self.authority.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty()
                .extend([self.tenant.as_str(), "oauth2", "v2.0", leaf]);
        }
        url
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
    let response = http
        .post(url.clone())
        .form(form)
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
        let e = Endpoint {
            authority: Url::parse("https://login.microsoftonline.us/").unwrap(),
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "c".into(),
            scope: "https://graph.microsoft.com/.default".into(),
        };
        assert_eq!(
            e.url("token").as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
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
