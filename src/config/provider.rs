//! One `[providers.NAME]` table into a [`ProviderSpec`]: the shared keys are read here, the
//! kind's own by its file (through the registry), and flags take precedence over both.
//!
//! Invariants: every key of the table has exactly one owner (the shared section, or the kind);
//! a key of another kind is refused naming the kinds it is for, any other unknown key with the
//! accepted list and a did-you-mean; every error starts with the key it is about.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::{check_base_url, Overrides};
use crate::auth::AuthSection;
use crate::manifest::unsafe_segment;
use crate::password::{Generate, Policy};
use crate::provider::kind::{Context, Shared};
use crate::provider::{KindSettings, ProviderSpec, KINDS};
use crate::serde_table::{self, fields_of, Table};
use crate::values::Rate;

/// The keys every `[providers.NAME]` takes, whatever its kind (`kind` itself aside).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedSection {
    /// Default per kind (Graph, PingOne); required for wristband and http.
    base_url: Option<String>,
    /// File holding the bearer token (first line).
    token_file: Option<PathBuf>,
    /// Environment variable holding the bearer token (default `CREDROTATE_TOKEN`).
    token_env: Option<String>,
    /// `[providers.NAME.auth]`: the full credential table (instead of token_file/token_env).
    auth: Option<AuthSection>,
    rate: Option<Rate>,
    burst: Option<u32>,
    concurrency: Option<usize>,
    /// Default method id for rows without a `method`.
    method: Option<String>,
    /// Overrides `[password] generate` for this provider.
    generate: Option<Generate>,
    /// Users of this provider never to reset (break-glass accounts).
    exclude: Vec<String>,
}

/// Validates one provider table, with the flags' overrides applied.
pub(super) fn provider_spec(
    mut table: Table,
    policy: &Policy,
    o: &Overrides,
) -> Result<ProviderSpec> {
    let kind = kind_of(&mut table)?;
    let (shared_keys, own_keys) = split(table, &kind)?;
    let s: SharedSection = serde_table::read(shared_keys)?;
    if let Some((message, hint)) = s.method.as_deref().and_then(unsafe_segment) {
        bail!("method {message} (hint: {hint})");
    }
    // The bearer/[auth] key the table gives, if any (kinds with their own credential refuse it).
    let auth_given = [
        (s.token_file.is_some(), "token_file"),
        (s.token_env.is_some(), "token_env"),
        (s.auth.is_some(), "auth"),
    ]
    .into_iter()
    .find_map(|(given, key)| given.then_some(key));
    if let Some(AuthSection::SimpleBind { .. }) = s.auth {
        bail!("auth: type \"simple_bind\" is written as kind = \"ldap\" with bind_dn and bind_password_file / bind_password_env, not as an [auth] table");
    }
    let auth = auth_of(s.auth, s.token_file, s.token_env)?;
    let generate = s.generate.unwrap_or(policy.generate);
    let context = Context {
        base_url: s.base_url.as_deref(),
        auth: &auth,
        generate,
        revoke_sessions: o.revoke_sessions,
    };
    let settings = KindSettings::read(&kind, own_keys, &context).expect("kind checked above")?;
    let base_url = match (settings.endpoint(), s.base_url) {
        (Some(url), _) => url,
        (None, Some(url)) => check_base_url(&url)?,
        (None, None) => check_base_url(&settings.default_base_url()?)?,
    };
    let auth = match settings.credential() {
        Some(_) if auth_given.is_some() => bail!("{}: kind {kind:?} has its own credential keys (bind_dn, bind_password_file / bind_password_env), not token_file, token_env or [auth]", auth_given.unwrap_or_default()),
        Some(own) => own,
        None => auth,
    };
    let concurrency = o.concurrency.or(s.concurrency).unwrap_or(8);
    if concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    let shared = Shared {
        base_url,
        auth,
        rate: o.rate.or(s.rate).unwrap_or_else(|| settings.default_rate()),
        burst: o.burst.or(s.burst).unwrap_or(1).max(1),
        concurrency,
        method: s
            .method
            .unwrap_or_else(|| settings.default_method().to_owned()),
        generate,
        exclude: s.exclude,
    };
    Ok(ProviderSpec {
        shared,
        kind: settings,
    })
}

/// Takes the `kind` key out of the table; it must name a registered kind.
fn kind_of(table: &mut Table) -> Result<String> {
    let listed = KINDS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let kind = match table.remove("kind") {
        Some(toml::Value::String(kind)) => kind,
        Some(other) => bail!(
            "kind: invalid type: {}, expected a string, one of {listed}",
            other.type_str()
        ),
        None => {
            bail!("kind: missing field `kind` (hint: kind = \"graph\"; the kinds are {listed})")
        }
    };
    if KINDS.contains(&kind.as_str()) {
        return Ok(kind);
    }
    let hint = match crate::manifest::closest(&kind, KINDS.iter().copied()) {
        Some(close) => format!(" (hint: did you mean `{close}`?)"),
        None => String::new(),
    };
    let shown: String = kind.chars().take(40).flat_map(char::escape_debug).collect();
    bail!("kind: unknown variant `{shown}`, expected one of {listed}{hint}")
}

/// Splits the table into the shared keys and the kind's own; refuses any other key.
fn split(table: Table, kind: &str) -> Result<(Table, Table)> {
    let shared_fields = fields_of::<SharedSection>();
    let own_fields = KindSettings::fields(kind);
    let (mut shared, mut own) = (Table::new(), Table::new());
    for (key, value) in table {
        if shared_fields.contains(&key.as_str()) {
            shared.insert(key, value);
        } else if own_fields.contains(&key.as_str()) {
            own.insert(key, value);
        } else {
            bail!(refusal(&key, kind, shared_fields, own_fields));
        }
    }
    Ok((shared, own))
}

/// Why `key` is refused: it belongs to other kinds, or to none.
fn refusal(key: &str, kind: &str, shared: &[&str], own: &[&str]) -> String {
    let owners: Vec<String> = KINDS
        .iter()
        .filter(|k| KindSettings::fields(k).contains(&key))
        .map(|k| format!("{k:?}"))
        .collect();
    if owners.is_empty() {
        let mut expected = vec!["kind"];
        expected.extend(shared.iter().chain(own));
        serde_table::unknown_key(key, &expected)
    } else {
        format!(
            "field `{key}` does not apply to kind {kind:?} (it is for kind {})",
            owners.join(" or ")
        )
    }
}

/// The `[auth]` table or the bearer shorthand, not both.
fn auth_of(
    auth: Option<AuthSection>,
    token_file: Option<PathBuf>,
    token_env: Option<String>,
) -> Result<AuthSection> {
    let shorthand = token_file.is_some() || token_env.is_some();
    match (auth, shorthand) {
        (Some(_), true) => {
            bail!("auth: give either token_file/token_env or an [auth] table, not both")
        }
        (Some(auth), false) => Ok(auth),
        (None, _) => Ok(AuthSection::bearer(token_file, token_env)),
    }
}
