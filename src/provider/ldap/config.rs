//! `[providers.NAME]` of `kind = "ldap"`: its keys (a public interface, issue 14) and their
//! validation into [`LdapSettings`].
//!
//! Invariants:
//! - `url` is `ldaps://`, or `ldap://` with `starttls = true`; plain `ldap://` only on a
//!   loopback host. `ad_unicodepwd` is refused without TLS (Active Directory refuses it too).
//! - The bind password comes from `bind_password_file` or `bind_password_env`, never the config;
//!   the settings hold where it is, not the password.
//! - `user_filter` names `{user}` and parses as a filter; `base_dn` is a DN.
//! - `base_url`, `token_file`, `token_env` and `[auth]` are not LDAP's: refused with the key to
//!   use instead (see `config/provider.rs`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use url::Url;

use super::escape;
use crate::password::Generate;
use crate::provider::kind::Context;

/// How the password is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// RFC 3062 Password Modify extended operation (OpenLDAP, 389-ds).
    PasswordModify,
    /// Replace `unicodePwd` with the quoted UTF-16LE password (Active Directory, Samba AD).
    AdUnicodepwd,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::PasswordModify => "password_modify",
            Mode::AdUnicodepwd => "ad_unicodepwd",
        }
    }

    fn default_filter(self) -> &'static str {
        match self {
            Mode::PasswordModify => "(uid={user})",
            Mode::AdUnicodepwd => "(sAMAccountName={user})",
        }
    }
}

/// The keys of `[providers.NAME]` only `kind = "ldap"` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapSection {
    url: Option<String>,
    bind_dn: Option<String>,
    bind_password_file: Option<PathBuf>,
    bind_password_env: Option<String>,
    mode: Option<Mode>,
    base_dn: Option<String>,
    user_filter: Option<String>,
    starttls: Option<bool>,
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
}

/// The validated settings (no secret: they go to the journal header and the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdapSettings {
    pub url: Url,
    pub bind_dn: String,
    pub bind_password_file: Option<PathBuf>,
    pub bind_password_env: Option<String>,
    pub mode: Mode,
    pub base_dn: String,
    pub user_filter: String,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    /// Per operation (connect, bind, search, modify); `None`: the run's `--timeout`.
    pub timeout: Option<Duration>,
}

/// Validates the section; errors start with the key they are about.
pub fn settings(s: LdapSection, context: &Context) -> Result<LdapSettings> {
    if context.base_url.is_some() {
        bail!("base_url: kind \"ldap\" names its server with url = \"ldaps://host\" (or ldap:// with starttls = true), not base_url");
    }
    let mode = s.mode.unwrap_or(Mode::PasswordModify);
    if context.generate == Generate::Server && mode == Mode::AdUnicodepwd {
        bail!("generate: mode \"ad_unicodepwd\" cannot have the server generate passwords (Active Directory has no such operation; hint: remove generate = \"server\")");
    }
    let starttls = s.starttls.unwrap_or(false);
    let url = check_url(s.url.as_deref(), starttls, mode)?;
    let bind_dn = match s.bind_dn {
        Some(dn) => checked_dn("bind_dn", dn)?,
        None => bail!("bind_dn: kind \"ldap\" needs bind_dn, the account that resets passwords (e.g. bind_dn = \"cn=rotator,ou=service,dc=example,dc=com\")"),
    };
    if s.bind_password_file.is_none() && s.bind_password_env.is_none() {
        bail!("bind_dn: kind \"ldap\" needs bind_password_file or bind_password_env for the bind password (never the password itself)");
    }
    if s.bind_password_file.is_some() && s.bind_password_env.is_some() {
        bail!("bind_password_env: give either bind_password_file or bind_password_env, not both");
    }
    let Some(base_dn) = s.base_dn else {
        bail!("base_dn: kind \"ldap\" needs base_dn, where login names are looked up (e.g. base_dn = \"ou=people,dc=example,dc=com\")");
    };
    let user_filter = s
        .user_filter
        .unwrap_or_else(|| mode.default_filter().to_owned());
    escape::check_filter(&user_filter)?;
    let timeout = match s.timeout.as_deref() {
        Some(text) => Some(crate::serde_table::duration(Some(text), "", "timeout")?),
        None => None,
    };
    if timeout == Some(Duration::ZERO) {
        bail!("timeout: must be more than 0s (e.g. timeout = \"10s\")");
    }
    if let Some(path) = &s.ca_file {
        super::connect::tls_config(&[path])?;
    }
    Ok(LdapSettings {
        url,
        bind_dn,
        bind_password_file: s.bind_password_file,
        bind_password_env: s.bind_password_env,
        mode,
        base_dn: checked_dn("base_dn", base_dn)?,
        user_filter,
        starttls,
        ca_file: s.ca_file,
        timeout,
    })
}

fn checked_dn(key: &str, dn: String) -> Result<String> {
    escape::check_dn(&dn).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    Ok(dn)
}

