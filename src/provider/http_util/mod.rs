//! HTTP plumbing shared by the HTTP providers: their client (`client`: requests built with
//! reqwest's builder, sent by hyper's pooled client), classifying statuses and transport errors,
//! the wait hints of throttled answers (`hints`: `Retry-After`, rate-limit reset headers), request
//! ids and error bodies (`answer`: the providers' documented error shapes).
//!
//! Invariants: a response or error becomes exactly one [`Attempt`] here, with the same rules for
//! every provider: transient (connection errors, timeouts, 408, 429, 500, 502, 503, 504), and
//! otherwise not applied or uncertain by [`super::verdict`]; a 3xx is never followed and reported
//! as `redirect_refused`; bodies are read up to [`BODY_MAX`] bytes and hints are bounded.

mod answer;
mod client;
mod hints;

use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use zeroize::{Zeroize, Zeroizing};

use super::verdict;
use super::{Attempt, Failure, Success};
use crate::auth::Credential;
use crate::secret::truncate;

pub use answer::{error_fields, request_id, ErrorFields};
pub use client::{Client, Options};
pub use hints::{retry_after, throttle_hint};

/// Longest body read from an answer: enough for any error or operation document, small enough
/// that a hostile answer cannot grow memory (messages are cut further after redaction).
pub const BODY_MAX: usize = 64 * 1024;

/// Signs and sends a request; on a 401 asks the credential for a fresh one and sends once more.
pub async fn send(
    client: &Client,
    credential: &Credential,
    request: RequestBuilder,
) -> Result<Response, Attempt> {
    let retry = request.try_clone();
    let response = signed(client, credential, request).await?;
    if response.status() != StatusCode::UNAUTHORIZED || !credential.on_unauthorized().await {
        return Ok(response);
    }
    match retry {
        Some(again) => signed(client, credential, again).await,
        None => Ok(response),
    }
}

async fn signed(
    client: &Client,
    credential: &Credential,
    request: RequestBuilder,
) -> Result<Response, Attempt> {
    let request = credential.apply(request).await.map_err(|e| {
        Attempt::NotApplied(Failure {
            code: "credential".into(),
            message: format!("{e:#}"),
            ..Failure::default()
        })
    })?;
    client.execute(request).await
}

