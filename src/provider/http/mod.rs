//! The generic HTTP provider (`kind = "http"`: Keycloak, Okta, Auth0 and any API a template can
//! describe): its `[providers.NAME.http]` table ([`HttpSection`], checked by [`check`]), its
//! defaults and manifest rules, and the client that renders the templates ([`client`]).
//!
//! Invariants: a template mistake is a config error (exit 2), never a failed row; a `{method}`
//! in the path makes the method id required for every row.

mod check;
pub mod client;
#[cfg(test)]
mod examples_tests;

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::kind::{Context, Kind, KindRules, Parts, Shared};
use super::template::Template;
use super::Attempt;
use crate::manifest::Target;
use crate::password::Generate;
use crate::secret::SecretString;
use crate::values::Rate;

pub use client::Http;

/// `[providers.NAME.http]`: the generic HTTP provider's request and response.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// HTTP method (default POST).
    pub method: Option<String>,
    /// URL template appended to base_url: `{user}`, `{method}`, `{provider}`, `{require_change}`.
    pub path: String,
    /// JSON body template; placeholders inside strings, `{password}` JSON-escaped.
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Statuses meaning success (default: any 2xx).
    pub success_statuses: Option<Vec<u16>>,
    /// JSON pointer to a server-generated password in the response (needs generate = "server").
    pub password_pointer: Option<String>,
}

/// The keys of `[providers.NAME]` only `kind = "http"` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpKindSection {
    /// `{require_change}` for rows that do not say.
    require_change: Option<bool>,
    http: Option<HttpSection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    pub require_change: bool,
    pub http: HttpSection,
}

#[derive(Debug)]
pub struct HttpKind;

impl Kind for HttpKind {
    type Section = HttpKindSection;
    type Settings = HttpSettings;
    type Client = Http;

    // Not documented (it is whatever API the templates describe): a conservative 10/s.
    const DEFAULT_RATE: Rate = Rate::PerSecond(10);

    fn settings(s: HttpKindSection, context: &Context) -> Result<HttpSettings> {
        let http = s
            .http
            .context("kind \"http\" needs an [providers.NAME.http] table with at least `path`")?;
        check::check(&http, context.generate == Generate::Server)?;
        Ok(HttpSettings {
            require_change: s.require_change.unwrap_or(false),
            http,
        })
    }

    fn default_base_url(_: &HttpSettings) -> Result<String> {
        bail!("base_url is required for kind \"http\" (hint: the https:// address of your tenant)")
    }

    fn rules(s: &HttpSettings) -> KindRules {
        let method_in_path =
            Template::parse(&s.http.path).is_ok_and(|t| t.vars().any(|v| v == "method"));
        KindRules {
            method_in_path,
            ..KindRules::default()
        }
    }

    fn build(s: &HttpSettings, shared: &Shared, parts: Parts) -> Result<Http> {
        Http::new(
            parts.client,
            &shared.base_url,
            parts.credential,
            &s.http,
            s.require_change,
        )
    }

    async fn reset(c: &Http, target: &Target, password: Option<&SecretString>) -> Attempt {
        c.reset(target, password).await
    }
}