/// The URL rule: TLS (LDAPS or StartTLS), or plain LDAP on loopback only.
fn check_url(text: Option<&str>, starttls: bool, mode: Mode) -> Result<Url> {
    let Some(text) = text else {
        bail!("url: kind \"ldap\" needs url, e.g. url = \"ldaps://dc1.example.com\"");
    };
    let url = Url::parse(text).with_context(|| format!("url {text:?} is not a URL"))?;
    if url.host().is_none() {
        bail!("url {text:?} names no host (e.g. url = \"ldaps://dc1.example.com\")");
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.path().len() > 1
        || url.query().is_some()
    {
        bail!("url {text:?}: give only scheme, host and port (the bind account is bind_dn, the search base base_dn)");
    }
    let tls = match (url.scheme(), starttls) {
        ("ldaps", false) => true,
        ("ldaps", true) => bail!("starttls: url is already ldaps://; StartTLS is for ldap:// (hint: remove starttls)"),
        ("ldap", starttls) => starttls,
        (other, _) => bail!("url {text:?}: unsupported scheme {other:?} (hint: ldaps://, or ldap:// with starttls = true)"),
    };
    if !tls && mode == Mode::AdUnicodepwd {
        bail!("url {text:?}: mode \"ad_unicodepwd\" needs TLS, as Active Directory refuses unicodePwd without it (hint: ldaps://, or starttls = true)");
    }
    if !tls && !is_loopback(&url) {
        bail!("url {text:?}: plain ldap:// would send passwords in clear; it is only allowed on loopback (hint: ldaps://, or starttls = true)");
    }
    Ok(url)
}

/// A loopback host. LDAP URLs are not "special" to the URL standard, so an address arrives
/// as an opaque host name: it is parsed here.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthSection;

    fn section(toml: &str) -> LdapSection {
        toml::from_str(toml).unwrap()
    }

    fn read(toml: &str) -> Result<LdapSettings> {
        let auth = AuthSection::bearer(None, None);
        let context = Context {
            base_url: None,
            auth: &auth,
            generate: Generate::Client,
            revoke_sessions: false,
        };
        settings(section(toml), &context)
    }

    const GOOD: &str = "url = \"ldaps://dc1.example.com\"\nbind_dn = \"cn=r,dc=x\"\nbind_password_env = \"P\"\nbase_dn = \"ou=people,dc=x\"\n";

    #[test]
    fn a_full_section_reads() {
        let s = read(&format!(
            "{GOOD}mode = \"ad_unicodepwd\"\ntimeout = \"5s\"\n"
        ))
        .unwrap();
        assert_eq!(
            (s.mode, s.user_filter.as_str()),
            (Mode::AdUnicodepwd, "(sAMAccountName={user})")
        );
        assert_eq!(s.timeout, Some(Duration::from_secs(5)));
        assert_eq!(read(GOOD).unwrap().user_filter, "(uid={user})");
    }

    #[test]
    fn clear_text_only_on_loopback_and_never_for_unicodepwd() {
        let with = |url: &str, extra: &str| {
            read(
                &GOOD
                    .replace("ldaps://dc1.example.com", url)
                    .replace("\"P\"\n", &format!("\"P\"\n{extra}")),
            )
        };
        for url in [
            "ldap://127.0.0.1:3890",
            "ldap://localhost",
            "ldap://[::1]:389",
            "ldap://127.9.9.9",
        ] {
            assert!(with(url, "").is_ok(), "{url}");
        }
        assert!(with("ldap://10.0.0.1", "").is_err());
        assert!(with("ldap://dc1.example.com", "starttls = true\n").is_ok());
        let e = with("ldap://dc1.example.com", "").unwrap_err().to_string();
        assert!(
            e.starts_with("url") && e.contains("only allowed on loopback"),
            "{e}"
        );
        let e = with("ldap://127.0.0.1", "mode = \"ad_unicodepwd\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs TLS"), "{e}");
        let e = with("ldaps://h", "starttls = true\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("starttls"), "{e}");
        assert!(with("https://h", "")
            .unwrap_err()
            .to_string()
            .contains("unsupported scheme"));
        assert!(with("ldaps://u:p@h", "").is_err());
    }

    #[test]
    fn missing_or_bad_keys_name_themselves() {
        let cases = [
            (GOOD.replace("bind_password_env = \"P\"\n", ""), "bind_dn"),
            (
                GOOD.replace("base_dn = \"ou=people,dc=x\"\n", ""),
                "base_dn",
            ),
            (
                format!("{GOOD}user_filter = \"(uid=alice)\"\n"),
                "user_filter",
            ),
            (
                format!("{GOOD}bind_password_file = \"/x\"\n"),
                "bind_password_env",
            ),
            (GOOD.replace("cn=r,dc=x", "rotator"), "bind_dn"),
        ];
        for (toml, key) in cases {
            let e = read(&toml).unwrap_err().to_string();
            assert!(e.starts_with(key), "{key}: {e}");
        }
    }
}
