//! LDAP directories (`kind = "ldap"`): OpenLDAP and 389-ds through the RFC 3062 Password Modify
//! extended operation (`mode = "password_modify"`), Active Directory and Samba AD through a
//! modify of `unicodePwd` (`mode = "ad_unicodepwd"`).
//!
//! Files, one job each: `config` (the section's keys and their rules), `escape` (RFC 4515
//! filter values, RFC 4514 DN syntax), `connect` (TLS and a bound connection), `pool` (bound
//! connections reused), `lookup` (login name → DN), `password_modify` and `ad_unicodepwd` (the
//! two operations), `result_code` (answers as attempts, by the ambiguity rule), `client` (one
//! attempt from these parts).
//!
//! Invariants: the bind password is a credential like any other (read at start-up from
//! `bind_password_file` / `bind_password_env`, exposed only to the bind); passwords travel only
//! over TLS, or plain LDAP on loopback; `url` stands in for `base_url` (the report and plan show
//! it).

mod ad_unicodepwd;
mod client;
mod config;
mod connect;
mod escape;
mod lookup;
mod password_modify;
mod pool;
mod result_code;

use anyhow::{Context as _, Result};
use url::Url;

use super::kind::{Context, Kind, KindRules, Parts, Shared};
use super::Attempt;
use crate::auth::AuthSection;
use crate::manifest::{InputRule, Target};
use crate::secret::SecretString;
use crate::values::Rate;

pub use client::LdapClient;
pub use config::{LdapSection, LdapSettings, Mode};

/// What an incident reset against Active Directory must know: the old password still works.
const OLD_PASSWORD_PERIOD: &str = "ad_unicodepwd: Active Directory keeps accepting the previous password over NTLM for its \"old password allowed period\" (60 minutes by default) after an admin reset; for an incident, lower OldPasswordAllowedPeriod on the DCs first (Samba: old password allowed period = 0)";

#[derive(Debug)]
pub struct LdapKind;

impl Kind for LdapKind {
    type Section = LdapSection;
    type Settings = LdapSettings;
    type Client = LdapClient;

    // Directory servers take thousands of modifies per second; 50/s is gentle on a DC.
    const DEFAULT_RATE: Rate = Rate::PerSecond(50);

    fn settings(section: LdapSection, context: &Context) -> Result<LdapSettings> {
        config::settings(section, context)
    }

    fn default_base_url(s: &LdapSettings) -> Result<String> {
        Ok(s.url.to_string())
    }

    fn rules(_: &LdapSettings) -> KindRules {
        KindRules {
            input_rule: InputRule::OptionalOldPassword,
            ..KindRules::default()
        }
    }

    fn caveat(s: &LdapSettings) -> Option<&'static str> {
        (s.mode == Mode::AdUnicodepwd).then_some(OLD_PASSWORD_PERIOD)
    }

    fn endpoint(s: &LdapSettings) -> Option<Url> {
        Some(s.url.clone())
    }

    fn credential(s: &LdapSettings) -> Option<AuthSection> {
        Some(AuthSection::SimpleBind {
            bind_dn: s.bind_dn.clone(),
            bind_password_file: s.bind_password_file.clone(),
            bind_password_env: s.bind_password_env.clone(),
        })
    }

    fn build(s: &LdapSettings, shared: &Shared, parts: Parts) -> Result<LdapClient> {
        let Some((bind_dn, bind_password)) = parts.credential.simple_bind() else {
            anyhow::bail!("kind \"ldap\" needs its bind_dn credential");
        };
        let ca_files: Vec<&std::path::Path> = s
            .ca_file
            .iter()
            .chain(&parts.ca_file)
            .map(AsRef::as_ref)
            .collect();
        let endpoint = connect::Endpoint {
            url: s.url.clone(),
            starttls: s.starttls,
            tls: connect::tls_config(&ca_files).context("[ldap] TLS")?,
            bind_dn: bind_dn.to_owned(),
            bind_password: bind_password.clone(),
            timeout: s.timeout.unwrap_or(parts.timeout),
        };
        let lookup = lookup::Lookup {
            base_dn: s.base_dn.clone(),
            user_filter: s.user_filter.clone(),
        };
        Ok(LdapClient::new(
            pool::Pool::new(endpoint, shared.concurrency),
            s.mode,
            lookup,
        ))
    }

    async fn reset(c: &LdapClient, target: &Target, password: Option<&SecretString>) -> Attempt {
        c.reset(target, password).await
    }
}
