//! Microsoft Graph `resetPassword` (`kind = "graph"`): the kind's config keys, defaults and
//! manifest rules, and its client — v1.0 or beta `.../methods/{id}/resetPassword`
//! ([`client`]), or beta `softwareOathMethods` ([`beta`]) — with the optional
//! `revokeSignInSessions` follow-up.
//!
//! Invariants: `api_version` and `method_collection` combine only as Graph documents them
//! (`softwareOathMethods` on beta only); the method id goes into the request path, so every row
//! resolves to one (the password method's well-known id by default).

pub mod beta;
pub mod client;

use std::time::Duration;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::graph_revoke::Revoke;
use super::kind::{Context, Kind, KindRules, Parts, Shared};
use super::Attempt;
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
    #[default]
    #[serde(rename = "methods")]
    Methods,
    /// Beta only; Microsoft documents no such action (kept from the first seed).
    #[serde(rename = "softwareOathMethods")]
    SoftwareOathMethods,
}

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
        let api_version = s.api_version.unwrap_or_default();
        let method_collection = s.method_collection.unwrap_or_default();
        if (api_version, method_collection)
            == (ApiVersion::V1, MethodCollection::SoftwareOathMethods)
        {
            bail!("method_collection \"softwareOathMethods\" is not supported with api_version \"v1.0\" (expected \"methods\", or \"softwareOathMethods\" with api_version = \"beta\")");
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
            MethodCollection::Methods => GRAPH_PASSWORD_METHOD,
            MethodCollection::SoftwareOathMethods => "",
        }
    }

    fn rules(_: &GraphSettings) -> KindRules {
        KindRules {
            method_in_path: true,
            ..KindRules::default()
        }
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
        );
        graph.revoke = revoke;
        Ok(match s.method_collection {
            MethodCollection::Methods => GraphClient::Methods(graph),
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
