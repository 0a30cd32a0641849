//! Wristband: `POST {base}/api/v1/password-reset/reset-password` with a bearer token (JWT).
//!
//! Body: exactly one authorisation form from the row (`emailAuthCode`, `passwordResetCode`, or
//! `requestCode` + `verificationCode`), the new password, and the "do not send the Password
//! Updated email" flag. The documentation names neither of the last two fields, so both names
//! are configurable (defaults `newPassword`, `suppressPasswordUpdatedEmail`).
//!
//! Success is a 2xx whose `result` is listed in `success_results` (default
//! [`DEFAULT_SUCCESS_RESULTS`]: the reference page says the `result` field tells what happened
//! but the values it lists are not in the published text, so `SUCCESS` is our choice, documented
//! in the README). Any other `result`, or a 2xx without one, is uncertain: the reset may have
//! happened, so the row's password stays a candidate and the report names the result.
//!
//! Config (`kind = "wristband"`): `base_url` (required), `password_field`,
//! `suppress_email_field`, `suppress_password_updated_email`, `success_results` (non-empty).
//!
//! Invariants: the code form was checked by the manifest; a row that still breaks it fails here
//! without a request. Only a listed `result` is a success; an answer short of one is never
//! `NotApplied` unless its status is a refusal. Wristband itself revokes the user's sessions on
//! reset.

use crate::provider::http_util::Client;
use anyhow::{bail, Result};
use reqwest::Url;
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
        let response = match send(&self.client, &self.credential, request).await {
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

    /// A 2xx answer: success only when `success_results` lists its `result`.
    fn judge(&self, status: u16, rid: Option<String>, answer: &Value) -> Attempt {
        let result = match answer.get("result") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let wanted = &self.options.success_results;
        if !result.as_ref().is_some_and(|r| wanted.contains(r)) {
            // A 2xx short of a listed result: the reset may have happened.
            return Attempt::uncertain(Failure {
                http_status: Some(status),
                code: "unexpected_result".into(),
                message: unexpected(status, result.as_deref(), wanted),
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

/// The report's words for a 2xx whose `result` is not a listed success.
fn unexpected(status: u16, result: Option<&str>, wanted: &[String]) -> String {
    let said = match result {
        Some(r) => format!("result {r:?}"),
        None => "no result".to_owned(),
    };
    format!("Wristband answered {status} with {said}, not one of success_results {wanted:?}; the password may or may not have changed, so it is kept as a candidate (hint: if this result means success for your tenant, add it to success_results)")
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
    /// `result` values that mean success (default [`DEFAULT_SUCCESS_RESULTS`]).
    success_results: Option<Vec<String>>,
}

/// Wristband's request names the docs leave open, and what counts as success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WristbandOptions {
    pub password_field: String,
    pub suppress_email_field: String,
    pub suppress_email: bool,
    /// `result` values meaning success (never empty); any other makes the attempt uncertain.
    pub success_results: Vec<String>,
}

/// `success_results` when the config gives none. Wristband's reference page points at the
/// `result` field's description for the possible values, which its published text does not
/// include; `SUCCESS` is the defensible reading (and what the sandbox answers by default).
pub const DEFAULT_SUCCESS_RESULTS: &[&str] = &["SUCCESS"];

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
            success_results: success_results(s.success_results)?,
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

/// The listed success results, or the default; an empty list or value is an error.
fn success_results(listed: Option<Vec<String>>) -> Result<Vec<String>> {
    let Some(listed) = listed else {
        return Ok(DEFAULT_SUCCESS_RESULTS
            .iter()
            .map(|r| r.to_string())
            .collect());
    };
    if listed.is_empty() {
        bail!("success_results: the list is empty, so no answer could count as success (hint: leave it out for the default [\"SUCCESS\"], or list your tenant's success results)");
    }
    if listed.iter().any(|r| r.trim().is_empty()) {
        bail!("success_results: an empty string is not a `result` value");
    }
    Ok(listed)
}

fn json_name(text: Option<String>, default: &str, field: &str) -> Result<String> {
    let name = text.unwrap_or_else(|| default.to_owned());
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{field}: {name:?} is not a usable JSON field name");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthSection;
    use crate::password::Generate;
    use crate::secret::secret;
    use serde_json::json;

    fn settings(toml_text: &str) -> Result<WristbandOptions> {
        let section: WristbandSection = toml::from_str(toml_text).unwrap();
        let auth = AuthSection::bearer(None, None);
        let context = Context {
            base_url: Some("https://tenant.example"),
            auth: &auth,
            generate: Generate::Client,
            revoke_sessions: false,
        };
        WristbandKind::settings(section, &context)
    }

    fn client(success_results: &[&str]) -> Wristband {
        let options = WristbandOptions {
            password_field: "newPassword".into(),
            suppress_email_field: "suppressPasswordUpdatedEmail".into(),
            suppress_email: false,
            success_results: success_results.iter().map(|r| r.to_string()).collect(),
        };
        let base = Url::parse("https://tenant.example").unwrap();
        let credential = Credential::from_bearer(secret("t".into()));
        let client = Client::plain(std::time::Duration::from_secs(5));
        Wristband::new(client, &base, credential, options)
    }

    #[test]
    fn success_results_default_to_success_and_are_never_empty() {
        assert_eq!(settings("").unwrap().success_results, ["SUCCESS"]);
        let listed = settings("success_results = [\"DONE\", \"OK\"]").unwrap();
        assert_eq!(listed.success_results, ["DONE", "OK"]);
        for bad in ["success_results = []", "success_results = [\"\"]"] {
            let err = settings(bad).unwrap_err().to_string();
            assert!(err.starts_with("success_results: "), "{err}");
        }
    }

    #[test]
    fn only_a_listed_result_is_success() {
        let w = client(&["SUCCESS"]);
        let ok = w.judge(200, None, &json!({"result": "SUCCESS"}));
        assert!(
            matches!(&ok, Attempt::Succeeded(s) if s.result.as_deref() == Some("SUCCESS")),
            "{ok:?}"
        );
        for (answer, said) in [
            (json!({"result": "PENDING"}), "result \"PENDING\""),
            (json!({}), "no result"),
            (json!({"result": null}), "no result"),
            (json!({"result": 7}), "result \"7\""),
        ] {
            let a = w.judge(200, Some("rid".into()), &answer);
            let Attempt::Uncertain { failure, .. } = &a else {
                panic!("{answer} must be uncertain: {a:?}")
            };
            assert_eq!(failure.code, "unexpected_result");
            assert!(failure.message.contains(said), "{}", failure.message);
            assert_eq!(failure.http_status, Some(200));
            assert!(a.may_be_applied(), "its password stays a candidate");
        }
    }
}
