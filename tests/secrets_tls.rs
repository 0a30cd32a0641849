//! TLS: the sandbox's `--tls` mode with its throwaway CA, trusted by `run --ca-file` for both the
//! provider and the OAuth2 token endpoint, and refused without it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{assert_exit, Env, BIN};
use credrotate::sandbox::Options;
use serde_json::Value;

/// A TLS sandbox, and the folder holding its CA file (keep it alive for the test).
async fn tls_env() -> (Env, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("sandbox-ca.pem");
    let env = Env::start(Options {
        tls: true,
        tls_ca_file: Some(ca),
        ..Options::default()
    })
    .await;
    (env, dir)
}

/// The sandbox's stats, over HTTPS trusting its CA.
async fn stats(env: &Env) -> Value {
    let pem = std::fs::read(env.sandbox.ca_file().unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!("{}/_sandbox/stats", env.sandbox.base_url());
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_sandbox_ca_succeeds() {
    let (env, _ca_dir) = tls_env().await;
    assert!(env.sandbox.base_url().starts_with("https://127.0.0.1:"));
    let manifest = env.users_csv(20);
    let config = env.config("", "");
    let ca = env.sandbox.ca_file().unwrap().to_str().unwrap().to_owned();
    let out = env.run(&manifest, &config, &["--ca-file", &ca]).await;
    assert_exit(&out, 0);
    assert_eq!(env.export().len(), 20);
    assert_eq!(stats(&env).await["resets_total"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_over_https_trust_the_ca_file_too() {
    let (env, _ca_dir) = tls_env().await;
    let manifest = env.users_csv(5);
    let secret = env.path("secret");
    std::fs::write(&secret, env.sandbox.client_secret()).unwrap();
    let auth = format!(
        "[providers.graph.auth]\ntype = \"client_credentials\"\ntenant = \"t\"\nclient_id = \"credrotate-sandbox\"\nclient_secret_file = \"{}\"\nauthority = \"{}\"\n",
        secret.display(),
        env.sandbox.base_url()
    );
    let config = env.profile_config(&auth);
    let ca = env.sandbox.ca_file().unwrap().to_str().unwrap().to_owned();
    let out = env.run(&manifest, &config, &["--ca-file", &ca]).await;
    assert_exit(&out, 0);
    // Without the CA, the token endpoint is not trusted: a start-up error, nothing sent.
    let out = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .out(env.path("out2"))
        .no_recipient()
        .no_progress()
        .arg("--export-plaintext")
        .output()
        .await;
    assert_exit(&out, 2);
    assert_eq!(stats(&env).await["resets_total"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_the_ca_is_not_trusted() {
    let (env, _ca_dir) = tls_env().await;
    let manifest = env.users_csv(2);
    let config = env.config("", "");
    let out = env.run(&manifest, &config, &["--max-attempts", "1"]).await;
    assert_exit(&out, 1);
    assert!(env.report_json().iter().all(|r| r["status"] == "failed"));
    assert_eq!(stats(&env).await["reset_requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_ca_file_is_a_config_error() {
    let (env, _ca_dir) = tls_env().await;
    let manifest = env.users_csv(1);
    let config = env.config("", "");
    let bogus = env.path("bogus.pem");
    std::fs::write(&bogus, "hello\n").unwrap();
    let out = env
        .run(&manifest, &config, &["--ca-file", bogus.to_str().unwrap()])
        .await;
    assert_exit(&out, 2);
    assert!(common::text(&out.stderr).contains("no PEM certificate"));
}

#[test]
fn sandbox_command_tls_prints_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--tls", "--ca-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert!(ready["base_url"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert_eq!(ready["ca_file"].as_str().unwrap(), ca.to_str().unwrap());
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}
