//! Microsoft Graph `revokeSignInSessions`: `POST {base}/users/{id}/revokeSignInSessions`, the
//! incident-response follow-up to a reset (it invalidates refresh tokens and session cookies).
//!
//! Documented answer: 200 `{"value": true}`; any 2xx counts as success. Invariants: one call is
//! one request (the pipeline's follow-up step paces and retries it); it never touches the
//! password, so its failure cannot undo or hide the reset it follows.

use crate::provider::http_util::Client;
use reqwest::Url;

use super::graph::address::{traced, user_url, with_client_request_id};
use super::http_util::send_expecting_2xx;
use super::Attempt;
use crate::auth::Credential;

/// The revoke call of one Graph provider (same client, base URL and credential as its resets).
#[derive(Debug, Clone)]
pub struct Revoke {
    client: Client,
    base: Url,
    credential: Credential,
}

impl Revoke {
    pub fn new(client: Client, base: Url, credential: Credential) -> Revoke {
        Revoke {
            client,
            base,
            credential,
        }
    }

    /// One `revokeSignInSessions` request for `user`.
    pub async fn run(&self, user: &str) -> Attempt {
        let url = user_url(&self.base, user, &["revokeSignInSessions"]);
        // Graph actions take a JSON body; this one has no parameters.
        let (request, id) = traced(self.client.post(url).json(&serde_json::json!({})));
        with_client_request_id(
            send_expecting_2xx(&self.client, &self.credential, request).await,
            id,
        )
    }
}
