//! The sandbox's optional HTTPS: a throwaway CA and a server certificate for `localhost`,
//! `127.0.0.1` and `::1` (rcgen), and a listener that runs the TLS handshake on each accepted
//! connection before axum sees it.
//!
//! Invariants: the CA's private key never leaves memory and is dropped once the server
//! certificate is signed; only the CA certificate is written out (so clients can trust it with
//! `--ca-file`). A handshake that fails or takes longer than [`HANDSHAKE_TIMEOUT`] drops that
//! connection only. Connections keep their [`KillSwitch`], so the `drop_ratio` fault still works.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::net::{KillSwitch, KillableListener, KillableStream, Peer};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A fresh CA and the server configuration it vouches for.
pub(crate) struct Material {
    /// The CA certificate, PEM: what clients must trust.
    pub(crate) ca_pem: String,
    pub(crate) config: Arc<ServerConfig>,
}

/// Generates a CA and a server certificate signed by it.
pub(crate) fn generate() -> anyhow::Result<Material> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "credrotate sandbox CA (throwaway)");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "credrotate sandbox");
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], private)
        .context("cannot build the sandbox's TLS configuration")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Material {
        ca_pem: ca.pem(),
        config: Arc::new(config),
    })
}

/// Writes the CA certificate (public, so 0644 is fine) where clients can find it.
pub(crate) fn write_ca(path: &Path, pem: &str) -> anyhow::Result<()> {
    std::fs::write(path, pem).with_context(|| {
        format!(
            "cannot write the sandbox CA certificate to {}",
            path.display()
        )
    })
}

/// TCP + TLS handshake; yields TLS streams over killable TCP streams.
pub(crate) struct TlsListener {
    inner: KillableListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    pub(crate) fn new(inner: KillableListener, config: Arc<ServerConfig>) -> Self {
        TlsListener {
            inner,
            acceptor: TlsAcceptor::from(config),
        }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<KillableStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, peer) = self.inner.accept().await;
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp));
            match handshake.await {
                Ok(Ok(tls)) => return (tls, peer),
                Ok(Err(e)) => tracing::debug!(error = %e, "sandbox: TLS handshake failed"),
                Err(_) => tracing::debug!("sandbox: TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().switch.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_is_a_ca_and_a_server_config() {
        let m = generate().unwrap();
        assert!(m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!m.ca_pem.contains("PRIVATE KEY"));
        assert_eq!(m.config.alpn_protocols.len(), 2);
    }
}
