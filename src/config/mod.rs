//! Configuration: the TOML file, command-line overrides and the environment, merged once into a
//! validated [`Config`].
//!
//! Invariants: a `Config` that exists is usable: every provider has an allowed base URL (https, or
//! http on a loopback host), credentials that were found, and a satisfiable password policy.
//! Secrets come only from files or the environment, never from the TOML itself or argv.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::auth::{AuthSection, Credential, Tls};
use crate::manifest::{unsafe_segment, InputRule};
use crate::password::{Generate, Policy};
use crate::pipeline::limiter::Rate;

mod http;
mod kinds;
mod locate;

pub use kinds::{
    default_rate, kind_name, HttpSection, KindOptions, ProviderKind, ProviderOptions,
    WristbandOptions, GRAPH_PASSWORD_METHOD, PINGONE_BASE_URL,
};

/// The TOML file as written by the user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub password: PasswordSection,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
}

/// `[password]`: the policy for generated passwords.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSection {
    pub length: usize,
    pub allow_short: bool,
    pub min_upper: usize,
    pub min_lower: usize,
    pub min_digit: usize,
    pub min_special: usize,
    pub special: String,
    pub exclude: String,
    pub generate: Generate,
}

impl Default for PasswordSection {
    fn default() -> Self {
        let p = Policy::default();
        PasswordSection {
            length: p.length,
            allow_short: false,
            min_upper: p.min_upper,
            min_lower: p.min_lower,
            min_digit: p.min_digit,
            min_special: p.min_special,
            special: p.special,
            exclude: p.exclude,
            generate: p.generate,
        }
    }
}

/// `[providers.NAME]`. Fields after `poll_timeout` apply to some kinds only (see `kinds`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    pub kind: ProviderKind,
    /// Default per kind (Graph, PingOne); required for wristband and http.
    pub base_url: Option<String>,
    /// File holding the bearer token (first line).
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the bearer token (default `CREDROTATE_TOKEN`).
    pub token_env: Option<String>,
    /// `[providers.NAME.auth]`: the full credential table (instead of token_file/token_env).
    pub auth: Option<AuthSection>,
    pub rate: Option<String>,
    pub burst: Option<u32>,
    pub concurrency: Option<usize>,
    /// Default method id for rows without a `method`.
    pub method: Option<String>,
    /// Overrides `[password] generate` for this provider.
    pub generate: Option<Generate>,
    /// First wait before polling a long-running operation without `Retry-After` (e.g. "200ms").
    pub poll_interval: Option<String>,
    /// Give up polling a long-running operation after this long (e.g. "2m").
    pub poll_timeout: Option<String>,
    /// graph: "v1.0" (default) or "beta".
    pub api_version: Option<String>,
    /// graph: "methods" (default) or "softwareOathMethods" (beta).
    pub method_collection: Option<String>,
    /// graph (beta), graph-profile, http: require a change at next sign-in for rows that do not say.
    pub require_change: Option<bool>,
    /// graph, graph-profile: revoke sign-in sessions after each successful reset.
    pub revoke_sessions: Option<bool>,
    /// pingone: "com" (default), "eu" or "com.au".
    pub region: Option<String>,
    /// pingone: POST (default), PUT or PATCH (the documentation does not say).
    pub http_method: Option<String>,
    /// wristband: JSON name of the new password (default "newPassword").
    pub password_field: Option<String>,
    /// wristband: JSON name of the "do not send the Password Updated email" flag.
    pub suppress_email_field: Option<String>,
    /// wristband: value of that flag (default false: the email is sent).
    pub suppress_password_updated_email: Option<bool>,
    /// wristband: `result` values that mean success (default: any 2xx answer).
    pub success_results: Option<Vec<String>>,
    /// http: `[providers.NAME.http]`.
    pub http: Option<HttpSection>,
}

