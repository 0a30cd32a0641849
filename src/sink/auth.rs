//! Signing in at the store: a token from a file or the environment (checked with
//! `auth/token/lookup-self`), AppRole (`role_id` + secret id) or Kubernetes (the service account
//! JWT), and keeping the token alive during a long run.
//!
//! Invariants: [`SinkAuth::connect`] gets a working token before the first reset is sent (a store
//! that is unreachable or refuses the credential is a start-up error, exit 2); a token with a
//! lifetime is renewed (`renew-self`) or, for the login methods, obtained again once two thirds
//! of its lifetime have passed, and again after a 403 (it may have been revoked early); every
//! clone shares one token; secrets (token, secret id, JWT) stay [`SecretString`]s and appear in
//! no message.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::http::{send, Http, SinkError};
use super::spec::SinkAuthSpec;
use crate::auth::secret_from;
use crate::secret::{ExposeSecret, SecretString};

/// The store's credential, shared by every delivery.
#[derive(Clone)]
pub struct SinkAuth {
    http: Http,
    how: Arc<How>,
    held: Arc<Mutex<Held>>,
}

impl std::fmt::Debug for SinkAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkAuth").finish_non_exhaustive()
    }
}

enum How {
    Token(SecretString),
    Login { mount: String, login: Login },
}

enum Login {
    AppRole {
        role_id: String,
        secret_id: SecretString,
    },
    Kubernetes {
        role: String,
        jwt_file: PathBuf,
    },
}

struct Held {
    token: SecretString,
    /// When to renew or sign in again; `None`: the token does not expire.
    refresh_at: Option<Instant>,
    renewable: bool,
}

/// `auth` of a login, `data` of a lookup: the fields used.
#[derive(Deserialize)]
struct LoginAnswer {
    auth: Option<AuthBlock>,
}

