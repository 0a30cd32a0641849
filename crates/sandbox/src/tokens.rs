//! Which bearer tokens the sandbox accepts: its one fixed token, and the short-lived access tokens
//! its OAuth2 token endpoint (`token`) issued, which really expire.
//!
//! Invariants: an issued access token is accepted only until its expiry instant (`token_ttl` after
//! issue), then rejected as expired, never as unknown; the fixed token never expires. Every issued
//! token remembers its issuer (`entra`, `keycloak:{realm}`, `okta`, `auth0`...), and a route
//! that checks with [`IssuedBy`] accepts only tokens of the issuers it names, never the fixed
//! token (Keycloak's admin API takes only tokens its realm issued). A device
//! code is redeemed at most once, after `device_pending_polls` polls answered
//! `authorization_pending`. The lock is never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::auth::{AuthFailure, BearerCheck};
use super::client_auth;
use super::random;

/// The sandbox's OAuth2 client registration and token lifetimes.
#[derive(Debug, Clone)]
pub struct OAuthOptions {
    /// The one client id the token endpoint knows (any tenant path segment is accepted).
    pub client_id: String,
    /// Its client secret; a random one when `None` (see `Sandbox::client_secret`).
    pub client_secret: Option<String>,
    /// How long issued access tokens are accepted.
    pub token_ttl: Duration,
    /// The `expires_in` announced with a token, when it should differ from `token_ttl` (a token
    /// that dies before its announced expiry exercises the client's refresh-on-401).
    pub token_ttl_claimed: Option<Duration>,
    /// Device-code polls answered `authorization_pending` before the sign-in counts as approved.
    pub device_pending_polls: u32,
    /// The polling `interval` (seconds) announced by the device-code endpoint.
    pub device_interval: u64,
    /// How long a device code can be redeemed.
    pub device_code_ttl: Duration,
    /// One more path (besides the documented Keycloak, Okta and Auth0 ones) where the generic
    /// client-credentials token endpoint answers, e.g. `/auth/realms/r/protocol/openid-connect/token`.
    pub token_path: Option<String>,
}

impl Default for OAuthOptions {
    fn default() -> Self {
        OAuthOptions {
            client_id: "credrotate-sandbox".into(),
            client_secret: None,
            token_ttl: Duration::from_secs(3600),
            token_ttl_claimed: None,
            device_pending_polls: 1,
            device_interval: 1,
            device_code_ttl: Duration::from_secs(900),
            token_path: None,
        }
    }
}

/// Counters of the token endpoint, for `GET /_sandbox/oauth`.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub(crate) struct OAuthStats {
    /// Access tokens issued, any grant.
    pub(crate) tokens_issued: u64,
    pub(crate) client_credentials: u64,
    /// Client-credentials grants whose client authenticated with HTTP Basic / form fields.
    pub(crate) client_auth_basic: u64,
    pub(crate) client_auth_form: u64,
    pub(crate) refreshes: u64,
    pub(crate) device_codes: u64,
    pub(crate) device_polls: u64,
    pub(crate) pending_answers: u64,
    /// Requests refused because their access token had expired.
    pub(crate) expired_rejections: u64,
}

#[derive(Debug)]
struct Device {
    expires: Instant,
    polls: u32,
    redeemed: bool,
}

/// What a device-code poll finds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DevicePoll {
    Pending,
    Approved,
    Expired,
    Unknown,
}

/// An issued access token: until when, and who issued it.
#[derive(Debug)]
struct Access {
    expiry: Instant,
    issuer: String,
}

#[derive(Debug, Default)]
struct Issued {
    access: HashMap<String, Access>,
    refresh: HashSet<String>,
    devices: HashMap<String, Device>,
    /// Access tokens of the client-credentials grant: app-only, no signed-in user.
    app_only: HashSet<String>,
    stats: OAuthStats,
    /// Every access token, refresh token and device code ever issued (for leak tests).
    history: Vec<String>,
}

