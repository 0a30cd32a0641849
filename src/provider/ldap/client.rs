//! One LDAP reset attempt: a pooled bound connection, the row's DN, then the mode's operation,
//! classified by `result_code`.
//!
//! Invariants:
//! - Everything before the password operation (connection, bind, lookup) is "not applied";
//!   from the moment the operation is handed to the connection, only an LDAP refusal is.
//! - A connection goes back to the pool only when its last operation got an LDAP answer.
//! - With `generate = "server"` (password_modify only) the outcome carries the server's
//!   password; a success whose answer lacks it is uncertain (the password changed, to what
//!   nobody knows), never a success.

use ldap3::{Ldap, LdapError};
use std::sync::Arc;

use super::ad_unicodepwd;
use super::config::Mode;
use super::lookup::{Lookup, NotFound};
use super::password_modify::{self, Changed};
use super::pool::Pool;
use super::result_code::{after_send, before_send};
use crate::manifest::Target;
use crate::provider::http_util::not_sent;
use crate::provider::{Attempt, Failure, Success};
use crate::secret::SecretString;

#[derive(Debug, Clone)]
pub struct LdapClient {
    pool: Arc<Pool>,
    mode: Mode,
    lookup: Lookup,
}

/// An attempt, and whether its connection may be reused.
struct Outcome {
    attempt: Attempt,
    reusable: bool,
}

impl LdapClient {
    pub fn new(pool: Pool, mode: Mode, lookup: Lookup) -> LdapClient {
        LdapClient {
            pool: Arc::new(pool),
            mode,
            lookup,
        }
    }

    pub async fn reset(&self, target: &Target, password: Option<&SecretString>) -> Attempt {
        let mut lease = match self.pool.get().await {
            Ok(lease) => lease,
            Err(attempt) => return attempt,
        };
        let outcome = self.on(&mut lease.ldap, target, password).await;
        if outcome.reusable {
            self.pool.put(lease);
        }
        outcome.attempt
    }

    async fn on(
        &self,
        ldap: &mut Ldap,
        target: &Target,
        password: Option<&SecretString>,
    ) -> Outcome {
        let timeout = self.pool.endpoint().timeout;
        let dn = match self.lookup.dn(ldap, timeout, &target.user).await {
            Ok(dn) => dn,
            Err(NotFound::Refused(attempt)) => return Outcome::kept(attempt),
            Err(NotFound::Error(e)) => {
                let step = format!("look up {:?} under {:?}", target.user, self.lookup.base_dn);
                return Outcome::after(before_send(&step, &e), &e);
            }
        };
        let old = target.inputs.old_password.as_ref();
        let changed = match (self.mode, password) {
            (Mode::PasswordModify, new) => {
                password_modify::modify(ldap, timeout, &dn, old, new).await
            }
            (Mode::AdUnicodepwd, Some(new)) => ad_unicodepwd::modify(ldap, timeout, &dn, old, new)
                .await
                .map(|()| Changed::Sent),
            // The config refuses generate = "server" for ad_unicodepwd: nothing is sent.
            (Mode::AdUnicodepwd, None) => {
                let why = "ad_unicodepwd needs a client-generated password";
                return Outcome::kept(not_sent("no_password", why.into()));
            }
        };
        match changed {
            Ok(changed) => Outcome::kept(succeeded(changed, &dn)),
            Err(e) => Outcome::after(after_send(&e), &e),
        }
    }
}

impl Outcome {
    /// The server answered: the connection is fit for the next attempt.
    fn kept(attempt: Attempt) -> Outcome {
        Outcome {
            attempt,
            reusable: true,
        }
    }

    /// After an error: reusable only if it was the server's answer (a timeout or a dropped
    /// connection leaves it in an unknown state).
    fn after(attempt: Attempt, e: &LdapError) -> Outcome {
        Outcome {
            attempt,
            reusable: matches!(e, LdapError::LdapResult { .. }),
        }
    }
}

fn succeeded(changed: Changed, dn: &str) -> Attempt {
    let server_password = match changed {
        Changed::Sent => None,
        Changed::Generated(password) => Some(password),
        Changed::GeneratedUnreadable => {
            return Attempt::uncertain(Failure {
                code: "no_generated_password".into(),
                message: format!("the server changed the password of {dn:?} but its answer holds no readable genPasswd: set one by hand"),
                ..Failure::default()
            })
        }
    };
    Attempt::Succeeded(Success {
        server_password,
        ..Success::default()
    })
}
