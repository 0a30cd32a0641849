//! Wristband: `POST {base}/api/v1/password-reset/reset-password` with a bearer token (JWT).
//!
//! Body: exactly one authorisation form from the row (`emailAuthCode`, `passwordResetCode`, or
//! `requestCode` + `verificationCode`), the new password, and the "do not send the Password
//! Updated email" flag. The documentation names neither of the last two fields, so both names
//! are configurable (defaults `newPassword`, `suppressPasswordUpdatedEmail`). Any 2xx is
//! success; its `result` field is recorded in the report. When `success_results` is configured,
//! a 2xx whose `result` is not listed is a permanent failure.
//!
//! Invariants: the code form was checked by the manifest; a row that still breaks it fails here
//! without a request. Wristband itself revokes the user's sessions on reset.

use reqwest::{Client, Url};
use serde_json::{Map, Value};

use super::http_util::{
    failure, join_segments, not_sent, read_json, request_id, secret_json, send,
};
use super::{Attempt, Failure, Success};
use crate::auth::Credential;
use crate::config::WristbandOptions;
use crate::manifest::{Inputs, Target};
use crate::secret::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct Wristband {
    client: Client,
    url: Url,
    credential: Credential,
    options: WristbandOptions,
}

impl Wristband {
    pub fn new(
        client: Client,
        base: &Url,
        credential: Credential,
        options: WristbandOptions,
    ) -> Self {
        Wristband {
            client,
            url: join_segments(base, &["api", "v1", "password-reset", "reset-password"]),
            credential,
            options,
        }
    }

    /// One reset-password request.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        let Some(password) = password else {
            return not_sent(
                "no_password",
                "Wristband needs a client-generated password".into(),
            );
        };
        let Some(mut body) = codes(&target.inputs) else {
            return not_sent(
                "invalid_inputs",
                "Wristband needs exactly one of email_auth_code, password_reset_code, or request_code with verification_code".into(),
            );
        };
        let o = &self.options;
        body.insert(o.password_field.clone(), password.expose_secret().into());
        body.insert(o.suppress_email_field.clone(), o.suppress_email.into());
        let request = secret_json(self.client.post(self.url.clone()), Value::Object(body));
        let response = match send(&self.credential, request).await {
            Ok(r) => r,
            Err(a) => return a,
        };
        if !response.status().is_success() {
            return failure(response).await;
        }
        let status = response.status().as_u16();
        let rid = request_id(response.headers());
        match read_json(response).await {
            Ok(answer) => self.judge(status, rid, &answer),
            Err(a) => a,
        }
    }

    /// A 2xx answer: success, unless `success_results` is set and does not list its `result`.
    fn judge(&self, status: u16, rid: Option<String>, answer: &Value) -> Attempt {
        let result = match answer.get("result") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let wanted = &self.options.success_results;
        if !wanted.is_empty() && !result.as_ref().is_some_and(|r| wanted.contains(r)) {
            // An unlisted result after a 2xx: the reset may have happened.
            return Attempt::uncertain(Failure {
                http_status: Some(status),
                code: "unexpected_result".into(),
                message: format!(
                    "Wristband answered result {:?}, not one of success_results {wanted:?}; the password may not have changed",
                    result.as_deref().unwrap_or("(none)")
                ),
                request_id: rid,
            });
        }
        Attempt::Succeeded(Success {
            http_status: Some(status),
            request_id: rid,
            result,
            ..Success::default()
        })
    }
}

/// The row's one code form as JSON fields, or `None` if it has not exactly one.
fn codes(i: &Inputs) -> Option<Map<String, Value>> {
    let field = |name: &str, v: &SecretString| (name.to_owned(), Value::from(v.expose_secret()));
    let forms = [
        (&i.email_auth_code, &None, "emailAuthCode", ""),
        (&i.password_reset_code, &None, "passwordResetCode", ""),
        (
            &i.request_code,
            &i.verification_code,
            "requestCode",
            "verificationCode",
        ),
    ];
    let mut found = forms.iter().filter(|f| f.0.is_some() || f.1.is_some());
    let (first, second, name, second_name) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let mut map = Map::new();
    let (k, v) = field(name, first.as_ref()?);
    map.insert(k, v);
    if !second_name.is_empty() {
        let (k, v) = field(second_name, second.as_ref()?);
        map.insert(k, v);
    }
    Some(map)
}
