//! Provider kinds and the settings only some kinds take: which fields a kind accepts, its
//! default base URL, rate and method, and the validated [`KindOptions`] its provider is built from.
//!
//! Invariants: a field given for a kind that does not use it is a config error naming the field
//! and the kinds that take it (never silently ignored); every choice the providers' public
//! documentation leaves open has a default here and a config field to change it.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::ProviderSection;
use crate::password::Generate;
use crate::pipeline::limiter::Rate;

/// Graph's password authentication method id (the default method for `kind = "graph"`).
pub const GRAPH_PASSWORD_METHOD: &str = "28c10230-6103-485e-b985-444c60001490";

/// PingOne Directory API root (North America); `region` picks another.
pub const PINGONE_BASE_URL: &str = "https://directory-api.pingone.com/api";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// Microsoft Graph `resetPassword` (v1.0 password method, or beta softwareOathMethods).
    Graph,
    /// Microsoft Graph `PATCH /users/{id}` with a `passwordProfile` (app-only tokens work).
    GraphProfile,
    /// PingOne Directory API password reset.
    #[serde(rename = "pingone")]
    PingOne,
    /// Wristband password-reset API (codes from reset emails or links).
    Wristband,
    /// Any HTTP API, described by templates (`[providers.NAME.http]`).
    Http,
}

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

/// Options of one configured provider beyond the common ones.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderOptions {
    /// `require_change` for rows that do not say (beta, graph-profile, http).
    pub require_change: bool,
    /// Revoke sign-in sessions after a successful reset (Graph kinds).
    pub revoke_sessions: bool,
    pub kind: KindOptions,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KindOptions {
    Graph {
        /// "v1.0" or "beta".
        api_version: String,
        /// "methods" (v1.0 and beta) or "softwareOathMethods" (beta only).
        method_collection: String,
    },
    GraphProfile,
    #[serde(rename = "pingone")]
    PingOne {
        http_method: String,
    },
    Wristband(WristbandOptions),
    Http(HttpSection),
}

impl Default for KindOptions {
    fn default() -> Self {
        KindOptions::Graph {
            api_version: "v1.0".into(),
            method_collection: "methods".into(),
        }
    }
}

/// Wristband's request names the docs leave open, and what counts as success.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WristbandOptions {
    pub password_field: String,
    pub suppress_email_field: String,
    pub suppress_email: bool,
    /// `result` values meaning success; empty: any 2xx is success (the result is recorded).
    pub success_results: Vec<String>,
}

/// Which kinds take each kind-specific field.
const FIELD_KINDS: &[(&str, &[ProviderKind])] = {
    use ProviderKind::*;
    &[
        ("api_version", &[Graph]),
        ("method_collection", &[Graph]),
        ("poll_interval", &[Graph]),
        ("poll_timeout", &[Graph]),
        ("require_change", &[Graph, GraphProfile, Http]),
        ("revoke_sessions", &[Graph, GraphProfile]),
        ("region", &[PingOne]),
        ("http_method", &[PingOne]),
        ("password_field", &[Wristband]),
        ("suppress_email_field", &[Wristband]),
        ("suppress_password_updated_email", &[Wristband]),
        ("success_results", &[Wristband]),
        ("http", &[Http]),
    ]
};

fn present(s: &ProviderSection) -> Vec<&'static str> {
    let fields = [
        ("api_version", s.api_version.is_some()),
        ("method_collection", s.method_collection.is_some()),
        ("poll_interval", s.poll_interval.is_some()),
        ("poll_timeout", s.poll_timeout.is_some()),
        ("require_change", s.require_change.is_some()),
        ("revoke_sessions", s.revoke_sessions.is_some()),
        ("region", s.region.is_some()),
        ("http_method", s.http_method.is_some()),
        ("password_field", s.password_field.is_some()),
        ("suppress_email_field", s.suppress_email_field.is_some()),
        (
            "suppress_password_updated_email",
            s.suppress_password_updated_email.is_some(),
        ),
        ("success_results", s.success_results.is_some()),
        ("http", s.http.is_some()),
    ];
    fields.iter().filter(|f| f.1).map(|f| f.0).collect()
}

/// Refuses fields the section's kind does not use.
pub(super) fn check_fields(s: &ProviderSection) -> Result<()> {
    for field in present(s) {
        let kinds = FIELD_KINDS
            .iter()
            .find(|(name, _)| *name == field)
            .map_or(&[][..], |(_, k)| *k);
        if !kinds.contains(&s.kind) {
            let names: Vec<String> = kinds
                .iter()
                .map(|k| format!("{:?}", kind_name(*k)))
                .collect();
            bail!(
                "field `{field}` does not apply to kind {:?} (it is for kind {})",
                kind_name(s.kind),
                names.join(" or ")
            );
        }
    }
    Ok(())
}

pub fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Graph => "graph",
        ProviderKind::GraphProfile => "graph-profile",
        ProviderKind::PingOne => "pingone",
        ProviderKind::Wristband => "wristband",
        ProviderKind::Http => "http",
    }
}

