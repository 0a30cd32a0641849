//! Starting and stopping the sandbox: bind, assemble the router, serve on a task.
//!
//! Invariant: once [`Sandbox::start`] returns, the socket is bound and listening, so clients may
//! connect immediately (the kernel queues connections until the server task accepts them).
//! Dropping a [`Sandbox`] without [`Sandbox::shutdown`] aborts the server task.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::middleware;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::net::{KillSwitch, KillableListener};
use super::state::Shared;
use super::{
    admin, auth0, graph_more, graph_v1, keycloak, observe, okta, pingone, random, ratelimit, tls,
    token, token_rfc, wristband, Options,
};

/// How long `shutdown` waits for in-flight requests before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running sandbox.
pub struct Sandbox {
    /// The address actually bound (the port is real even when `listen` asked for port 0).
    pub addr: SocketAddr,
    token: String,
    oauth_client_id: String,
    client_secret: String,
    base_url: String,
    shared: Arc<Shared>,
    ca_file: Option<PathBuf>,
    /// PingOne's HTTP Basic user name.
    client_id: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Sandbox {
    /// Binds `opts.listen`, spawns the server task and returns once it is listening.
    pub async fn start(mut opts: Options) -> anyhow::Result<Sandbox> {
        opts.validate()?;
        let listener = TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on {} for the sandbox", opts.listen))?;
        let addr = listener.local_addr()?;
        let material = opts.tls.then(tls::generate).transpose()?;
        let scheme = if material.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", advertised(addr));
        let ca_file = match &material {
            Some(m) => Some(write_ca(&opts, addr, &m.ca_pem)?),
            None => None,
        };
        let token = opts.token.clone().unwrap_or_else(random::token);
        let client_secret = opts
            .oauth
            .client_secret
            .get_or_insert_with(random::token)
            .clone();
        let oauth_client_id = opts.oauth.client_id.clone();
        let client_id = opts
            .client_id
            .clone()
            .unwrap_or_else(|| pingone::DEFAULT_CLIENT_ID.to_owned());
        let trap = super::hostile::Trap::start(addr.ip())
            .await
            .context("cannot start the sandbox's trap listener")?;
        let shared = Arc::new(Shared::new(opts, token.clone(), base_url.clone(), trap));
        let app = router(shared.clone()).into_make_service_with_connect_info::<KillSwitch>();

        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let listener = KillableListener::new(listener);
        let task = match material {
            Some(m) => {
                let server = axum::serve(tls::TlsListener::new(listener, m.config), app)
                    .with_graceful_shutdown(stopped);
                tokio::spawn(async move { server.await })
            }
            None => {
                let server = axum::serve(listener, app).with_graceful_shutdown(stopped);
                tokio::spawn(async move { server.await })
            }
        };
        tracing::debug!(%base_url, "sandbox listening");
        Ok(Sandbox {
            addr,
            token,
            oauth_client_id,
            client_secret,
            base_url,
            shared,
            ca_file,
            client_id,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// With `Options::tls`: the CA certificate (PEM) clients must trust, e.g. via `--ca-file`.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// `http://127.0.0.1:PORT`, or `https://` with `Options::tls` (a loopback address even when
    /// listening on all interfaces).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `{base_url}/v1.0`: the Graph v1.0 root.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base_url)
    }

    /// `{base_url}/api`: the PingOne Directory API root (`base_url` of a `pingone` provider).
    pub fn pingone_url(&self) -> String {
        format!("{}/api", self.base_url)
    }

    /// `{base_url}/beta`: the Graph beta root.
    pub fn graph_beta_url(&self) -> String {
        format!("{}/beta", self.base_url)
    }

    /// PingOne's HTTP Basic user name (client id); its API key is [`Sandbox::token`].
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The bearer token the provider routes accept.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The OAuth2 client secret its token endpoint accepts (for `OAuthOptions::client_id`).
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Every access token, refresh token and device code the token endpoint issued so far, and
    /// the fixed token and client secret: what leak tests search the client's outputs for.
    pub fn issued_secrets(&self) -> Vec<String> {
        let mut all = self.shared.token.history();
        all.push(self.token.clone());
        all.push(self.client_secret.clone());
        all
    }

    /// One JSON line for whoever started `credrotate sandbox`: where it is and which token.
    pub fn ready_line(&self) -> String {
        serde_json::json!({
            "base_url": self.base_url(),
            "graph_v1": self.graph_url(),
            "graph_beta": self.graph_beta_url(),
            "pingone": self.pingone_url(),
            "wristband": self.base_url(),
            "keycloak": self.base_url(),
            "client_id": self.client_id,
            "token": self.token,
            "oauth_authority": self.base_url(),
            "oauth_client_id": self.oauth_client_id,
            "client_secret": self.client_secret,
            "ca_file": self.ca_file,
        })
        .to_string()
    }

    /// Stops accepting, lets in-flight requests finish (up to a grace period), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "sandbox server ended with an error"),
                Ok(Err(e)) => tracing::warn!(error = %e, "sandbox server task failed"),
                Err(_) => {
                    tracing::warn!(
                        "sandbox: requests still running after the grace period; aborting"
                    );
                    task.abort();
                }
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Runs a sandbox until SIGINT (Ctrl-C) or SIGTERM, printing [`Sandbox::ready_line`] to stdout
/// once it listens; for `credrotate sandbox`.
pub async fn serve_until_signal(opts: Options) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(opts).await?;
    println!("{}", sandbox.ready_line());
    shutdown_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Provider routes (wrapped by `observe`, with the API fallback) merged with the admin routes.
fn router(shared: Arc<Shared>) -> Router {
    let limits = Arc::new(ratelimit::Limits::new(&shared.opts));
    let api = Router::new()
        .merge(graph_v1::routes())
        .merge(graph_more::routes())
        .merge(pingone::routes())
        .merge(wristband::routes())
        .merge(keycloak::routes())
        .merge(okta::routes(limits.clone()))
        .merge(auth0::routes(limits.clone()))
        .fallback(observe::fallback)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            observe::observe,
        ));
    admin::routes()
        .merge(token::routes())
        .merge(token_rfc::routes(&shared.opts))
        .merge(ratelimit::routes(limits))
        .merge(wristband::admin_routes())
        .merge(api)
        .with_state(shared)
}

/// Writes the TLS CA certificate to `Options::tls_ca_file`, or a per-port file in the temp dir.
fn write_ca(opts: &Options, addr: SocketAddr, pem: &str) -> anyhow::Result<PathBuf> {
    let path = opts.tls_ca_file.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("credrotate-sandbox-{}-ca.pem", addr.port()))
    });
    tls::write_ca(&path, pem)?;
    Ok(path)
}

/// The address clients should use: loopback of the same family when bound to "any".
fn advertised(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}
