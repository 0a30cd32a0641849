//! Credential sources: where a provider's secret comes from and how it is attached to a request.
//!
//! Invariants: credentials are read from files or environment variables only, never argv or the
//! config file itself; values live in [`SecretString`]s and are exposed only when a request is
//! built, into headers reqwest marks sensitive (so they are never logged). A credential that
//! cannot be loaded is a start-up error (exit 2), not a per-row failure.
//!
//! Config shape: either the shorthand `token_file` / `token_env` keys in a provider section
//! (bearer), or a `[providers.NAME.auth]` table with `type = "bearer" | "basic" |
//! "client_credentials" | "device_code"`. OAuth2 credentials get their first token in
//! [`Credential::sign_in`], before the first request; every clone of a [`Credential`] shares one
//! token cache (see `oauth`).

mod device;
mod oauth;
mod source;
mod tls;
mod token_endpoint;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::secret::{ExposeSecret, SecretString};

use oauth::{TokenSource, DEFAULT_AUTHORITY, GRAPH_APP_SCOPE, GRAPH_DELEGATED_SCOPE};
use source::SecretSource;
pub use tls::Tls;

/// Environment variable read for a bearer token when the config names no other.
const TOKEN_ENV: &str = "CREDROTATE_TOKEN";

/// `[providers.NAME.auth]` as written.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSection {
    /// `Authorization: Bearer` from `token_file`, else `token_env` (default CREDROTATE_TOKEN).
    Bearer {
        token_file: Option<PathBuf>,
        token_env: Option<String>,
    },
    /// HTTP Basic: `username` is not secret (e.g. PingOne's client id); the password (API key)
    /// comes from `password_file` or `password_env`.
    Basic {
        username: String,
        password_file: Option<PathBuf>,
        password_env: Option<String>,
    },
    /// OAuth2 client credentials (app-only): the secret from `client_secret_file` or
    /// `client_secret_env`; `authority` defaults to the global cloud, `scope` to Graph's `.default`.
    ClientCredentials {
        tenant: String,
        client_id: String,
        client_secret_file: Option<PathBuf>,
        client_secret_env: Option<String>,
        authority: Option<String>,
        scope: Option<String>,
    },
    /// OAuth2 device code sign-in (delegated) at start-up, refreshed during the run.
    DeviceCode {
        tenant: String,
        client_id: String,
        authority: Option<String>,
        scope: Option<String>,
    },
}

impl AuthSection {
    /// The bearer shorthand from a provider section's `token_file` / `token_env`.
    pub(crate) fn bearer(token_file: Option<PathBuf>, token_env: Option<String>) -> AuthSection {
        AuthSection::Bearer {
            token_file,
            token_env,
        }
    }

    /// A description without any secret, for `validate`'s plan.
    pub(crate) fn describe(&self) -> String {
        match self {
            AuthSection::Bearer {
                token_file,
                token_env,
            } => {
                format!(
                    "bearer token from {}",
                    secret_source(token_file, token_env, TOKEN_ENV).describe()
                )
            }
            AuthSection::Basic {
                username,
                password_file,
                password_env,
            } => format!(
                "basic auth as {username:?}, password from {}",
                secret_source(password_file, password_env, "").describe()
            ),
            AuthSection::ClientCredentials {
                tenant,
                client_id,
                client_secret_file,
                client_secret_env,
                authority,
                ..
            } => format!(
                "OAuth2 client credentials of {client_id:?} in tenant {tenant:?} at {}, secret from {}",
                authority.as_deref().unwrap_or(DEFAULT_AUTHORITY),
                secret_source(client_secret_file, client_secret_env, "").describe()
            ),
            AuthSection::DeviceCode {
                tenant,
                client_id,
                authority,
                ..
            } => format!(
                "OAuth2 device code sign-in of {client_id:?} in tenant {tenant:?} at {}",
                authority.as_deref().unwrap_or(DEFAULT_AUTHORITY)
            ),
        }
    }

    /// Reads the secrets now (no network: OAuth2 tokens come in [`Credential::sign_in`]).
    /// `tls` is the trust for token endpoints.
    pub(crate) fn load(&self, tls: &Tls) -> Result<Credential> {
        let kind = match self {
            AuthSection::Bearer {
                token_file,
                token_env,
            } => {
                let token = secret_source(token_file, token_env, TOKEN_ENV).read().context(
                    "no bearer token (hint: set token_file in the provider's config section, or the environment variable CREDROTATE_TOKEN)",
                )?;
                Kind::Bearer(token)
            }
            AuthSection::Basic {
                username,
                password_file,
                password_env,
            } => {
                let password = required_secret(
                    password_file,
                    password_env,
                    "basic auth",
                    "password",
                    "password",
                )?;
                Kind::Basic {
                    username: username.clone(),
                    password,
                }
            }
            AuthSection::ClientCredentials { .. } | AuthSection::DeviceCode { .. } => {
                Kind::OAuth(self.token_source(tls)?)
            }
        };
        Ok(Credential { kind })
    }
}

