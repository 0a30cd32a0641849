//! Opening one bound LDAP connection: TCP, then LDAPS or StartTLS (rustls, with the system's
//! roots plus `ca_file`), then a simple bind as `bind_dn`.
//!
//! Invariants: nothing here sends a password change, so every failure is "not applied" (see
//! `result_code::before_send`); the bind password is exposed only to the bind request; each
//! step is bounded by the provider's timeout.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;
use url::Url;

use super::result_code::before_send;
use crate::provider::Attempt;
use crate::secret::{ExposeSecret, SecretString};

/// Where and as whom connections are opened.
#[derive(Clone)]
pub struct Endpoint {
    pub url: Url,
    pub starttls: bool,
    pub tls: Arc<ClientConfig>,
    pub bind_dn: String,
    pub bind_password: SecretString,
    /// For each of connect, bind and every later operation.
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A connection bound as `bind_dn`, its driver task spawned.
    pub async fn open(&self) -> Result<Ldap, Attempt> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.starttls)
            .set_config(self.tls.clone());
        let (conn, mut ldap) = LdapConnAsync::from_url_with_settings(settings, &self.url)
            .await
            .map_err(|e| before_send(&format!("connect to {}", self.url), &e))?;
        ldap3::drive!(conn);
        let bound = ldap
            .with_timeout(self.timeout)
            .simple_bind(&self.bind_dn, self.bind_password.expose_secret())
            .await
            .and_then(|r| r.success());
        match bound {
            Ok(_) => Ok(ldap),
            Err(e) => Err(before_send(&format!("bind as {}", self.bind_dn), &e)),
        }
    }
}

/// TLS trust: the system's roots, plus every certificate of the given PEM files.
pub fn tls_config(ca_files: &[&Path]) -> Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: a private CA comes from ca_file anyway.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for path in ca_files {
        let mut found = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("ca_file: cannot read {}", path.display()))?
        {
            let cert = cert.with_context(|| {
                format!("ca_file {}: not a PEM certificate bundle", path.display())
            })?;
            roots.add(cert).with_context(|| {
                format!(
                    "ca_file {}: a certificate is not usable as a trust anchor",
                    path.display()
                )
            })?;
            found += 1;
        }
        if found == 0 {
            bail!("ca_file {} holds no PEM certificate (hint: it must contain -----BEGIN CERTIFICATE----- blocks)", path.display());
        }
    }
    let config = crate::auth::tls::client_config(roots)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let e = tls_config(&[&empty]).unwrap_err().to_string();
        assert!(
            e.starts_with("ca_file") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            tls_config(&[&dir.path().join("missing.pem")]).unwrap_err()
        );
        assert!(e.starts_with("ca_file: cannot read"), "{e}");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, cert.pem()).unwrap();
        assert!(tls_config(&[&good]).is_ok());
    }
}