/// Sends a request whose only answer worth reading is its status: any 2xx is success (with its
/// request id), anything else is classified by [`failure`].
pub async fn send_expecting_2xx(
    client: &Client,
    credential: &Credential,
    request: RequestBuilder,
) -> Attempt {
    let response = match send(client, credential, request).await {
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

/// Classifies a non-success response, reading (the start of) its body.
pub async fn failure(response: Response) -> Attempt {
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(response).await.unwrap_or_default();
    failure_from_response(status, &headers, &String::from_utf8_lossy(&body))
}

/// Reads a body up to [`BODY_MAX`] bytes; the rest is dropped unread.
async fn read_capped(mut response: Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = BODY_MAX - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == BODY_MAX {
            break;
        }
    }
    Ok(body)
}

/// Reads the JSON body of an answer the provider sent after accepting a request; an empty body
/// is `{}`. A body that cannot be read or parsed leaves it open what happened: uncertain.
pub async fn read_json(response: Response) -> Result<Value, Attempt> {
    let status = response.status().as_u16();
    // Zeroized when dropped: the answer may hold a server-generated password.
    let bytes = read_capped(response)
        .await
        .map(Zeroizing::new)
        .map_err(|e| {
            let mut failure = transport_failure(e, "transport");
            failure.http_status = Some(status);
            failure.message = format!(
                "the {status} answer's body was cut off: {}",
                failure.message
            );
            Attempt::uncertain(failure)
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Attempt::uncertain(Failure {
            http_status: Some(status),
            code: "bad_response".into(),
            message: format!(
                "the {status} answer's body is not valid JSON ({e}); the password may be in force"
            ),
            ..Failure::default()
        })
    })
}

/// Sets `value` as the request's JSON body so that no copy of the secrets in it outlives the
/// request: serialised into a buffer of exactly its size that is zeroized when reqwest drops it,
/// and the strings of `value` itself zeroized at once.
pub fn secret_json(request: RequestBuilder, mut value: Value) -> RequestBuilder {
    let mut counter = Counter(0);
    // Writing a `Value` cannot fail (no maps with non-string keys, no I/O errors here).
    let _ = serde_json::to_writer(&mut counter, &value);
    let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
    let _ = serde_json::to_writer(&mut *buf, &value);
    wipe(&mut value);
    request
        .header(CONTENT_TYPE, "application/json")
        .body(reqwest::Body::from(bytes::Bytes::from_owner(Wiped(buf))))
}

/// Counts bytes written, to size a buffer that then never reallocates (leaving stray copies).
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request body's bytes, zeroized on drop.
struct Wiped(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Zeroizes every string in `value` (a parsed answer that may hold a server-generated password).
pub fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

/// A failure found before any request left (nothing was sent).
pub fn not_sent(code: &str, message: String) -> Attempt {
    Attempt::NotApplied(Failure {
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

/// Classifies a non-success response.
pub fn failure_from_response(status: StatusCode, headers: &HeaderMap, body: &str) -> Attempt {
    if status.is_redirection() {
        return Attempt::NotApplied(redirect_refused(status, headers));
    }
    let fields = error_fields(body).unwrap_or_else(|| {
        let reason = status
            .canonical_reason()
            .unwrap_or("unexpected status")
            .to_owned();
        ErrorFields {
            code: format!("http_{}", status.as_u16()),
            message: reason,
            request_id: None,
        }
    });
    let failure = Failure {
        http_status: Some(status.as_u16()),
        code: truncate(fields.code, 200),
        message: truncate(fields.message, BODY_MAX),
        request_id: request_id(headers).or(fields.request_id.map(|id| truncate(id, 200))),
        client_request_id: None,
    };
    let applied = verdict::for_status(status.as_u16());
    if is_transient_status(status) {
        Attempt::Transient {
            retry_after: throttle_hint(status, headers),
            failure,
            applied,
        }
    } else {
        Attempt::failed(failure, applied)
    }
}

/// A 3xx: never followed, because the request body holds a password.
fn redirect_refused(status: StatusCode, headers: &HeaderMap) -> Failure {
    let target = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| match reqwest::Url::parse(l) {
            Ok(url) => url.host_str().unwrap_or("?").to_owned(),
            Err(_) => "this host".to_owned(),
        })
        .unwrap_or_else(|| "nowhere (no Location)".into());
    Failure {
        http_status: Some(status.as_u16()),
        code: "redirect_refused".into(),
        message: format!("the provider answered {status} redirecting to {}; credrotate never follows a redirect with a password in the body (hint: set base_url to the provider's final address)", truncate(target, 200)),
        request_id: request_id(headers),
        client_request_id: None,
    }
}

/// Classifies a transport error: only a connection never made proves nothing reached the
/// provider; timeouts and broken connections may come after it applied the password.
pub fn failure_from_error(err: reqwest::Error) -> Attempt {
    if err.is_builder() {
        return Attempt::NotApplied(transport_failure(err, "client"));
    }
    let (code, applied) = if err.is_connect() {
        ("connect", verdict::for_transport(true))
    } else if err.is_timeout() {
        ("timeout", verdict::for_transport(false))
    } else {
        ("transport", verdict::for_transport(false))
    };
    Attempt::Transient {
        retry_after: None,
        failure: transport_failure(err, code),
        applied,
    }
}

fn transport_failure(err: reqwest::Error, code: &str) -> Failure {
    Failure {
        http_status: err.status().map(|s| s.as_u16()),
        code: code.to_owned(),
        // Without the URL: it holds user ids, which belong in the report row, not every message.
        message: chain(&err.without_url()),
        request_id: None,
        client_request_id: None,
    }
}

/// An error and its sources, `: `-separated, cut to the longest message.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    truncate(text, crate::secret::MESSAGE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Applied;
    use reqwest::header::HeaderValue;

    #[test]
    fn graph_error_body() {
        let body = r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist"}}"#;
        let a = failure_from_response(StatusCode::NOT_FOUND, &HeaderMap::new(), body);
        let Attempt::NotApplied(f) = a else {
            panic!("expected not applied")
        };
        assert_eq!(f.code, "Request_ResourceNotFound");
        assert_eq!(f.http_status, Some(404));
    }

    #[test]
    fn secret_bodies_are_exact_and_their_sources_wiped() {
        let mut v = json!({"newPassword": "Secret-1", "nested": {"code": "C-2"}, "n": 5});
        let request = secret_json(
            reqwest::Client::new().post("http://127.0.0.1:9/"),
            v.clone(),
        )
        .build()
        .unwrap();
        let sent = request.body().and_then(|b| b.as_bytes()).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(sent).unwrap(), v);
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        wipe(&mut v);
        assert_eq!(
            v,
            json!({"newPassword": "", "nested": {"code": ""}, "n": 5})
        );
    }

    #[test]
    fn a_redirect_is_refused_and_names_the_host() {
        let mut h = HeaderMap::new();
        h.insert(
            LOCATION,
            HeaderValue::from_static("http://evil.example:9/steal"),
        );
        let a = failure_from_response(StatusCode::TEMPORARY_REDIRECT, &h, "");
        let Attempt::NotApplied(f) = a else {
            panic!("expected not applied")
        };
        assert_eq!(f.code, "redirect_refused");
        assert!(f.message.contains("evil.example"), "{}", f.message);
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            let a = failure_from_response(StatusCode::from_u16(s).unwrap(), &HeaderMap::new(), "");
            assert!(matches!(a, Attempt::Transient { .. }), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 307, 308] {
            let a = failure_from_response(StatusCode::from_u16(s).unwrap(), &HeaderMap::new(), "");
            assert!(matches!(a, Attempt::NotApplied(_)), "{s}");
        }
        for s in [500, 502, 504] {
            let a = failure_from_response(StatusCode::from_u16(s).unwrap(), &HeaderMap::new(), "");
            assert!(
                matches!(
                    a,
                    Attempt::Transient {
                        applied: Applied::Maybe,
                        ..
                    }
                ),
                "{s}: transient, and the password may be in force"
            );
        }
        for s in [501, 505, 406, 410] {
            let a = failure_from_response(StatusCode::from_u16(s).unwrap(), &HeaderMap::new(), "");
            assert!(matches!(a, Attempt::Uncertain { .. }), "{s}");
        }
    }
}
