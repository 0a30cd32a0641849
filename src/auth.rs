//! Credential sources: where a provider's secret comes from and how it is attached to a request.
//!
//! Invariants: credentials are read from files or environment variables only, never argv or the
//! config file itself; the value lives in a [`SecretString`] and is exposed only when a request is
//! built, to a header reqwest marks sensitive (so it is never logged).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::secret::{secret, ExposeSecret, SecretString};

/// Environment variable read for a bearer token when the config names no other.
pub const TOKEN_ENV: &str = "CREDROTATE_TOKEN";

/// Where a credential is read from (safe to print: names, not values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A bearer token from `file` if set, else from the environment variable `env`.
    Bearer { file: Option<PathBuf>, env: String },
}

impl CredentialSource {
    pub fn bearer(file: Option<PathBuf>, env: Option<String>) -> Self {
        CredentialSource::Bearer {
            file,
            env: env.unwrap_or_else(|| TOKEN_ENV.to_owned()),
        }
    }

    /// A description without the secret, e.g. `bearer token from file /run/token`.
    pub fn describe(&self) -> String {
        match self {
            CredentialSource::Bearer { file: Some(f), .. } => {
                format!("bearer token from file {}", f.display())
            }
            CredentialSource::Bearer { file: None, env } => format!("bearer token from env {env}"),
        }
    }

    /// Reads the credential now, so a missing one is a start-up error, not a per-row failure.
    pub fn load(&self) -> Result<Credential> {
        let CredentialSource::Bearer { file, env } = self;
        let token = match file {
            Some(path) => read_secret_file(path)?,
            None => match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => secret(v.trim().to_owned()),
                _ => bail!(
                    "no bearer token: set token_file in the provider's config section, or the environment variable {env}"
                ),
            },
        };
        Ok(Credential {
            source: self.clone(),
            bearer: token,
        })
    }
}

/// A loaded credential.
#[derive(Debug, Clone)]
pub struct Credential {
    pub source: CredentialSource,
    bearer: SecretString,
}

impl Credential {
    /// A bearer credential held in memory (the in-process sandbox and tests).
    pub fn from_bearer(token: SecretString) -> Self {
        Credential {
            source: CredentialSource::bearer(None, Some("(in-process)".to_owned())),
            bearer: token,
        }
    }

    /// Attaches the credential to a request.
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        // bearer_auth marks the header sensitive: reqwest and hyper never log it.
        req.bearer_auth(self.bearer.expose_secret())
    }
}

/// Reads a secret from the first line of a file, refusing an empty file.
pub fn read_secret_file(path: &PathBuf) -> Result<SecretString> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read secret file {}", path.display()))?,
    );
    let value = text.lines().next().unwrap_or("").trim();
    if value.is_empty() {
        bail!("secret file {} is empty", path.display());
    }
    Ok(secret(value.to_owned()))
}
