//! PingOne Directory API: `{base}/directory/users/password-reset` (base default
//! `https://directory-api.pingone.com/api`; `.eu` and `.com.au` hosts by `region`).
//!
//! Body `{"id", "newPassword"}` plus exactly one of `oldPassword` / `confirmationToken` from the
//! row; HTTP Basic `clientId:apiKey`; `200 OK` (any 2xx) is success. The documentation does not
//! state the HTTP method, so it is configurable (`http_method`, default POST); a server that
//! wants another answers 405, a refusal like any other.
//!
//! Errors follow the PingOne Platform's documented shape, `{"id", "code", "message", "details":
//! [{"code", "target", "message"}]}`, whose top-level message is generic ("One or more validation
//! errors were in the request"): the report's `error_code` is the top-level `code`, its
//! `error_message` the message followed by its details (`target: message`), and its
//! `request_id` the error's `id` (PingOne's handle for its logs) when no header gave one; all
//! read by `http_util`'s error shapes.
//!
//! Config (`kind = "pingone"`): `region` ("com", "eu", "com.au") or `base_url`, not both;
//! `http_method`; the credential is an `[auth]` table of `type = "basic"`.
//!
//! Invariants: the manifest already checked "exactly one of old_password / confirmation_token";
//! a row that still breaks it fails here without a request. The password is never generated
//! by the server for this kind. Error bodies are classified and read by `http_util`.

use crate::provider::http_util::Client;
use anyhow::{bail, Result};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http_util::{failure, join_segments, not_sent, request_id, secret_json, send};
use super::kind::{client_generated_only, Context, HttpMethod, Kind, KindRules, Parts, Shared};
use super::{Attempt, Success};
use crate::auth::{AuthSection, Credential};
use crate::manifest::{InputRule, Target};
use crate::secret::{ExposeSecret, SecretString};
use crate::values::Rate;

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
        let response = match send(&self.client, &self.credential, request).await {
            Ok(r) => r,
            Err(a) => return a,
        };
        if response.status().is_success() {
            return Attempt::Succeeded(Success {
                http_status: Some(response.status().as_u16()),
                request_id: request_id(response.headers()),
                ..Success::default()
            });
        }
        failure(response).await
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
/// The keys of `[providers.NAME]` only `kind = "pingone"` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PingOneSection {
    /// "com" (default), "eu" or "com.au".
    region: Option<String>,
    /// POST (default), PUT or PATCH: the documentation does not say.
    http_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingOneSettings {
    /// The top-level domain of the region's API host.
    pub region: String,
    pub http_method: HttpMethod,
}

#[derive(Debug)]
pub struct PingOneKind;

impl Kind for PingOneKind {
    type Section = PingOneSection;
    type Settings = PingOneSettings;
    type Client = PingOne;

    // Not documented: a conservative 10/s.
    const DEFAULT_RATE: Rate = Rate::PerSecond(10);

    fn settings(s: PingOneSection, context: &Context) -> Result<PingOneSettings> {
        client_generated_only("pingone", context.generate)?;
        if context.base_url.is_some() && s.region.is_some() {
            bail!("region: give either base_url or region, not both");
        }
        if !matches!(context.auth, AuthSection::Basic { .. }) {
            bail!("kind \"pingone\" authenticates with HTTP Basic (client id and API key): add an [auth] table to this provider with type = \"basic\", username = \"<client id>\" and password_file or password_env");
        }
        let region = match s.region.as_deref().unwrap_or("com") {
            "com" | "na" | "us" => "com",
            "eu" => "eu",
            "com.au" | "au" | "ap" => "com.au",
            other => bail!("region {other:?}: expected \"com\" (North America), \"eu\" or \"com.au\" (or set base_url)"),
        };
        Ok(PingOneSettings {
            region: region.to_owned(),
            http_method: HttpMethod::read(s.http_method.as_deref(), "http_method")?,
        })
    }

    fn default_base_url(s: &PingOneSettings) -> Result<String> {
        Ok(format!("https://directory-api.pingone.{}/api", s.region))
    }

    fn rules(_: &PingOneSettings) -> KindRules {
        KindRules {
            input_rule: InputRule::OldPasswordXorConfirmationToken,
            ..KindRules::default()
        }
    }

    fn build(s: &PingOneSettings, shared: &Shared, parts: Parts) -> Result<PingOne> {
        let method = s.http_method.method();
        Ok(PingOne::new(
            parts.client,
            &shared.base_url,
            method,
            parts.credential,
        ))
    }

    async fn reset(c: &PingOne, target: &Target, password: Option<&SecretString>) -> Attempt {
        c.reset(target, password).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    /// What a PingOne error answer becomes.
    fn classify(status: u16, body: &str) -> Attempt {
        let status = StatusCode::from_u16(status).unwrap();
        crate::provider::http_util::failure_from_response(status, &HeaderMap::new(), body)
    }

    #[test]
    fn documented_error_shape_lands_in_code_message_and_request_id() {
        let body = r#"{"id": "6c796712-0f16-4062-815a-e0a92f4a2143", "code": "INVALID_DATA",
            "message": "The request could not be completed. One or more validation errors were in the request.",
            "details": [{"code": "INVALID_VALUE", "target": "oldPassword", "message": "Wrong old password."},
                        {"code": "REQUIRED_VALUE", "target": "newPassword"}]}"#;
        let Attempt::NotApplied(f) = classify(400, body) else {
            panic!("a 400 is a refusal")
        };
        assert_eq!(f.code, "INVALID_DATA");
        assert!(
            f.message.starts_with("The request could not be completed.")
                && f.message.contains("oldPassword: Wrong old password.")
                && f.message.contains("newPassword: REQUIRED_VALUE"),
            "{}",
            f.message
        );
        assert_eq!(
            f.request_id.as_deref(),
            Some("6c796712-0f16-4062-815a-e0a92f4a2143")
        );
    }

    #[test]
    fn other_bodies_keep_the_generic_classification() {
        let top_only = r#"{"id": "e1", "code": "NOT_FOUND", "message": "No such user."}"#;
        let Attempt::NotApplied(f) = classify(404, top_only) else {
            panic!("a 404 is a refusal")
        };
        assert_eq!(
            (f.message.as_str(), f.request_id.as_deref()),
            ("No such user.", Some("e1"))
        );
        let Attempt::NotApplied(f) = classify(405, "") else {
            panic!("a 405 is a refusal")
        };
        assert_eq!((f.code.as_str(), f.request_id), ("http_405", None));
        let odd = r#"{"code": "X", "message": "m", "details": "not a list", "id": 5}"#;
        assert!(
            matches!(classify(400, odd), Attempt::NotApplied(f) if f.message == "m" && f.request_id.is_none())
        );
        let in_503 = r#"{"id": "e2", "code": "UNAVAILABLE", "message": "down", "details": [{"message": "later"}]}"#;
        let Attempt::Transient { failure, .. } = classify(503, in_503) else {
            panic!("a 503 is transient")
        };
        assert!(
            failure.message.starts_with("down") && failure.message.contains("later"),
            "{}",
            failure.message
        );
    }
}
