//! Microsoft Graph v1.0 `resetPassword`:
//! `POST {base}/users/{id}/authentication/methods/{methodId}/resetPassword`.
//!
//! Body `{"newPassword": ...}`, or `{}` when the server generates the password (it then comes back
//! as `newPassword` in the response body). `202 Accepted` carries a `Location` of a long-running
//! operation, polled until `succeeded` or `failed`; 200 and 204 are success too.
//!
//! Invariants: the bearer token is only ever sent to the base URL's origin (a `Location` elsewhere
//! is not polled); one call of [`Graph::reset`] is one attempt, polling included; no retries here.
//! Once a 202 arrived only the operation's `succeeded` or `failed` is certain: a missing or
//! foreign `Location`, a refused or unreadable poll, an unknown state or the poll deadline make
//! the attempt uncertain, keeping a password the server already returned.

use std::time::Duration;

use crate::provider::http_util::Client;
use reqwest::{Response, StatusCode, Url};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::address::{traced, user_url, with_client_request_id};
use super::MethodCollection;
use crate::auth::Credential;
use crate::manifest::Target;
use crate::provider::http_util::{
    failure, read_json, request_id, retry_after, secret_json, send, wipe,
};
use crate::provider::{Attempt, Failure, Success};
use crate::secret::{secret, truncate, ExposeSecret, SecretString};

/// Settings for polling a long-running operation.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    /// First wait when the server gives no `Retry-After`; doubles up to `max_interval`.
    pub interval: Duration,
    pub max_interval: Duration,
    /// Give up (transient) when the operation has not finished by then.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Graph {
    client: Client,
    base: Url,
    credential: Credential,
    server_generates: bool,
    polling: Polling,
    /// `methods` (v1.0, beta) or `passwordMethods` (beta).
    collection: MethodCollection,
    /// The optional `revokeSignInSessions` follow-up.
    pub(super) revoke: Option<crate::provider::graph_revoke::Revoke>,
}

impl Graph {
    pub fn new(
        client: Client,
        base: Url,
        credential: Credential,
        server_generates: bool,
        polling: Polling,
    ) -> Graph {
        Graph {
            client,
            base,
            credential,
            server_generates,
            polling,
            collection: MethodCollection::Methods,
            revoke: None,
        }
    }

    /// Resets through `collection` (`methods` unless told otherwise).
    pub fn with_collection(mut self, collection: MethodCollection) -> Graph {
        self.collection = collection;
        self
    }

    pub(super) fn base(&self) -> &Url {
        &self.base
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub fn server_generates(&self) -> bool {
        self.server_generates
    }

    /// One reset attempt, polling a 202's operation to its end.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        let url = self.reset_url(&target.user, &target.method);
        let body = match password {
            Some(p) => json!({ "newPassword": p.expose_secret() }),
            None => json!({}),
        };
        let (request, id) = traced(secret_json(self.client.post(url), body));
        with_client_request_id(self.submit(request).await, id)
    }

    /// Sends a reset action and handles its answer: 202 (polled), 200/204, or a failure.
    pub(super) async fn submit(&self, request: reqwest::RequestBuilder) -> Attempt {
        let response = match self.send(request).await {
            Ok(r) => r,
            Err(a) => return a,
        };
        match response.status() {
            StatusCode::ACCEPTED => self.accepted(response).await,
            StatusCode::OK | StatusCode::NO_CONTENT => self.done(response).await,
            _ => {
                let scope = throttle_scope(response.headers());
                let mut attempt = failure(response).await;
                if let (Some(scope), Some(f)) = (scope, attempt.failure_mut()) {
                    f.message = format!("{} (x-ms-throttle-scope: {scope})", f.message);
                }
                attempt
            }
        }
    }

