//! The OAuth2 device authorization grant (RFC 8628) for delegated tokens, which Graph
//! `resetPassword` requires, and the refresh-token grant that keeps a long run signed in.
//!
//! Invariants: the verification URL and user code (meant for the operator) go to stderr; the
//! device code, access and refresh tokens never appear anywhere. Polling follows RFC 8628 §3.5:
//! wait `interval` (default 5 s) between polls, keep polling on `authorization_pending`, add
//! 5 s on `slow_down`, stop on `expired_token`, `access_denied` (Entra: `authorization_declined`)
//! or when the code's `expires_in` has passed.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use reqwest::Client;
use serde::Deserialize;
use tokio::time::Instant;

use super::token_endpoint::{post_form, Endpoint, OAuthError, TokenAnswer};
use crate::secret::{ExposeSecret, SecretString};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The device authorization answer (RFC 8628 §3.2).
#[derive(Deserialize)]
struct DeviceAuthorization {
    device_code: SecretString,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    interval: Option<u64>,
}

/// What to do after a poll's error answer.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Poll again after this long.
    Wait(Duration),
    /// Give up with this explanation.
    Fail(String),
}

/// RFC 8628 §3.5: the reaction to each error code.
fn next_step(error: &str, interval: Duration) -> Step {
    match error {
        "authorization_pending" => Step::Wait(interval),
        "slow_down" => Step::Wait(interval + Duration::from_secs(5)),
        "expired_token" => Step::Fail(
            "the device code expired before the sign-in was completed (hint: run again and sign in sooner)".into(),
        ),
        "access_denied" | "authorization_declined" => {
            Step::Fail("the sign-in was declined".into())
        }
        other => Step::Fail(format!("the token endpoint answered {other}")),
    }
}

/// Runs the device code sign-in: asks for a code, tells the operator, polls until signed in.
pub(crate) async fn sign_in(http: &Client, endpoint: &Endpoint) -> Result<TokenAnswer> {
    let auth = request_code(http, endpoint).await?;
    eprintln!(
        "To sign in for {}, open {} in a browser and enter the code {} (valid for {} min).",
        endpoint.server_name(),
        auth.verification_uri,
        auth.user_code,
        auth.expires_in.div_ceil(60)
    );
    poll(http, endpoint, &auth).await
}

async fn request_code(http: &Client, endpoint: &Endpoint) -> Result<DeviceAuthorization> {
    let url = endpoint.entra_url("devicecode");
    let form = [
        ("client_id", endpoint.client_id.as_str()),
        ("scope", endpoint.scope.as_deref().unwrap_or_default()),
    ];
    let response = http
        .post(url.clone())
        .form(&form)
        .send()
        .await
        .with_context(|| format!("cannot reach the device code endpoint {url}"))?;
    let status = response.status();
    let body = zeroize::Zeroizing::new(response.bytes().await?.to_vec());
    if !status.is_success() {
        let why = serde_json::from_slice::<OAuthError>(&body)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| format!("HTTP {status}"));
        bail!("the device code endpoint {url} refused client {}: {why} (hint: the app registration must allow public client flows)", endpoint.client_id);
    }
    serde_json::from_slice(&body)
        .map_err(|_| anyhow::anyhow!("the device code endpoint {url} answered {status} without a device_code, user_code and verification_uri"))
}

async fn poll(
    http: &Client,
    endpoint: &Endpoint,
    auth: &DeviceAuthorization,
) -> Result<TokenAnswer> {
    let url = endpoint.token_url();
    // Bounded: the server's numbers must not overflow the clock or stall the sign-in for days.
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in.min(3600));
    let mut interval = Duration::from_secs(auth.interval.unwrap_or(5).clamp(1, 60));
    loop {
        tokio::time::sleep(interval).await;
        let form = [
            ("grant_type", DEVICE_GRANT),
            ("client_id", endpoint.client_id.as_str()),
            ("device_code", auth.device_code.expose_secret()),
        ];
        let error = match post_form(http, &url, &form).await? {
            Ok(answer) => {
                eprintln!("Signed in.");
                return Ok(answer);
            }
            Err(e) => e,
        };
        tracing::debug!(error = %error.error, "device code poll");
        match next_step(&error.error, interval) {
            Step::Wait(next) => interval = next,
            Step::Fail(why) => bail!("device code sign-in failed: {why}"),
        }
        if Instant::now() + interval > deadline {
            bail!("device code sign-in failed: nobody signed in within {} s (hint: run again and complete the sign-in in the browser)", auth.expires_in);
        }
    }
}

/// The refresh-token grant: a new access token (and usually a new refresh token).
pub(crate) async fn refresh(
    http: &Client,
    endpoint: &Endpoint,
    refresh_token: &SecretString,
) -> Result<TokenAnswer> {
    let url = endpoint.token_url();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", endpoint.client_id.as_str()),
        ("refresh_token", refresh_token.expose_secret()),
        ("scope", endpoint.scope.as_deref().unwrap_or_default()),
    ];
    match post_form(http, &url, &form).await? {
        Ok(answer) => Ok(answer),
        Err(e) => bail!("the token endpoint {url} refused to refresh the delegated token: {e} (hint: run again and sign in)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_follows_rfc_8628() {
        let five = Duration::from_secs(5);
        assert_eq!(next_step("authorization_pending", five), Step::Wait(five));
        assert_eq!(
            next_step("slow_down", five),
            Step::Wait(Duration::from_secs(10))
        );
        assert!(matches!(next_step("expired_token", five), Step::Fail(m) if m.contains("expired")));
        assert!(
            matches!(next_step("access_denied", five), Step::Fail(m) if m.contains("declined"))
        );
        assert!(matches!(
            next_step("authorization_declined", five),
            Step::Fail(_)
        ));
        assert!(
            matches!(next_step("bad_verification_code", five), Step::Fail(m) if m.contains("bad_verification_code"))
        );
    }
}
