//! The KV version 2 engine: read a secret's latest version, write a new one with check-and-set.
//!
//! Invariants: every write carries `options.cas` with the version read before it, so two writers
//! (or a retry of a write whose answer was lost) can never both land: the second gets a
//! check-and-set conflict; a request refused with 403 is sent once more after the credential
//! was obtained again (a token can expire or be revoked early), then the refusal stands; a
//! secret's name is URL-encoded once more on the way (its `%XX` escapes stay part of the name).

use std::future::Future;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::SinkAuth;
use super::http::{classify, send, unreachable, SinkError};
use crate::secret::SecretString;

/// A KV v2 mount, reached with the sink's credential.
#[derive(Debug, Clone)]
pub struct Kv {
    pub auth: SinkAuth,
    pub mount: String,
}

/// A secret's latest version, as the store holds it.
#[derive(Debug, Default)]
pub struct Latest {
    /// The current version (0: the secret does not exist); the next write's `cas`.
    pub version: u64,
    /// Its `password` field, when the latest version has data.
    pub password: Option<SecretString>,
}

#[derive(Deserialize)]
struct ReadAnswer {
    data: Option<ReadData>,
}

#[derive(Deserialize)]
struct ReadData {
    data: Option<Value>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    version: u64,
}

#[derive(Deserialize)]
struct WriteAnswer {
    data: Metadata,
}

impl Kv {
    /// `GET /v1/{mount}/data/{name}`: the latest version (a deleted one answers 404 with its
    /// metadata, which still sets the version a write must name).
    pub async fn latest(&self, name: &str) -> Result<Latest, SinkError> {
        let api = self.api(name);
        self.authorized(|token| {
            let req = self.auth.http().request(Method::GET, &api, Some(&token));
            async move {
                let answer = req.send().await.map_err(unreachable)?;
                match answer.status() {
                    s if s.is_success() || s == StatusCode::NOT_FOUND => {
                        let body = answer.bytes().await.map_err(unreachable)?;
                        Ok(parse_latest(&body))
                    }
                    _ => Err(classify(answer).await),
                }
            }
        })
        .await
    }

    /// `POST /v1/{mount}/data/{name}` with `options.cas = cas`: the version written.
    pub async fn write(&self, name: &str, data: &Value, cas: u64) -> Result<u64, SinkError> {
        let api = self.api(name);
        let body = json!({"options": {"cas": cas}, "data": data});
        self.authorized(|token| {
            let req = self
                .auth
                .http()
                .request(Method::POST, &api, Some(&token))
                .json(&body);
            async move {
                let (_, answer): (_, WriteAnswer) = send(req).await?;
                Ok(answer.data.version)
            }
        })
        .await
    }

    fn api(&self, name: &str) -> String {
        format!("{}/data/{}", self.mount, name.replace('%', "%25"))
    }

    /// Runs `op` with the current token, and once more with a new one after a 403.
    async fn authorized<T, F, Fut>(&self, op: F) -> Result<T, SinkError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, SinkError>>,
    {
        let token = self.auth.token().await?;
        match op(token.clone()).await {
            Err(SinkError::Refused { status: 403, .. }) if self.auth.on_denied(&token).await => {
                op(self.auth.token().await?).await
            }
            other => other,
        }
    }
}

fn parse_latest(body: &[u8]) -> Latest {
    let Ok(ReadAnswer { data: Some(d) }) = serde_json::from_slice::<ReadAnswer>(body) else {
        return Latest::default();
    };
    let password = d
        .data
        .as_ref()
        .and_then(|v| v.get("password"))
        .and_then(Value::as_str)
        .map(|p| crate::secret::secret(p.to_owned()));
    Latest {
        version: d.metadata.map_or(0, |m| m.version),
        password,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn latest_versions_from_the_answers() {
        let live = parse_latest(br#"{"data":{"data":{"password":"p"},"metadata":{"version":3}}}"#);
        assert_eq!(live.version, 3);
        assert_eq!(live.password.unwrap().expose_secret(), "p");
        let deleted = parse_latest(br#"{"data":{"data":null,"metadata":{"version":2}}}"#);
        assert_eq!((deleted.version, deleted.password.is_none()), (2, true));
        assert_eq!(parse_latest(br#"{"errors":[]}"#).version, 0);
    }
}
