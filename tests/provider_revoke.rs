//! The `revokeSignInSessions` follow-up step (`--revoke-sessions` or `revoke_sessions = true`).

mod common;

use common::{assert_exit, assert_saw_429_and_503, flaky, text, Env};
use credrotate::sandbox::{Faults, GraphMode, Options};

fn sync() -> Options {
    Options {
        graph_mode: GraphMode::Sync204,
        ..Options::default()
    }
}

fn revocations(stats: &serde_json::Value) -> Vec<u64> {
    let map = stats["revocations_per_user"].as_object().unwrap();
    map.values().map(|v| v.as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_revokes_sessions_after_each_reset() {
    let env = Env::start(sync()).await;
    let out = env
        .run(
            &env.users_csv(10),
            &env.config("", ""),
            &["--revoke-sessions"],
        )
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(10).await;
    assert!(env
        .report_json()
        .iter()
        .all(|r| r["revoke_sessions"] == "succeeded"));
    let stats = env.stats().await;
    assert_eq!(revocations(&stats), vec![1; 10]);
    assert_eq!(
        stats["families"]["graph"]["requests"], 20,
        "resets and revokes share the lane's pace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_flag_nothing_is_revoked() {
    let env = Env::start(sync()).await;
    let out = env.run(&env.users_csv(3), &env.config("", ""), &[]).await;
    assert_exit(&out, 0);
    assert!(env
        .report_json()
        .iter()
        .all(|r| r["revoke_sessions"].is_null()));
    assert!(revocations(&env.stats().await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_revoke_neither_undoes_nor_hides_the_reset() {
    let env = Env::start(Options {
        faults: Faults {
            revoke_denied: true,
            ..Faults::default()
        },
        ..sync()
    })
    .await;
    let cfg = env.config("revoke_sessions = true", "");
    let out = env.run(&env.users_csv(4), &cfg, &[]).await;
    // Exit 1: the resets stand, but the follow-up the operator asked for did not happen.
    assert_exit(&out, 1);
    env.assert_export_verifies(4).await;
    for r in env.report_json() {
        assert_eq!(r["status"], "succeeded");
        assert_eq!(r["revoke_sessions"], "failed: Authorization_RequestDenied");
    }
    assert_eq!(env.summary()["revoke_failed"], 4);
    assert!(text(&out.stderr).contains("revoking the user's sign-in sessions failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revokes_are_retried_on_429_and_503() {
    let mut options = flaky(30.0, 3, 0.15);
    options.graph_mode = GraphMode::Sync204;
    let env = Env::start(options).await;
    let args = [
        "--rate",
        "100/s",
        "--max-attempts",
        "10",
        "--revoke-sessions",
        "--max-failure-rate",
        "1",
    ];
    let out = env
        .run(&env.users_csv(40), &env.config("", ""), &args)
        .await;
    assert_exit(&out, 0);
    env.assert_export_verifies(40).await;
    assert!(env
        .report_json()
        .iter()
        .all(|r| r["revoke_sessions"] == "succeeded"));
    let stats = env.stats().await;
    assert_saw_429_and_503(&stats);
    assert_eq!(revocations(&stats), vec![1; 40]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_profile_revokes_and_other_kinds_refuse() {
    let env = Env::start(Options::default()).await;
    let cfg = env.write(
        "profile.toml",
        &format!(
            "[providers.p]\nkind = \"graph-profile\"\nbase_url = \"{}\"\nrevoke_sessions = true\n",
            env.sandbox.graph_url()
        ),
    );
    let out = env.run(&env.users_csv(2), &cfg, &[]).await;
    assert_exit(&out, 0);
    assert_eq!(revocations(&env.stats().await), vec![1; 2]);

    let ping = format!(
        "[providers.ping]\nkind = \"pingone\"\nbase_url = \"{}\"\n",
        env.sandbox.pingone_url()
    );
    let auth = "[providers.ping.auth]\ntype = \"basic\"\nusername = \"x\"\npassword_env = \"CREDROTATE_TOKEN\"\n";
    let cases = [
        (
            format!("{ping}revoke_sessions = true\n{auth}"),
            vec![],
            "does not apply to kind \"pingone\"",
        ),
        (
            format!("{ping}{auth}"),
            vec!["--revoke-sessions"],
            "none of the configured providers can revoke",
        ),
    ];
    for (i, (config, extra, expected)) in cases.into_iter().enumerate() {
        let cfg = env.write(&format!("bad{i}.toml"), &config);
        let out = env.run(&env.users_csv(1), &cfg, &extra).await;
        assert_exit(&out, 2);
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
}
