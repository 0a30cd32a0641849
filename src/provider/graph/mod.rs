//! Microsoft Graph `resetPassword` (`kind = "graph"`): the kind's config keys, defaults and
//! manifest rules, and its client — v1.0 or beta `.../methods/{id}/resetPassword`
//! ([`client`]), or beta `softwareOathMethods` ([`beta`]) — with the optional
//! `revokeSignInSessions` follow-up.
//!
//! Invariants: `api_version` and `method_collection` combine only as Graph documents them
//! (`softwareOathMethods` on beta only); the method id goes into the request path, so every row
//! resolves to one (the password method's well-known id by default).

pub(crate) mod address;
pub mod beta;
pub mod client;

use std::time::Duration;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::graph_revoke::Revoke;
use super::kind::{Context, Kind, KindRules, Parts, Shared};
use super::Attempt;
use crate::auth::AuthSection;
use crate::manifest::Target;
use crate::password::Generate;
use crate::secret::SecretString;
use crate::serde_table::duration;
use crate::values::Rate;

pub use beta::GraphBeta;
pub use client::{Graph, Polling};

/// Graph's password authentication method id (the default method for `kind = "graph"`).
pub const GRAPH_PASSWORD_METHOD: &str = "28c10230-6103-485e-b985-444c60001490";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApiVersion {
    #[default]
    #[serde(rename = "v1.0")]
    V1,
    #[serde(rename = "beta")]
    Beta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MethodCollection {
    /// `authentication/methods/{id}/resetPassword` (v1.0 and beta).
    #[default]
    #[serde(rename = "methods")]
    Methods,
    /// `authentication/passwordMethods/{id}/resetPassword`, beta's documented password action.
    #[serde(rename = "passwordMethods")]
    PasswordMethods,
    /// Beta only, experimental: Microsoft documents no such action (kept from the first seed).
    #[serde(rename = "softwareOathMethods")]
    SoftwareOathMethods,
}

impl MethodCollection {
    /// The path segment.
    pub fn segment(self) -> &'static str {
        match self {
            MethodCollection::Methods => "methods",
            MethodCollection::PasswordMethods => "passwordMethods",
            MethodCollection::SoftwareOathMethods => "softwareOathMethods",
        }
    }

    /// Graph's `resetPassword` on a password method always makes the user change it at the
    /// next sign-in, whatever the row says.
    fn forces_change(self) -> bool {
        self != MethodCollection::SoftwareOathMethods
    }
}

/// Shown wherever a provider resets through `softwareOathMethods` (plan, run log, help).
pub const SOFTWARE_OATH_EXPERIMENTAL: &str = "experimental: Microsoft documents no softwareOathMethods/{id}/resetPassword action (the software OATH method has only List, Get and Delete); expect a real tenant to refuse it";

/// The keys of `[providers.NAME]` only `kind = "graph"` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphSection {
    api_version: Option<ApiVersion>,
    method_collection: Option<MethodCollection>,
    /// First wait before polling a long-running operation without `Retry-After` (e.g. "200ms").
    poll_interval: Option<String>,
    /// Give up polling a long-running operation after this long (e.g. "2m").
    poll_timeout: Option<String>,
    /// `requireChangeOnNextSignIn` for rows that do not say (beta softwareOathMethods).
    require_change: Option<bool>,
    /// Revoke sign-in sessions after each successful reset.
    revoke_sessions: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphSettings {
    pub api_version: ApiVersion,
    pub method_collection: MethodCollection,
    pub poll_interval: Duration,
    pub poll_timeout: Duration,
    pub require_change: bool,
    pub revoke_sessions: bool,
}

/// The client `kind = "graph"` builds.
#[derive(Debug, Clone)]
pub enum GraphClient {
    Methods(Graph),
    SoftwareOath(GraphBeta),
}

impl GraphClient {
    fn graph(&self) -> &Graph {
        match self {
            GraphClient::Methods(g) => g,
            GraphClient::SoftwareOath(b) => b.graph(),
        }
    }
}

#[derive(Debug)]
pub struct GraphKind;

impl Kind for GraphKind {
    type Section = GraphSection;
    type Settings = GraphSettings;
    type Client = GraphClient;

    // About 3,000 writes per 150 s per app and tenant = 20/s.
    const DEFAULT_RATE: Rate = Rate::PerSecond(20);

