//! Microsoft Graph v1.0 `resetPassword`:
//! `POST {base}/users/{id}/authentication/methods/{methodId}/resetPassword`.
//!
//! Body `{"newPassword": ...}`, or `{}` when the server generates the password (it then comes back
//! as `newPassword` in the response body). `202 Accepted` carries a `Location` of a long-running
//! operation, polled until `succeeded` or `failed`; 200 and 204 are success too.
//!
//! Invariants: the bearer token is only ever sent to the base URL's origin (a `Location` elsewhere
//! is refused); one call of [`Graph::reset`] is one attempt, polling included; no retries here.

use std::time::Duration;

use reqwest::{Client, Response, StatusCode, Url};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::http_util::{failure, join_segments, read_json, request_id, retry_after, send};
use super::{Attempt, Failure, Success};
use crate::auth::Credential;
use crate::manifest::Target;
use crate::secret::{secret, ExposeSecret, SecretString};

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
    /// The optional `revokeSignInSessions` follow-up.
    pub(super) revoke: Option<super::graph_revoke::Revoke>,
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
            revoke: None,
        }
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
        self.submit(self.client.post(url).json(&body)).await
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
            _ => failure(response).await,
        }
    }

    /// Signs and sends a request (one resend after a refreshed 401).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, Attempt> {
        send(&self.credential, request).await
    }

    fn reset_url(&self, user: &str, method: &str) -> Url {
        join_segments(
            &self.base,
            &[
                "users",
                user,
                "authentication",
                "methods",
                method,
                "resetPassword",
            ],
        )
    }

    /// 200/204: done now; a server-generated password must be in the body.
    async fn done(&self, response: Response) -> Attempt {
        let status = response.status().as_u16();
        let rid = request_id(response.headers());
        let body = match read_json(response).await {
            Ok(b) => b,
            Err(a) => return a,
        };
        self.success(status, rid, None, &body)
    }

    /// 202: the reset is an operation to poll at `Location`.
    async fn accepted(&self, response: Response) -> Attempt {
        let rid = request_id(response.headers());
        let wait = retry_after(response.headers());
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match read_json(response).await {
            Ok(b) => b,
            Err(a) => return a,
        };
        let Some(location) = location else {
            // Nothing to poll: Graph documents Location on 202, so take 202 itself as accepted.
            return self.success(202, rid, None, &body);
        };
        let op_url = match self.same_origin(&location) {
            Ok(u) => u,
            Err(f) => return Attempt::Permanent(f),
        };
        let op_id = op_url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(str::to_owned);
        match self.poll(op_url, wait).await {
            Ok(()) => self.success(202, rid, op_id, &body),
            Err(mut a) => {
                set_operation_context(&mut a, rid);
                a
            }
        }
    }

    fn success(
        &self,
        status: u16,
        rid: Option<String>,
        op_id: Option<String>,
        body: &Value,
    ) -> Attempt {
        // v1.0 answers `{"newPassword"}`; beta wraps a passwordResetResponse in `value`.
        let server_password = body
            .get("newPassword")
            .or_else(|| body.get("value").and_then(|v| v.get("newPassword")))
            .and_then(Value::as_str)
            .map(|p| secret(p.to_owned()));
        if self.server_generates && server_password.is_none() {
            return Attempt::Permanent(Failure {
                http_status: Some(status),
                code: "no_password_returned".into(),
                message: "the server reported success but returned no newPassword; the user's new password is unknown (reset it again, or use client-generated passwords)".into(),
                request_id: rid,
            });
        }
        Attempt::Succeeded(Success {
            http_status: Some(status),
            server_password: if self.server_generates {
                server_password
            } else {
                None
            },
            operation_id: op_id,
            request_id: rid,
            result: None,
        })
    }

    /// Resolves `Location` and refuses any origin but the base URL's (the token goes with it).
    fn same_origin(&self, location: &str) -> Result<Url, Failure> {
        let url = self.base.join(location).map_err(|_| Failure {
            code: "bad_location".into(),
            message: "the 202 response's Location header is not a URL".into(),
            ..Failure::default()
        })?;
        if url.origin() != self.base.origin() {
            return Err(Failure {
                code: "foreign_location".into(),
                message: format!("refusing to poll an operation on another origin ({}) with this provider's token", url.origin().ascii_serialization()),
                ..Failure::default()
            });
        }
        Ok(url)
    }

    /// Polls the operation until it succeeds (Ok), fails or runs out of time (Err).
    async fn poll(&self, url: Url, first_wait: Option<Duration>) -> Result<(), Attempt> {
        let deadline = Instant::now() + self.polling.timeout;
        let mut interval = self.polling.interval;
        let mut wait = first_wait.unwrap_or(interval);
        loop {
            if Instant::now() + wait > deadline {
                return Err(operation_timeout(self.polling.timeout));
            }
            tokio::time::sleep(wait).await;
            interval = (interval * 2).min(self.polling.max_interval);
            let response = match self.send(self.client.get(url.clone())).await {
                Ok(r) => r,
                // A lost poll says nothing about the operation: poll again until the deadline.
                Err(Attempt::Transient { .. }) => {
                    wait = interval;
                    continue;
                }
                Err(a) => return Err(a),
            };
            let status = response.status();
            let hinted = retry_after(response.headers());
            if status != StatusCode::OK {
                if super::http_util::is_transient_status(status) {
                    wait = hinted.unwrap_or(interval);
                    continue;
                }
                return Err(failure(response).await);
            }
            let op = read_json(response).await?;
            match op.get("status").and_then(Value::as_str) {
                Some("succeeded") => return Ok(()),
                Some("failed") => return Err(operation_failed(&op)),
                _ => wait = hinted.unwrap_or(interval),
            }
        }
    }
}

fn operation_failed(op: &Value) -> Attempt {
    let detail = op
        .get("statusDetail")
        .and_then(Value::as_str)
        .unwrap_or("no detail given");
    Attempt::Permanent(Failure {
        http_status: Some(200),
        code: "operation_failed".into(),
        message: format!("the reset operation failed: {detail}"),
        request_id: None,
    })
}

fn operation_timeout(limit: Duration) -> Attempt {
    Attempt::Transient {
        retry_after: None,
        failure: Failure {
            code: "operation_timeout".into(),
            message: format!(
                "the reset operation did not finish within {} (raise poll_timeout in the config)",
                humantime::format_duration(limit)
            ),
            ..Failure::default()
        },
    }
}

/// Keeps the request id of the original POST on failures found while polling.
fn set_operation_context(attempt: &mut Attempt, rid: Option<String>) {
    let failure = match attempt {
        Attempt::Transient { failure, .. } | Attempt::Permanent(failure) => failure,
        Attempt::Succeeded(_) => return,
    };
    if failure.request_id.is_none() {
        failure.request_id = rid;
    }
}
