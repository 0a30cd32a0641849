//! Microsoft Graph wire conventions shared by every Graph route family (v1.0 resetPassword now;
//! beta, `PATCH /users`, `revokeSignInSessions` later): request ids, the error envelope, OData
//! JSON responses, timestamps and URL path encoding.
//!
//! Written from Graph's documented shapes, never from the client's types:
//! errors are `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`
//! and every response carries `request-id` and `client-request-id` headers; when the client sent
//! no `client-request-id`, Graph reports the request id there too.

use std::time::SystemTime;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::auth::AuthFailure;
use super::random;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Graph's content type for OData payloads (clients must not insist on bare `application/json`).
const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// The ids of one request, made by the `observe` middleware and handed to handlers as an
/// extension so error bodies can repeat them.
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub(crate) request_id: String,
    pub(crate) client_request_id: String,
}

impl RequestIds {
    pub(crate) fn from_request(headers: &HeaderMap) -> Self {
        let request_id = random::guid();
        let client_request_id = headers
            .get(CLIENT_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map_or_else(|| request_id.clone(), str::to_owned);
        RequestIds {
            request_id,
            client_request_id,
        }
    }

    /// Puts both ids on a response.
    pub(crate) fn stamp(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (REQUEST_ID, &self.request_id),
            (CLIENT_REQUEST_ID, &self.client_request_id),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        }
    }
}

/// `2024-11-06T15:54:59Z`, as in Graph's `createdDateTime` fields.
pub(crate) fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A JSON response with Graph's OData content type.
pub(crate) fn odata(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    resp
}

/// A Graph error answer as data; [`GraphError::render`] turns it into a response carrying the
/// request's ids. Handlers return `Result<Response, GraphError>` and render at the edge.
#[derive(Debug)]
pub(crate) struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 401 for a missing or wrong bearer token.
    pub(crate) fn unauthorized(failure: AuthFailure) -> Self {
        let message = match failure {
            AuthFailure::Missing => "Access token is empty.",
            AuthFailure::Invalid => {
                "Access token validation failed: the token was not issued by this sandbox."
            }
            AuthFailure::Expired => "Lifetime validation failed, the token is expired.",
        };
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
        )
    }

    /// 400 `invalidRequest` with a message saying what to fix.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        GraphError::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }

    /// 404 for a user, method or operation that does not exist, in Graph's wording.
    pub(crate) fn not_found(resource: &str) -> Self {
        let message = format!(
            "Resource '{resource}' does not exist or one of its queried reference-property objects are not present."
        );
        GraphError::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", message)
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Graph's error envelope.
    pub(crate) fn render(self, ids: &RequestIds) -> Response {
        // innerError.date carries no zone designator in Graph's answers.
        let now = timestamp(SystemTime::now());
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": now.trim_end_matches('Z'),
                    "request-id": ids.request_id,
                    "client-request-id": ids.client_request_id,
                }
            }
        });
        json_response(self.status, &body, self.headers)
    }
}

/// A JSON response with extra headers: the shape every sandbox error answer takes.
pub(crate) fn json_response(
    status: StatusCode,
    body: &Value,
    extra: Vec<(HeaderName, HeaderValue)>,
) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.extend(extra);
    resp
}

/// Percent-encodes one URL path segment (keeps RFC 3986 unreserved characters, `@` and `:`, so
/// UPNs such as `alice@contoso.com` stay readable).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~@:!$'()*+,;=".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_id_is_echoed_or_defaulted() {
        let mut h = HeaderMap::new();
        let ids = RequestIds::from_request(&h);
        assert_eq!(ids.request_id, ids.client_request_id);
        h.insert(CLIENT_REQUEST_ID, HeaderValue::from_static("mine"));
        let ids = RequestIds::from_request(&h);
        assert_eq!(ids.client_request_id, "mine");
        assert_ne!(ids.request_id, "mine");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("alice@contoso.com"), "alice@contoso.com");
        assert_eq!(encode_segment("a b/c?d#é"), "a%20b%2Fc%3Fd%23%C3%A9");
    }

    #[test]
    fn timestamps_are_rfc3339_seconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_730_908_499_500);
        assert_eq!(timestamp(t), "2024-11-06T15:54:59Z");
    }
}
