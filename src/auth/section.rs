//! `[providers.NAME.auth]` as written ([`AuthSection`]), its checks, and loading it into a
//! [`Credential`] (reading secrets, building the OAuth2 token endpoint).
//!
//! Invariants:
//! - Every check of the table's shape runs before any secret is read, and its message starts
//!   with the key it is about (`auth.token_url: ...`), so the loader points at its line.
//! - `client_credentials` names exactly one token server: `token_url` (any OAuth2 server), or
//!   `tenant` with an optional `authority` (Microsoft Entra ID); both or neither is refused.
//! - A `token_url` or `authority` passes the base-URL rule (https, or http on loopback) and holds
//!   no user name or password: a client secret is never sent anywhere else.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::oauth::{self, TokenSource, DEFAULT_AUTHORITY, GRAPH_APP_SCOPE, GRAPH_DELEGATED_SCOPE};
use super::token_endpoint::{Endpoint, Server};
use super::{required_secret, secret_source, token_client, Credential, Kind, Tls, TOKEN_ENV};

/// `[providers.NAME.auth]` as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
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
    /// OAuth2 client credentials (app-only), the secret from `client_secret_file` or
    /// `client_secret_env`. The server is either `token_url` (any OAuth2 token endpoint:
    /// Keycloak, Okta, Auth0...) or Microsoft Entra ID's `tenant` (`authority` defaulting to
    /// the global cloud, `scope` to Graph's `.default`). `audience` is sent when set (Auth0);
    /// `client_auth` says how the client authenticates: form fields (default) or HTTP Basic.
    ClientCredentials {
        tenant: Option<String>,
        authority: Option<String>,
        token_url: Option<String>,
        client_id: String,
        client_secret_file: Option<PathBuf>,
        client_secret_env: Option<String>,
        scope: Option<String>,
        audience: Option<String>,
        client_auth: Option<ClientAuth>,
    },
    /// LDAP simple bind (`kind = "ldap"`): written as the provider section's `bind_dn` and
    /// `bind_password_file` / `bind_password_env`, never as an `[auth]` table.
    SimpleBind {
        bind_dn: String,
        bind_password_file: Option<PathBuf>,
        bind_password_env: Option<String>,
    },
    /// OAuth2 device code sign-in (delegated) at start-up, refreshed during the run.
    DeviceCode {
        tenant: String,
        client_id: String,
        authority: Option<String>,
        scope: Option<String>,
    },
}

/// How a confidential client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    #[default]
    Form,
    /// `Authorization: Basic` of the form-encoded id and secret (`client_secret_basic`).
    Basic,
}

