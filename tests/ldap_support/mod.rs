//! Real directory servers for the LDAP tests: `scripts/ldap-servers` starts a throwaway slapd or
//! Samba AD domain controller under a temp folder; [`Directory`] stops it when dropped and asks
//! it, by binding, which passwords are in force (the server's truth, not the client's claim).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ldap-servers");

/// A running directory server and what the script said about it.
pub struct Directory {
    pub dir: tempfile::TempDir,
    info: HashMap<String, String>,
    pid: u32,
}

impl Directory {
    /// A fresh slapd with `users` users (uid=user0.., plus strict0..4 under a 64-character
    /// password policy).
    pub fn slapd(users: usize) -> Directory {
        Directory::start("slapd", users)
    }

    /// A fresh Samba AD domain controller with `users` users, LDAPS on 127.0.0.1:636. Fails
    /// loudly when Samba cannot start: the AD test must not pass by skipping.
    pub fn samba(users: usize) -> Directory {
        Directory::start("samba", users)
    }

    fn start(server: &str, users: usize) -> Directory {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join(server);
        let out = Command::new(SCRIPT)
            .args([server, home.to_str().unwrap(), &users.to_string()])
            .output()
            .expect("scripts/ldap-servers runs");
        assert!(
            out.status.success(),
            "scripts/ldap-servers {server} could not start a {server} server (the test needs a real one):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut d = Directory {
            dir,
            info: HashMap::new(),
            pid: 0,
        };
        d.read(&out.stdout);
        d
    }

    fn read(&mut self, stdout: &[u8]) {
        for line in String::from_utf8_lossy(stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                self.info.insert(k.to_owned(), v.to_owned());
            }
        }
        self.pid = self
            .get("pid")
            .parse()
            .expect("the script prints the server's pid");
    }

    pub fn get(&self, key: &str) -> &str {
        self.info
            .get(key)
            .unwrap_or_else(|| panic!("scripts/ldap-servers printed no {key}"))
    }

    pub fn url(&self) -> &str {
        self.get("url")
    }

    /// The password user `i` was created with.
    pub fn old_password(&self, i: usize) -> String {
        self.get("old_password").replace("{i}", &i.to_string())
    }

    /// Kills the server at once (as a crash would) and waits until it is gone.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new(&format!("/proc/{}", self.pid)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig` ("-STOP", "-CONT"...) to the server.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill {sig} {}", self.pid);
    }

    /// Starts the killed slapd again: same port, same data.
    pub fn restart_slapd(&mut self) {
        let home = self.dir.path().join("slapd");
        let out = Command::new(SCRIPT)
            .args(["slapd-start", home.to_str().unwrap()])
            .output()
            .expect("scripts/ldap-servers runs");
        assert!(
            out.status.success(),
            "slapd did not restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.read(&out.stdout);
    }

    /// A connection to the server (LDAPS with the server's CA when it has one).
    async fn connect(&self) -> Ldap {
        let mut settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(30));
        if let Some(ca) = self.info.get("ca_file") {
            settings = settings.set_config(tls_trusting(Path::new(ca)));
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, self.url())
            .await
            .expect("the test connects to the directory");
        ldap3::drive!(conn);
        ldap
    }

    /// For each (DN, password): does a simple bind succeed now?
    pub async fn binds(&self, pairs: &[(String, String)]) -> Vec<bool> {
        let mut ldap = self.connect().await;
        let mut answers = Vec::with_capacity(pairs.len());
        for (dn, password) in pairs {
            let r = ldap
                .with_timeout(Duration::from_secs(60))
                .simple_bind(dn, password)
                .await
                .expect("the directory answers a bind");
            assert!(
                r.rc == 0 || r.rc == 49,
                "bind as {dn}: unexpected answer {r:?}"
            );
            answers.push(r.rc == 0);
        }
        answers
    }

    /// A path in the server's temp folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        // Samba's fixed ports must be free for the next domain: wait (bounded) for the exit.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new(&format!("/proc/{}", self.pid)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn tls_trusting(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// `[providers.dir]` for this server, plus `extra` keys.
pub fn provider(d: &Directory, extra: &str) -> String {
    let ca = d
        .info
        .get("ca_file")
        .map(|ca| format!("ca_file = \"{ca}\"\n"))
        .unwrap_or_default();
    format!(
        "[providers.dir]\nkind = \"ldap\"\nurl = \"{}\"\nbind_dn = \"{}\"\nbind_password_file = \"{}\"\nbase_dn = \"{}\"\n{ca}{extra}\n",
        d.url(),
        d.get("bind_dn"),
        d.get("bind_password_file"),
        d.get("base_dn"),
    )
}

/// A manifest of login names (`user` column only).
pub fn manifest(users: impl IntoIterator<Item = String>) -> String {
    let mut text = String::from("user\n");
    for u in users {
        text += &format!("\"{}\"\n", u.replace('"', "\"\""));
    }
    text
}
