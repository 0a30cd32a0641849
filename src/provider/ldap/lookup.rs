//! Which entry a manifest `user` means: a DN as given (it holds `=`), or the one entry under
//! `base_dn` that `user_filter` with the escaped login name matches.
//!
//! Invariants: no match, or more than one, is a per-row refusal naming the filter and base, and
//! nothing is changed; the search asks for no attributes and at most two entries.

use std::time::Duration;

use ldap3::{Ldap, LdapError, Scope, SearchEntry, SearchOptions};

use super::escape;
use crate::provider::{Attempt, Failure};

/// Where and how login names are looked up.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub base_dn: String,
    pub user_filter: String,
}

/// Why the lookup gave no DN.
#[derive(Debug)]
pub enum NotFound {
    /// The server did not answer the search: the connection's trouble.
    Error(LdapError),
    /// An answer with none or several entries, or a malformed DN: a refusal.
    Refused(Attempt),
}

impl Lookup {
    pub async fn dn(
        &self,
        ldap: &mut Ldap,
        timeout: Duration,
        user: &str,
    ) -> Result<String, NotFound> {
        if escape::is_dn(user) {
            return match escape::check_dn(user) {
                Ok(()) => Ok(user.to_owned()),
                Err(e) => Err(refused("invalid_dn", e)),
            };
        }
        let filter = escape::fill_filter(&self.user_filter, user);
        let found = ldap
            .with_timeout(timeout)
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(&self.base_dn, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .map_err(NotFound::Error)?;
        let ldap3::SearchResult(entries, result) = found;
        // 4: sizeLimitExceeded, the answer to a third match.
        if result.rc != 0 && result.rc != 4 {
            return Err(NotFound::Error(LdapError::LdapResult { result }));
        }
        let mut entries = entries.into_iter();
        match (entries.next(), entries.next()) {
            (Some(entry), None) => Ok(SearchEntry::construct(entry).dn),
            (None, _) => Err(refused(
                "no_such_user",
                format!("no entry under {:?} matches {filter}", self.base_dn),
            )),
            (Some(_), Some(_)) => Err(refused(
                "ambiguous_user",
                format!("several entries under {:?} match {filter} (hint: make user_filter narrower, or give the DN in the manifest)", self.base_dn),
            )),
        }
    }
}

fn refused(code: &str, message: String) -> NotFound {
    NotFound::Refused(Attempt::NotApplied(Failure {
        code: code.into(),
        message,
        ..Failure::default()
    }))
}
