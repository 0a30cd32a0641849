//! Credential sources: where a provider's secret comes from and how it is attached to a request.
//!
//! Invariants: credentials are read from files or environment variables only, never argv or the
//! config file itself; values live in [`SecretString`]s and are exposed only when a request is
//! built, into headers reqwest marks sensitive (so they are never logged). A credential that
//! cannot be loaded is a start-up error (exit 2), not a per-row failure.
//!
//! Config shape: either the shorthand `token_file` / `token_env` keys in a provider section
//! (bearer), or a `[providers.NAME.auth]` table with `type = "bearer" | "basic"`.

mod source;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::secret::{ExposeSecret, SecretString};

pub use source::{read_secret_env, read_secret_file, SecretSource};

/// Environment variable read for a bearer token when the config names no other.
pub const TOKEN_ENV: &str = "CREDROTATE_TOKEN";

/// `[providers.NAME.auth]` as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
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
}

impl AuthSection {
    /// The bearer shorthand from a provider section's `token_file` / `token_env`.
    pub fn bearer(token_file: Option<PathBuf>, token_env: Option<String>) -> AuthSection {
        AuthSection::Bearer {
            token_file,
            token_env,
        }
    }

    /// A description without any secret, for logs, the plan and the journal header.
    pub fn describe(&self) -> String {
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
        }
    }

    /// Reads the secrets now.
    pub fn load(&self) -> Result<Credential> {
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
                if password_file.is_none() && password_env.is_none() {
                    bail!("basic auth needs password_file or password_env (never the password itself)");
                }
                let password = secret_source(password_file, password_env, "").read()?;
                Kind::Basic {
                    username: username.clone(),
                    password,
                }
            }
        };
        Ok(Credential {
            description: self.describe(),
            kind,
        })
    }
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
    description: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Bearer(SecretString),
    Basic {
        username: String,
        password: SecretString,
    },
}

impl Credential {
    /// A bearer credential held in memory (the in-process sandbox and tests).
    pub fn from_bearer(token: SecretString) -> Self {
        Credential {
            description: "bearer token (in-process)".into(),
            kind: Kind::Bearer(token),
        }
    }

    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Attaches the credential to a request. Async because token-based credentials may have to
    /// fetch or refresh a token first.
    pub async fn apply(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        // bearer_auth/basic_auth mark the header sensitive: reqwest and hyper never log it.
        Ok(match &self.kind {
            Kind::Bearer(token) => req.bearer_auth(token.expose_secret()),
            Kind::Basic { username, password } => {
                req.basic_auth(username, Some(password.expose_secret()))
            }
        })
    }

    /// The provider answered 401 to a request signed with this credential. Returns true when a
    /// fresh credential was obtained and the request is worth sending once more.
    pub async fn on_unauthorized(&self) -> bool {
        match &self.kind {
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
        assert!(a.load().is_err());
    }
}
