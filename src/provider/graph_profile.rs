//! Microsoft Graph `passwordProfile`: `PATCH {base}/users/{id}` with
//! `{"passwordProfile": {"password", "forceChangePasswordNextSignIn"}}`, answered `204 No Content`.
//!
//! Unlike `resetPassword` (delegated tokens only) this works with an app-only token from the
//! client-credentials flow (`User.ReadWrite.All`), which is what unattended jobs have.
//!
//! Invariants: the client always sends the password (Graph does not generate one here; the
//! config refuses `generate = "server"` for this kind); any 2xx is success, no polling.

use reqwest::{Client, Url};
use serde_json::json;

use super::graph_revoke::Revoke;
use super::http_util::{join_segments, not_sent, secret_json, send_expecting_2xx};
use super::Attempt;
use crate::auth::Credential;
use crate::manifest::Target;
use crate::secret::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct GraphProfile {
    client: Client,
    base: Url,
    credential: Credential,
    require_change: bool,
    pub(super) revoke: Option<Revoke>,
}

impl GraphProfile {
    pub fn new(client: Client, base: Url, credential: Credential, require_change: bool) -> Self {
        GraphProfile {
            client,
            base,
            credential,
            require_change,
            revoke: None,
        }
    }

    /// One `PATCH /users/{id}`.
    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        let Some(password) = password else {
            return not_sent(
                "no_password",
                "passwordProfile needs a client-generated password".into(),
            );
        };
        let force = target.require_change.unwrap_or(self.require_change);
        let body = json!({
            "passwordProfile": {
                "password": password.expose_secret(),
                "forceChangePasswordNextSignIn": force,
            }
        });
        let url = join_segments(&self.base, &["users", &target.user]);
        let request = secret_json(self.client.patch(url), body);
        send_expecting_2xx(&self.credential, request).await
    }
}
