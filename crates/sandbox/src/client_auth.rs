//! Client authentication at a token endpoint, as RFC 6749 §2.3.1 says: HTTP Basic whose user
//! name and password are the `application/x-www-form-urlencoded` encodings of the client id
//! and secret (`client_secret_basic`), or `client_id` and `client_secret` form fields
//! (`client_secret_post`). §2.3: a client uses one method per request, never both.
//!
//! Invariants: the Basic credentials are decoded (base64, then form-decoded) before they are
//! compared, never compared as the client happened to encode them; a `client_id` field beside
//! Basic must name the same client.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Basic,
    Form,
}

/// The client a token request claims to be, and its secret (if it sent one).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Claimed {
    pub(crate) method: Method,
    pub(crate) client_id: String,
    pub(crate) secret: Option<String>,
}

/// Why a request's client authentication is unusable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Basic and `client_secret` at once, or a `client_id` field naming another client.
    TwoMethods,
    /// A `Basic` header that does not decode to `id:secret`.
    BadBasic,
    /// No `client_id` anywhere.
    NoClient,
}

/// Reads the client authentication of a token request (`form` holds its decoded fields).
pub(crate) fn claimed(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Claimed, Refusal> {
    let form_id = form.get("client_id").filter(|v| !v.is_empty());
    let form_secret = form.get("client_secret").filter(|v| !v.is_empty());
    let Some(encoded) = basic_header(headers) else {
        let client_id = form_id.ok_or(Refusal::NoClient)?.clone();
        return Ok(Claimed {
            method: Method::Form,
            client_id,
            secret: form_secret.cloned(),
        });
    };
    let (id, secret) = decode_basic(encoded).ok_or(Refusal::BadBasic)?;
    if form_secret.is_some() || form_id.is_some_and(|f| *f != id) {
        return Err(Refusal::TwoMethods);
    }
    Ok(Claimed {
        method: Method::Basic,
        client_id: id,
        secret: Some(secret),
    })
}

/// The credentials of an `Authorization: Basic ...` header, if the request has one.
fn basic_header(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => Some(rest.trim()),
        _ => None,
    }
}

/// base64 → `user:password` (split at the first `:`) → each form-decoded.
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let bytes = base64_decode(encoded)?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((form_decode(user)?, form_decode(password)?))
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let body = text.trim_end_matches('=');
    if text.len() % 4 != 0 || text.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)?;
        acc = (acc << 6) | u32::try_from(v).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_decode(value: &str) -> Option<String> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn basic(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_decoded_per_rfc_6749() {
        // base64("my+client:s%3Acr%2Bt") — id "my client", secret "s:cr+t".
        let h = basic("Basic bXkrY2xpZW50OnMlM0FjciUyQnQ=");
        let c = claimed(&h, &form(&[("grant_type", "client_credentials")])).unwrap();
        assert_eq!(c.method, Method::Basic);
        assert_eq!(c.client_id, "my client");
        assert_eq!(c.secret.as_deref(), Some("s:cr+t"));
        assert_eq!(
            base64_decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap(),
            b"Aladdin:open sesame"
        );
        assert!(base64_decode("QWx").is_none());
        assert_eq!(
            claimed(&basic("Basic !!!!"), &form(&[])),
            Err(Refusal::BadBasic)
        );
    }

    #[test]
    fn one_method_per_request() {
        let h = basic("Basic YTpi"); // a:b
        let both = form(&[("client_id", "a"), ("client_secret", "b")]);
        assert_eq!(claimed(&h, &both), Err(Refusal::TwoMethods));
        assert_eq!(
            claimed(&h, &form(&[("client_id", "z")])),
            Err(Refusal::TwoMethods)
        );
        assert!(claimed(&h, &form(&[("client_id", "a")])).is_ok());
        let posted = claimed(&HeaderMap::new(), &both).unwrap();
        assert_eq!(
            (posted.method, posted.secret.as_deref()),
            (Method::Form, Some("b"))
        );
        assert_eq!(
            claimed(&HeaderMap::new(), &form(&[])),
            Err(Refusal::NoClient)
        );
    }
}