impl ClientAuth {
    fn name(self) -> &'static str {
        match self {
            ClientAuth::Form => "form",
            ClientAuth::Basic => "basic",
        }
    }
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
            } => format!(
                "bearer token from {}",
                secret_source(token_file, token_env, TOKEN_ENV).describe()
            ),
            AuthSection::Basic {
                username,
                password_file,
                password_env,
            } => format!(
                "basic auth as {username:?}, password from {}",
                secret_source(password_file, password_env, "").describe()
            ),
            AuthSection::ClientCredentials {
                client_id,
                client_secret_file,
                client_secret_env,
                ..
            } => format!(
                "OAuth2 client credentials of {client_id:?} {}, secret from {}",
                self.describe_server(),
                secret_source(client_secret_file, client_secret_env, "").describe()
            ),
            AuthSection::SimpleBind {
                bind_dn,
                bind_password_file,
                bind_password_env,
            } => format!(
                "LDAP simple bind as {bind_dn:?}, password from {}",
                secret_source(bind_password_file, bind_password_env, "").describe()
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

    fn describe_server(&self) -> String {
        let AuthSection::ClientCredentials {
            tenant,
            authority,
            token_url,
            client_auth,
            ..
        } = self
        else {
            return String::new();
        };
        match (token_url, tenant) {
            (Some(url), _) => format!(
                "at {url} ({} client authentication)",
                client_auth.unwrap_or_default().name()
            ),
            (None, tenant) => format!(
                "in tenant {:?} at {}",
                tenant.as_deref().unwrap_or_default(),
                authority.as_deref().unwrap_or(DEFAULT_AUTHORITY)
            ),
        }
    }

    /// Checks the table, then reads the secrets (no network: OAuth2 tokens come in
    /// [`Credential::sign_in`]). `tls` is the trust for token endpoints.
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
            AuthSection::SimpleBind {
                bind_dn,
                bind_password_file,
                bind_password_env,
            } => Kind::SimpleBind {
                dn: bind_dn.clone(),
                password: required_secret(
                    bind_password_file,
                    bind_password_env,
                    "kind \"ldap\"",
                    "bind_password",
                    "password",
                )?,
            },
            AuthSection::ClientCredentials { .. } => Kind::OAuth(self.client_credentials(tls)?),
            AuthSection::DeviceCode { .. } => Kind::OAuth(self.device_code(tls)?),
        };
        Ok(Credential { kind })
    }

    /// The shared token cache of a `client_credentials` section, with its secret.
    fn client_credentials(&self, tls: &Tls) -> Result<TokenSource> {
        let AuthSection::ClientCredentials {
            tenant,
            authority,
            token_url,
            client_id,
            client_secret_file,
            client_secret_env,
            scope,
            audience,
            client_auth,
        } = self
        else {
            bail!("not a client_credentials section");
        };
        let server = server(tenant, authority, token_url)?;
        let scope = match (&server, scope) {
            (_, Some(scope)) => Some(scope.clone()),
            (Server::Entra { .. }, None) => Some(GRAPH_APP_SCOPE.to_owned()),
            (Server::TokenUrl(_), None) => None,
        };
        if audience.is_some() && matches!(server, Server::Entra { .. }) {
            bail!("auth.audience: Microsoft Entra ID takes a scope, not an audience (hint: audience is for token_url servers such as Auth0)");
        }
        let endpoint = Endpoint {
            server,
            client_id: client_id_of(client_id)?,
            scope,
            audience: audience.clone(),
            client_auth: client_auth.unwrap_or_default(),
        };
        let secret = required_secret(
            client_secret_file,
            client_secret_env,
            "client_credentials",
            "client_secret",
            "secret",
        )?;
        let flow = oauth::Flow::ClientCredentials(secret);
        Ok(TokenSource::new(token_client(tls)?, endpoint, flow))
    }

    /// The shared token cache of a `device_code` section (Microsoft Entra ID only).
    fn device_code(&self, tls: &Tls) -> Result<TokenSource> {
        let AuthSection::DeviceCode {
            tenant,
            client_id,
            authority,
            scope,
        } = self
        else {
            bail!("not a device_code section");
        };
        let server = server(&Some(tenant.clone()), authority, &None)?;
        let scope = with_offline_access(scope.as_deref().unwrap_or(GRAPH_DELEGATED_SCOPE));
        let endpoint = Endpoint {
            server,
            client_id: client_id_of(client_id)?,
            scope: Some(scope),
            audience: None,
            client_auth: ClientAuth::Form,
        };
        Ok(TokenSource::new(
            token_client(tls)?,
            endpoint,
            oauth::Flow::DeviceCode,
        ))
    }
}

/// The one token server a section names: `token_url`, or Entra's `tenant` (+ `authority`).
fn server(
    tenant: &Option<String>,
    authority: &Option<String>,
    token_url: &Option<String>,
) -> Result<Server> {
    if let Some(url) = token_url {
        if tenant.is_some() || authority.is_some() {
            bail!("auth.token_url: give either token_url (any OAuth2 server) or tenant/authority (Microsoft Entra ID), not both");
        }
        return Ok(Server::TokenUrl(checked_url("auth.token_url", url)?));
    }
    let Some(tenant) = tenant else {
        bail!("auth.tenant: client_credentials needs token_url (the token endpoint of Keycloak, Okta, Auth0 or any OAuth2 server) or tenant (Microsoft Entra ID)");
    };
    let authority = authority.as_deref().unwrap_or(DEFAULT_AUTHORITY);
    Ok(Server::Entra {
        authority: checked_url("auth.authority", authority)?,
        tenant: tenant_of(tenant)?,
    })
}