/// Values from the command line that override the file, for every provider.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub concurrency: Option<usize>,
    /// `--provider`: the provider for rows without a `provider` column.
    pub default_provider: Option<String>,
    /// `--ca-file`: extra trusted CA certificates (PEM) for every provider and token endpoint.
    pub ca_file: Option<PathBuf>,
    /// `--password-*`: override `[password]`.
    pub password: PasswordOverrides,
    /// `--revoke-sessions`: revoke sign-in sessions after each reset, where the provider can.
    pub revoke_sessions: bool,
}

/// Password policy values from the command line (`allow_short` only ever comes from the file).
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct PasswordOverrides {
    pub length: Option<usize>,
    pub special: Option<String>,
    pub exclude: Option<String>,
    pub generate: Option<Generate>,
}

/// One configured, validated provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: reqwest::Url,
    pub credential: Credential,
    /// Trust for HTTPS: system roots plus `--ca-file`.
    pub tls: Tls,
    pub rate: Rate,
    pub burst: u32,
    pub concurrency: usize,
    pub method: String,
    pub generate: Generate,
    pub poll_interval: Duration,
    pub poll_timeout: Duration,
    /// Kind-specific settings, require_change default and the revoke step.
    pub options: ProviderOptions,
}

/// The validated configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    pub providers: BTreeMap<String, ProviderConfig>,
    pub policy: Policy,
    /// Provider for rows that name none.
    pub default_provider: Option<String>,
}

impl Config {
    /// Loads and validates the config file, applying overrides. Reads credentials.
    /// Every error starts with `file:line:column` (see `locate`).
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, col) = locate::line_col(
                &String::from_utf8_lossy(e.as_bytes()),
                e.utf8_error().valid_up_to(),
            );
            anyhow::anyhow!(
                "{}:{line}:{col}: the config file is not UTF-8 text (hint: save it as UTF-8)",
                path.display()
            )
        })?;
        let file: FileConfig =
            toml::from_str(&text).map_err(|e| locate::parse_error(path, &text, &e))?;
        Config::from_file(file, overrides).map_err(|e| {
            let at = locate::position(path, &text, &e);
            e.context(at)
        })
    }

    pub fn from_file(file: FileConfig, overrides: &Overrides) -> Result<Config> {
        let policy = policy_from(&file.password, &overrides.password)?;
        let tls = Tls::load(overrides.ca_file.as_deref())?;
        let mut providers = BTreeMap::new();
        for (name, section) in file.providers {
            check_name(&name)?;
            let p = provider_from(&name, section, &policy, overrides, &tls)
                .with_context(|| format!("[providers.{name}]"))?;
            providers.insert(name, p);
        }
        let default_provider = resolve_default(&providers, overrides)?;
        if overrides.revoke_sessions && !providers.values().any(|p| p.options.revoke_sessions) {
            bail!("--revoke-sessions: none of the configured providers can revoke sign-in sessions (only kinds \"graph\" and \"graph-profile\" can)");
        }
        Ok(Config {
            providers,
            policy,
            default_provider,
        })
    }

    /// Signs in the credentials of the named providers (OAuth2: the first token; device code:
    /// the operator's sign-in), before anything is sent to them.
    pub async fn sign_in<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Result<()> {
        for name in names {
            if let Some(p) = self.providers.get(name) {
                p.credential
                    .sign_in()
                    .await
                    .with_context(|| format!("[providers.{name}] credential"))?;
            }
        }
        Ok(())
    }

    /// What manifest validation needs to know of the configured providers.
    pub fn manifest_rules(&self) -> crate::manifest::Rules {
        let providers = self
            .providers
            .values()
            .map(|p| {
                let input_rule = match p.kind {
                    ProviderKind::PingOne => InputRule::OldPasswordXorConfirmationToken,
                    ProviderKind::Wristband => InputRule::WristbandCodes,
                    _ => InputRule::None,
                };
                let rules = crate::manifest::ProviderRules {
                    default_method: p.method.clone(),
                    input_rule,
                    method_in_path: kinds::method_in_path(&p.options.kind),
                };
                (p.name.clone(), rules)
            })
            .collect();
        crate::manifest::Rules {
            providers,
            default_provider: self.default_provider.clone(),
        }
    }

    /// The settings without any secret, for the journal header and `validate`'s plan.
    pub fn describe(&self) -> serde_json::Value {
        let providers: serde_json::Map<String, serde_json::Value> = self
            .providers
            .values()
            .map(|p| {
                let v = serde_json::json!({
                    "kind": p.kind,
                    "base_url": p.base_url.as_str(),
                    "credential": p.credential.describe(),
                    "ca_file": p.tls.ca_file(),
                    "rate": p.rate.to_string(),
                    "burst": p.burst,
                    "concurrency": p.concurrency,
                    "method": p.method,
                    "generate": p.generate,
                    "options": p.options,
                });
                (p.name.clone(), v)
            })
            .collect();
        serde_json::json!({ "providers": providers, "password": self.policy })
    }
}

