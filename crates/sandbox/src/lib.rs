//! The built-in simulated identity provider (docs/DESIGN.md section 6): speaks the providers' wire
//! protocols on loopback, keeps server-side truth, and injects faults on request.
//!
//! Written from the providers' documentation only, in a crate of its own that does not depend on
//! credrotate: nothing is shared with its providers (no types, URL builders or parsers). The wire
//! is the contract.
//!
//! # Routes
//! - `POST /v1.0/users/{id}/authentication/methods/{methodId}/resetPassword` and
//!   `GET /v1.0/users/{id}/authentication/operations/{opId}`: Microsoft Graph v1.0 (`graph_v1`).
//!   `{methodId}` must be the password method `28c10230-6103-485e-b985-444c60001490`.
//! - `GET /_sandbox/stats`, `POST /_sandbox/verify`: the sandbox's own, no auth (`admin`).
//! - `POST /{tenant}/oauth2/v2.0/token` and `/devicecode`: the OAuth2 endpoints (`token`), whose
//!   access tokens expire after `OAuthOptions::token_ttl`; `GET /_sandbox/oauth` counts them.
//! - `POST /beta/users/{id}/authentication/softwareOathMethods/{methodId}/resetPassword`,
//!   `PATCH /v1.0/users/{id}` (passwordProfile), `POST /{v1.0|beta}/users/{id}/revokeSignInSessions`:
//!   the other Graph routes (`graph_more`).
//! - `POST /api/directory/users/password-reset`: PingOne, HTTP Basic (`pingone`); the method is
//!   `Options::pingone_method` (default POST), any other gets 405.
//! - `POST /api/v1/password-reset/reset-password`: Wristband (`wristband`), with the field names
//!   and `result` of `Options::wristband`.
//! - `PUT /admin/realms/{realm}/users/{id}/reset-password`: Keycloak, the generic HTTP
//!   provider's rehearsal target (`keycloak`), taking only its realm's unexpired tokens.
//! - `POST /api/v1/users/{id}` (Okta, `okta`) and `PATCH /api/v2/users/{id}` (Auth0, `auth0`),
//!   rate-limited the providers' way when `Options::reset_limits` says (`ratelimit`; counters
//!   at `GET /_sandbox/ratelimits`).
//! - `POST /realms/{realm}/protocol/openid-connect/token`, `/oauth2/{server}/v1/token`,
//!   `/oauth2/v1/token`, `/oauth/token` and `OAuthOptions::token_path`: the client-credentials
//!   grant of Keycloak, Okta and Auth0 (`token_rfc`), client authentication by form or Basic
//!   (`client_auth`).
//! - `GET /_sandbox/stats`, `POST /_sandbox/verify`, `POST /_sandbox/wristband/codes`: the
//!   sandbox's own, no auth (`admin`, `wristband`).
//!
//! All route families share one directory of users (ids are unique across them in practice:
//! UPNs, GUIDs), so `verify` answers for every provider. Each family has its own limit: a token
//! bucket (`faults.throttle` applied per family, or `Options::family_throttle`) or a sliding
//! window (`faults.window`, `Options::family_window`); see `limits`.
//! - Any other path: 404 `{"error":{"code":"UnknownRoute",...}}`.
//!
//! # `GET /_sandbox/stats`
//! ```json
//! {"requests_total": 10, "requests_by_status": {"200": 3, "202": 5, "401": 1, "429": 1},
//!  "reset_requests_total": 7, "resets_total": 5, "resets_per_user": {"alice": 3, "bob": 2},
//!  "operations_pending": 0, "operations_failed": 0, "peak_concurrency": 4, "in_flight": 0,
//!  "peak_rps": 6, "rps_series": [6, 1], "throttled_series": [1, 0],
//!  "first_throttle_second": 0, "polls_total": 3, "dropped_total": 0, "uptime_seconds": 1.9,
//!  "families": {"graph": {"requests": 7, "peak_rps": 6, "rps_series": [6, 1],
//!                         "throttled_series": [1, 0]}, "pingone": {...}},
//!  "revocations_per_user": {"alice": 1}, "must_change_users": ["bob"],
//!  "wristband_codes_outstanding": 0}
//! ```
//! - `inside_retry_after` (total and per family): requests (writes and polls) that reached the
//!   limit inside a `Retry-After` window the sandbox had announced to that family (`limits`);
//!   a client that honours `Retry-After` keeps it at 0. `in_flight_after_429`: those that came
//!   after a 429 was decided but before its window opened (already on their way).
//! - `families.NAME`: the write series of one route family (`graph`, `pingone`, `wristband`,
//!   `keycloak`, `okta`, `auth0`), same definitions as the totals below; the totals sum every family.
//! - `revocations_per_user`: accepted session revocations (Graph revoke, Wristband resets);
//!   `must_change_users`: users whose last reset asked for a change at next sign-in.
//! - `requests_total`/`requests_by_status`: every API (non-`/_sandbox`) response, by status.
//! - `rps_series[i]`: reset (write) requests that arrived during whole second `i` since start,
//!   whatever their answer (401, 429, 503 included); `peak_rps` is its maximum;
//!   `first_write_unix_ms`/`last_write_unix_ms`: wall-clock arrival of the first and last of
//!   them (Unix milliseconds, `null` before any);
//!   `reset_requests_total` its sum. `throttled_series[i]`: those answered 429 (same length);
//!   `first_throttle_second`: index of the first 429, or `null`.
//! - `resets_total`/`resets_per_user`: password changes actually applied (users with none are
//!   omitted). An Async reset counts when its operation succeeds, not when it is accepted.
//! - `peak_concurrency`: most API requests in flight at once (latency included); `in_flight`:
//!   now. `polls_total`: operation GETs. `dropped_total`: responses lost to `drop_ratio`.
//!
//! # `POST /_sandbox/verify`
//! Body `[{"user": "alice", "password": "..."}, ...]`, answer `[{"user": "alice", "ok": true}, ...]`
//! in the same order; `ok` is true only if that is the user's current password (operations that
//! have fallen due are applied first). A malformed body gets 400 `{"error": "..."}`.
//!
//! # Ready line
//! [`Sandbox::ready_line`]: `{"base_url":"http://127.0.0.1:PORT","graph_v1":"http://127.0.0.1:PORT/v1.0","token":"...",`
//! `"oauth_authority":"http://127.0.0.1:PORT","client_id":"credrotate-sandbox","client_secret":"...",`
//! `"ca_file":null}`; with `Options::tls` the URLs are `https://` and `ca_file` is the path of the
//! throwaway CA's certificate (PEM) to pass to `--ca-file`.
//! [`Sandbox::ready_line`]: `{"base_url":"http://127.0.0.1:PORT","graph_v1":".../v1.0",
//! "graph_beta":".../beta","pingone":".../api","wristband":"...","keycloak":"...",
//! "client_id":"sandbox-client","token":"..."}`. PingOne's API key is the token.
//!
//! # Faults
//! See `faults` for the order a reset meets them in. In short: latency + jitter on every API
//! response; writes: 401 (free) → token bucket 429 → `error_ratio` 503 (after a token was
//! taken) → validation → accepted; then `drop_ratio` may cut the connection instead of answering
//! (an accepted reset still takes effect). `op_failure_ratio` makes Async operations end
//! `failed` without changing the password. `faults.odd` gives Graph v1.0 resets hostile answers
//! after applying the password (`hostile`); redirects and foreign `Location`s point at a trap
//! listener whose hits are `trap_requests` in the stats.

