//! `[sink]`: where confirmed passwords are delivered (a Vault or OpenBao KV version 2 engine),
//! as written in the config file ([`SinkFile`]) and validated ([`SinkSpec`], kept in the journal
//! header so `resume` and `report --deliver` deliver to the same place).
//!
//! Invariants: the key names are a public interface (issue 13); a `SinkSpec` that exists is
//! usable: an allowed address (https, or http on loopback), a mount and a path template that
//! render safe paths, and exactly one credential source. No secret is in it: credentials are
//! named by their files or variables and read when the sink connects.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::path::PathTemplate;
use crate::values::check_base_url;

/// The service account token Kubernetes mounts into every pod.
pub const KUBERNETES_JWT: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// `[sink]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkFile {
    pub kind: SinkKind,
    pub address: String,
    #[serde(default = "default_mount")]
    pub mount: String,
    #[serde(default = "default_path")]
    pub path: String,
    pub namespace: Option<String>,
    pub token_file: Option<PathBuf>,
    pub token_env: Option<String>,
    pub auth: Option<AuthFile>,
    /// Deliveries in flight at once.
    pub concurrency: Option<usize>,
}

fn default_mount() -> String {
    "secret".into()
}

fn default_path() -> String {
    "credrotate/{provider}/{user}".into()
}

/// The kinds of secret store (one today).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// HashiCorp Vault or OpenBao, KV secrets engine version 2.
    Vault,
}

/// `[sink.auth]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthFile {
    Approle {
        #[serde(default = "approle_mount")]
        mount: String,
        role_id: String,
        secret_id_file: Option<PathBuf>,
        secret_id_env: Option<String>,
    },
    Kubernetes {
        #[serde(default = "kubernetes_mount")]
        mount: String,
        role: String,
        jwt_file: Option<PathBuf>,
    },
}

fn approle_mount() -> String {
    "approle".into()
}

fn kubernetes_mount() -> String {
    "kubernetes".into()
}

/// The validated sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkSpec {
    pub kind: SinkKind,
    /// Without a trailing slash.
    pub address: String,
    pub mount: String,
    pub path: PathTemplate,
    pub namespace: Option<String>,
    pub auth: SinkAuthSpec,
    pub concurrency: usize,
}

/// How the sink signs in; secrets named by their source only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkAuthSpec {
    /// A token from a file (first line) or an environment variable.
    Token {
        file: Option<PathBuf>,
        env: Option<String>,
    },
    /// `POST /v1/auth/{mount}/login` with `role_id` and the secret id.
    Approle {
        mount: String,
        role_id: String,
        secret_id_file: Option<PathBuf>,
        secret_id_env: Option<String>,
    },
    /// `POST /v1/auth/{mount}/login` with `role` and the service account JWT.
    Kubernetes {
        mount: String,
        role: String,
        jwt_file: PathBuf,
    },
}

impl SinkSpec {
    /// Checks `[sink]`; messages start with the key they are about (for `file:line:column`).
    pub fn from_file(f: SinkFile) -> Result<SinkSpec> {
        let address = check_base_url(&f.address)
            .map_err(|e| {
                anyhow::anyhow!("address: {}", format!("{e:#}").replacen("base_url ", "", 1))
            })?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        check_mount("mount", &f.mount)?;
        let path = PathTemplate::parse(&f.path).map_err(|e| anyhow::anyhow!("path: {e:#}"))?;
        if f.namespace.as_deref().is_some_and(|n| n.trim().is_empty()) {
            bail!("namespace: is empty (hint: remove it, or name the Vault namespace)");
        }
        let concurrency = f.concurrency.unwrap_or(4);
        if concurrency == 0 {
            bail!("concurrency must be at least 1");
        }
        let auth = auth_spec(f.token_file, f.token_env, f.auth)?;
        Ok(SinkSpec {
            kind: f.kind,
            address,
            mount: f.mount.trim_matches('/').to_owned(),
            path,
            namespace: f.namespace,
            auth,
            concurrency,
        })
    }
}

