//! Trust for outgoing HTTPS: rustls with the system's root certificates (and the bundled Mozilla
//! roots), plus the certificates of `--ca-file` for private CAs (and the sandbox's `--tls` mode).
//!
//! Invariant: a CA file that cannot be read or holds no certificate is a start-up error; every
//! HTTP client that carries a credential (providers, token endpoints) is built through
//! [`Tls::apply`] or (the providers' direct client) [`Tls::rustls_config`], so all of them trust
//! the same roots: the bundled Mozilla roots, the system's, and the CA file's.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Extra trust anchors for HTTPS clients.
#[derive(Clone, Default)]
pub struct Tls {
    ca_file: Option<PathBuf>,
    certs: Vec<reqwest::Certificate>,
    /// The same certificates, for rustls.
    ders: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("ca_file", &self.ca_file)
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl Tls {
    /// System roots only (no `--ca-file`).
    fn system() -> Tls {
        Tls::default()
    }

    /// System roots plus every certificate of the PEM file `path`.
    fn with_ca_file(path: &Path) -> Result<Tls> {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA file {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
            format!(
                "the CA file {} is not a PEM certificate bundle",
                path.display()
            )
        })?;
        if certs.is_empty() {
            bail!(
                "the CA file {} holds no PEM certificate (hint: it must contain -----BEGIN CERTIFICATE----- blocks)",
                path.display()
            );
        }
        let ders = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| {
                format!(
                    "the CA file {} is not a PEM certificate bundle",
                    path.display()
                )
            })?;
        Ok(Tls {
            ca_file: Some(path.to_owned()),
            certs,
            ders,
        })
    }

    /// `with_ca_file` when a path is given, else the system roots.
    pub(crate) fn load(ca_file: Option<&Path>) -> Result<Tls> {
        match ca_file {
            Some(path) => Tls::with_ca_file(path),
            None => Ok(Tls::system()),
        }
    }

    /// The `--ca-file` these roots were loaded with (LDAP builds its own TLS setup from it).
    pub(crate) fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Configures a client builder: rustls, built-in and system roots, plus the CA file's.
    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let mut builder = builder.use_rustls_tls().tls_built_in_root_certs(true);
        for cert in &self.certs {
            builder = builder.add_root_certificate(cert.clone());
        }
        builder
    }

    /// The same trust as [`Tls::apply`], for a rustls client: the bundled Mozilla roots, the
    /// system's (unreadable ones skipped) and the CA file's.
    pub(crate) fn rustls_config(&self) -> Result<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for cert in &self.ders {
            roots.add(cert.clone()).with_context(|| {
                format!(
                    "the CA file {}: a certificate is not usable as a trust anchor",
                    self.ca_file.as_deref().unwrap_or(Path::new("?")).display()
                )
            })?;
        }
        client_config(roots)
    }
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3, no client certificate) trusting `roots`.
pub(crate) fn client_config(roots: RootCertStore) -> Result<ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Tls::with_ca_file(&empty).unwrap_err();
        assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
        assert!(Tls::with_ca_file(&dir.path().join("missing.pem")).is_err());
        assert!(Tls::load(None).unwrap().ca_file.is_none());
    }

    #[test]
    fn a_generated_certificate_loads() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.pem()).unwrap();
        let tls = Tls::with_ca_file(&path).unwrap();
        assert_eq!(tls.certs.len(), 1);
        assert_eq!(tls.ders.len(), 1);
        assert!(tls.apply(reqwest::Client::builder()).build().is_ok());
        assert!(tls.rustls_config().is_ok());
    }
}
