//! Shared helpers for integration tests: an in-process sandbox, a scratch folder, the real
//! `credrotate` binary run as a child process (built with [`run_cmd::RunCmd`]), and the
//! sandbox's own view (stats, verify).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use credrotate::sandbox::{Options, Sandbox};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_credrotate");

pub struct Env {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub identity: age::x25519::Identity,
}

impl Env {
    pub async fn start(options: Options) -> Env {
        let sandbox = Sandbox::start(options).await.expect("sandbox starts");
        Env {
            sandbox,
            dir: tempfile::tempdir().unwrap(),
            identity: age::x25519::Identity::generate(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// Writes a config with one Graph provider named `graph` at the sandbox, plus `extra` TOML.
    pub fn config(&self, provider_extra: &str, top_extra: &str) -> PathBuf {
        let text = format!(
            "{top_extra}\n[providers.graph]\nkind = \"graph\"\nbase_url = \"{}\"\npoll_interval = \"10ms\"\n{provider_extra}\n",
            self.sandbox.graph_url()
        );
        let path = self.path("credrotate.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes a config with one `graph-profile` provider named `graph` at the sandbox (the Graph
    /// kind app-only credentials serve), plus `extra` TOML.
    pub fn profile_config(&self, extra: &str) -> PathBuf {
        let text = format!(
            "[providers.graph]\nkind = \"graph-profile\"\nbase_url = \"{}\"\n{extra}\n",
            self.sandbox.graph_url()
        );
        self.write("credrotate.toml", &text)
    }

    /// `[providers.kc]`: Keycloak's reset through the generic HTTP provider, signing in with
    /// client credentials at the realm's token endpoint (the only tokens the sandbox's Keycloak
    /// route takes), the secret in a file.
    pub fn keycloak_provider(&self, rate: &str, concurrency: usize) -> String {
        let secret = self.write("kc-secret", self.sandbox.client_secret());
        format!(
            r#"
[providers.kc]
kind = "http"
base_url = "{base}"
rate = "{rate}"
concurrency = {concurrency}
[providers.kc.auth]
type = "client_credentials"
token_url = "{base}/realms/r/protocol/openid-connect/token"
client_id = "{client}"
client_secret_file = "{secret}"
[providers.kc.http]
method = "PUT"
path = "/admin/realms/r/users/{{user}}/reset-password"
body = '{{"type": "password", "value": "{{password}}", "temporary": false}}'
"#,
            base = self.sandbox.base_url(),
            client = credrotate::sandbox::OAuthOptions::default().client_id,
            secret = secret.display(),
        )
    }

    /// Writes a CSV manifest of `n` users named `user00001@example.test`...
    pub fn users_csv(&self, n: usize) -> PathBuf {
        let mut text = String::from("user\n");
        for i in 1..=n {
            text += &format!("{}\n", user(i));
        }
        let path = self.path("users.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the real binary with `args` and `envs` (see [`run_cmd`] for its environment).
    pub async fn credrotate(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.tokio_command();
        cmd.args(args).envs(envs.iter().copied());
        cmd.output().await.expect("credrotate runs")
    }

    /// Starts the real binary in the background (stdout/stderr piped, killed if dropped).
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> tokio::process::Child {
        self.tokio_command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("credrotate starts")
    }

    /// The arguments of `run` with the usual flags (out folder `out`, the test recipient, no
    /// prompt, no progress bar) and whatever `extra` adds: [`Env::run_cmd`]'s list.
    pub fn run_args(&self, manifest: &Path, config: &Path, extra: &[&str]) -> Vec<String> {
        self.run_cmd()
            .manifest(manifest)
            .config(config)
            .args(extra)
            .args_vec()
    }

    /// `resume` of the out folder `out`, without a prompt or a progress bar, plus `extra`.
    pub async fn resume(&self, extra: &[&str]) -> Output {
        let out = self.path("out");
        let mut args = vec![
            "resume",
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--progress",
            "never",
        ];
        args.extend_from_slice(extra);
        self.credrotate(&args, &[]).await
    }

    /// `run` with the usual flags and whatever `extra` adds.
    pub async fn run(&self, manifest: &Path, config: &Path, extra: &[&str]) -> Output {
        self.run_cmd()
            .manifest(manifest)
            .config(config)
            .args(extra)
            .output()
            .await
    }

    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/_sandbox/stats", self.sandbox.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Asks the sandbox which (user, password) pairs sign in now.
    pub async fn verify(&self, pairs: &[(String, String)]) -> Vec<bool> {
        let body: Vec<Value> = pairs
            .iter()
            .map(|(u, p)| serde_json::json!({"user": u, "password": p}))
            .collect();
        let answer: Vec<Value> = reqwest::Client::new()
            .post(format!("{}/_sandbox/verify", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer
            .iter()
            .map(|a| a["ok"] == Value::Bool(true))
            .collect()
    }

    /// Decrypts `out/passwords.csv.age` with the test identity: rows of
    /// user,method,provider,password,state.
    pub fn export(&self) -> Vec<Vec<String>> {
        self.decrypt(&self.path("out").join("passwords.csv.age"))
    }

    /// Decrypts an export with the test identity.
    pub fn decrypt(&self, path: &Path) -> Vec<Vec<String>> {
        let file = std::fs::File::open(path).expect("export exists");
        let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).unwrap();
        let reader = decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .unwrap();
        csv::Reader::from_reader(reader)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    pub fn report_json(&self) -> Vec<Value> {
        serde_json::from_slice(&std::fs::read(self.path("out").join("report.json")).unwrap())
            .unwrap()
    }

    pub fn summary(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path("out").join("summary.json")).unwrap())
            .unwrap()
    }
}

pub fn user(i: usize) -> String {
    format!("user{i:05}@example.test")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `sig` (e.g. "-TERM") to a running child.
pub fn signal(child: &tokio::process::Child, sig: &str) {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap()
        .success());
}

/// Asserts the exit code, showing stdout and stderr when it differs.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "unexpected exit\n--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

impl Env {
    /// Writes `text` to `name` in the scratch folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Every exported password signs in at the sandbox; returns the export's rows.
    pub async fn assert_export_verifies(&self, users: usize) -> Vec<Vec<String>> {
        let rows = self.export();
        assert_eq!(
            rows.len(),
            users,
            "one exported password per user: {rows:?}"
        );
        let pairs: Vec<(String, String)> =
            rows.iter().map(|r| (r[0].clone(), r[3].clone())).collect();
        let ok = self.verify(&pairs).await;
        let failed: Vec<&String> = pairs
            .iter()
            .zip(&ok)
            .filter(|(_, ok)| !**ok)
            .map(|(p, _)| &p.0)
            .collect();
        assert!(
            failed.is_empty(),
            "exported passwords that do not sign in: {failed:?}"
        );
        rows
    }

    /// None of `secrets` appears in the report, summary, or the run's stdout/stderr.
    pub fn assert_secrets_absent(&self, out: &Output, secrets: &[String]) {
        let mut texts = vec![text(&out.stdout), text(&out.stderr)];
        for f in ["report.csv", "report.json", "summary.json"] {
            texts.push(std::fs::read_to_string(self.path("out").join(f)).unwrap_or_default());
        }
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !texts.iter().any(|t| t.contains(s.as_str())),
                "a secret leaked into an output"
            );
        }
    }

    /// The report row of `user`.
    pub fn report_row(&self, user: &str) -> Value {
        self.report_json()
            .into_iter()
            .find(|r| r["user"] == user)
            .unwrap_or_else(|| panic!("no report row for {user}"))
    }

    /// Asks the sandbox to "email" a Wristband code of `form` for `user`.
    pub async fn wristband_code(&self, user: &str, form: &str) -> Value {
        reqwest::Client::new()
            .post(format!(
                "{}/_sandbox/wristband/codes",
                self.sandbox.base_url()
            ))
            .json(&serde_json::json!({"user": user, "form": form}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Options with a throttle bucket and a 503 ratio: the retry rehearsal every provider gets.
pub fn flaky(rate: f64, capacity: u32, error_ratio: f64) -> credrotate::sandbox::Options {
    credrotate::sandbox::Options {
        faults: credrotate::sandbox::Faults {
            throttle: Some(credrotate::sandbox::Bucket { rate, capacity }),
            error_ratio,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Asserts the sandbox saw 429s and 503s.
pub fn assert_saw_429_and_503(stats: &Value) {
    let by = &stats["requests_by_status"];
    assert!(by["429"].as_u64().unwrap_or(0) > 0, "no 429 seen: {stats}");
    assert!(by["503"].as_u64().unwrap_or(0) > 0, "no 503 seen: {stats}");
}

pub mod run_cmd;
pub mod truth;