    /// Signs and sends a request (one resend after a refreshed 401).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, Attempt> {
        send(&self.client, &self.credential, request).await
    }

    fn reset_url(&self, user: &str, method: &str) -> Url {
        let collection = self.collection.segment();
        user_url(
            &self.base,
            user,
            &["authentication", collection, method, "resetPassword"],
        )
    }

    /// 200/204: done now; a server-generated password must be in the body.
    async fn done(&self, response: Response) -> Attempt {
        let status = response.status().as_u16();
        let rid = request_id(response.headers());
        let mut body = match read_json(response).await {
            Ok(b) => b,
            Err(a) => return with_request_id(a, rid),
        };
        let server_password = self.server_password(&body);
        wipe(&mut body);
        self.success(status, rid, None, server_password)
    }

    /// 202: the reset was accepted as an operation to poll at `Location`. Whatever goes wrong
    /// from here on, the reset may be in force: the answer is a success, the operation's
    /// documented failure, or uncertain (keeping a password the server already returned).
    async fn accepted(&self, response: Response) -> Attempt {
        let rid = request_id(response.headers());
        let wait = retry_after(response.headers());
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().map(str::to_owned));
        let mut body = match read_json(response).await {
            Ok(b) => b,
            Err(a) => return with_request_id(a, rid),
        };
        let server_password = self.server_password(&body);
        wipe(&mut body);
        let polled = match location {
            Some(Ok(location)) => match self.same_origin(&location) {
                Ok(url) => self.poll(url, wait).await,
                Err(failure) => Err(Attempt::uncertain(failure)),
            },
            Some(Err(_)) => Err(Attempt::uncertain(bad_location())),
            None => Err(Attempt::uncertain(unverified())),
        };
        match polled {
            Ok(op_id) => self.success(202, rid, op_id, server_password),
            Err(Attempt::Uncertain { failure, .. }) => with_request_id(
                Attempt::Uncertain {
                    failure,
                    server_password: server_password.filter(|_| self.server_generates),
                },
                rid,
            ),
            Err(other) => with_request_id(other, rid),
        }
    }

    /// v1.0 answers `{"newPassword"}`; beta wraps a passwordResetResponse in `value`.
    fn server_password(&self, body: &Value) -> Option<SecretString> {
        body.get("newPassword")
            .or_else(|| body.get("value").and_then(|v| v.get("newPassword")))
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(|p| secret(p.to_owned()))
    }

    fn success(
        &self,
        status: u16,
        rid: Option<String>,
        op_id: Option<String>,
        server_password: Option<SecretString>,
    ) -> Attempt {
        if self.server_generates && server_password.is_none() {
            // The provider set a password nobody knows: the user may be locked out.
            return Attempt::uncertain(Failure {
                http_status: Some(status),
                code: "no_password_returned".into(),
                message: "the server reported success but returned no newPassword; the user's new password is unknown (reset it again, or use client-generated passwords)".into(),
                request_id: rid,
                client_request_id: None,
            });
        }
        Attempt::Succeeded(Success {
            http_status: Some(status),
            server_password: server_password.filter(|_| self.server_generates),
            operation_id: op_id,
            request_id: rid,
            result: None,
            client_request_id: None,
        })
    }

    /// Resolves `Location` and refuses any origin but the base URL's (the token goes with it).
    fn same_origin(&self, location: &str) -> Result<Url, Failure> {
        let url = self.base.join(location).map_err(|_| bad_location())?;
        if url.origin() != self.base.origin() {
            return Err(Failure {
                http_status: Some(202),
                code: "foreign_location".into(),
                message: format!("the reset was accepted, but its operation is on another origin ({}); refusing to poll it with this provider's token, so whether it finished is unknown", truncate(url.origin().ascii_serialization(), 200)),
                ..Failure::default()
            });
        }
        Ok(url)
    }

    /// Polls the operation until it succeeds (Ok, with the operation id); its documented failure
    /// is `NotApplied`, everything else (a refused or lost poll, an unknown state, the deadline)
    /// is `Uncertain`.
    async fn poll(
        &self,
        url: Url,
        first_wait: Option<Duration>,
    ) -> Result<Option<String>, Attempt> {
        let op_id = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(str::to_owned);
        let deadline = Instant::now() + self.polling.timeout;
        let mut interval = self.polling.interval;
        let mut wait = first_wait.unwrap_or(interval).min(self.polling.timeout);
        loop {
            if Instant::now() + wait > deadline {
                return Err(operation_timeout(self.polling.timeout));
            }
            tokio::time::sleep(wait).await;
            interval = (interval * 2).min(self.polling.max_interval);
            let (state, hinted, op) = match self.poll_once(&url).await {
                Poll::State { state, hinted, op } => (state, hinted, op),
                Poll::Again(hinted) => {
                    wait = hinted.unwrap_or(interval).min(self.polling.timeout);
                    continue;
                }
                Poll::Broken(failure) => return Err(Attempt::uncertain(failure)),
            };
            // Graph's enum values are camelCase; compare without case to be lenient.
            match state.to_ascii_lowercase().as_str() {
                "succeeded" => return Ok(op_id),
                "failed" => return Err(Attempt::NotApplied(operation_failed(&op))),
                "notstarted" | "running" => {
                    wait = hinted.unwrap_or(interval).min(self.polling.timeout)
                }
                _ => return Err(Attempt::uncertain(unknown_state(&state))),
            }
        }
    }

    /// One GET of the operation.
    async fn poll_once(&self, url: &Url) -> Poll {
        let (request, _) = traced(self.client.get(url.clone()));
        let response = match self.send(request).await {
            Ok(r) => r,
            // A lost poll says nothing about the operation: poll again until the deadline.
            Err(Attempt::Transient { .. }) => return Poll::Again(None),
            Err(a) => return Poll::Broken(poll_failure(a, "the operation could not be polled")),
        };
        let status = response.status();
        let hinted = retry_after(response.headers());
        if status != StatusCode::OK {
            if crate::provider::http_util::is_transient_status(status) {
                return Poll::Again(hinted);
            }
            let refused = failure(response).await;
            return Poll::Broken(poll_failure(refused, "the operation's status was refused"));
        }
        match read_json(response).await {
            Ok(op) => {
                let state = op.get("status").and_then(Value::as_str).unwrap_or("(none)");
                Poll::State {
                    state: state.to_owned(),
                    hinted,
                    op,
                }
            }
            Err(a) => Poll::Broken(poll_failure(a, "the operation's status is unreadable")),
        }
    }
}