/// The accepted tokens, shared by every route.
#[derive(Debug)]
pub(crate) struct Tokens {
    fixed: String,
    pub(crate) oauth: OAuthOptions,
    issued: Mutex<Issued>,
}

/// A freshly issued access token (and refresh token, for delegated grants).
pub(crate) struct Grant {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) refresh_token: Option<String>,
}

impl Tokens {
    pub(crate) fn new(fixed: String, oauth: OAuthOptions) -> Self {
        Tokens {
            fixed,
            oauth,
            issued: Mutex::new(Issued::default()),
        }
    }

    /// The fixed token (also PingOne's API key).
    pub(crate) fn fixed(&self) -> &str {
        &self.fixed
    }

    fn lock(&self) -> MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stats(&self) -> OAuthStats {
        self.lock().stats
    }

    /// Every secret value the token endpoint ever handed out.
    pub(crate) fn history(&self) -> Vec<String> {
        self.lock().history.clone()
    }

    /// Issues an access token of `issuer` valid for `token_ttl`; with a refresh token when
    /// `delegated`.
    pub(crate) fn issue(&self, issuer: &str, delegated: bool) -> Grant {
        let now = Instant::now();
        let token = format!("sbx-at-{}", random::token());
        let mut issued = self.lock();
        issued.access.retain(|_, a| a.expiry > now);
        let Issued {
            access, app_only, ..
        } = &mut *issued;
        app_only.retain(|t| access.contains_key(t));
        let access = Access {
            expiry: now + self.oauth.token_ttl,
            issuer: issuer.to_owned(),
        };
        issued.access.insert(token.clone(), access);
        issued.history.push(token.clone());
        issued.stats.tokens_issued += 1;
        if !delegated {
            issued.app_only.insert(token.clone());
        }
        let refresh_token = delegated.then(|| {
            let r = format!("sbx-rt-{}", random::token());
            issued.refresh.insert(r.clone());
            issued.history.push(r.clone());
            r
        });
        let claimed = self.oauth.token_ttl_claimed.unwrap_or(self.oauth.token_ttl);
        Grant {
            access_token: token,
            expires_in: claimed.as_secs().max(1),
            refresh_token,
        }
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut OAuthStats)) {
        f(&mut self.lock().stats);
    }

    /// Whether `token` is an app-only access token (client credentials, no signed-in user).
    pub(crate) fn is_app_only(&self, token: &str) -> bool {
        self.lock().app_only.contains(token)
    }

    /// Counts one client-credentials grant and how its client authenticated.
    pub(crate) fn count_client_credentials(&self, method: client_auth::Method) {
        self.count(|s| {
            s.client_credentials += 1;
            match method {
                client_auth::Method::Basic => s.client_auth_basic += 1,
                client_auth::Method::Form => s.client_auth_form += 1,
            }
        });
    }

    /// Whether `token` is a refresh token this sandbox issued.
    pub(crate) fn knows_refresh(&self, token: &str) -> bool {
        self.lock().refresh.contains(token)
    }

    /// Registers a new device code; returns it.
    pub(crate) fn new_device(&self) -> String {
        let code = format!("sbx-dc-{}", random::token());
        let device = Device {
            expires: Instant::now() + self.oauth.device_code_ttl,
            polls: 0,
            redeemed: false,
        };
        let mut issued = self.lock();
        issued.devices.insert(code.clone(), device);
        issued.history.push(code.clone());
        issued.stats.device_codes += 1;
        code
    }

    /// One poll of `code`: pending for the first `device_pending_polls`, then approved once.
    pub(crate) fn poll_device(&self, code: &str) -> DevicePoll {
        let pending_polls = self.oauth.device_pending_polls;
        let mut issued = self.lock();
        issued.stats.device_polls += 1;
        let Some(device) = issued.devices.get_mut(code) else {
            return DevicePoll::Unknown;
        };
        device.polls += 1;
        let answer = if device.redeemed {
            DevicePoll::Unknown
        } else if Instant::now() >= device.expires {
            DevicePoll::Expired
        } else if device.polls <= pending_polls {
            DevicePoll::Pending
        } else {
            device.redeemed = true;
            DevicePoll::Approved
        };
        if answer == DevicePoll::Pending {
            issued.stats.pending_answers += 1;
        }
        answer
    }
}