fn auth_spec(
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    auth: Option<AuthFile>,
) -> Result<SinkAuthSpec> {
    let token = token_file.is_some() || token_env.is_some();
    Ok(match auth {
        Some(_) if token => bail!(
            "token_file: give either token_file/token_env or an [sink.auth] table, not both"
        ),
        None if token_file.is_some() && token_env.is_some() => {
            bail!("token_file: give token_file or token_env, not both")
        }
        None if !token => bail!(
            "token_file: the sink needs a credential: token_file, token_env, or an [sink.auth] table (type = \"approle\" or \"kubernetes\")"
        ),
        None => SinkAuthSpec::Token {
            file: token_file,
            env: token_env,
        },
        Some(AuthFile::Approle {
            mount,
            role_id,
            secret_id_file,
            secret_id_env,
        }) => {
            check_mount("auth.mount", &mount)?;
            if role_id.trim().is_empty() {
                bail!("auth.role_id: is empty");
            }
            if secret_id_file.is_some() == secret_id_env.is_some() {
                bail!("auth.secret_id_file: AppRole needs exactly one of secret_id_file or secret_id_env (never the secret id itself)");
            }
            SinkAuthSpec::Approle {
                mount: mount.trim_matches('/').to_owned(),
                role_id,
                secret_id_file,
                secret_id_env,
            }
        }
        Some(AuthFile::Kubernetes {
            mount,
            role,
            jwt_file,
        }) => {
            check_mount("auth.mount", &mount)?;
            if role.trim().is_empty() {
                bail!("auth.role: is empty");
            }
            SinkAuthSpec::Kubernetes {
                mount: mount.trim_matches('/').to_owned(),
                role,
                jwt_file: jwt_file.unwrap_or_else(|| KUBERNETES_JWT.into()),
            }
        }
    })
}

/// A mount path: segments of safe characters, no `.` or `..`.
fn check_mount(key: &str, mount: &str) -> Result<()> {
    let inner = mount.trim_matches('/');
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let bad = inner.is_empty()
        || inner
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || !s.chars().all(ok_char));
    if bad {
        bail!("{key}: {mount:?} is not a mount path (hint: e.g. \"secret\"; letters, digits, '-', '_', '.' and '/' between segments)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SinkSpec> {
        SinkSpec::from_file(toml::from_str(text)?)
    }

    #[test]
    fn defaults_and_token_env() {
        let s = parse("kind = \"vault\"\naddress = \"http://127.0.0.1:8200/\"\ntoken_env = \"T\"")
            .unwrap();
        assert_eq!(s.address, "http://127.0.0.1:8200");
        assert_eq!(s.mount, "secret");
        assert_eq!(s.concurrency, 4);
        assert_eq!(
            s.auth,
            SinkAuthSpec::Token {
                file: None,
                env: Some("T".into())
            }
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let cases = [
            ("address = \"http://vault.example.com\"\ntoken_env = \"T\"", "address: "),
            ("address = \"https://v\"", "token_file: the sink needs a credential"),
            ("address = \"https://v\"\nmount = \"../x\"\ntoken_env = \"T\"", "mount: "),
            ("address = \"https://v\"\npath = \"x/{nope}\"\ntoken_env = \"T\"", "path: "),
            (
                "address = \"https://v\"\ntoken_env = \"T\"\n[auth]\ntype = \"kubernetes\"\nrole = \"r\"",
                "token_file: give either",
            ),
            (
                "address = \"https://v\"\n[auth]\ntype = \"approle\"\nrole_id = \"r\"",
                "auth.secret_id_file: ",
            ),
        ];
        for (text, expected) in cases {
            let err = format!(
                "{:#}",
                parse(&format!("kind = \"vault\"\n{text}")).unwrap_err()
            );
            assert!(err.starts_with(expected), "{text}: {err}");
        }
    }

    #[test]
    fn kubernetes_defaults_to_the_mounted_service_account_token() {
        let s = parse("kind = \"vault\"\naddress = \"https://v\"\n[auth]\ntype = \"kubernetes\"\nrole = \"credrotate\"").unwrap();
        let SinkAuthSpec::Kubernetes {
            mount, jwt_file, ..
        } = s.auth
        else {
            panic!("kubernetes")
        };
        assert_eq!(
            (mount.as_str(), jwt_file),
            ("kubernetes", KUBERNETES_JWT.into())
        );
    }
}
