//! The generic HTTP provider: any reset API described by the config (`[providers.NAME.http]`):
//! method, a URL template appended to `base_url`, a JSON body template, extra headers, the
//! statuses that mean success and, for server-generated passwords, a JSON pointer to the
//! password in the response. Examples: `examples/keycloak.toml`, `okta.toml`, `auth0.toml`.
//!
//! Invariants: templates were checked when the config was loaded (unknown placeholders, a
//! password in the URL or headers are config errors); substitution is safe (see `template`):
//! path values are percent-encoded, body values JSON-escaped. Credentials come from the
//! provider's `[auth]` table, never from the headers table.

use crate::provider::http_util::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::HttpSection;
use crate::auth::Credential;
use crate::manifest::Target;
use crate::provider::http_util::{
    failure, not_sent, read_json, request_id, secret_json, send, wipe,
};
use crate::provider::template::{BodyTemplate, Template, Values};
use crate::provider::{Attempt, Failure, Success};
use crate::secret::{secret, ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct Http {
    client: Client,
    base: String,
    credential: Credential,
    method: Method,
    path: Template,
    body: Option<BodyTemplate>,
    headers: HeaderMap,
    success: Option<Vec<u16>>,
    pointer: Option<String>,
    require_change: bool,
}

impl Http {
    /// Builds the provider; errors only if the (already checked) section is inconsistent.
    pub fn new(
        client: Client,
        base: &Url,
        credential: Credential,
        section: &HttpSection,
        require_change: bool,
    ) -> anyhow::Result<Http> {
        let err = |e: String| anyhow::anyhow!(e);
        let mut headers = HeaderMap::new();
        for (name, value) in &section.headers {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        Ok(Http {
            client,
            base: base.as_str().trim_end_matches('/').to_owned(),
            credential,
            method: Method::from_bytes(section.method.as_deref().unwrap_or("POST").as_bytes())?,
            path: Template::parse(&section.path).map_err(err)?,
            body: section
                .body
                .as_deref()
                .map(BodyTemplate::parse)
                .transpose()
                .map_err(err)?,
            headers,
            success: section.success_statuses.clone(),
            pointer: section.password_pointer.clone(),
            require_change,
        })
    }

    pub fn server_generates(&self) -> bool {
        self.pointer.is_some()
    }

    /// One request built from the templates.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        let values = Values {
            user: &target.user,
            method: &target.method,
            provider: &target.provider,
            require_change: target.require_change.unwrap_or(self.require_change),
            password: password.map(|p| p.expose_secret()),
        };
        let path = self.path.render_path(&values);
        let sep = if path.starts_with('/') { "" } else { "/" };
        let Ok(url) = Url::parse(&format!("{}{sep}{path}", self.base)) else {
            return not_sent(
                "bad_url",
                format!("the URL template gave an invalid URL for this row ({path})"),
            );
        };
        let mut request = self
            .client
            .request(self.method.clone(), url)
            .headers(self.headers.clone());
        if let Some(body) = &self.body {
            request = secret_json(request, body.render(&values));
        }
        let response = match send(&self.client, &self.credential, request).await {
            Ok(r) => r,
            Err(a) => return a,
        };
        self.judge(response).await
    }

    fn is_success(&self, status: StatusCode) -> bool {
        match &self.success {
            Some(list) => list.contains(&status.as_u16()),
            None => status.is_success(),
        }
    }

    async fn judge(&self, response: reqwest::Response) -> Attempt {
        let status = response.status();
        if !self.is_success(status) {
            if status.is_success() {
                // A 2xx we were not told is success: the reset may have happened.
                return Attempt::uncertain(Failure {
                    http_status: Some(status.as_u16()),
                    code: "unexpected_status".into(),
                    message: format!(
                        "status {status} is not in http.success_statuses {:?}",
                        self.success.as_deref().unwrap_or_default()
                    ),
                    request_id: request_id(response.headers()),
                    client_request_id: None,
                });
            }
            return failure(response).await;
        }
        let ok = Success {
            http_status: Some(status.as_u16()),
            request_id: request_id(response.headers()),
            ..Success::default()
        };
        match &self.pointer {
            None => Attempt::Succeeded(ok),
            Some(pointer) => server_password(response, pointer, ok).await,
        }
    }
}

/// Reads the server-generated password at `pointer` into `ok`, or fails: without it the
/// user's new password would be unknown.
async fn server_password(response: reqwest::Response, pointer: &str, mut ok: Success) -> Attempt {
    let mut body = match read_json(response).await {
        Ok(b) => b,
        Err(a) => return a,
    };
    let found = body
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(|p| secret(p.to_owned()));
    wipe(&mut body);
    match found {
        Some(p) => {
            ok.server_password = Some(p);
            Attempt::Succeeded(ok)
        }
        _ => Attempt::uncertain(Failure {
            http_status: ok.http_status,
            code: "no_password_returned".into(),
            message: format!("the server reported success but the response has no password at {pointer}; the user's new password is unknown (reset it again)"),
            request_id: ok.request_id,
            client_request_id: None,
        }),
    }
}
