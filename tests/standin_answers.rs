//! Answers the sandbox would never give, from small stand-in servers: a `Retry-After` of
//! u64::MAX seconds, and a provider that echoes the password at the 500-byte cut of its message.

mod common;

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;
use serde_json::Value;

/// Serves `app` on loopback; returns its Graph v1.0 base URL.
async fn stand_in(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1.0")
}

const RESET: &str = "/v1.0/users/{id}/authentication/methods/{method}/resetPassword";

fn config(env: &Env, base: &str) -> std::path::PathBuf {
    env.write(
        "standin.toml",
        &format!("[providers.graph]\nkind = \"graph\"\nbase_url = \"{base}\"\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_centuries_fails_the_row_instead_of_stalling_or_panicking() {
    let app = Router::new().route(
        RESET,
        post(|| async {
            let mut h = HeaderMap::new();
            h.insert("retry-after", "18446744073709551615".parse().unwrap());
            (StatusCode::TOO_MANY_REQUESTS, h, "{}").into_response()
        }),
    );
    let base = stand_in(app).await;
    let env = Env::start(Options::default()).await;
    let (manifest, config) = (env.users_csv(3), config(&env, &base));
    let started = Instant::now();
    let out = env
        .run(&manifest, &config, &["--max-retry-after", "5m"])
        .await;
    assert!(started.elapsed() < Duration::from_secs(60), "no stall");
    assert_exit(&out, 1);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    for row in env.report_json() {
        assert_eq!(row["status"], "failed", "a 429 proves nothing was applied");
        let message = row["error_message"].as_str().unwrap();
        assert!(message.contains("--max-retry-after 5m"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_echoed_across_the_cut_is_redacted_before_truncation() {
    let app = Router::new().route(
        RESET,
        post(|body: axum::body::Bytes| async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let echoed = v["newPassword"].as_str().unwrap_or_default().to_owned();
            let message = format!("{}{echoed} is too weak", "x".repeat(490));
            let body =
                serde_json::json!({"error": {"code": "invalidPassword", "message": message}});
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }),
    );
    let base = stand_in(app).await;
    let env = Env::start(Options::default()).await;
    let passwords: Vec<String> = (0..5)
        .map(|i| format!("Echoed-Secret-{i}-Zq7#pW2m"))
        .collect();
    let mut csv = String::from("user,new_password\n");
    for (i, p) in passwords.iter().enumerate() {
        csv += &format!("{},{p}\n", common::user(i + 1));
    }
    let manifest = env.write("users.csv", &csv);
    let config = config(&env, &base);
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 1);
    let report = std::fs::read_to_string(env.path("out").join("report.csv")).unwrap();
    assert!(report.contains("xxxx"), "the message is in the report");
    let journal = std::fs::read_to_string(env.path("out").join("journal.jsonl")).unwrap();
    for p in &passwords {
        let head = &p[..10];
        for (name, t) in [
            ("report", &report),
            ("journal", &journal),
            ("stdout", &text(&out.stdout)),
            ("stderr", &text(&out.stderr)),
        ] {
            assert!(
                !t.contains(head),
                "the start of a password leaked into the {name}"
            );
        }
    }
}
