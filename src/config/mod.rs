//! Configuration: the TOML file, command-line overrides and the environment, merged once into a
//! validated [`Config`].
//!
//! Invariants: a `Config` that exists is usable: every provider has an allowed base URL (https, or
//! http on a loopback host), credentials that were found, and a satisfiable password policy.
//! Secrets come only from files or the environment, never from the TOML itself or argv.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::auth::{Credential, Tls};
use crate::manifest::{unsafe_segment, ProviderRules};
use crate::password::{Generate, Policy};
use crate::provider::ProviderSpec;
use crate::serde_table::Table;
use crate::values::check_base_url;
use crate::values::Rate;

mod locate;
mod provider;
mod spec;

pub use spec::{ConfigFile, RunSpec, Scope};

/// A configuration that cannot be used, found before anything is sent (exit 2). The message
/// says where (`file:line:column`, table, key) and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConfigError(#[from] anyhow::Error);

impl crate::exit_class::Classified for ConfigError {
    fn exit_class(&self) -> crate::exit_class::ExitClass {
        crate::exit_class::ExitClass::Usage
    }
}

/// The TOML file as written by the user. Provider tables are read key by key (see
/// `provider`): which keys a table takes depends on its `kind`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Users never to reset at any provider (break-glass accounts).
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub password: PasswordSection,
    #[serde(default)]
    pub providers: BTreeMap<String, Table>,
    /// `[sink]`: the secret store confirmed passwords are delivered to.
    pub sink: Option<crate::sink::SinkFile>,
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

/// The validated configuration without any secret: what the journal header keeps, so that
/// `resume` continues with exactly these settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSpec {
    pub providers: BTreeMap<String, ProviderSpec>,
    pub policy: Policy,
    /// Provider for rows that name none.
    pub default_provider: Option<String>,
    /// `--ca-file`: extra trusted CA certificates for every provider and token endpoint.
    pub ca_file: Option<PathBuf>,
    /// `exclude = [...]` at the top of the file: users never to reset at any provider.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `[sink]`, when confirmed passwords are delivered to a secret store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<crate::sink::SinkSpec>,
}

/// The validated configuration of a run, with its credentials read.
#[derive(Debug, Clone)]
pub struct Config {
    pub spec: ConfigSpec,
    /// Per provider, read from the sources its spec names.
    pub credentials: BTreeMap<String, Credential>,
    /// Trust for HTTPS: system roots plus `--ca-file`.
    pub tls: Tls,
}

impl Config {
    /// Loads and validates the config file, applying overrides. Reads credentials.
    /// Every error starts with `file:line:column` (see `locate`).
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
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
            ConfigError(e.context(at))
        })
    }

    pub fn from_file(file: FileConfig, overrides: &Overrides) -> Result<Config> {
        Config::from_spec(ConfigSpec::from_file(file, overrides)?).map_err(|e| e.0)
    }

    /// Reads the credentials a spec names (files, environment, nothing sent yet).
    pub fn from_spec(spec: ConfigSpec) -> Result<Config, ConfigError> {
        let tls = Tls::load(spec.ca_file.as_deref())?;
        let mut credentials = BTreeMap::new();
        for (name, p) in &spec.providers {
            let credential = p
                .shared
                .auth
                .load(&tls)
                .with_context(|| format!("[providers.{name}]"))?;
            credentials.insert(name.clone(), credential);
        }
        Ok(Config {
            spec,
            credentials,
            tls,
        })
    }

    /// Signs in the credentials of the named providers (OAuth2: the first token; device code:
    /// the operator's sign-in), before anything is sent to them.
    pub async fn sign_in<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Result<()> {
        for name in names {
            if let Some(credential) = self.credentials.get(name) {
                credential
                    .sign_in()
                    .await
                    .with_context(|| format!("[providers.{name}] credential"))?;
            }
        }
        Ok(())
    }

    /// What manifest validation needs to know of the configured providers.
    pub fn manifest_rules(&self) -> crate::manifest::Rules {
        self.spec.manifest_rules()
    }
}

impl ConfigSpec {
    /// Validates the file's settings, the flags taking precedence (flag > file > kind default).
    pub fn from_file(file: FileConfig, overrides: &Overrides) -> Result<ConfigSpec> {
        let policy = policy_from(&file.password, &overrides.password)?;
        let mut providers = BTreeMap::new();
        for (name, table) in file.providers {
            check_name(&name)?;
            let p = provider::provider_spec(table, &policy, overrides)
                .with_context(|| format!("[providers.{name}]"))?;
            providers.insert(name, p);
        }
        let default_provider = resolve_default(&providers, overrides)?;
        if overrides.revoke_sessions && !providers.values().any(|p| p.kind.revokes()) {
            bail!("--revoke-sessions: none of the configured providers can revoke sign-in sessions (only kinds \"graph\" and \"graph-profile\" can)");
        }
        let sink = file
            .sink
            .map(|s| crate::sink::SinkSpec::from_file(s).context("[sink]"))
            .transpose()?;
        Ok(ConfigSpec {
            providers,
            policy,
            default_provider,
            ca_file: overrides.ca_file.clone(),
            exclude: file.exclude,
            sink,
        })
    }

    /// What manifest validation needs to know of the configured providers.
    pub fn manifest_rules(&self) -> crate::manifest::Rules {
        let providers = self
            .providers
            .iter()
            .map(|(name, p)| {
                let kind = p.kind.rules();
                let rules = ProviderRules {
                    default_method: p.shared.method.clone(),
                    input_rule: kind.input_rule,
                    method_in_path: kind.method_in_path,
                    forces_change: kind.forces_change,
                };
                (name.clone(), rules)
            })
            .collect();
        crate::manifest::Rules {
            providers,
            default_provider: self.default_provider.clone(),
        }
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

fn resolve_default(
    providers: &BTreeMap<String, ProviderSpec>,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let file = toml::from_str::<FileConfig>(
            "[providers.g]\nkind=\"graph\"\nbase_url=\"https://x.test\"\nrat=\"1/s\"\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            ConfigSpec::from_file(file, &Overrides::default()).unwrap_err()
        );
        assert!(
            err.contains("[providers.g]: unknown field `rat`, expected one of `kind`, `base_url`"),
            "{err}"
        );
        assert!(err.contains("(hint: did you mean `rate`?)"), "{err}");
        let file =
            toml::from_str::<FileConfig>("[providers.g]\nkind=\"graph\"\nregion=\"eu\"\n").unwrap();
        let err = format!(
            "{:#}",
            ConfigSpec::from_file(file, &Overrides::default()).unwrap_err()
        );
        assert!(
            err.contains(
                "field `region` does not apply to kind \"graph\" (it is for kind \"pingone\")"
            ),
            "{err}"
        );
    }
}
