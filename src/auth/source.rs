//! Where one secret value is read from: a file (first line) or an environment variable.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::secret::{secret, SecretString};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    File(PathBuf),
    Env(String),
}

impl SecretSource {
    /// `file /run/x` or `env NAME`: the place, never the value.
    pub(crate) fn describe(&self) -> String {
        match self {
            SecretSource::File(p) => format!("file {}", p.display()),
            SecretSource::Env(e) => format!("env {e}"),
        }
    }

    pub(crate) fn read(&self) -> Result<SecretString> {
        match self {
            SecretSource::File(p) => read_secret_file(p),
            SecretSource::Env(e) => read_secret_env(e),
        }
    }
}

/// Reads a secret from the first line of a file, refusing an empty file.
fn read_secret_file(path: &Path) -> Result<SecretString> {
    crate::file_mode::warn_if_exposed(path, "secret file");
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

/// Reads a secret from an environment variable, refusing an unset or empty one.
fn read_secret_env(name: &str) -> Result<SecretString> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(secret(v.trim().to_owned())),
        _ => bail!("the environment variable {name} is not set or empty"),
    }
}