fn policy_from(s: &PasswordSection, o: &PasswordOverrides) -> Result<Policy> {
    let policy = Policy {
        length: o.length.unwrap_or(s.length),
        min_upper: s.min_upper,
        min_lower: s.min_lower,
        min_digit: s.min_digit,
        min_special: s.min_special,
        special: o.special.clone().unwrap_or_else(|| s.special.clone()),
        exclude: o.exclude.clone().unwrap_or_else(|| s.exclude.clone()),
        generate: o.generate.unwrap_or(s.generate),
    };
    if policy.generate == Generate::Client {
        policy
            .check(s.allow_short)
            .context("[password] (with any --password-* flags)")?;
    }
    Ok(policy)
}

fn provider_from(
    name: &str,
    mut s: ProviderSection,
    policy: &Policy,
    o: &Overrides,
    tls: &Tls,
) -> Result<ProviderConfig> {
    kinds::check_fields(&s)?;
    if let Some((message, hint)) = s.method.as_deref().and_then(unsafe_segment) {
        bail!("method {message} (hint: {hint})");
    }
    let base_url = check_base_url(&kinds::base_url(&s)?)?;
    let credential = credential_from(name, &mut s, tls)?;
    let rate = match (o.rate, &s.rate) {
        (Some(r), _) => r,
        // The parser quotes what it got: keep a pasted blob out of the message.
        (None, Some(text)) if text.chars().count() > 40 => {
            bail!("rate: {} characters is no rate; expected N/s, N/m or N/h (e.g. 20/s), or \"unlimited\"", text.chars().count())
        }
        (None, Some(text)) => text.parse().context("rate")?,
        (None, None) => default_rate(s.kind),
    };
    let concurrency = o.concurrency.or(s.concurrency).unwrap_or(8);
    if concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    let generate = s.generate.unwrap_or(policy.generate);
    let graph_kind = matches!(s.kind, ProviderKind::Graph | ProviderKind::GraphProfile);
    let options = ProviderOptions {
        require_change: s.require_change.unwrap_or(false),
        revoke_sessions: (graph_kind && o.revoke_sessions) || s.revoke_sessions == Some(true),
        kind: kinds::kind_options(&s, generate)?,
    };
    Ok(ProviderConfig {
        name: name.to_owned(),
        kind: s.kind,
        base_url,
        credential,
        tls: tls.clone(),
        rate,
        burst: o.burst.or(s.burst).unwrap_or(1).max(1),
        concurrency,
        method: kinds::default_method(&s),
        generate,
        poll_interval: duration(s.poll_interval.as_deref(), "200ms", "poll_interval")?,
        poll_timeout: duration(s.poll_timeout.as_deref(), "2m", "poll_timeout")?,
        options,
    })
}