/// The base-URL rule (https, or http on loopback), and no credentials in the URL.
fn checked_url(key: &str, text: &str) -> Result<Url> {
    // The rule's message names `base_url`; here it is about `key`.
    let url = crate::values::check_base_url(text)
        .map_err(|e| anyhow!("{key}: {}", e.to_string().replacen("base_url ", "", 1)))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!("{key} must not contain a user name or password (hint: the client secret comes from client_secret_file or client_secret_env)");
    }
    Ok(url)
}

fn tenant_of(value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.contains('/') {
        bail!("auth.tenant must be a non-empty name or id without '/', got {value:?}");
    }
    Ok(value.to_owned())
}

fn client_id_of(value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) {
        bail!("auth.client_id must be non-empty and without control characters");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AuthSection {
        toml::from_str(text).unwrap()
    }

    fn load_err(text: &str) -> String {
        format!("{:#}", parse(text).load(&Tls::default()).unwrap_err())
    }

    const KC: &str = "type = \"client_credentials\"\nclient_id = \"credrotate\"\nclient_secret_env = \"CREDROTATE_TEST_UNSET_SECRET\"\n";

    #[test]
    fn auth_table_parses_and_describes_without_secrets() {
        let a = parse("type = \"basic\"\nusername = \"client-1\"\npassword_env = \"PING_KEY\"\n");
        assert_eq!(
            a.describe(),
            "basic auth as \"client-1\", password from env PING_KEY"
        );
        let err =
            toml::from_str::<AuthSection>("type = \"basic\"\nusername = \"u\"\npassword = \"x\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        let kc = parse(&format!(
            "{KC}token_url = \"https://kc.example.com/realms/r/protocol/openid-connect/token\"\nclient_auth = \"basic\"\n"
        ));
        assert_eq!(
            kc.describe(),
            "OAuth2 client credentials of \"credrotate\" at https://kc.example.com/realms/r/protocol/openid-connect/token (basic client authentication), secret from env CREDROTATE_TEST_UNSET_SECRET"
        );
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

    #[test]
    fn token_url_and_tenant_are_exclusive_and_checked_before_the_secret() {
        let both = load_err(&format!(
            "{KC}token_url = \"https://kc.example.com/t\"\ntenant = \"contoso\"\n"
        ));
        assert!(both.starts_with("auth.token_url: give either"), "{both}");
        let with_authority = load_err(&format!(
            "{KC}token_url = \"https://kc.example.com/t\"\nauthority = \"https://login.microsoftonline.us\"\n"
        ));
        assert!(
            with_authority.starts_with("auth.token_url:"),
            "{with_authority}"
        );
        let neither = load_err(KC);
        assert!(
            neither.starts_with("auth.tenant: client_credentials needs token_url"),
            "{neither}"
        );
        let plain = load_err(&format!("{KC}token_url = \"http://kc.example.com/t\"\n"));
        assert!(
            plain.starts_with("auth.token_url: http://kc.example.com/t: plain http"),
            "{plain}"
        );
        let userinfo = load_err(&format!(
            "{KC}token_url = \"https://id:pw@kc.example.com/t\"\n"
        ));
        assert!(
            userinfo.contains("must not contain a user name"),
            "{userinfo}"
        );
        let audience = load_err(&format!("{KC}tenant = \"contoso\"\naudience = \"x\"\n"));
        assert!(audience.starts_with("auth.audience:"), "{audience}");
        // A good shape gets as far as the (unset) secret.
        let secret = load_err(&format!("{KC}token_url = \"http://127.0.0.1:9/t\"\n"));
        assert!(secret.contains("CREDROTATE_TEST_UNSET_SECRET"), "{secret}");
        let bad_auth = toml::from_str::<AuthSection>(&format!(
            "{KC}token_url = \"https://a/t\"\nclient_auth = \"jwt\"\n"
        ))
        .unwrap_err();
        assert!(
            bad_auth.to_string().contains("unknown variant"),
            "{bad_auth}"
        );
    }
}
