//! Microsoft Graph `passwordProfile`: `PATCH {base}/users/{id}` with
//! `{"passwordProfile": {"password", "forceChangePasswordNextSignIn"}}`, answered `204 No Content`.
//!
//! Unlike `resetPassword` (delegated tokens only) this works with an app-only token from the
//! client-credentials flow (`User.ReadWrite.All`), which is what unattended jobs have.
//!
//! Config (`kind = "graph-profile"`): `require_change` (default false) and `revoke_sessions`;
//! the base URL defaults to Graph v1.0.
//!
//! Invariants: the client always sends the password (Graph does not generate one here; the
//! config refuses `generate = "server"` for this kind); any 2xx is success, no polling.

use crate::provider::http_util::Client;
use anyhow::Result;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::graph::address::{traced, user_url, with_client_request_id};
use super::graph_revoke::Revoke;
use super::http_util::{not_sent, secret_json, send_expecting_2xx};
use super::kind::{client_generated_only, Context, Kind, Parts, Shared};
use super::Attempt;
use crate::auth::Credential;
use crate::manifest::Target;
use crate::secret::{ExposeSecret, SecretString};
use crate::values::Rate;

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
        let url = user_url(&self.base, &target.user, &[]);
        let (request, id) = traced(secret_json(self.client.patch(url), body));
        with_client_request_id(
            send_expecting_2xx(&self.client, &self.credential, request).await,
            id,
        )
    }
}

/// The keys of `[providers.NAME]` only `kind = "graph-profile"` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphProfileSection {
    /// `forceChangePasswordNextSignIn` for rows that do not say.
    require_change: Option<bool>,
    /// Revoke sign-in sessions after each successful reset.
    revoke_sessions: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphProfileSettings {
    pub require_change: bool,
    pub revoke_sessions: bool,
}

#[derive(Debug)]
pub struct GraphProfileKind;

impl Kind for GraphProfileKind {
    type Section = GraphProfileSection;
    type Settings = GraphProfileSettings;
    type Client = GraphProfile;

    // Graph's write limit, as for resetPassword.
    const DEFAULT_RATE: Rate = Rate::PerSecond(20);

    fn settings(s: GraphProfileSection, context: &Context) -> Result<GraphProfileSettings> {
        client_generated_only("graph-profile", context.generate)?;
        Ok(GraphProfileSettings {
            require_change: s.require_change.unwrap_or(false),
            revoke_sessions: s.revoke_sessions == Some(true) || context.revoke_sessions,
        })
    }

    fn default_base_url(_: &GraphProfileSettings) -> Result<String> {
        Ok("https://graph.microsoft.com/v1.0".into())
    }

    fn revokes(s: &GraphProfileSettings) -> bool {
        s.revoke_sessions
    }

    fn build(s: &GraphProfileSettings, shared: &Shared, parts: Parts) -> Result<GraphProfile> {
        let base = shared.base_url.clone();
        let mut p = GraphProfile::new(
            parts.client.clone(),
            base.clone(),
            parts.credential.clone(),
            s.require_change,
        );
        p.revoke = s
            .revoke_sessions
            .then(|| Revoke::new(parts.client, base, parts.credential));
        Ok(p)
    }

    async fn reset(c: &GraphProfile, target: &Target, password: Option<&SecretString>) -> Attempt {
        c.reset(target, password).await
    }

    fn revoker(c: &GraphProfile) -> Option<&Revoke> {
        c.revoke.as_ref()
    }
}