impl AuthSection {
    /// The shared token cache of an OAuth2 section (and its secret, for client credentials).
    fn token_source(&self, tls: &Tls) -> Result<TokenSource> {
        let (tenant, client_id, authority, scope, flow) = match self {
            AuthSection::ClientCredentials {
                tenant,
                client_id,
                client_secret_file,
                client_secret_env,
                authority,
                scope,
            } => {
                let secret = required_secret(
                    client_secret_file,
                    client_secret_env,
                    "client_credentials",
                    "client_secret",
                    "secret",
                )?;
                let scope = scope.clone().unwrap_or_else(|| GRAPH_APP_SCOPE.into());
                (
                    tenant,
                    client_id,
                    authority,
                    scope,
                    oauth::Flow::ClientCredentials(secret),
                )
            }
            AuthSection::DeviceCode {
                tenant,
                client_id,
                authority,
                scope,
            } => {
                let scope = with_offline_access(scope.as_deref().unwrap_or(GRAPH_DELEGATED_SCOPE));
                (tenant, client_id, authority, scope, oauth::Flow::DeviceCode)
            }
            _ => bail!("not an OAuth2 credential"),
        };
        let authority = authority.as_deref().unwrap_or(DEFAULT_AUTHORITY);
        let endpoint = token_endpoint::Endpoint {
            authority: crate::values::check_base_url(authority).context("authority")?,
            tenant: non_empty(tenant, "tenant")?,
            client_id: non_empty(client_id, "client_id")?,
            scope,
        };
        Ok(TokenSource::new(token_client(tls)?, endpoint, flow))
    }
}

fn non_empty(value: &str, field: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.contains('/') {
        bail!("{field} must be a non-empty name or id without '/', got {value:?}");
    }
    Ok(value.to_owned())
}

/// Delegated scopes plus `offline_access`, which makes the server issue a refresh token.
fn with_offline_access(scope: &str) -> String {
    if scope.split_whitespace().any(|s| s == "offline_access") {
        scope.to_owned()
    } else {
        format!("{scope} offline_access")
    }
}

/// The HTTP client for token endpoints: no redirects (a secret must not follow one elsewhere).
fn token_client(tls: &Tls) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("credrotate/", env!("CARGO_PKG_VERSION")));
    Ok(tls.apply(builder).build()?)
}

/// A secret the section must name a source for: `{key}_file` or `{key}_env`, never the value.
fn required_secret(
    file: &Option<PathBuf>,
    env: &Option<String>,
    what: &str,
    key: &str,
    noun: &str,
) -> Result<SecretString> {
    if file.is_none() && env.is_none() {
        bail!("{what} needs {key}_file or {key}_env (never the {noun} itself)");
    }
    secret_source(file, env, "").read()
}

fn secret_source(file: &Option<PathBuf>, env: &Option<String>, default_env: &str) -> SecretSource {
    match (file, env) {
        (Some(f), _) => SecretSource::File(f.clone()),
        (None, Some(e)) => SecretSource::Env(e.clone()),
        (None, None) => SecretSource::Env(default_env.to_owned()),
    }
}

/// A loaded credential, ready to sign requests.
#[derive(Debug, Clone)]
pub struct Credential {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Bearer(SecretString),
    Basic {
        username: String,
        password: SecretString,
    },
    OAuth(TokenSource),
}

impl Credential {
    /// A bearer credential held in memory (the in-process sandbox and tests).
    pub(crate) fn from_bearer(token: SecretString) -> Self {
        Credential {
            kind: Kind::Bearer(token),
        }
    }

    /// Attaches the credential to a request. Async because token-based credentials may have to
    /// fetch or refresh a token first.
    pub(crate) async fn apply(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        // bearer_auth/basic_auth mark the header sensitive: reqwest and hyper never log it.
        Ok(match &self.kind {
            Kind::Bearer(token) => req.bearer_auth(token.expose_secret()),
            Kind::Basic { username, password } => {
                req.basic_auth(username, Some(password.expose_secret()))
            }
            Kind::OAuth(source) => source.authorize(req).await?,
        })
    }

    /// Gets what must be had before the first request: the first OAuth2 token (for device code,
    /// after the operator signed in). A no-op for static credentials. Failing here is a start-up
    /// error: nothing was sent to the provider.
    pub(crate) async fn sign_in(&self) -> Result<()> {
        match &self.kind {
            Kind::OAuth(source) => source.sign_in().await,
            Kind::Bearer(_) | Kind::Basic { .. } => Ok(()),
        }
    }

    /// The provider answered 401 to a request signed with this credential. Returns true when a
    /// fresh credential was obtained and the request is worth sending once more.
    pub(crate) async fn on_unauthorized(&self) -> bool {
        match &self.kind {
            Kind::OAuth(source) => source.on_unauthorized().await,
            Kind::Bearer(_) | Kind::Basic { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_table_parses_and_describes_without_secrets() {
        let a: AuthSection = toml::from_str(
            "type = \"basic\"\nusername = \"client-1\"\npassword_env = \"PING_KEY\"\n",
        )
        .unwrap();
        assert_eq!(
            a.describe(),
            "basic auth as \"client-1\", password from env PING_KEY"
        );
        let err =
            toml::from_str::<AuthSection>("type = \"basic\"\nusername = \"u\"\npassword = \"x\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn basic_needs_a_source() {
        let a = AuthSection::Basic {
            username: "u".into(),
            password_file: None,
            password_env: None,
        };
        assert!(a.load(&Tls::default()).is_err());
    }
}
