//! OAuth2 access tokens for a provider (Microsoft identity platform v2.0 endpoints, or any
//! `token_url`): the client-credentials grant, and the token cache that every worker of a
//! provider shares.
//!
//! Invariants:
//! - One [`TokenSource`] per provider, cloned into every worker; its state sits behind one
//!   `tokio::sync::Mutex`, so at most one token request is in flight and all workers use the
//!   same cached token.
//! - A token is used until `margin` before its `expires_in` (a tenth of its lifetime, at most
//!   60 s), then renewed before the next request; a 401 renews it once, and 401s that arrive
//!   while (or just after) another worker renewed reuse that renewal instead of starting another.
//! - Token values and client secrets stay in [`SecretString`]s; they are exposed only into the
//!   form of a token request or a sensitive `Authorization` header (the form-encoded copy for
//!   HTTP Basic is zeroized), never logged.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use reqwest::Client;
use tokio::sync::Mutex;

use super::device;
use zeroize::Zeroizing;

use super::token_endpoint::{send_form, Endpoint, TokenAnswer};
use super::ClientAuth;
use crate::secret::{redact, ExposeSecret, SecretString};

/// Where Entra ID (Azure AD) lives in the global cloud; sovereign clouds have their own.
pub(crate) const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Application permissions of the app registration, for the client-credentials grant.
pub(crate) const GRAPH_APP_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Delegated permission Graph `resetPassword` needs, plus a refresh token.
pub(crate) const GRAPH_DELEGATED_SCOPE: &str =
    "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All offline_access";
/// 401s arriving this soon after a renewal reuse it.
const COALESCE: Duration = Duration::from_millis(250);

/// How tokens are obtained.
pub(crate) enum Flow {
    ClientCredentials(SecretString),
    /// Device code sign-in at start-up, then the refresh-token grant.
    DeviceCode,
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
pub(crate) struct TokenSource {
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

/// The client-credentials grant (RFC 6749 §4.4), the client authenticated by form fields or
/// HTTP Basic (§2.3.1).
async fn client_credentials(
    http: &Client,
    endpoint: &Endpoint,
    secret: &SecretString,
) -> Result<TokenAnswer> {
    let url = endpoint.token_url();
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend(endpoint.scope.as_deref().map(|s| ("scope", s)));
    form.extend(endpoint.audience.as_deref().map(|a| ("audience", a)));
    let request = match endpoint.client_auth {
        ClientAuth::Form => {
            form.push(("client_id", endpoint.client_id.as_str()));
            form.push(("client_secret", secret.expose_secret()));
            http.post(url.clone()).form(&form)
        }
        ClientAuth::Basic => {
            // §2.3.1: id and secret are form-encoded, then joined for Basic (RFC 7617).
            let id = form_encoded(&endpoint.client_id);
            let password = Zeroizing::new(form_encoded(secret.expose_secret()));
            http.post(url.clone())
                .form(&form)
                .basic_auth(id, Some(password.as_str()))
        }
    };
    match send_form(request, &url).await? {
        Ok(answer) => Ok(answer),
        Err(e) => {
            // A server may echo the secret, as sent or form-encoded.
            let encoded = crate::secret::secret(form_encoded(secret.expose_secret()));
            bail!(
                "the token endpoint {url} refused the client credentials of {}: {} (hint: {})",
                endpoint.client_id,
                redact(&e.to_string(), &[secret, &encoded]),
                endpoint.refusal_hint()
            )
        }
    }
}

/// The `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B).
fn form_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_client_credentials_are_form_encoded_first() {
        assert_eq!(form_encoded("a b+c:d/é"), "a+b%2Bc%3Ad%2F%C3%A9");
        assert_eq!(form_encoded("plain-Id_1.x~"), "plain-Id_1.x%7E");
    }
}