impl Tokens {
    /// Whether `token` is an unexpired access token issued by one of `issuers` (any issuer
    /// when `None`).
    fn check_issued(&self, token: &str, issuers: Option<&[String]>) -> Result<(), AuthFailure> {
        let mut issued = self.lock();
        let access = issued.access.get(token).ok_or(AuthFailure::Invalid)?;
        if issuers.is_some_and(|list| !list.contains(&access.issuer)) {
            return Err(AuthFailure::Invalid);
        }
        if Instant::now() < access.expiry {
            return Ok(());
        }
        issued.stats.expired_rejections += 1;
        Err(AuthFailure::Expired)
    }
}

/// The fixed token, or any unexpired token the token endpoints issued.
impl BearerCheck for Tokens {
    fn accepts(&self, token: &str) -> Result<(), AuthFailure> {
        if self.fixed.as_str().accepts(token).is_ok() {
            return Ok(());
        }
        self.check_issued(token, None)
    }
}

/// Only unexpired tokens of these issuers: never the fixed token.
pub(crate) struct IssuedBy<'a> {
    pub(crate) tokens: &'a Tokens,
    pub(crate) issuers: Vec<String>,
}

impl BearerCheck for IssuedBy<'_> {
    fn accepts(&self, token: &str) -> Result<(), AuthFailure> {
        self.tokens.check_issued(token, Some(&self.issuers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ttl: Duration) -> Tokens {
        let oauth = OAuthOptions {
            token_ttl: ttl,
            device_pending_polls: 2,
            ..OAuthOptions::default()
        };
        Tokens::new("fixed".into(), oauth)
    }

    #[test]
    fn issued_tokens_expire_and_the_fixed_one_does_not() {
        let t = tokens(Duration::from_millis(30));
        let grant = t.issue("keycloak:r", false);
        assert!(grant.refresh_token.is_none());
        let kc = IssuedBy {
            tokens: &t,
            issuers: vec!["keycloak:r".into()],
        };
        let other = IssuedBy {
            tokens: &t,
            issuers: vec!["okta".into()],
        };
        assert_eq!(kc.accepts(&grant.access_token), Ok(()));
        assert_eq!(
            kc.accepts("fixed"),
            Err(AuthFailure::Invalid),
            "never the fixed token"
        );
        assert_eq!(
            other.accepts(&grant.access_token),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(t.accepts(&grant.access_token), Ok(()));
        assert_eq!(t.accepts("fixed"), Ok(()));
        assert_eq!(t.accepts("other"), Err(AuthFailure::Invalid));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.accepts(&grant.access_token), Err(AuthFailure::Expired));
        assert_eq!(kc.accepts(&grant.access_token), Err(AuthFailure::Expired));
        assert_eq!(t.accepts("fixed"), Ok(()));
        assert_eq!(t.stats().expired_rejections, 2);
    }

    #[test]
    fn device_code_is_pending_then_approved_once() {
        let t = tokens(Duration::from_secs(60));
        let code = t.new_device();
        assert_eq!(t.poll_device(&code), DevicePoll::Pending);
        assert_eq!(t.poll_device(&code), DevicePoll::Pending);
        assert_eq!(t.poll_device(&code), DevicePoll::Approved);
        assert_eq!(t.poll_device(&code), DevicePoll::Unknown);
        assert_eq!(t.poll_device("nope"), DevicePoll::Unknown);
        let grant = t.issue("entra", true);
        assert!(t.knows_refresh(grant.refresh_token.as_deref().unwrap()));
    }
}
