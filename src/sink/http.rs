//! The sink's HTTP side: one client for the store's API, and what its answers mean.
//!
//! Invariants: no redirect is followed (a body holds a password or a secret id); the token
//! travels only in `X-Vault-Token`, marked sensitive so it is never logged; every answer is
//! classified into a [`SinkError`] variant, never a string to be parsed again: connection
//! errors, timeouts, 412, 429 and 5xx are transient (retried), a check-and-set mismatch is a
//! conflict (read again, then write), every other 4xx is a refusal that ends the row's delivery.
//! Messages quote the store's `errors` list, cut short, never a request body.

use std::time::Duration;

use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::auth::Tls;
use crate::secret::{ExposeSecret, SecretString};

/// Why a request to the store did not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("check-and-set conflict: the secret changed since it was read")]
    Conflict,
}

/// The store's address and the client that reaches it.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    address: String,
    namespace: Option<String>,
}

impl Http {
    pub fn new(
        address: &str,
        namespace: Option<String>,
        tls: &Tls,
        timeout: Duration,
    ) -> anyhow::Result<Http> {
        let builder = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("credrotate/", env!("CARGO_PKG_VERSION")));
        Ok(Http {
            client: tls.apply(builder).build()?,
            address: address.to_owned(),
            namespace,
        })
    }

    /// A request to `/v1/{api}`, with the namespace and, when given, the token.
    pub fn request(
        &self,
        method: Method,
        api: &str,
        token: Option<&SecretString>,
    ) -> RequestBuilder {
        let mut req = self
            .client
            .request(method, format!("{}/v1/{api}", self.address))
            .header("X-Vault-Request", "true");
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(token) = token {
            if let Ok(mut value) = HeaderValue::from_str(token.expose_secret()) {
                value.set_sensitive(true);
                req = req.header("X-Vault-Token", value);
            }
        }
        req
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

/// Sends `req` and reads a 2xx JSON answer; `Ok(None)` for 404 when `allow_404`.
pub async fn send<T: DeserializeOwned>(req: RequestBuilder) -> Result<(StatusCode, T), SinkError> {
    let answer = req.send().await.map_err(unreachable)?;
    let status = answer.status();
    if status.is_success() {
        let body = answer.bytes().await.map_err(unreachable)?;
        let value =
            serde_json::from_slice(if body.is_empty() { b"null" } else { &body }).map_err(|e| {
                // Where, not what: serde's message quotes the offending value, which in a
                // secret's or a login's answer may be a password or a token.
                SinkError::Transient {
                    message: format!(
                        "HTTP {}: an answer that is not the expected JSON ({:?} error at line {}, column {})",
                        status.as_u16(),
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                    retry_after: None,
                }
            })?;
        return Ok((status, value));
    }
    Err(classify(answer).await)
}

/// A transport failure: the store was not reached or did not answer in time.
pub fn unreachable(e: reqwest::Error) -> SinkError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    let mut message = format!("{what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    SinkError::Transient {
        message: crate::secret::truncate(message, 300),
        retry_after: None,
    }
}

/// What a non-2xx answer means (see the module docs).
pub async fn classify(answer: Response) -> SinkError {
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let message = errors_of(&answer.bytes().await.unwrap_or_default());
    let code = status.as_u16();
    match code {
        412 | 429 | 500..=599 => SinkError::Transient {
            message: format!("HTTP {code}: {message}"),
            retry_after,
        },
        400 if message.contains("check-and-set") => SinkError::Conflict,
        _ => SinkError::Refused {
            status: code,
            message,
        },
    }
}

/// The store's `{"errors": [...]}`, joined and cut short.
fn errors_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<String>,
    }
    let text = match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e.errors.join("; "),
        _ => "(no error message)".to_owned(),
    };
    // Vault wraps messages as "1 error occurred:\n\t* permission denied\n\n": keep the message.
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "*").collect();
    let words = match words.as_slice() {
        [_, "error" | "errors", "occurred:", rest @ ..] => rest,
        all => all,
    };
    crate::secret::truncate(words.join(" "), 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_for_the_report() {
        let r = SinkError::Refused {
            status: 403,
            message: "permission denied".into(),
        };
        assert_eq!(r.to_string(), "HTTP 403: permission denied");
        assert_eq!(errors_of(br#"{"errors":["a","b"]}"#), "a; b");
        assert_eq!(errors_of(b"<html>"), "(no error message)");
        let wrapped = br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;
        assert_eq!(errors_of(wrapped), "permission denied");
    }
}
