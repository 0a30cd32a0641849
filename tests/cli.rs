//! The command line as a public interface: help, refusals and exit codes, and the rule that a
//! refused run sends nothing (the sandbox's own request count stays at zero).

mod common;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;

async fn assert_nothing_sent(env: &Env) {
    let stats = env.stats().await;
    assert_eq!(
        stats["requests_total"], 0,
        "the sandbox saw requests: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_the_commands() {
    let env = Env::start(Options::default()).await;
    let out = env.credrotate(&["--help"], &[]).await;
    assert_exit(&out, 0);
    for cmd in ["run", "validate", "sandbox", "demo"] {
        assert!(text(&out.stdout).contains(cmd), "{cmd} missing from --help");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_exit_2_and_send_nothing() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(5);
    let config = env.config("", "");
    let (m, c) = (manifest.to_str().unwrap(), config.to_str().unwrap());
    let out_dir = env.path("out");
    let o = out_dir.to_str().unwrap();
    let r = env.recipient();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--manifest", m, "--config", c, "--out", o, "--yes"],
            "--recipient",
        ),
        (
            vec![
                "run",
                "--manifest",
                m,
                "--config",
                c,
                "--out",
                o,
                "--recipient",
                &r,
            ],
            "--yes",
        ),
        (
            vec![
                "run",
                "--manifest",
                m,
                "--config",
                c,
                "--out",
                o,
                "--recipient",
                "age1bogus",
                "--yes",
            ],
            "recipient",
        ),
        (
            vec![
                "run",
                "--manifest",
                m,
                "--config",
                c,
                "--out",
                o,
                "--recipient",
                &r,
                "--yes",
                "--token",
                "abc",
            ],
            "CREDROTATE_TOKEN",
        ),
        (
            vec![
                "run",
                "--manifest",
                m,
                "--config",
                c,
                "--out",
                o,
                "--recipient",
                &r,
                "--yes",
                "--rate",
                "fast",
            ],
            "rate",
        ),
        (
            vec![
                "run",
                "--manifest",
                m,
                "--config",
                c,
                "--out",
                o,
                "--recipient",
                &r,
                "--yes",
                "--provider",
                "nope",
            ],
            "nope",
        ),
        (
            vec![
                "run",
                "--manifest",
                "missing.csv",
                "--config",
                c,
                "--out",
                o,
                "--recipient",
                &r,
                "--yes",
            ],
            "missing.csv",
        ),
        (
            vec![
                "run",
                "--manifest",
                m,
                "--config",
                "missing.toml",
                "--out",
                o,
                "--recipient",
                &r,
                "--yes",
            ],
            "missing.toml",
        ),
    ];
    for (args, expect) in cases {
        let out = env.credrotate(&args, &[]).await;
        assert_exit(&out, 2);
        let err = text(&out.stderr);
        assert!(
            err.contains(expect),
            "{args:?}: stderr lacks {expect:?}:\n{err}"
        );
        assert!(
            !err.contains("abc") || !args.contains(&"--token"),
            "the refused token was echoed"
        );
        assert!(!out_dir.join("report.csv").exists());
    }
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_and_plain_http_are_config_errors() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(3);
    let config = env.config("", "");
    let r = env.recipient();
    let (m, c) = (manifest.to_str().unwrap(), config.to_str().unwrap());
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.args([
        "run",
        "--manifest",
        m,
        "--config",
        c,
        "--out",
        "o",
        "--recipient",
        &r,
        "--yes",
    ])
    .env_remove("CREDROTATE_TOKEN")
    .current_dir(env.dir.path());
    let out = cmd.output().await.unwrap();
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("CREDROTATE_TOKEN"));

    let remote = env.path("remote.toml");
    std::fs::write(
        &remote,
        "[providers.graph]\nkind = \"graph\"\nbase_url = \"http://graph.example.com/v1.0\"\n",
    )
    .unwrap();
    let out = env.run(&manifest, &remote, &[]).await;
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_folder_with_results_is_not_overwritten() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(3);
    let config = env.config("", "");
    assert_exit(&env.run(&manifest, &config, &[]).await, 0);
    let before = std::fs::read(env.path("out").join("passwords.csv.age")).unwrap();
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 2);
    assert_eq!(
        std::fs::read(env.path("out").join("passwords.csv.age")).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_prints_the_plan_and_sends_nothing() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(40);
    let config = env.config("rate = \"20/s\"", "");
    let out = env
        .credrotate(
            &[
                "validate",
                "--manifest",
                manifest.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ],
            &[],
        )
        .await;
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("40 row(s)") && stdout.contains("graph") && stdout.contains("20/s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2s"),
        "estimated duration at 20/s for 40 rows: {stdout}"
    );
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_without_sending() {
    let env = Env::start(Options::default()).await;
    let out = env
        .run(&env.users_csv(7), &env.config("", ""), &["--dry-run"])
        .await;
    assert_exit(&out, 0);
    let report = env.report_json();
    assert_eq!(report.len(), 7);
    assert!(report.iter().all(|r| r["status"] == "dry_run"));
    assert!(!env.path("out").join("passwords.csv.age").exists());
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_rotates_the_examples_and_verifies_every_password() {
    let env = Env::start(Options::default()).await;
    let out = env.path("demo");
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.args([
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--progress",
        "never",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    let result = cmd.output().await.unwrap();
    assert_exit(&result, 0);
    let stdout = text(&result.stdout);
    assert!(
        stdout.contains("250/250 exported passwords sign in"),
        "{stdout}"
    );
    for name in [
        "report.csv",
        "report.json",
        "summary.json",
        "passwords.csv.age",
        "demo-identity.txt",
    ] {
        assert!(out.join(name).exists(), "{name} missing");
    }
    if which_age() {
        let key = out.join("demo-identity.txt");
        let plain = std::process::Command::new("age")
            .args([
                "-d",
                "-i",
                key.to_str().unwrap(),
                out.join("passwords.csv.age").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(plain.status.success());
        assert!(text(&plain.stdout).starts_with("user,method,provider,password"));
        assert_eq!(text(&plain.stdout).lines().count(), 251);
    }
}

fn which_age() -> bool {
    std::process::Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