#![forbid(unsafe_code)]

mod accounts;
mod admin;
mod auth;
mod auth0;
mod client_auth;
mod counters;
mod faults;
mod graph_more;
mod graph_users;
mod graph_v1;
mod graph_wire;
mod hostile;
mod keycloak;
mod limits;
mod net;
mod observe;
mod okta;
mod pingone;
mod plain_wire;
mod random;
mod ratelimit;
mod server;
mod state;
#[cfg(test)]
mod tests;
mod tls;
mod token;
mod token_rfc;
mod tokens;
mod wristband;

pub use hostile::OddAnswers;
pub use limits::Window;
pub use pingone::{PingOneMethod, DEFAULT_CLIENT_ID};
pub use server::{serve_until_signal, Sandbox};
pub use tokens::OAuthOptions;
pub use wristband::WristbandOptions;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Upper bound for latency, jitter and `op_delay`: anything longer is a configuration mistake.
const MAX_FAULT_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Switchable faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every API response: fixed part.
    pub latency: Duration,
    /// Added to every API response: uniformly random part in [0, jitter].
    pub jitter: Duration,
    /// 429 with Retry-After from a token bucket on reset (write) requests.
    pub throttle: Option<Bucket>,
    /// Send 429's `Retry-After` as an HTTP-date (rounded up to the next second) instead of
    /// delay-seconds. Both forms are allowed by RFC 9110.
    pub retry_after_http_date: bool,
    /// Fraction (0.0..=1.0) of reset (write) requests answered 503: exactly that share, spread
    /// evenly from a random first one (`random::Spread`), so a short run always meets some.
    pub error_ratio: f64,
    /// Fraction (0.0..=1.0) of reset (write) answers lost by closing the connection instead. The
    /// request was processed: an accepted reset still takes effect.
    pub drop_ratio: f64,
    /// Fraction (0.0..=1.0) of Async operations that end `failed` (password unchanged).
    pub op_failure_ratio: f64,
    /// Answer every `revokeSignInSessions` 403 `Authorization_RequestDenied` (an app without
    /// the permission to revoke), after the usual auth/throttle/error chain.
    pub revoke_denied: bool,
    /// Answer every `PATCH /users` passwordProfile 403 `Authorization_RequestDenied`, as Graph
    /// does when the app's service principal lacks the directory role (User Administrator, or
    /// Privileged Authentication Administrator for admin targets) that `User.ReadWrite.All` needs
    /// beside it to set passwords.
    pub profile_missing_role: bool,
    /// Odd answers to Graph v1.0 resets, mostly after the password was applied (`hostile`).
    pub odd: OddAnswers,
    /// A sliding-window limit like Graph's (N per W seconds) applied to each family separately;
    /// takes the place of `throttle` when both are set (`limits`).
    pub window: Option<Window>,
}

