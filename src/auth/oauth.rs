//! OAuth2 access tokens for a provider (Microsoft identity platform v2.0 endpoints): the
//! client-credentials grant, and the token cache that every worker of a provider shares.
//!
//! Invariants:
//! - One [`TokenSource`] per provider, cloned into every worker; its state sits behind one
//!   `tokio::sync::Mutex`, so at most one token request is in flight and all workers use the
//!   same cached token.
//! - A token is used until `margin` before its `expires_in` (a tenth of its lifetime, at most
//!   60 s), then renewed before the next request; a 401 renews it once, and 401s that arrive
//!   while (or just after) another worker renewed reuse that renewal instead of starting another.
//! - Token values and client secrets stay in [`SecretString`]s; they are exposed only into the
//!   form of a token request or a sensitive `Authorization` header, never logged.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Client, Url};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::device;
use crate::secret::{redact, ExposeSecret, SecretString};

/// Where Entra ID (Azure AD) lives in the global cloud; sovereign clouds have their own.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Application permissions of the app registration, for the client-credentials grant.
pub const GRAPH_APP_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Delegated permission Graph `resetPassword` needs, plus a refresh token.
pub const GRAPH_DELEGATED_SCOPE: &str =
    "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All offline_access";
/// 401s arriving this soon after a renewal reuse it.
const COALESCE: Duration = Duration::from_millis(250);

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

/// How tokens are obtained.
pub(crate) enum Flow {
    ClientCredentials(SecretString),
    /// Device code sign-in at start-up, then the refresh-token grant.
    DeviceCode,
}

/// A successful token answer.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    access_token: SecretString,
    /// Seconds; a number, though some servers send a string.
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<SecretString>,
}

impl TokenAnswer {
    fn lifetime(&self) -> Duration {
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
    pub(crate) error_description: Option<String>,
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

struct Access {
    token: SecretString,
    renew_at: Instant,
}

#[derive(Default)]
struct State {
    access: Option<Access>,
    refresh: Option<SecretString>,
    renewed_at: Option<Instant>,
}

struct Inner {
    http: Client,
    endpoint: Endpoint,
    flow: Flow,
    state: Mutex<State>,
}

/// The shared token cache of one provider's OAuth2 credential.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(http: Client, endpoint: Endpoint, flow: Flow) -> TokenSource {
        let inner = Inner {
            http,
            endpoint,
            flow,
            state: Mutex::new(State::default()),
        };
        TokenSource {
            inner: Arc::new(inner),
        }
    }

    /// Obtains the first token (device code: the interactive sign-in). Start-up only.
    pub(crate) async fn sign_in(&self) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        match &self.inner.flow {
            Flow::ClientCredentials(_) => self.renew(&mut state).await,
            Flow::DeviceCode => {
                let answer = device::sign_in(&self.inner.http, &self.inner.endpoint).await?;
                store(&mut state, answer);
                Ok(())
            }
        }
    }

    /// Signs `req` with the cached token, renewing it first when it is due.
    pub(crate) async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        let mut state = self.inner.state.lock().await;
        let fresh = |s: &State| {
            s.access
                .as_ref()
                .is_some_and(|a| Instant::now() < a.renew_at)
        };
        if !fresh(&state) {
            self.renew(&mut state).await?;
        }
        match &state.access {
            Some(access) => Ok(req.bearer_auth(access.token.expose_secret())),
            None => bail!("no access token"),
        }
    }

    /// After a 401: renews the token (once for a wave of 401s). True when a new token is ready.
    pub(crate) async fn on_unauthorized(&self) -> bool {
        let arrived = Instant::now();
        let mut state = self.inner.state.lock().await;
        if state.renewed_at.is_some_and(|t| t + COALESCE >= arrived) {
            return true;
        }
        match self.renew(&mut state).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("cannot renew the access token after a 401: {e:#}");
                false
            }
        }
    }

    async fn renew(&self, state: &mut State) -> Result<()> {
        let Inner { http, endpoint, .. } = &*self.inner;
        let answer = match &self.inner.flow {
            Flow::ClientCredentials(secret) => client_credentials(http, endpoint, secret).await?,
            Flow::DeviceCode => match &state.refresh {
                Some(refresh) => device::refresh(http, endpoint, refresh).await?,
                None => bail!(
                    "no refresh token to renew the delegated token (hint: run again and sign in)"
                ),
            },
        };
        store(state, answer);
        Ok(())
    }
}

fn store(state: &mut State, answer: TokenAnswer) {
    let now = Instant::now();
    let lifetime = answer.lifetime();
    let margin = (lifetime / 10).min(Duration::from_secs(60));
    tracing::debug!(expires_in_s = lifetime.as_secs(), "access token obtained");
    state.access = Some(Access {
        token: answer.access_token,
        renew_at: now + lifetime - margin,
    });
    if let Some(refresh) = answer.refresh_token {
        state.refresh = Some(refresh);
    }
    state.renewed_at = Some(now);
}

/// The client-credentials grant.
async fn client_credentials(
    http: &Client,
    endpoint: &Endpoint,
    secret: &SecretString,
) -> Result<TokenAnswer> {
    let url = endpoint.url("token");
    let form = [
        ("client_id", endpoint.client_id.as_str()),
        ("client_secret", secret.expose_secret()),
        ("scope", endpoint.scope.as_str()),
        ("grant_type", "client_credentials"),
    ];
    match post_form(http, &url, &form).await? {
        Ok(answer) => Ok(answer),
        Err(e) => bail!(
            "the token endpoint {url} refused the client credentials of {}: {} (hint: check tenant, client_id and the secret in client_secret_file / client_secret_env)",
            endpoint.client_id,
            redact(&e.to_string(), &[secret])
        ),
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
            scope: GRAPH_APP_SCOPE.into(),
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
