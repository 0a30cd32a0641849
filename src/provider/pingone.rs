//! PingOne Directory API: `{base}/directory/users/password-reset` (base default
//! `https://directory-api.pingone.com/api`; `.eu` and `.com.au` hosts by `region`).
//!
//! Body `{"id", "newPassword"}` plus exactly one of `oldPassword` / `confirmationToken` from the
//! row; HTTP Basic `clientId:apiKey`; `200 OK` (any 2xx) is success. The documentation does not
//! state the HTTP method, so it is configurable (`http_method`, default POST).
//!
//! Invariants: the manifest already checked "exactly one of old_password / confirmation_token";
//! a row that still breaks it fails here without a request. The password is never generated
//! by the server for this kind.

use reqwest::{Client, Method, Url};
use serde_json::{Map, Value};

use super::http_util::{join_segments, not_sent, secret_json, send_expecting_2xx};
use super::Attempt;
use crate::auth::Credential;
use crate::manifest::Target;
use crate::secret::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct PingOne {
    client: Client,
    url: Url,
    method: Method,
    credential: Credential,
}

impl PingOne {
    pub fn new(client: Client, base: &Url, method: Method, credential: Credential) -> PingOne {
        PingOne {
            client,
            url: join_segments(base, &["directory", "users", "password-reset"]),
            method,
            credential,
        }
    }

    /// One password-reset request.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        let body = match body(target, password) {
            Ok(b) => b,
            Err(a) => return a,
        };
        let request = self.client.request(self.method.clone(), self.url.clone());
        let request = secret_json(request, body);
        send_expecting_2xx(&self.credential, request).await
    }
}

/// `{id, newPassword, oldPassword | confirmationToken}`.
fn body(target: &Target, password: Option<&SecretString>) -> Result<Value, Attempt> {
    let Some(password) = password else {
        return Err(not_sent(
            "no_password",
            "PingOne needs a client-generated password".into(),
        ));
    };
    let mut map = Map::new();
    map.insert("id".into(), target.user.clone().into());
    map.insert("newPassword".into(), password.expose_secret().into());
    let inputs = &target.inputs;
    match (&inputs.old_password, &inputs.confirmation_token) {
        (Some(old), None) => map.insert("oldPassword".into(), old.expose_secret().into()),
        (None, Some(token)) => map.insert("confirmationToken".into(), token.expose_secret().into()),
        _ => {
            return Err(not_sent(
                "invalid_inputs",
                "PingOne needs exactly one of old_password or confirmation_token".into(),
            ))
        }
    };
    Ok(Value::Object(map))
}
