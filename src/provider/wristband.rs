//! Wristband: `POST {base}/api/v1/password-reset/reset-password` with a bearer token (JWT).
//!
//! Body: exactly one authorisation form from the row (`emailAuthCode`, `passwordResetCode`, or
//! `requestCode` + `verificationCode`), the new password, and the "do not send the Password
//! Updated email" flag. The documentation names neither of the last two fields, so both names
//! are configurable (defaults `newPassword`, `suppressPasswordUpdatedEmail`). Any 2xx is
//! success; its `result` field is recorded in the report. When `success_results` is configured,
//! a 2xx whose `result` is not listed is a permanent failure.
//!
//! Config (`kind = "wristband"`): `base_url` (required), `password_field`,
//! `suppress_email_field`, `suppress_password_updated_email`, `success_results`.
//!
//! Invariants: the code form was checked by the manifest; a row that still breaks it fails here
//! without a request. Wristband itself revokes the user's sessions on reset.

use anyhow::{bail, Result};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http_util::{
    failure, join_segments, not_sent, read_json, request_id, secret_json, send,
};
use super::kind::{client_generated_only, Context, Kind, KindRules, Parts, Shared};
use super::{Attempt, Failure, Success};
use crate::auth::Credential;

use crate::manifest::{InputRule, Inputs, Target};
use crate::secret::{ExposeSecret, SecretString};
use crate::values::Rate;

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
                client_request_id: None,
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
/// The keys of `[providers.NAME]` only `kind = "wristband"` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WristbandSection {
    /// JSON name of the new password (default "newPassword").
    password_field: Option<String>,
    /// JSON name of the "do not send the Password Updated email" flag.
    suppress_email_field: Option<String>,
    /// Value of that flag (default false: the email is sent).
    suppress_password_updated_email: Option<bool>,
    /// `result` values that mean success (default: any 2xx answer).
    success_results: Option<Vec<String>>,
}

/// Wristband's request names the docs leave open, and what counts as success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WristbandOptions {
    pub password_field: String,
    pub suppress_email_field: String,
    pub suppress_email: bool,
    /// `result` values meaning success; empty: any 2xx is success (the result is recorded).
    pub success_results: Vec<String>,
}

#[derive(Debug)]
pub struct WristbandKind;

impl Kind for WristbandKind {
    type Section = WristbandSection;
    type Settings = WristbandOptions;
    type Client = Wristband;

    // Not documented: a conservative 10/s.
    const DEFAULT_RATE: Rate = Rate::PerSecond(10);

    fn settings(s: WristbandSection, context: &Context) -> Result<WristbandOptions> {
        client_generated_only("wristband", context.generate)?;
        Ok(WristbandOptions {
            password_field: json_name(s.password_field, "newPassword", "password_field")?,
            suppress_email_field: json_name(
                s.suppress_email_field,
                "suppressPasswordUpdatedEmail",
                "suppress_email_field",
            )?,
            suppress_email: s.suppress_password_updated_email.unwrap_or(false),
            success_results: s.success_results.unwrap_or_default(),
        })
    }

    fn default_base_url(_: &WristbandOptions) -> Result<String> {
        bail!("base_url is required for kind \"wristband\" (hint: the https:// address of your tenant)")
    }

    fn rules(_: &WristbandOptions) -> KindRules {
        KindRules {
            input_rule: InputRule::WristbandCodes,
            ..KindRules::default()
        }
    }

    fn build(s: &WristbandOptions, shared: &Shared, parts: Parts) -> Result<Wristband> {
        Ok(Wristband::new(
            parts.client,
            &shared.base_url,
            parts.credential,
            s.clone(),
        ))
    }

    async fn reset(c: &Wristband, target: &Target, password: Option<&SecretString>) -> Attempt {
        c.reset(target, password).await
    }
}

fn json_name(text: Option<String>, default: &str, field: &str) -> Result<String> {
    let name = text.unwrap_or_else(|| default.to_owned());
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{field}: {name:?} is not a usable JSON field name");
    }
    Ok(name)
}
