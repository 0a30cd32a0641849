//! What a provider kind is: the trait each provider's file implements to own everything of its
//! kind — its config keys (a serde section), their validation into typed settings, its defaults
//! (rate, base URL, method id), its manifest rules and its client.
//!
//! Invariants: settings hold no secret (they are written to the journal header and printed in
//! the plan); a kind's `settings` refuses every combination its client cannot serve, so that a
//! run that starts never fails a row for a config reason.

use std::fmt::Debug;
use std::future::Future;

use anyhow::Result;
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::graph_revoke::Revoke;
use super::Attempt;
use crate::auth::{AuthSection, Credential};
use crate::manifest::{InputRule, Target};
use crate::password::Generate;
use crate::secret::SecretString;
use crate::values::Rate;

/// The keys every provider section has, validated (the kind's own are its `Settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    pub base_url: Url,
    /// Where the credential comes from (files, environment variables, endpoints): no secret.
    pub auth: AuthSection,
    pub rate: Rate,
    pub burst: u32,
    pub concurrency: usize,
    /// The method id for rows without one (may be empty).
    pub method: String,
    pub generate: Generate,
    /// `exclude = [...]`: users of this provider never to reset (break-glass accounts).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// What a kind's validation may look at beyond its own keys.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// `base_url` as the section gives it, if it does.
    pub base_url: Option<&'a str>,
    pub auth: &'a AuthSection,
    pub generate: Generate,
    /// `--revoke-sessions` was given (for every provider that can).
    pub revoke_sessions: bool,
}

/// What the manifest needs to know of a kind's settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct KindRules {
    pub input_rule: InputRule,
    /// The method id goes into the request path: a row must resolve to a non-empty one.
    pub method_in_path: bool,
    /// The provider makes every user change the new password at next sign-in, whatever the
    /// row's `require_change` says (a row saying `false` gets a warning).
    pub forces_change: bool,
}

/// The parts a client is built from.
#[derive(Debug, Clone)]
pub struct Parts {
    /// No redirects, the run's timeout and trust (see [`super::build`]).
    pub client: super::http_util::Client,
    pub credential: Credential,
    /// The run's `--timeout`, for clients that do not speak HTTP (LDAP).
    pub timeout: std::time::Duration,
    /// The run's `--ca-file`, for clients that build their own TLS setup (LDAP).
    pub ca_file: Option<std::path::PathBuf>,
}

/// A provider kind: one file implements it, and one line of the registry in [`super`] names it.
pub trait Kind {
    /// The kind's own keys of `[providers.NAME]`, every one optional.
    type Section: DeserializeOwned + Default;
    /// The validated settings.
    type Settings: Debug + Clone + PartialEq + Serialize + DeserializeOwned;
    /// The client: one reset attempt at a time, classified.
    type Client: Debug + Clone + Send + Sync + 'static;

    /// Pacing when the config says nothing: safe below the provider's documented limits.
    const DEFAULT_RATE: Rate;

    /// Validates the kind's keys.
    fn settings(section: Self::Section, context: &Context) -> Result<Self::Settings>;

    /// The base URL when the section gives none; an error when the kind has no default.
    fn default_base_url(settings: &Self::Settings) -> Result<String>;

    /// The method id for rows without one when the section gives none.
    fn default_method(_: &Self::Settings) -> &'static str {
        ""
    }

    fn rules(_: &Self::Settings) -> KindRules {
        KindRules::default()
    }

    /// Whether a successful reset is followed by revoking the user's sign-in sessions.
    fn revokes(_: &Self::Settings) -> bool {
        false
    }

    /// Why these settings are experimental (shown in the plan and the run's log), if they are.
    fn experimental(_: &Self::Settings) -> Option<&'static str> {
        None
    }

    /// What an operator must know before running with these settings (shown in the plan).
    fn caveat(_: &Self::Settings) -> Option<&'static str> {
        None
    }

    /// The server's URL when the kind names it with a key of its own, already checked by
    /// `settings` (LDAP's `url`); `None`: `base_url` under the https rule.
    fn endpoint(_: &Self::Settings) -> Option<Url> {
        None
    }

    /// The credential when the kind reads it from keys of its own (LDAP's `bind_dn` and
    /// `bind_password_*`) instead of `token_file` / `token_env` / `[auth]`.
    fn credential(_: &Self::Settings) -> Option<AuthSection> {
        None
    }

    fn build(settings: &Self::Settings, shared: &Shared, parts: Parts) -> Result<Self::Client>;

    /// One reset attempt; `password` is `None` when the server generates it.
    fn reset(
        client: &Self::Client,
        target: &Target,
        password: Option<&SecretString>,
    ) -> impl Future<Output = Attempt> + Send;

    fn revoker(_: &Self::Client) -> Option<&Revoke> {
        None
    }
}

/// Refuses `generate = "server"` for a kind whose API cannot generate passwords.
pub fn client_generated_only(kind: &str, generate: Generate) -> Result<()> {
    if generate == Generate::Server {
        anyhow::bail!("generate: kind {kind:?} cannot have the server generate passwords (hint: remove generate = \"server\")");
    }
    Ok(())
}

/// The HTTP method of a reset request where the provider's documentation leaves it open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
    Patch,
}

impl HttpMethod {
    /// Reads a method name in any case; default POST. Errors start with `field`.
    pub fn read(text: Option<&str>, field: &str) -> Result<HttpMethod> {
        match text.unwrap_or("POST").to_ascii_uppercase().as_str() {
            "POST" => Ok(HttpMethod::Post),
            "PUT" => Ok(HttpMethod::Put),
            "PATCH" => Ok(HttpMethod::Patch),
            other => anyhow::bail!("{field} {other:?}: expected POST, PUT or PATCH"),
        }
    }

    pub fn method(self) -> reqwest::Method {
        match self {
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
        }
    }
}