/// A token bucket: `rate` tokens per second refill, holding at most `capacity`; starts full.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub rate: f64,
    pub capacity: u32,
}

/// How the Graph v1.0 resetPassword route answers a valid request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GraphMode {
    /// 202 Accepted + Location of a long-running operation (as documented). Default.
    #[default]
    Async,
    /// 200 OK with the body at once.
    Sync200,
    /// 204 No Content at once (server-generated passwords then come back with 200 instead).
    Sync204,
}

/// Sandbox configuration.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub faults: Faults,
    /// When set, only these users exist; others get Graph's 404. When unset, any user exists.
    pub users: Option<Vec<String>>,
    pub graph_mode: GraphMode,
    /// Time from a 202 until its operation reports `succeeded` (and the password changes).
    pub op_delay: Duration,
    /// `Retry-After` seconds sent with a 202 (and with polls of a running operation), if any.
    pub op_retry_after: Option<u64>,
    /// Bearer token to accept; a random one when `None`.
    pub token: Option<String>,
    /// Every user's password before any reset (so `verify` can show the old one stops working).
    /// `None`: users have no password until their first reset.
    pub initial_password: Option<String>,
    /// The OAuth2 token endpoint's client and token lifetimes (`token`).
    pub oauth: OAuthOptions,
    /// Serve HTTPS with a throwaway CA (`tls`); base URLs become `https://`.
    pub tls: bool,
    /// Where to write that CA's certificate (PEM); default a per-port file in the temp dir.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Per route family (`graph`, `pingone`, `wristband`, `keycloak`, `okta`, `auth0`): a token
    /// bucket of its own instead of `faults.throttle`, which otherwise applies to each family
    /// separately.
    pub family_throttle: BTreeMap<String, Bucket>,
    /// PingOne's HTTP Basic user name (client id); the password (API key) is the token.
    pub client_id: Option<String>,
    /// Wristband's new-password and suppress-email field names and the `result` it answers.
    pub wristband: WristbandOptions,
    /// The one HTTP method PingOne's password-reset route accepts (others: 405).
    pub pingone_method: PingOneMethod,
    /// Per route family (`okta`, `auth0`): a fixed-window rate limit answered as that provider
    /// documents (429 with its epoch-seconds reset header and no `Retry-After`; `ratelimit`).
    pub reset_limits: BTreeMap<String, WindowLimit>,
    /// Per route family: a sliding window of its own (before `family_throttle`; `limits`).
    pub family_window: BTreeMap<String, Window>,
}

