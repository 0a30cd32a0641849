//! The one list of provider kinds. Each line names a kind as the config spells it (`kind =
//! "..."`) and the type in its file that implements [`Kind`]; from that list come the typed
//! settings enum (config, journal header), the client enum (dispatch without trait objects) and
//! the lookups the config loader needs.
//!
//! Invariants: this list is the only place that enumerates kinds; nothing else matches on a
//! kind's name.

use std::time::Duration;

use anyhow::Result;

use super::graph_revoke::Revoke;
use super::kind::{Context, Kind, KindRules, Parts, Shared};
use super::Attempt;
use crate::manifest::Target;
use crate::secret::SecretString;
use crate::serde_table::{self, Table};
use crate::values::Rate;

macro_rules! registry {
    ($($variant:ident = $name:literal => $kind:ty),+ $(,)?) => {
        /// The validated settings of one provider's own keys, by kind.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind", content = "settings")]
        pub enum KindSettings {
            $( #[serde(rename = $name)] $variant(<$kind as Kind>::Settings), )+
        }

        /// A configured provider's client.
        #[derive(Debug, Clone)]
        pub enum Provider {
            $( $variant(<$kind as Kind>::Client), )+
        }

        /// Every `kind = "..."` the config accepts.
        pub const KINDS: &[&str] = &[$($name),+];

        impl KindSettings {
            /// Reads and validates a kind's own keys (`None`: no such kind).
            pub fn read(kind: &str, table: Table, context: &Context) -> Option<Result<Self>> {
                match kind {
                    $( $name => Some(
                        serde_table::read::<<$kind as Kind>::Section>(table)
                            .and_then(|section| <$kind as Kind>::settings(section, context))
                            .map(KindSettings::$variant),
                    ), )+
                    _ => None,
                }
            }

            /// The kind's own keys (none for an unknown kind).
            pub fn fields(kind: &str) -> &'static [&'static str] {
                match kind {
                    $( $name => serde_table::fields_of::<<$kind as Kind>::Section>(), )+
                    _ => &[],
                }
            }

            pub fn name(&self) -> &'static str {
                match self { $( KindSettings::$variant(_) => $name, )+ }
            }

            pub fn default_rate(&self) -> Rate {
                match self { $( KindSettings::$variant(_) => <$kind as Kind>::DEFAULT_RATE, )+ }
            }

            pub fn default_base_url(&self) -> Result<String> {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::default_base_url(s), )+ }
            }

            pub fn default_method(&self) -> &'static str {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::default_method(s), )+ }
            }

            pub fn rules(&self) -> KindRules {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::rules(s), )+ }
            }

            pub fn revokes(&self) -> bool {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::revokes(s), )+ }
            }

            pub fn experimental(&self) -> Option<&'static str> {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::experimental(s), )+ }
            }

            pub fn caveat(&self) -> Option<&'static str> {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::caveat(s), )+ }
            }

            pub fn endpoint(&self) -> Option<reqwest::Url> {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::endpoint(s), )+ }
            }

            pub fn credential(&self) -> Option<crate::auth::AuthSection> {
                match self { $( KindSettings::$variant(s) => <$kind as Kind>::credential(s), )+ }
            }

            fn client(&self, shared: &Shared, parts: Parts) -> Result<Provider> {
                Ok(match self {
                    $( KindSettings::$variant(s) =>
                        Provider::$variant(<$kind as Kind>::build(s, shared, parts)?), )+
                })
            }
        }

        impl Provider {
            /// Performs one reset attempt; `password` is `None` when the server generates it.
            pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
                match self { $( Provider::$variant(c) => <$kind as Kind>::reset(c, target, password).await, )+ }
            }

            fn revoker(&self) -> Option<&Revoke> {
                match self { $( Provider::$variant(c) => <$kind as Kind>::revoker(c), )+ }
            }
        }
    };
}

registry! {
    Graph = "graph" => super::graph::GraphKind,
    GraphProfile = "graph-profile" => super::graph_profile::GraphProfileKind,
    PingOne = "pingone" => super::pingone::PingOneKind,
    Wristband = "wristband" => super::wristband::WristbandKind,
    Http = "http" => super::http::HttpKind,
    Ldap = "ldap" => super::ldap::LdapKind,
}

impl Provider {
    /// Whether a successful reset is to be followed by revoking the user's sign-in sessions.
    pub fn revokes_sessions(&self) -> bool {
        self.revoker().is_some()
    }

    /// One request of the revoke follow-up; `None` when this provider does not revoke.
    pub async fn revoke_sessions(&self, target: &Target) -> Option<Attempt> {
        Some(self.revoker()?.run(&target.user).await)
    }
}

/// One configured provider: the shared keys and the kind's own, validated; no secret.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProviderSpec {
    #[serde(flatten)]
    pub shared: Shared,
    pub kind: KindSettings,
}

/// Builds the provider a spec describes, with its own HTTP client.
pub fn build(
    spec: &ProviderSpec,
    credential: crate::auth::Credential,
    tls: &crate::auth::Tls,
    timeout: Duration,
) -> Result<Provider> {
    let shared = &spec.shared;
    let client = super::http_util::Client::new(&super::http_util::Options {
        https_only: shared.base_url.scheme() == "https",
        timeout,
        idle_per_host: shared.concurrency,
        tls,
    })?;
    let parts = Parts {
        client,
        credential,
        timeout,
        ca_file: tls.ca_file().map(ToOwned::to_owned),
    };
    spec.kind.client(shared, parts)
}
