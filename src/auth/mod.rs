//! Credential sources: where a provider's secret comes from and how it is attached to a request.
//!
//! Invariants: credentials are read from files or environment variables only, never argv or the
//! config file itself; values live in [`SecretString`]s and are exposed only when a request is
//! built, into headers reqwest marks sensitive (so they are never logged). A credential that
//! cannot be loaded is a start-up error (exit 2), not a per-row failure.
//!
//! Config shape: either the shorthand `token_file` / `token_env` keys in a provider section
//! (bearer), or a `[providers.NAME.auth]` table with `type = "bearer" | "basic" |
//! "client_credentials" | "device_code"` (`section`); `client_credentials` reaches any OAuth2
//! token endpoint (`token_url`) or Microsoft Entra ID (`tenant`). OAuth2 credentials get their
//! first token in [`Credential::sign_in`], before the first request; every clone of a
//! [`Credential`] shares one token cache (see `oauth`).

mod device;
mod oauth;
mod section;
mod source;
pub(crate) mod tls;
mod token_endpoint;

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::secret::{ExposeSecret, SecretString};

use oauth::TokenSource;
pub use section::{AuthSection, ClientAuth};
use source::SecretSource;
pub use tls::Tls;

/// Environment variable read for a bearer token when the config names no other.
const TOKEN_ENV: &str = "CREDROTATE_TOKEN";

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

/// A secret from `file` (first line), else the environment variable `env` (for sections outside
/// the providers, e.g. `[sink]`).
pub(crate) fn secret_from(file: &Option<PathBuf>, env: &Option<String>) -> Result<SecretString> {
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
    /// An LDAP bind: no HTTP request carries it.
    SimpleBind {
        dn: String,
        password: SecretString,
    },
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
            Kind::SimpleBind { .. } => bail!("an LDAP bind credential cannot sign an HTTP request"),
        })
    }

    /// Gets what must be had before the first request: the first OAuth2 token (for device code,
    /// after the operator signed in). A no-op for static credentials. Failing here is a start-up
    /// error: nothing was sent to the provider.
    pub(crate) async fn sign_in(&self) -> Result<()> {
        match &self.kind {
            Kind::OAuth(source) => source.sign_in().await,
            Kind::Bearer(_) | Kind::Basic { .. } | Kind::SimpleBind { .. } => Ok(()),
        }
    }

    /// The provider answered 401 to a request signed with this credential. Returns true when a
    /// fresh credential was obtained and the request is worth sending once more.
    pub(crate) async fn on_unauthorized(&self) -> bool {
        match &self.kind {
            Kind::OAuth(source) => source.on_unauthorized().await,
            Kind::Bearer(_) | Kind::Basic { .. } | Kind::SimpleBind { .. } => false,
        }
    }

    /// The bind DN and password of an LDAP credential (`None` for any other).
    pub(crate) fn simple_bind(&self) -> Option<(&str, &SecretString)> {
        match &self.kind {
            Kind::SimpleBind { dn, password } => Some((dn, password)),
            _ => None,
        }
    }
}
