//! Delivering confirmed passwords to a real OpenBao server (`[sink]`, issue 13). Every check reads
//! the server's side: the secret and its KV version as OpenBao holds them, and whether the
//! delivered password signs in at the sandbox.

mod common;
#[path = "sink/openbao.rs"]
mod openbao;

use std::path::Path;

use common::{assert_exit, text, user, Env};
use credrotate::sandbox::{Faults, GraphMode, OddAnswers, Options};
use openbao::{OpenBao, WRITE_POLICY};
use serde_json::Value;

fn sync() -> Options {
    Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    }
}

/// `[sink]` at `bao` with the token in a file, plus `extra` keys.
fn sink(env: &Env, bao: &OpenBao, token: &str, extra: &str) -> String {
    let file = env.write("vault-token", token);
    format!(
        "[sink]\nkind = \"vault\"\naddress = \"{}\"\ntoken_file = \"{}\"\n{extra}\n",
        bao.address,
        file.display()
    )
}

fn secret_name(i: usize) -> String {
    format!("credrotate/graph/{}", user(i))
}

/// Every succeeded row's password is in the store at version 1 and signs in; returns how many.
async fn assert_delivered(env: &Env, bao: &OpenBao) -> usize {
    let mut pairs = Vec::new();
    for r in env
        .report_json()
        .iter()
        .filter(|r| r["status"] == "succeeded")
    {
        let name = format!("credrotate/graph/{}", r["user"].as_str().unwrap());
        let (data, version) = bao.secret(&name).await.expect("the secret was written");
        assert_eq!(version, 1, "{name}: written once");
        assert_eq!(
            (r["delivery"].as_str(), r["kv_version"].as_u64()),
            (Some("delivered"), Some(1))
        );
        assert_eq!(
            (data["user"].as_str(), data["provider"].as_str()),
            (r["user"].as_str(), Some("graph"))
        );
        assert!(
            data["run_id"].as_str().is_some_and(|id| id.len() == 16),
            "{data}"
        );
        assert!(
            data["rotated_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{data}"
        );
        pairs.push((
            r["user"].as_str().unwrap().to_owned(),
            data["password"].as_str().unwrap().to_owned(),
        ));
    }
    let ok = env.verify(&pairs).await;
    assert!(
        ok.iter().all(|ok| *ok),
        "delivered passwords that do not sign in: {ok:?}"
    );
    pairs.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_rows_are_delivered_and_uncertain_ones_are_not() {
    let bao = OpenBao::start().await;
    // About a third of the resets are applied but answered unreadably: uncertain.
    let env = Env::start(Options {
        faults: Faults {
            odd: OddAnswers {
                text_200: 0.3,
                ..OddAnswers::default()
            },
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let token = bao.token("credrotate", WRITE_POLICY).await;
    let config = env.config("", &sink(&env, &bao, &token, ""));
    let n = 30;
    let out = env.run(&env.users_csv(n), &config, &[]).await;
    let report = env.report_json();
    let uncertain: Vec<&Value> = report
        .iter()
        .filter(|r| r["status"] == "uncertain")
        .collect();
    assert_exit(&out, if uncertain.is_empty() { 0 } else { 1 });
    let delivered = assert_delivered(&env, &bao).await;
    assert_eq!(delivered + uncertain.len(), n, "{report:?}");
    for r in &uncertain {
        let name = format!("credrotate/graph/{}", r["user"].as_str().unwrap());
        assert!(
            bao.secret(&name).await.is_none(),
            "{name}: an uncertain password was written"
        );
        assert!(
            r["delivery"]
                .as_str()
                .unwrap()
                .starts_with("undelivered: uncertain reset"),
            "{r}"
        );
    }
    let summary = env.summary();
    assert_eq!(
        (
            summary["delivered"].as_u64(),
            summary["undelivered"].as_u64()
        ),
        (Some(delivered as u64), Some(uncertain.len() as u64))
    );
    // The age export is still complete: confirmed passwords and every candidate.
    assert_eq!(env.export().len(), n);
    env.assert_secrets_absent(&out, &[token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_path_fails_each_delivery_keeps_the_export_and_report_deliver_retries() {
    let bao = OpenBao::start().await;
    let env = Env::start(sync()).await;
    let denied = bao
        .token(
            "elsewhere",
            r#"path "secret/data/other/*" { capabilities = ["create", "update", "read"] }"#,
        )
        .await;
    let config = env.config("", &sink(&env, &bao, &denied, ""));
    let n = 5;
    let out = env.run(&env.users_csv(n), &config, &[]).await;
    assert_exit(&out, 1);
    for r in env.report_json() {
        assert_eq!(r["status"], "succeeded");
        assert_eq!(
            r["delivery"], "undelivered: HTTP 403: permission denied",
            "{r}"
        );
    }
    assert_eq!(env.summary()["undelivered"], n as u64);
    assert!(text(&out.stderr).contains("delivering it to the secret store failed"));
    env.assert_export_verifies(n).await;
    assert!(bao.secret(&secret_name(1)).await.is_none());
    let resets = env.stats().await["families"]["graph"]["requests"].clone();

    // With a token that may write there, `report --deliver` delivers without resetting anything.
    env.write("vault-token", &bao.token("credrotate", WRITE_POLICY).await);
    let out_dir = env.path("out");
    // Without the provider's token: delivering resets nothing, so it needs only the sink's.
    let mut report = env.command();
    report.env_remove("CREDROTATE_TOKEN");
    report.args(["report", "--out", out_dir.to_str().unwrap(), "--deliver"]);
    let again = common::run_cmd::assert(report).await.get_output().clone();
    assert_exit(&again, 0);
    assert_eq!(assert_delivered(&env, &bao).await, n);
    assert_eq!(
        env.stats().await["families"]["graph"]["requests"],
        resets,
        "nothing was reset"
    );
    assert!(
        !out_dir.join("journal.key").exists(),
        "the run is complete: its key is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sink_or_a_refused_token_stops_the_run_before_any_reset() {
    let bao = OpenBao::start().await;
    let env = Env::start(sync()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = format!(
        "[sink]\nkind = \"vault\"\naddress = \"http://{closed}\"\ntoken_file = \"{}\"\n",
        env.write("vault-token", "whatever").display()
    );
    for (sink, expected) in [
        (unreachable, "cannot connect"),
        (sink(&env, &bao, "not-a-token", ""), "HTTP 403"),
    ] {
        let config = env.config("", &sink);
        let out = env.run(&env.users_csv(3), &config, &[]).await;
        assert_exit(&out, 2);
        let err = text(&out.stderr);
        assert!(err.contains("[sink]") && err.contains(expected), "{err}");
        assert!(err.contains("nothing was sent"), "{err}");
    }
    assert_eq!(
        env.stats().await["families"]["graph"]["requests"]
            .as_u64()
            .unwrap_or(0),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_sink_section_is_a_config_error_naming_its_line() {
    let env = Env::start(sync()).await;
    let config = env.config("", "[sink]\nkind = \"vault\"\naddress = \"http://vault.example.com:8200\"\ntoken_env = \"T\"\n");
    let out = env
        .credrotate(
            &[
                "validate",
                "--manifest",
                env.users_csv(1).to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ],
            &[],
        )
        .await;
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("credrotate.toml:3:1: [sink]: address: "),
        "{err}"
    );
    assert!(err.contains("only allowed for loopback"), "{err}");
}

/// Waits until the journal in `dir` holds `n` succeeded outcomes.
async fn wait_for_confirmations(dir: &Path, n: usize) {
    for _ in 0..1200 {
        let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default();
        let done = journal
            .lines()
            .filter(|l| l.contains(r#""type":"outcome""#) && l.contains(r#""status":"succeeded""#))
            .count();
        if done >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the run did not confirm {n} rows");
}

/// A run killed with SIGKILL at `stall` (before the first delivery request, or after writes
/// whose delivery records were never journaled) is delivered exactly once by `resume`.
async fn killed_then_resumed(stall: &str) {
    let bao = OpenBao::start().await;
    let env = Env::start(sync()).await;
    let token = bao.token("credrotate", WRITE_POLICY).await;
    let config = env.config("", &sink(&env, &bao, &token, "concurrency = 2"));
    let n = 6;
    let mut child = env
        .run_cmd()
        .manifest(env.users_csv(n))
        .config(&config)
        .env("CREDROTATE_TEST_DELIVERY_STALL", stall)
        .spawn();
    wait_for_confirmations(&env.path("out"), n).await;
    if stall == "after" {
        // Both delivery workers wrote a secret and stalled before journaling it.
        for _ in 0..1200 {
            let mut written = 0;
            for i in 1..=n {
                written += usize::from(bao.secret(&secret_name(i)).await.is_some());
            }
            if written >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let resumed = env.resume(&[]).await;
    assert_exit(&resumed, 0);
    assert_eq!(assert_delivered(&env, &bao).await, n);
    let stats = env.stats().await;
    assert_eq!(
        stats["families"]["graph"]["requests"], n as u64,
        "resume reset nothing again"
    );
    let journal = std::fs::read_to_string(env.path("out").join("journal.jsonl")).unwrap();
    assert_eq!(
        journal.matches(r#""type":"delivery""#).count(),
        n,
        "one delivery record per row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_confirmation_and_delivery_resume_delivers_once() {
    killed_then_resumed("before").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_write_before_its_record_resume_does_not_write_again() {
    killed_then_resumed("after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_tokens_that_expire_mid_run_are_obtained_again() {
    let bao = OpenBao::start().await;
    bao.policy("credrotate", WRITE_POLICY).await;
    let (role_id, secret_id) = bao.approle("credrotate", "credrotate", "2s").await;
    let env = Env::start(sync()).await;
    let secret_file = env.write("secret-id", &secret_id);
    let sink = format!(
        "[sink]\nkind = \"vault\"\naddress = \"{}\"\n[sink.auth]\ntype = \"approle\"\nrole_id = \"{role_id}\"\nsecret_id_file = \"{}\"\n",
        bao.address,
        secret_file.display()
    );
    let config = env.config("", &sink);
    // 12 resets at 3/s take at least 4 s: tokens living 2 s expire twice on the way.
    let n = 12;
    let out = env
        .run(
            &env.users_csv(n),
            &config,
            &["--rate", "3/s", "--burst", "1"],
        )
        .await;
    assert_exit(&out, 0);
    assert_eq!(assert_delivered(&env, &bao).await, n);
    let logins = bao.approle_logins("credrotate", &secret_id).await;
    assert!(logins >= 3, "signed in {logins} time(s)");
    env.assert_secrets_absent(&out, &[secret_id, role_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_auth_signs_in_with_the_service_account_token() {
    use reqwest::Method;
    use serde_json::json;
    let bao = OpenBao::start().await;
    let jwt = openbao::service_account_jwt("rotation", "credrotate", "uid-7");
    let k8s = openbao::TokenReviews::start(jwt.clone(), "rotation", "credrotate", "uid-7").await;
    bao.api(
        Method::POST,
        "sys/auth/kubernetes",
        Some(json!({"type": "kubernetes"})),
    )
    .await;
    // A CA is required by the config; the fake API is plain http on loopback, so it goes unused.
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()])
        .unwrap()
        .cert
        .pem();
    let config =
        json!({"kubernetes_host": k8s.url, "disable_local_ca_jwt": true, "kubernetes_ca_cert": ca});
    bao.api(Method::POST, "auth/kubernetes/config", Some(config))
        .await;
    bao.policy("credrotate", WRITE_POLICY).await;
    let role = json!({"bound_service_account_names": ["credrotate"],
        "bound_service_account_namespaces": ["rotation"], "token_policies": ["credrotate"], "token_ttl": "15m"});
    bao.api(Method::POST, "auth/kubernetes/role/credrotate", Some(role))
        .await;
    let env = Env::start(sync()).await;
    let jwt_file = env.write("sa-token", &jwt);
    let sink = format!(
        "[sink]\nkind = \"vault\"\naddress = \"{}\"\n[sink.auth]\ntype = \"kubernetes\"\nrole = \"credrotate\"\njwt_file = \"{}\"\n",
        bao.address,
        jwt_file.display()
    );
    let out = env
        .run(&env.users_csv(3), &env.config("", &sink), &[])
        .await;
    assert_exit(&out, 0);
    assert_eq!(assert_delivered(&env, &bao).await, 3);
    assert!(
        k8s.reviews.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "OpenBao reviewed the service account token"
    );
    env.assert_secrets_absent(&out, &[jwt]);
}
