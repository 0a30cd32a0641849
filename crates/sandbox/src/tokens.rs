//! Which bearer tokens the sandbox accepts: its one fixed token, and the short-lived access tokens
//! its OAuth2 token endpoint (`token`) issued, which really expire.
//!
//! Invariants: an issued access token is accepted only until its expiry instant (`token_ttl` after
//! issue), then rejected as expired, never as unknown; the fixed token never expires. A device
//! code is redeemed at most once, after `device_pending_polls` polls answered
//! `authorization_pending`. The lock is never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::auth::{AuthFailure, BearerCheck};
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
        }
    }
}

/// Counters of the token endpoint, for `GET /_sandbox/oauth`.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub(crate) struct OAuthStats {
    /// Access tokens issued, any grant.
    pub(crate) tokens_issued: u64,
    pub(crate) client_credentials: u64,
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

#[derive(Debug, Default)]
struct Issued {
    access: HashMap<String, Instant>,
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

    /// Issues an access token valid for `token_ttl`; with a refresh token when `delegated`.
    pub(crate) fn issue(&self, delegated: bool) -> Grant {
        let now = Instant::now();
        let token = format!("sbx-at-{}", random::token());
        let mut issued = self.lock();
        issued.access.retain(|_, expiry| *expiry > now);
        let Issued {
            access, app_only, ..
        } = &mut *issued;
        app_only.retain(|t| access.contains_key(t));
        issued
            .access
            .insert(token.clone(), now + self.oauth.token_ttl);
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

impl BearerCheck for Tokens {
    fn accepts(&self, token: &str) -> Result<(), AuthFailure> {
        if self.fixed.as_str().accepts(token).is_ok() {
            return Ok(());
        }
        let mut issued = self.lock();
        match issued.access.get(token) {
            Some(expiry) if Instant::now() < *expiry => Ok(()),
            Some(_) => {
                issued.stats.expired_rejections += 1;
                Err(AuthFailure::Expired)
            }
            None => Err(AuthFailure::Invalid),
        }
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
        let grant = t.issue(false);
        assert!(grant.refresh_token.is_none());
        assert_eq!(t.accepts(&grant.access_token), Ok(()));
        assert_eq!(t.accepts("fixed"), Ok(()));
        assert_eq!(t.accepts("other"), Err(AuthFailure::Invalid));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.accepts(&grant.access_token), Err(AuthFailure::Expired));
        assert_eq!(t.accepts("fixed"), Ok(()));
        assert_eq!(t.stats().expired_rejections, 1);
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
        let grant = t.issue(true);
        assert!(t.knows_refresh(grant.refresh_token.as_deref().unwrap()));
    }
}