    fn settings(s: GraphSection, context: &Context) -> Result<GraphSettings> {
        refuse_app_only(context.auth)?;
        let api_version = s.api_version.unwrap_or_default();
        let method_collection = s.method_collection.unwrap_or_default();
        if api_version == ApiVersion::V1 && method_collection != MethodCollection::Methods {
            bail!("method_collection {:?} is not supported with api_version \"v1.0\" (expected \"methods\", or set api_version = \"beta\")", method_collection.segment());
        }
        check_version_matches(api_version, context.base_url)?;
        if method_collection == MethodCollection::SoftwareOathMethods {
            tracing::warn!(
                "method_collection \"softwareOathMethods\": {SOFTWARE_OATH_EXPERIMENTAL}"
            );
        }
        Ok(GraphSettings {
            api_version,
            method_collection,
            poll_interval: duration(s.poll_interval.as_deref(), "200ms", "poll_interval")?,
            poll_timeout: duration(s.poll_timeout.as_deref(), "2m", "poll_timeout")?,
            require_change: s.require_change.unwrap_or(false),
            revoke_sessions: s.revoke_sessions == Some(true) || context.revoke_sessions,
        })
    }

    fn default_base_url(s: &GraphSettings) -> Result<String> {
        Ok(match s.api_version {
            ApiVersion::V1 => "https://graph.microsoft.com/v1.0".into(),
            ApiVersion::Beta => "https://graph.microsoft.com/beta".into(),
        })
    }

    fn default_method(s: &GraphSettings) -> &'static str {
        match s.method_collection {
            MethodCollection::Methods | MethodCollection::PasswordMethods => GRAPH_PASSWORD_METHOD,
            MethodCollection::SoftwareOathMethods => "",
        }
    }

    fn rules(s: &GraphSettings) -> KindRules {
        KindRules {
            method_in_path: true,
            forces_change: s.method_collection.forces_change(),
            ..KindRules::default()
        }
    }

    fn experimental(s: &GraphSettings) -> Option<&'static str> {
        (s.method_collection == MethodCollection::SoftwareOathMethods)
            .then_some(SOFTWARE_OATH_EXPERIMENTAL)
    }

    fn revokes(s: &GraphSettings) -> bool {
        s.revoke_sessions
    }

    fn build(s: &GraphSettings, shared: &Shared, parts: Parts) -> Result<GraphClient> {
        let polling = Polling {
            interval: s.poll_interval,
            max_interval: Duration::from_secs(5).max(s.poll_interval),
            timeout: s.poll_timeout,
        };
        let revoke = s.revoke_sessions.then(|| {
            Revoke::new(
                parts.client.clone(),
                shared.base_url.clone(),
                parts.credential.clone(),
            )
        });
        let server = shared.generate == Generate::Server;
        let mut graph = Graph::new(
            parts.client,
            shared.base_url.clone(),
            parts.credential,
            server,
            polling,
        )
        .with_collection(s.method_collection);
        graph.revoke = revoke;
        Ok(match s.method_collection {
            MethodCollection::Methods | MethodCollection::PasswordMethods => {
                GraphClient::Methods(graph)
            }
            MethodCollection::SoftwareOathMethods => {
                GraphClient::SoftwareOath(GraphBeta::new(graph, s.require_change))
            }
        })
    }

    async fn reset(c: &GraphClient, target: &Target, password: Option<&SecretString>) -> Attempt {
        match c {
            GraphClient::Methods(g) => g.reset(target, password).await,
            GraphClient::SoftwareOath(b) => b.reset(target, password).await,
        }
    }

    fn revoker(c: &GraphClient) -> Option<&Revoke> {
        c.graph().revoke.as_ref()
    }
}

/// `resetPassword` takes delegated tokens only: Graph answers an app-only token with 403.
fn refuse_app_only(auth: &AuthSection) -> Result<()> {
    if matches!(auth, AuthSection::ClientCredentials { .. }) {
        bail!("auth: kind \"graph\" (resetPassword) needs a delegated token, and client credentials are app-only: Microsoft Graph documents resetPassword as \"Application: Not supported\", so every row would get 403 (hint: for unattended jobs use kind = \"graph-profile\", which sets passwordProfile with an app-only token; or sign in as an administrator with [auth] type = \"device_code\")");
    }
    Ok(())
}

/// A base URL that names a Graph version must name `api_version`'s: the path comes from it.
fn check_version_matches(api_version: ApiVersion, base_url: Option<&str>) -> Result<()> {
    let Some(url) = base_url else { return Ok(()) };
    let last = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let named = match last {
        "v1.0" => ApiVersion::V1,
        "beta" => ApiVersion::Beta,
        _ => return Ok(()),
    };
    if named != api_version {
        let (want, have) = (version_name(api_version), version_name(named));
        bail!("api_version {want:?} does not match base_url {url:?}, which ends in /{have} (hint: end base_url with /{want}, or set api_version = {have:?})");
    }
    Ok(())
}

fn version_name(v: ApiVersion) -> &'static str {
    match v {
        ApiVersion::V1 => "v1.0",
        ApiVersion::Beta => "beta",
    }
}