/// The section's credential: the `[auth]` table or the bearer shorthand; read now.
fn credential_from(name: &str, s: &mut ProviderSection, tls: &Tls) -> Result<Credential> {
    let shorthand = s.token_file.is_some() || s.token_env.is_some();
    let auth = match (s.auth.take(), shorthand) {
        (Some(_), true) => bail!("give either token_file/token_env or an [auth] table, not both"),
        (Some(auth), false) => auth,
        (None, _) => AuthSection::bearer(s.token_file.take(), s.token_env.take()),
    };
    if s.kind == ProviderKind::PingOne && !matches!(auth, AuthSection::Basic { .. }) {
        bail!("kind \"pingone\" authenticates with HTTP Basic (client id and API key): add [providers.{name}.auth] with type = \"basic\", username = \"<client id>\" and password_file or password_env");
    }
    auth.load(tls)
}

/// A provider name is the `{provider}` of http path templates and a manifest value: it must be
/// one safe path segment, like the manifest's (see [`unsafe_segment`]).
fn check_name(name: &str) -> Result<()> {
    let problem = match unsafe_segment(name) {
        _ if name.trim().is_empty() => Some((
            "is empty".to_owned(),
            "name it, e.g. [providers.graph]".to_owned(),
        )),
        found => found,
    };
    if let Some((message, hint)) = problem {
        let shown: String = name.chars().take(40).flat_map(char::escape_debug).collect();
        bail!("[providers.\"{shown}\"]: the provider name {message} (hint: {hint})");
    }
    Ok(())
}

fn duration(text: Option<&str>, default: &str, field: &str) -> Result<Duration> {
    let text = text.unwrap_or(default);
    if text.chars().count() > 40 {
        bail!(
            "{field}: {} characters is no duration; expected one like \"200ms\" or \"2m\"",
            text.chars().count()
        );
    }
    humantime::parse_duration(text).with_context(|| {
        format!("{field}: expected a duration like \"200ms\" or \"2m\", got {text:?}")
    })
}

fn resolve_default(
    providers: &BTreeMap<String, ProviderConfig>,
    o: &Overrides,
) -> Result<Option<String>> {
    match &o.default_provider {
        Some(name) if !providers.contains_key(name) => {
            let known: Vec<&str> = providers.keys().map(String::as_str).collect();
            bail!(
                "--provider {name}: no such provider in the config (configured: {})",
                known.join(", ")
            )
        }
        Some(name) => Ok(Some(name.clone())),
        None if providers.len() == 1 => Ok(providers.keys().next().cloned()),
        None => Ok(None),
    }
}

/// Accepts https URLs, and http only for loopback hosts (the sandbox).
pub fn check_base_url(text: &str) -> Result<reqwest::Url> {
    let url =
        reqwest::Url::parse(text).with_context(|| format!("base_url {text:?} is not a URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => bail!(
            "base_url {text}: plain http is only allowed for loopback hosts (hint: use https://)"
        ),
        other => bail!("base_url {text}: unsupported scheme {other:?} (hint: use https://)"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert!(check_base_url("https://graph.microsoft.com/v1.0").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/v1.0").is_ok());
        assert!(check_base_url("http://[::1]:8080/").is_ok());
        assert!(check_base_url("http://localhost:1/").is_ok());
        assert!(check_base_url("http://graph.microsoft.com/v1.0").is_err());
        assert!(check_base_url("ftp://127.0.0.1/").is_err());
    }

    #[test]
    fn provider_names_and_methods_must_be_path_safe() {
        for bad in ["..", ".", "", " ", "a\u{7}b"] {
            let err = check_name(bad).expect_err(bad).to_string();
            assert!(err.contains("the provider name"), "{err}");
        }
        assert!(check_name("graph-2.eu_west").is_ok());
        let file: FileConfig = toml::from_str(
            "[providers.g]\nkind=\"graph\"\nbase_url=\"https://x.test\"\nmethod=\"..\"\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            Config::from_file(file, &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("[providers.g]: method is `..`"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<FileConfig>(
            "[providers.g]\nkind=\"graph\"\nbase_url=\"x\"\nrat=\"1/s\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("rat"), "{err}");
    }
}
