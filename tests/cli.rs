//! The command line as a public interface (DESIGN.md §2), checked with `assert_cmd`: `--help`,
//! `--version` and every subcommand's help exit 0; every refusal (usage, config or manifest
//! error, an unknown flag, `report`/`resume` on a folder without a journal) exits 2 with a
//! message naming what is wrong; a refused run sends nothing (the sandbox's own request count
//! stays at zero); `validate` and `--dry-run` print or report the plan without sending; a finished
//! output folder is not overwritten; `demo` rotates the examples end to end.

mod common;

use assert_cmd::Command;
use common::run_cmd::{assert, RunCmd};
use common::{Env, BIN};
use credrotate::sandbox::Options;
use predicates::prelude::*;
use predicates::str::contains;

const SUBCOMMANDS: [&str; 6] = ["run", "resume", "report", "validate", "sandbox", "demo"];

async fn assert_nothing_sent(env: &Env) {
    let stats = env.stats().await;
    assert_eq!(
        stats["requests_total"], 0,
        "the sandbox saw requests: {stats}"
    );
}

#[test]
fn help_lists_the_commands() {
    let mut help = Command::new(BIN).arg("--help").assert().code(0);
    for cmd in SUBCOMMANDS {
        help = help.stdout(contains(cmd));
    }
}

#[test]
fn version_prints_name_and_version() {
    let version = format!("credrotate {}", env!("CARGO_PKG_VERSION"));
    Command::new(BIN)
        .arg("--version")
        .assert()
        .code(0)
        .stdout(contains(version));
}

#[test]
fn every_subcommand_has_help() {
    for cmd in SUBCOMMANDS {
        Command::new(BIN)
            .args([cmd, "--help"])
            .assert()
            .code(0)
            .stdout(contains(format!("Usage: credrotate {cmd}")));
    }
}

#[test]
fn report_and_resume_on_a_folder_without_a_journal_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    Command::new(BIN)
        .args(["report", "--out", out])
        .assert()
        .code(2)
        .stderr(contains("journal").and(contains("hint: is this the --out folder of a run?")));
    Command::new(BIN)
        .args(["resume", "--out", out, "--yes"])
        .assert()
        .code(2)
        .stderr(contains("holds no journal").and(contains("nothing to resume")));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the refusals left the folder empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_exit_2_and_send_nothing() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(5);
    let config = env.config("", "");
    let out_dir = env.path("out");
    let run = || {
        env.run_cmd()
            .manifest(&manifest)
            .config(&config)
            .no_progress()
    };
    // What each refused run lacks or gets wrong, and what its message must say.
    let cases: Vec<(RunCmd, &str)> = vec![
        (run().no_recipient(), "--recipient"),
        (run().no_yes(), "--yes"),
        (run().no_recipient().recipient("age1bogus"), "recipient"),
        (run().args(["--token", "abc"]), "CREDROTATE_TOKEN"),
        (run().args(["--rate", "fast"]), "rate"),
        (run().args(["--provider", "nope"]), "nope"),
        (run().manifest("missing.csv"), "missing.csv"),
        (run().config("missing.toml"), "missing.toml"),
        (run().arg("--frobnicate"), "--frobnicate"),
    ];
    for (cmd, expect) in cases {
        let args = cmd.args_vec();
        let refused = cmd.assert().await.code(2).stderr(contains(expect));
        if args.iter().any(|a| a == "--token") {
            refused.stderr(contains("abc").not());
        }
        assert!(!out_dir.join("report.csv").exists(), "{args:?}");
    }
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_and_plain_http_are_config_errors() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(3);
    let config = env.config("", "");
    let mut cmd = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .out("o")
        .no_progress()
        .assert_cmd();
    cmd.env_remove("CREDROTATE_TOKEN");
    assert(cmd)
        .await
        .code(2)
        .stderr(contains("CREDROTATE_TOKEN"));

    let remote = env.write(
        "remote.toml",
        "[providers.graph]\nkind = \"graph\"\nbase_url = \"http://graph.example.com/v1.0\"\n",
    );
    let run = env.run_cmd().manifest(&manifest).config(&remote);
    run.assert().await.code(2).stderr(contains("https"));
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_folder_with_results_is_not_overwritten() {
    let env = Env::start(Options::default()).await;
    let run = env
        .run_cmd()
        .manifest(env.users_csv(3))
        .config(env.config("", ""));
    run.assert().await.code(0);
    let export = env.path("out").join("passwords.csv.age");
    let before = std::fs::read(&export).unwrap();
    run.assert().await.code(2);
    assert_eq!(std::fs::read(&export).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_prints_the_plan_and_sends_nothing() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(40);
    let config = env.config("rate = \"20/s\"", "");
    let mut cmd = env.command();
    cmd.arg("validate")
        .args(["--manifest", manifest.to_str().unwrap()])
        .args(["--config", config.to_str().unwrap()]);
    assert(cmd).await.code(0).stdout(
        contains("40 row(s)")
            .and(contains("graph"))
            .and(contains("20/s"))
            // The estimated duration at 20/s for 40 rows.
            .and(contains("2s")),
    );
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_accepts_every_good_manifest_format() {
    let env = Env::start(Options::default()).await;
    let config = env.config("", "");
    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/good");
    for name in ["users.csv", "users.json", "users.jsonl"] {
        let mut cmd = env.command();
        cmd.arg("validate")
            .args(["--manifest", good.join(name).to_str().unwrap()])
            .args(["--config", config.to_str().unwrap()]);
        assert(cmd)
            .await
            .code(0)
            .stdout(contains("manifest OK: 5 row(s)").and(contains("graph: 5 row(s)")));
    }
    assert_nothing_sent(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_without_sending() {
    let env = Env::start(Options::default()).await;
    let run = env
        .run_cmd()
        .manifest(env.users_csv(7))
        .config(env.config("", ""))
        .arg("--dry-run");
    run.assert().await.code(0);
    let report = env.report_json();
    assert_eq!(report.len(), 7);
    assert!(report.iter().all(|r| r["status"] == "dry_run"));
    assert!(!env.path("out").join("passwords.csv.age").exists());
    assert_nothing_sent(&env).await;
}

/// `demo` brings its own in-process sandbox, so this test needs no `Env`.
#[test]
fn demo_rotates_the_examples_and_verifies_every_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    Command::new(BIN)
        .args([
            "demo",
            "--out",
            out.to_str().unwrap(),
            "--progress",
            "never",
        ])
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .assert()
        .code(0)
        .stdout(contains("250/250 exported passwords sign in"));
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
        let plain = Command::new("age")
            .args(["-d", "-i", key.to_str().unwrap()])
            .arg(out.join("passwords.csv.age"))
            .assert()
            .success();
        let plain = String::from_utf8_lossy(&plain.get_output().stdout).into_owned();
        assert!(plain.starts_with("user,method,provider,password"));
        assert_eq!(plain.lines().count(), 251);
    }
}

fn which_age() -> bool {
    std::process::Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `credrotate run … | head -1`: the reader goes away before the summary is printed. The run
/// still finishes, exits 0 and does not panic (Rust ignores SIGPIPE, so a plain `println!`
/// would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_nothing() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(20);
    let config = env.config("", "");
    let mut child = env.run_cmd().manifest(&manifest).config(&config).spawn();
    drop(child.stdout.take());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        tokio::io::AsyncReadExt::read_to_string(&mut e, &mut stderr)
            .await
            .expect("stderr");
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(120), child.wait())
        .await
        .expect("ends")
        .expect("exit status");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(env.stats().await["resets_total"], 20);
}