/// The base URL: the section's, or the kind's documented default.
pub(super) fn base_url(s: &ProviderSection) -> Result<String> {
    if let (Some(_), Some(_)) = (&s.base_url, &s.region) {
        bail!("give either base_url or region, not both");
    }
    if let Some(url) = &s.base_url {
        return Ok(url.clone());
    }
    match s.kind {
        ProviderKind::Graph => Ok(format!(
            "https://graph.microsoft.com/{}",
            s.api_version.as_deref().unwrap_or("v1.0")
        )),
        ProviderKind::GraphProfile => Ok("https://graph.microsoft.com/v1.0".into()),
        ProviderKind::PingOne => pingone_region(s.region.as_deref()),
        ProviderKind::Wristband | ProviderKind::Http => bail!(
            "base_url is required for kind {:?} (hint: the https:// address of your tenant)",
            kind_name(s.kind)
        ),
    }
}

fn pingone_region(region: Option<&str>) -> Result<String> {
    let host = match region.unwrap_or("com") {
        "com" | "na" | "us" => "com",
        "eu" => "eu",
        "com.au" | "au" | "ap" => "com.au",
        other => bail!("region {other:?}: expected \"com\" (North America), \"eu\" or \"com.au\" (or set base_url)"),
    };
    Ok(format!("https://directory-api.pingone.{host}/api"))
}

/// Default pacing per provider kind: safe values below each provider's documented limits.
pub fn default_rate(kind: ProviderKind) -> Rate {
    match kind {
        // Graph: about 3,000 writes per 150 s per app and tenant = 20/s.
        ProviderKind::Graph | ProviderKind::GraphProfile => Rate::PerSecond(20),
        // Not documented: a conservative 10/s.
        ProviderKind::PingOne | ProviderKind::Wristband | ProviderKind::Http => Rate::PerSecond(10),
    }
}

/// The method id used for rows without one.
pub(super) fn default_method(s: &ProviderSection) -> String {
    match (&s.method, s.kind, s.method_collection.as_deref()) {
        (Some(m), _, _) => m.clone(),
        (None, ProviderKind::Graph, None | Some("methods")) => GRAPH_PASSWORD_METHOD.to_owned(),
        _ => String::new(),
    }
}

/// Does the provider put the row's method id into the request path? Graph's resetPassword does
/// (`.../methods/{methodId}/resetPassword`), and an http `path` with `{method}`.
pub(super) fn method_in_path(options: &KindOptions) -> bool {
    match options {
        KindOptions::Graph { .. } => true,
        KindOptions::Http(http) => crate::provider::template::Template::parse(&http.path)
            .is_ok_and(|t| t.vars().any(|v| v == "method")),
        _ => false,
    }
}

/// Validates the kind-specific settings into [`KindOptions`].
pub(super) fn kind_options(s: &ProviderSection, generate: Generate) -> Result<KindOptions> {
    let server = generate == Generate::Server;
    if server && !matches!(s.kind, ProviderKind::Graph | ProviderKind::Http) {
        bail!(
            "kind {:?} cannot have the server generate passwords (hint: remove generate = \"server\")",
            kind_name(s.kind)
        );
    }
    Ok(match s.kind {
        ProviderKind::Graph => graph_options(s)?,
        ProviderKind::GraphProfile => KindOptions::GraphProfile,
        ProviderKind::PingOne => KindOptions::PingOne {
            http_method: http_method(s.http_method.as_deref(), "http_method")?,
        },
        ProviderKind::Wristband => KindOptions::Wristband(WristbandOptions {
            password_field: json_name(s.password_field.as_deref(), "newPassword")?,
            suppress_email_field: json_name(
                s.suppress_email_field.as_deref(),
                "suppressPasswordUpdatedEmail",
            )?,
            suppress_email: s.suppress_password_updated_email.unwrap_or(false),
            success_results: s.success_results.clone().unwrap_or_default(),
        }),
        ProviderKind::Http => {
            let http = s.http.clone().context(
                "kind \"http\" needs an [providers.NAME.http] table with at least `path`",
            )?;
            super::http::check(&http, server)?;
            KindOptions::Http(http)
        }
    })
}

fn graph_options(s: &ProviderSection) -> Result<KindOptions> {
    let api_version = s.api_version.clone().unwrap_or_else(|| "v1.0".into());
    let method_collection = s
        .method_collection
        .clone()
        .unwrap_or_else(|| "methods".into());
    match (api_version.as_str(), method_collection.as_str()) {
        ("v1.0", "methods") | ("beta", "methods" | "softwareOathMethods") => {}
        ("v1.0" | "beta", other) => bail!(
            "method_collection {other:?} is not supported with api_version {api_version:?} (expected \"methods\", or \"softwareOathMethods\" with api_version = \"beta\")"
        ),
        (other, _) => bail!("api_version {other:?}: expected \"v1.0\" or \"beta\""),
    }
    Ok(KindOptions::Graph {
        api_version,
        method_collection,
    })
}

/// An HTTP method name, upper-cased; default POST.
pub(super) fn http_method(text: Option<&str>, field: &str) -> Result<String> {
    let m = text.unwrap_or("POST").to_ascii_uppercase();
    match m.as_str() {
        "POST" | "PUT" | "PATCH" => Ok(m),
        _ => bail!("{field} {m:?}: expected POST, PUT or PATCH"),
    }
}

fn json_name(text: Option<&str>, default: &str) -> Result<String> {
    let name = text.unwrap_or(default);
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{name:?} is not a usable JSON field name");
    }
    Ok(name.to_owned())
}
