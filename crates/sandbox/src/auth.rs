//! Bearer-token check for the provider routes.
//!
//! The sandbox accepts its own fixed token (see `Sandbox::token`) and the expiring tokens its
//! OAuth2 endpoint issued (`tokens::Tokens`, a [`BearerCheck`]). How a failure is worded on the
//! wire is the route family's business (Graph's is in `graph_wire`); this module only decides
//! *which* failure it is.

use axum::http::{header, HeaderMap};

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No `Authorization` header, a non-Bearer scheme, or an empty token.
    Missing,
    /// A bearer token that is not ours.
    Invalid,
    /// A token the sandbox issued whose lifetime is over.
    Expired,
}

/// Something that decides whether a bearer token is accepted.
pub(crate) trait BearerCheck {
    fn accepts(&self, token: &str) -> Result<(), AuthFailure>;
}

/// Exactly this one token, compared in constant time.
impl BearerCheck for str {
    fn accepts(&self, token: &str) -> Result<(), AuthFailure> {
        if constant_time_eq(token.as_bytes(), self.as_bytes()) {
            Ok(())
        } else {
            Err(AuthFailure::Invalid)
        }
    }
}

/// Checks `Authorization: Bearer <token>` against `expected` (scheme case-insensitive, as RFC
/// 6750 allows).
pub(crate) fn check_bearer<E: BearerCheck + ?Sized>(
    headers: &HeaderMap,
    expected: &E,
) -> Result<(), AuthFailure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(AuthFailure::Missing);
    };
    let value = value.to_str().map_err(|_| AuthFailure::Invalid)?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => return Err(AuthFailure::Missing),
    };
    if token.is_empty() {
        return Err(AuthFailure::Missing);
    }
    expected.accepts(token)
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Checks `Authorization: Basic base64(user:password)` (RFC 7617).
pub(crate) fn check_basic(
    headers: &HeaderMap,
    user: &str,
    password: &str,
) -> Result<(), AuthFailure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(AuthFailure::Missing);
    };
    let value = value.to_str().map_err(|_| AuthFailure::Invalid)?.trim();
    let encoded = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => rest.trim(),
        _ => return Err(AuthFailure::Missing),
    };
    let expected = base64(format!("{user}:{password}").as_bytes());
    if constant_time_eq(encoded.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(AuthFailure::Invalid)
    }
}

/// Standard base64 with padding (RFC 4648 §4), enough for Basic credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Compares without an early exit, so response timing does not leak how much of a guessed token
/// was right. Cheap habit, even for a sandbox that may listen beyond loopback.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn accepts_only_our_token() {
        assert_eq!(check_bearer(&with("Bearer tok"), "tok"), Ok(()));
        assert_eq!(check_bearer(&with("bearer  tok "), "tok"), Ok(()));
        assert_eq!(
            check_bearer(&with("Bearer tok2"), "tok"),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            check_bearer(&with("Bearer to"), "tok"),
            Err(AuthFailure::Invalid)
        );
    }

    #[test]
    fn basic_credentials() {
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"ab"), "YWI=");
        let ok = with("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(check_basic(&ok, "Aladdin", "open sesame"), Ok(()));
        assert_eq!(check_basic(&ok, "Aladdin", "x"), Err(AuthFailure::Invalid));
        assert_eq!(
            check_basic(&with("Bearer x"), "a", "b"),
            Err(AuthFailure::Missing)
        );
    }

    #[test]
    fn missing_forms() {
        assert_eq!(
            check_bearer(&HeaderMap::new(), "tok"),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            check_bearer(&with("Bearer"), "tok"),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            check_bearer(&with("Bearer "), "tok"),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            check_bearer(&with("Basic dXNlcjpwdw=="), "tok"),
            Err(AuthFailure::Missing)
        );
    }
}