/// What one poll of an operation said.
enum Poll {
    /// The operation's `status`, with the poll's Retry-After and body.
    State {
        state: String,
        hinted: Option<Duration>,
        op: Value,
    },
    /// Nothing useful (a lost poll or a transient status): poll again.
    Again(Option<Duration>),
    /// The poll itself failed for good: whether the reset finished is unknown.
    Broken(Failure),
}

/// A poll that failed for good, as a failure of the (accepted) reset.
fn poll_failure(attempt: Attempt, what: &str) -> Failure {
    let mut failure = attempt.failure().cloned().unwrap_or_default();
    failure.message = format!(
        "the reset was accepted, but {what} ({}: {}); whether it finished is unknown",
        failure.code, failure.message
    );
    failure.code = format!("poll_{}", failure.code);
    failure
}

/// Graph's `x-ms-throttle-scope` (e.g. `Tenant_Application/ReadWrite/...`): which limit a 429
/// hit, so an operator knows whether other apps of the tenant share it.
fn throttle_scope(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers.get("x-ms-throttle-scope")?.to_str().ok()?;
    Some(crate::secret::truncate(value.to_owned(), 200))
}

fn bad_location() -> Failure {
    Failure {
        http_status: Some(202),
        code: "bad_location".into(),
        message: "the reset was accepted, but the 202 response's Location header is not a URL; whether it finished is unknown".into(),
        ..Failure::default()
    }
}

fn unverified() -> Failure {
    Failure {
        http_status: Some(202),
        code: "accepted_unverified".into(),
        message: "the reset was accepted (202) without a Location to poll, so whether it finished is unknown (Graph documents a Location on every 202)".into(),
        ..Failure::default()
    }
}

fn unknown_state(state: &str) -> Failure {
    Failure {
        http_status: Some(200),
        code: "operation_unknown_state".into(),
        message: format!(
            "the reset operation reported the state {:?}, which credrotate does not know; whether it finished is unknown",
            truncate(state.to_owned(), 100)
        ),
        ..Failure::default()
    }
}

fn operation_failed(op: &Value) -> Failure {
    let detail = op
        .get("statusDetail")
        .and_then(Value::as_str)
        .unwrap_or("no detail given");
    Failure {
        http_status: Some(200),
        code: "operation_failed".into(),
        message: format!("the reset operation failed: {detail}"),
        request_id: None,
        client_request_id: None,
    }
}

fn operation_timeout(limit: Duration) -> Attempt {
    Attempt::uncertain(Failure {
        code: "operation_timeout".into(),
        message: format!(
            "the reset was accepted, but its operation did not finish within {}; whether it finished is unknown (raise poll_timeout in the config)",
            humantime::format_duration(limit)
        ),
        ..Failure::default()
    })
}

/// Keeps the request id of the original POST on failures found while polling.
fn with_request_id(mut attempt: Attempt, rid: Option<String>) -> Attempt {
    if let Some(failure) = attempt.failure_mut() {
        if failure.request_id.is_none() {
            failure.request_id = rid;
        }
    }
    attempt
}
