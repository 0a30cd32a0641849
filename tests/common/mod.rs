//! Shared helpers for integration tests: an in-process sandbox, a scratch folder, the real
//! `credrotate` binary run as a child process, and the sandbox's own view (stats, verify).
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

    /// Runs the real binary with the sandbox token in the environment.
    pub async fn credrotate(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(args)
            .env("CREDROTATE_TOKEN", self.sandbox.token())
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().await.expect("credrotate runs")
    }

    /// `run` with the usual flags and whatever `extra` adds.
    pub async fn run(&self, manifest: &Path, config: &Path, extra: &[&str]) -> Output {
        let out = self.path("out");
        let recipient = self.recipient();
        let mut args = vec![
            "run",
            "--manifest",
            manifest.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--recipient",
            &recipient,
            "--yes",
            "--progress",
            "never",
        ];
        args.extend_from_slice(extra);
        self.credrotate(&args, &[]).await
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

    /// Decrypts `out/passwords.csv.age` with the test identity: rows of user,method,provider,password.
    pub fn export(&self) -> Vec<Vec<String>> {
        let path = self.path("out").join("passwords.csv.age");
        let file = std::fs::File::open(&path).expect("export exists");
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