#[derive(Deserialize)]
struct AuthBlock {
    client_token: SecretString,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct Lookup {
    data: LookupData,
}

#[derive(Deserialize)]
struct LookupData {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
}

impl SinkAuth {
    /// Reads the credential's secrets and gets a checked token: the start-up check.
    pub async fn connect(http: Http, spec: &SinkAuthSpec) -> Result<SinkAuth> {
        let how = Arc::new(how(spec)?);
        let held = match &*how {
            How::Token(token) => lookup(&http, token).await?,
            How::Login { mount, login } => sign_in(&http, mount, login).await?,
        };
        Ok(SinkAuth {
            http,
            how,
            held: Arc::new(Mutex::new(held)),
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The current token, renewed or obtained again first when it is due.
    pub async fn token(&self) -> Result<SecretString, SinkError> {
        let mut held = self.held.lock().await;
        if held.refresh_at.is_some_and(|t| Instant::now() >= t) {
            *held = self.refresh(&held).await?;
        }
        Ok(held.token.clone())
    }

    /// A request signed with `used` was refused (403). True when a new token was obtained and
    /// the request is worth sending once more (login methods only; a given token cannot be).
    pub async fn on_denied(&self, used: &SecretString) -> bool {
        let How::Login { mount, login } = &*self.how else {
            return false;
        };
        let mut held = self.held.lock().await;
        if held.token.expose_secret() != used.expose_secret() {
            return true; // another delivery signed in again meanwhile
        }
        match sign_in(&self.http, mount, login).await {
            Ok(fresh) => {
                *held = fresh;
                true
            }
            Err(e) => {
                tracing::warn!("signing in at the secret store again failed: {e:#}");
                false
            }
        }
    }

    async fn refresh(&self, held: &Held) -> Result<Held, SinkError> {
        let fresh = match &*self.how {
            How::Login { mount, login } => sign_in(&self.http, mount, login).await,
            How::Token(_) if held.renewable => renew(&self.http, &held.token).await,
            How::Token(_) => {
                tracing::warn!("the secret store token is about to expire and cannot be renewed; deliveries will fail once it has (hint: use a renewable token, or AppRole / Kubernetes auth)");
                return Ok(Held {
                    token: held.token.clone(),
                    refresh_at: None,
                    renewable: false,
                });
            }
        };
        fresh.map_err(|e| SinkError::Transient {
            message: format!("cannot renew the secret store token: {e:#}"),
            retry_after: None,
        })
    }
}

fn how(spec: &SinkAuthSpec) -> Result<How> {
    Ok(match spec {
        SinkAuthSpec::Token { file, env } => {
            How::Token(secret_from(file, env).context("[sink] token_file/token_env")?)
        }
        SinkAuthSpec::Approle {
            mount,
            role_id,
            secret_id_file,
            secret_id_env,
        } => How::Login {
            mount: mount.clone(),
            login: Login::AppRole {
                role_id: role_id.clone(),
                secret_id: secret_from(secret_id_file, secret_id_env)
                    .context("[sink.auth] secret_id")?,
            },
        },
        SinkAuthSpec::Kubernetes {
            mount,
            role,
            jwt_file,
        } => How::Login {
            mount: mount.clone(),
            login: Login::Kubernetes {
                role: role.clone(),
                jwt_file: jwt_file.clone(),
            },
        },
    })
}

/// Checks a given token (`auth/token/lookup-self`) and learns its lifetime.
async fn lookup(http: &Http, token: &SecretString) -> Result<Held> {
    let req = http.request(Method::GET, "auth/token/lookup-self", Some(token));
    let (_, answer): (_, Lookup) = send(req)
        .await
        .map_err(|e| start_up(http, "checking the token (auth/token/lookup-self)", e))?;
    Ok(held(token.clone(), answer.data.ttl, answer.data.renewable))
}

/// Signs in with AppRole or Kubernetes auth.
async fn sign_in(http: &Http, mount: &str, login: &Login) -> Result<Held> {
    let body = match login {
        Login::AppRole { role_id, secret_id } => {
            json!({"role_id": role_id, "secret_id": secret_id.expose_secret()})
        }
        Login::Kubernetes { role, jwt_file } => {
            let jwt = secret_from(&Some(jwt_file.clone()), &None)
                .context("[sink.auth] jwt_file (the Kubernetes service account token)")?;
            json!({"role": role, "jwt": jwt.expose_secret()})
        }
    };
    let req = http
        .request(Method::POST, &format!("auth/{mount}/login"), None)
        .json(&body);
    let what = format!("signing in (auth/{mount}/login)");
    let (_, answer): (_, LoginAnswer) = send(req).await.map_err(|e| start_up(http, &what, e))?;
    let auth = answer
        .auth
        .ok_or_else(|| anyhow!("{what} at {}: the answer holds no token", http.address()))?;
    Ok(held(auth.client_token, auth.lease_duration, auth.renewable))
}

/// `auth/token/renew-self`: a longer life for a renewable token.
async fn renew(http: &Http, token: &SecretString) -> Result<Held> {
    let req = http
        .request(Method::POST, "auth/token/renew-self", Some(token))
        .json(&json!({}));
    let (_, answer): (_, LoginAnswer) = send(req)
        .await
        .map_err(|e| start_up(http, "renewing the token", e))?;
    let auth = answer
        .auth
        .ok_or_else(|| anyhow!("renewing the token: the answer holds no token"))?;
    Ok(held(token.clone(), auth.lease_duration, auth.renewable))
}

fn held(token: SecretString, ttl_seconds: u64, renewable: bool) -> Held {
    // Two thirds of the lifetime: late enough to renew rarely, early enough that a slow
    // request signed just before still arrives in time.
    let refresh_at =
        (ttl_seconds > 0).then(|| Instant::now() + Duration::from_secs(ttl_seconds) * 2 / 3);
    Held {
        token,
        refresh_at,
        renewable,
    }
}

fn start_up(http: &Http, what: &str, e: SinkError) -> anyhow::Error {
    let hint = match &e {
        SinkError::Refused { status: 403, .. } => "the credential was refused: check the token, role or secret id, and the auth method's mount",
        SinkError::Refused { .. } | SinkError::Conflict => "check [sink] in the config",
        SinkError::Transient { .. } => "is the secret store running and reachable at [sink] address?",
    };
    anyhow!(
        "secret store at {}: {what} failed: {e} (hint: {hint})",
        http.address()
    )
}
