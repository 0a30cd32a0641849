//! How every Graph request addresses a user and is traced: the one place that builds
//! `/users/{id}` paths and stamps the `client-request-id` header.
//!
//! Invariants: an id that starts with `$` is addressed as `users('$id')` (quotes doubled), as
//! Graph requires — `/users/$id` would be read as a system segment and refused with 400; every
//! request carries a fresh `client-request-id` (a random UUID) that the report records, so an
//! operator can match a row with Microsoft's logs.

use reqwest::{RequestBuilder, Url};

use crate::provider::http_util::join_segments;
use crate::provider::Attempt;

/// `{base}/users/{user}/{rest...}`, each part one percent-encoded path segment.
pub(crate) fn user_url(base: &Url, user: &str, rest: &[&str]) -> Url {
    let keyed;
    let mut segments: Vec<&str> = if user.starts_with('$') {
        keyed = format!("users('{}')", user.replace('\'', "''"));
        vec![&keyed]
    } else {
        vec!["users", user]
    };
    segments.extend_from_slice(rest);
    join_segments(base, &segments)
}

/// The request with a fresh `client-request-id`, and that id.
pub(crate) fn traced(request: RequestBuilder) -> (RequestBuilder, String) {
    let id = uuid_v4();
    (request.header("client-request-id", &id), id)
}

/// Records the `client-request-id` a request was sent with in its attempt.
pub(crate) fn with_client_request_id(mut attempt: Attempt, id: String) -> Attempt {
    match &mut attempt {
        Attempt::Succeeded(ok) => ok.client_request_id = Some(id),
        other => {
            if let Some(failure) = other.failure_mut() {
                failure.client_request_id = Some(id);
            }
        }
    }
    attempt
}

/// A random (version 4) UUID in its usual text form.
fn uuid_v4() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(HEX[usize::from(byte >> 4)] as char);
        text.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_ids_are_keyed_and_others_are_segments() {
        let base = Url::parse("https://graph.microsoft.com/v1.0").unwrap();
        let url = |user| user_url(&base, user, &["revokeSignInSessions"]).to_string();
        assert_eq!(
            url("$abc"),
            "https://graph.microsoft.com/v1.0/users('$abc')/revokeSignInSessions"
        );
        assert_eq!(
            url("$o'neil"),
            "https://graph.microsoft.com/v1.0/users('$o''neil')/revokeSignInSessions"
        );
        assert_eq!(
            url("a b@x.test"),
            "https://graph.microsoft.com/v1.0/users/a%20b@x.test/revokeSignInSessions"
        );
    }

    #[test]
    fn uuids_have_the_v4_shape() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        let dashes: Vec<usize> = id.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!(dashes, [8, 13, 18, 23], "{id}");
        assert!(id
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, uuid_v4());
    }
}
