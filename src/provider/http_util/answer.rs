//! What an error answer says, in the report's terms (`error_code`, `error_message`,
//! `request_id`), from the error shapes the providers document:
//!
//! | shape | code | message | request id |
//! |---|---|---|---|
//! | Graph / OData `{"error":{"code","message"}}` | `code` | `message` | `request-id` header |
//! | Okta `{errorCode, errorSummary, errorCauses:[{errorSummary}]}` | `errorCode` | summary; causes | `X-Okta-Request-Id` |
//! | Auth0 `{statusCode, error, message, errorCode}` | `errorCode`, else `error` | `message` | — |
//! | PingOne `{id, code, message, details:[{code, target, message}]}` | `code` | message; target: detail | `id` (no header) |
//! | RFC 6749 / Keycloak `{"error","error_description"}` | `error` | `error_description` | — |
//!
//! Invariants: only string fields are taken (a number or object never becomes a code); details
//! and causes are joined after the message, at most [`DETAILS_MAX`] of them; a header request id
//! wins over one from the body.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// Headers that carry a provider's request id, the provider-specific ones first.
const REQUEST_ID_HEADERS: [&str; 4] = [
    "x-okta-request-id",
    "request-id",
    "x-request-id",
    "x-correlation-id",
];

/// Error details or causes kept after a message.
const DETAILS_MAX: usize = 5;

/// The fields of an error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    pub code: String,
    pub message: String,
    /// An id the body carries for support (PingOne's `id`).
    pub request_id: Option<String>,
}

/// The provider's request id header, if any.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok().map(str::to_owned))
}

/// Extracts the fields of any shape in the table above; `None` for anything else.
pub fn error_fields(body: &str) -> Option<ErrorFields> {
    let v: Value = serde_json::from_str(body).ok()?;
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        return fields(text(&e["code"])?, text(&e["message"]), None);
    }
    if let Some(code) = text(&v["errorCode"]).filter(|_| v.get("errorSummary").is_some()) {
        let causes = joined(&v["errorCauses"], |c| text(&c["errorSummary"]));
        return fields(code, with_details(text(&v["errorSummary"]), causes), None);
    }
    if v.get("statusCode").is_some_and(Value::is_number) {
        let code = text(&v["errorCode"]).or_else(|| text(&v["error"]))?;
        return fields(code, text(&v["message"]), None);
    }
    if let Some(code) = text(&v["code"]) {
        let details = joined(&v["details"], detail);
        return fields(
            code,
            with_details(text(&v["message"]), details),
            text(&v["id"]),
        );
    }
    fields(text(&v["error"])?, text(&v["error_description"]), None)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn fields(
    code: String,
    message: Option<String>,
    request_id: Option<String>,
) -> Option<ErrorFields> {
    Some(ErrorFields {
        code,
        message: message.unwrap_or_default(),
        request_id,
    })
}

/// PingOne's detail: `target: message` (or the detail's code when it has no message).
fn detail(d: &Value) -> Option<String> {
    let what = text(&d["message"]).or_else(|| text(&d["code"]))?;
    Some(match text(&d["target"]) {
        Some(target) => format!("{target}: {what}"),
        None => what,
    })
}

/// The first [`DETAILS_MAX`] items of an array, each as `item` says, joined by `; `.
fn joined(items: &Value, item: impl Fn(&Value) -> Option<String>) -> Option<String> {
    let parts: Vec<String> = items
        .as_array()?
        .iter()
        .filter_map(item)
        .take(DETAILS_MAX)
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn with_details(message: Option<String>, details: Option<String>) -> Option<String> {
    match (message, details) {
        (Some(m), Some(d)) => Some(format!("{m} ({d})")),
        (m, d) => m.or(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> (String, String, Option<String>) {
        let f = error_fields(body).unwrap_or_else(|| panic!("no fields in {body}"));
        (f.code, f.message, f.request_id)
    }

    #[test]
    fn documented_error_shapes() {
        let graph = r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist"}}"#;
        assert_eq!(parsed(graph).0, "Request_ResourceNotFound");
        let okta = r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: password","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"password: Password requirements were not met"}]}"#;
        assert_eq!(
            parsed(okta),
            (
                "E0000001".into(),
                "Api validation failed: password (password: Password requirements were not met)"
                    .into(),
                None
            )
        );
        let okta_429 = r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorCauses":[]}"#;
        assert_eq!(
            parsed(okta_429).1,
            "API call exceeded rate limit due to too many requests."
        );
        let auth0 = r#"{"statusCode":400,"error":"Bad Request","message":"PasswordStrengthError: Password is too weak","errorCode":"invalid_body"}"#;
        assert_eq!(parsed(auth0).0, "invalid_body");
        assert_eq!(
            parsed(auth0).1,
            "PasswordStrengthError: Password is too weak"
        );
        let auth0_no_code = r#"{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached"}"#;
        assert_eq!(parsed(auth0_no_code).0, "Too Many Requests");
        let ping = r#"{"id":"7f3c-1","code":"INVALID_DATA","message":"The request could not be completed.","details":[{"code":"INVALID_VALUE","target":"newPassword","message":"Too short"}]}"#;
        assert_eq!(
            parsed(ping),
            (
                "INVALID_DATA".into(),
                "The request could not be completed. (newPassword: Too short)".into(),
                Some("7f3c-1".into())
            )
        );
        let rfc =
            r#"{"error":"invalid_request","error_description":"temporary must be a boolean"}"#;
        assert_eq!(parsed(rfc).1, "temporary must be a boolean");
        for other in [r#"{"code": 5}"#, r#"{"statusCode":400}"#, "[]", "not json"] {
            assert_eq!(error_fields(other), None, "{other}");
        }
    }

    #[test]
    fn okta_request_id_wins() {
        let mut h = HeaderMap::new();
        h.insert("request-id", "graph-like".parse().unwrap());
        assert_eq!(request_id(&h).as_deref(), Some("graph-like"));
        h.insert("x-okta-request-id", "okta-1".parse().unwrap());
        assert_eq!(request_id(&h).as_deref(), Some("okta-1"));
    }
}