/// A fixed window: `limit` requests, refilled whole every `window` (whole seconds, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    pub limit: u32,
    pub window: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Faults::default(),
            users: None,
            graph_mode: GraphMode::default(),
            op_delay: Duration::ZERO,
            op_retry_after: None,
            token: None,
            initial_password: None,
            oauth: OAuthOptions::default(),
            tls: false,
            tls_ca_file: None,
            family_throttle: BTreeMap::new(),
            client_id: None,
            wristband: WristbandOptions::default(),
            pingone_method: PingOneMethod::default(),
            reset_limits: BTreeMap::new(),
            family_window: BTreeMap::new(),
        }
    }
}

impl Options {
    /// Rejects settings that would make the sandbox misbehave silently.
    fn validate(&self) -> anyhow::Result<()> {
        let f = &self.faults;
        for (name, p) in [
            ("error_ratio", f.error_ratio),
            ("drop_ratio", f.drop_ratio),
            ("op_failure_ratio", f.op_failure_ratio),
        ]
        .into_iter()
        .chain(f.odd.ratios())
        {
            anyhow::ensure!(
                (0.0..=1.0).contains(&p),
                "sandbox fault {name} must be between 0.0 and 1.0, got {p}"
            );
        }
        // Bounds also keep `Instant + delay` arithmetic far from overflow.
        for (name, d, max) in [
            ("latency", f.latency, MAX_FAULT_DELAY),
            ("jitter", f.jitter, MAX_FAULT_DELAY),
            ("op_delay", self.op_delay, MAX_FAULT_DELAY),
            ("slow_delay", f.odd.slow_delay, MAX_FAULT_DELAY),
            ("token_ttl", self.oauth.token_ttl, MAX_FAULT_DELAY),
        ] {
            anyhow::ensure!(
                d <= max,
                "sandbox {name} must be at most {}, got {}",
                humantime::format_duration(max),
                humantime::format_duration(d)
            );
        }
        for w in f.window.iter().chain(self.family_window.values()) {
            anyhow::ensure!(
                limits::valid_window(w),
                "sandbox window needs at least 1 request per 0 < W <= 1h, got {} per {:?}",
                w.requests,
                w.per
            );
        }
        for b in f.throttle.iter().chain(self.family_throttle.values()) {
            anyhow::ensure!(
                limits::valid_bucket(b),
                "sandbox throttle needs rate > 0 per second and capacity >= 1, got rate {} capacity {}",
                b.rate,
                b.capacity
            );
        }
        for (family, w) in &self.reset_limits {
            anyhow::ensure!(
                w.limit >= 1 && (1..=86_400).contains(&w.window.as_secs()),
                "sandbox rate limit of {family} needs limit >= 1 and a window of 1 s to 1 day"
            );
        }
        anyhow::ensure!(
            !self.oauth.token_ttl.is_zero(),
            "sandbox token_ttl must be more than zero"
        );
        if let Some(path) = &self.oauth.token_path {
            token_rfc::validate_token_path(path)?;
        }
        if let Some(token) = &self.token {
            anyhow::ensure!(
                !token.trim().is_empty() && !token.contains(char::is_whitespace),
                "sandbox token must be non-empty and contain no whitespace"
            );
        }
        self.wristband.validate()
    }
}
