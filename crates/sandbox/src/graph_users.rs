//! How Graph routes find their user and check their caller, as Graph documents it:
//!
//! - a user is addressed as `/users/{id or UPN}`, or by key as `/users('{id}')` (quotes doubled
//!   inside); an id that starts with `$` must use the key form — `/users/$x` is read as a system
//!   segment and answered 400;
//! - `resetPassword` and its operations take delegated tokens only ("Application: Not
//!   supported"): an app-only token (client credentials) gets 403.

use axum::http::{HeaderMap, StatusCode, Uri};

use super::auth;
use super::graph_wire::GraphError;
use super::state::Shared;

/// The user a path's first parameter names: the segment after `/users/`, or on a keyed route
/// (no `/users/` in the path) a `users('...')` segment — anything else there is no user.
pub(crate) fn user_of(segment: String, uri: &Uri) -> Result<String, GraphError> {
    let keyed_route = !uri.path().contains("/users/");
    if let Some(key) = segment.strip_prefix("users(").filter(|_| keyed_route) {
        return keyed(key).ok_or_else(|| {
            GraphError::invalid_request(format!(
                "Invalid key segment 'users({key}': expected users('id'), with quotes doubled inside."
            ))
        });
    }
    if keyed_route {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "UnknownRoute",
            format!("The sandbox does not serve {}.", uri.path()),
        ));
    }
    if segment.starts_with('$') {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            format!("Invalid object identifier '{segment}'. (Address ids that start with '$' as users('{segment}').)"),
        ));
    }
    Ok(segment)
}

/// `'abc''d')` → `abc'd`.
fn keyed(rest: &str) -> Option<String> {
    let inner = rest.strip_prefix('\'')?.strip_suffix("')")?;
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // A single quote inside must be doubled.
            chars.next_if_eq(&'\'')?;
        }
        out.push(c);
    }
    Some(out)
}

/// Refuses an app-only token on a delegated-only action.
pub(crate) fn delegated_only(sb: &Shared, headers: &HeaderMap) -> Result<(), GraphError> {
    let app_only = auth::bearer_token(headers).is_some_and(|t| sb.token.is_app_only(t));
    if app_only {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "accessDenied",
            "Request Authorization failed: resetPassword does not support application permissions; call it with a delegated token.",
        ));
    }
    Ok(())
}

/// The path of `user` as Graph addresses it: the key form for ids that start with `$`.
pub(crate) fn user_path(user: &str) -> String {
    if user.starts_with('$') {
        format!("users('{}')", user.replace('\'', "''"))
    } else {
        format!("users/{}", super::graph_wire::encode_segment(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_plain_segments() {
        let keyed: Uri = "/v1.0/users('x')/revokeSignInSessions".parse().unwrap();
        let plain: Uri = "/v1.0/users/x/revokeSignInSessions".parse().unwrap();
        assert_eq!(user_of("users('$abc')".into(), &keyed).unwrap(), "$abc");
        assert_eq!(
            user_of("users('$o''neil')".into(), &keyed).unwrap(),
            "$o'neil"
        );
        assert_eq!(
            user_of("alice@x.test".into(), &plain).unwrap(),
            "alice@x.test"
        );
        assert!(user_of("me".into(), &keyed).is_err());
        assert!(user_of("$abc".into(), &plain).is_err());
        for bad in ["users('$x'", "users($x)", "users('a'b')"] {
            assert!(user_of(bad.into(), &keyed).is_err(), "{bad}");
        }
        assert_eq!(user_path("$o'n"), "users('$o''n')");
    }
}
