//! HTTP plumbing shared by the HTTP providers: classifying statuses and transport errors,
//! `Retry-After`, request ids and error bodies.
//!
//! Invariant: a response or error becomes exactly one of succeeded / transient / permanent here,
//! with the same rules for every provider (transient: connection errors, timeouts, 408, 429, 500,
//! 502, 503, 504).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use super::{Attempt, Failure, Success};
use crate::auth::Credential;

/// Signs and sends a request; on a 401 asks the credential for a fresh one and sends once more.
pub async fn send(credential: &Credential, request: RequestBuilder) -> Result<Response, Attempt> {
    let retry = request.try_clone();
    let response = signed(credential, request).await?;
    if response.status() != StatusCode::UNAUTHORIZED || !credential.on_unauthorized().await {
        return Ok(response);
    }
    match retry {
        Some(again) => signed(credential, again).await,
        None => Ok(response),
    }
}

async fn signed(credential: &Credential, request: RequestBuilder) -> Result<Response, Attempt> {
    let request = credential.apply(request).await.map_err(|e| {
        Attempt::Permanent(Failure {
            code: "credential".into(),
            message: format!("{e:#}"),
            ..Failure::default()
        })
    })?;
    request.send().await.map_err(failure_from_error)
}

/// Classifies a non-success response, reading its body.
/// Sends a request whose only answer worth reading is its status: any 2xx is success (with its
/// request id), anything else is classified by [`failure`].
pub async fn send_expecting_2xx(credential: &Credential, request: RequestBuilder) -> Attempt {
    let response = match send(credential, request).await {
        Ok(r) => r,
        Err(a) => return a,
    };
    if !response.status().is_success() {
        return failure(response).await;
    }
    Attempt::Succeeded(Success {
        http_status: Some(response.status().as_u16()),
        request_id: request_id(response.headers()),
        ..Success::default()
    })
}

pub async fn failure(response: Response) -> Attempt {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    failure_from_response(status, &headers, &body)
}

/// Reads a JSON body; an empty body is `{}`.
pub async fn read_json(response: Response) -> Result<Value, Attempt> {
    let bytes = response.bytes().await.map_err(failure_from_error)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Attempt::Permanent(Failure {
            code: "bad_response".into(),
            message: format!("the response body is not valid JSON: {e}"),
            ..Failure::default()
        })
    })
}

/// A failure found before any request left (nothing was sent).
pub fn not_sent(code: &str, message: String) -> Attempt {
    Attempt::Permanent(Failure {
        code: code.into(),
        message,
        ..Failure::default()
    })
}

/// Appends path segments (each escaped by the URL library) to a base URL.
pub fn join_segments(base: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut s) = url.path_segments_mut() {
        s.pop_if_empty().extend(segments);
    }
    url
}

/// Is this status worth retrying?
pub fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The provider's request id header, if any.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    ["request-id", "x-request-id", "x-correlation-id"]
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok().map(str::to_owned))
}

/// Extracts `(code, message)` from common JSON error shapes:
/// Graph/OData `{"error":{"code","message"}}`, `{"code","message"}`, `{"error","error_description"}`.
pub fn error_fields(body: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let text = |x: &serde_json::Value| x.as_str().map(str::to_owned);
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        return Some((text(&e["code"])?, text(&e["message"]).unwrap_or_default()));
    }
    if let Some(code) = text(&v["code"]) {
        return Some((code, text(&v["message"]).unwrap_or_default()));
    }
    let code = text(&v["error"])?;
    Some((code, text(&v["error_description"]).unwrap_or_default()))
}

/// Classifies a non-success response.
pub fn failure_from_response(status: StatusCode, headers: &HeaderMap, body: &str) -> Attempt {
    let (code, message) = error_fields(body).unwrap_or_else(|| {
        let reason = status
            .canonical_reason()
            .unwrap_or("unexpected status")
            .to_owned();
        (format!("http_{}", status.as_u16()), reason)
    });
    let failure = Failure {
        http_status: Some(status.as_u16()),
        code,
        message: truncate(message, 500),
        request_id: request_id(headers),
    };
    if is_transient_status(status) {
        Attempt::Transient {
            retry_after: retry_after(headers),
            failure,
        }
    } else {
        Attempt::Permanent(failure)
    }
}

/// Classifies a transport error: timeouts and connection failures are transient.
pub fn failure_from_error(err: reqwest::Error) -> Attempt {
    let code = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else if err.is_request() || err.is_body() || err.is_decode() {
        "transport"
    } else {
        "client"
    };
    let failure = Failure {
        http_status: err.status().map(|s| s.as_u16()),
        code: code.to_owned(),
        // Without the URL: it holds user ids, which belong in the report row, not every message.
        message: error_chain(&err.without_url()),
        request_id: None,
    };
    if code == "client" {
        Attempt::Permanent(failure)
    } else {
        Attempt::Transient {
            retry_after: None,
            failure,
        }
    }
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    truncate(text, 500)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_and_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(future)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn graph_error_body() {
        let body = r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist"}}"#;
        let a = failure_from_response(StatusCode::NOT_FOUND, &HeaderMap::new(), body);
        let Attempt::Permanent(f) = a else {
            panic!("expected permanent")
        };
        assert_eq!(f.code, "Request_ResourceNotFound");
        assert_eq!(f.http_status, Some(404));
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            let a = failure_from_response(StatusCode::from_u16(s).unwrap(), &HeaderMap::new(), "");
            assert!(matches!(a, Attempt::Transient { .. }), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 501] {
            let a = failure_from_response(StatusCode::from_u16(s).unwrap(), &HeaderMap::new(), "");
            assert!(matches!(a, Attempt::Permanent(_)), "{s}");
        }
    }
}
