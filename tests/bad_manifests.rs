//! Every malformed manifest in tests/fixtures/bad (listed in EXPECTED.tsv) makes the real binary
//! exit 2 with an error naming the file, the line (and column for JSON) and the field, while the
//! sandbox sees zero requests, with Graph and the Okta example configured.

mod common;

use std::path::Path;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;

/// Graph (the default provider) plus `examples/okta.toml`'s http provider, renamed `http`, both
/// at the sandbox: a `.` user would reach Okta's create-user endpoint, `..` Graph's
/// `users/authentication/...`.
fn config(env: &Env) -> std::path::PathBuf {
    let okta = std::fs::read_to_string("examples/okta.toml").unwrap();
    let okta = okta
        .replace("https://example.okta.com", &env.sandbox.base_url())
        .replace("OKTA_TOKEN", "CREDROTATE_TOKEN")
        .replace("providers.okta", "providers.http");
    let graph = format!(
        "[providers.graph]\nkind = \"graph\"\nbase_url = \"{}\"\npoll_interval = \"10ms\"\n\n",
        env.sandbox.graph_url()
    );
    env.write("credrotate.toml", &(graph + &okta))
}

/// Runs `credrotate run` on `manifest` (a name relative to `dir`) and checks the exit code 2, a
/// line `location: ...substring...` on stderr, no panic and no report.
async fn assert_refused(
    env: &Env,
    config: &Path,
    dir: &Path,
    manifest: &str,
    location: &str,
    substring: &str,
) {
    let out_dir = env.path(&format!("out-{manifest}"));
    let out = env
        .run_cmd()
        .manifest(manifest)
        .config(config)
        .out(&out_dir)
        .args(["--provider", "graph"])
        .current_dir(dir)
        .output()
        .await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&format!("{location}:")) && l.contains(substring)),
        "{manifest}: stderr lacks `{location}: ...{substring}...`:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{manifest}: {stderr}");
    assert!(
        !out_dir.join("report.csv").exists(),
        "{manifest}: a report was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_manifests_exit_2_and_send_nothing() {
    let env = Env::start(Options::default()).await;
    let config = config(&env);
    // Run from the fixtures folder so messages name the file as given.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let expected = std::fs::read_to_string(fixtures.join("EXPECTED.tsv")).unwrap();
    let mut checked = 0;
    for line in expected
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, location, substring] = cols[..] else {
            panic!("bad EXPECTED.tsv line {line:?}")
        };
        assert_refused(&env, &config, &fixtures, file, location, substring).await;
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} malformed manifests checked");
    let stats = env.stats().await;
    assert_eq!(
        stats["requests_total"], 0,
        "the sandbox saw requests: {stats}"
    );
}

/// A 10 MB single line (generated here rather than committed) is one located problem in each
/// format, read in bounded memory, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabyte_lines_exit_2_and_send_nothing() {
    let env = Env::start(Options::default()).await;
    let config = config(&env);
    let big = "x".repeat(10 << 20);
    let cases = [
        (
            "big.csv",
            format!("user\nalice@example.com\n{big}\n"),
            "big.csv:3",
            "this record is longer than 1048576 bytes",
        ),
        (
            "big.json",
            format!("[\n  {{\"user\": \"{big}\"}}\n]\n"),
            "big.json:2:3",
            "this element is larger than 1048576 bytes",
        ),
        (
            "big.jsonl",
            format!("{{\"user\": \"a\"}}\n{{\"user\": \"{big}\"}}\n"),
            "big.jsonl:2:1",
            "line is longer than 1048576 bytes",
        ),
    ];
    for (name, content, location, substring) in cases {
        env.write(name, &content);
        assert_refused(&env, &config, env.dir.path(), name, location, substring).await;
    }
    let stats = env.stats().await;
    assert_eq!(
        stats["requests_total"], 0,
        "the sandbox saw requests: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_json_and_jsonl_manifests_rotate_alike() {
    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/good");
    for name in ["users.csv", "users.json", "users.jsonl"] {
        let env = Env::start(Options::default()).await;
        let out = env.run(&good.join(name), &env.config("", ""), &[]).await;
        assert_exit(&out, 0);
        let rows = env.export();
        assert_eq!(rows.len(), 5, "{name}");
        let pairs: Vec<(String, String)> =
            rows.iter().map(|r| (r[0].clone(), r[3].clone())).collect();
        assert!(env.verify(&pairs).await.into_iter().all(|ok| ok), "{name}");
    }
}
