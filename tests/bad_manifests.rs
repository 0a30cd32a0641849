//! Every malformed manifest in tests/fixtures/bad (listed in EXPECTED.tsv) makes the real binary
//! exit 2 with an error naming the file, the line (and column for JSON) and the field, while the
//! sandbox sees zero requests.

mod common;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_manifests_exit_2_and_send_nothing() {
    let env = Env::start(Options::default()).await;
    let config = env.config("", "");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
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
        // Run from the fixtures folder so messages name the file as given.
        let recipient = env.recipient();
        let out_dir = env.path(&format!("out-{file}"));
        let mut cmd = tokio::process::Command::new(common::BIN);
        cmd.args([
            "run",
            "--manifest",
            file,
            "--config",
            config.to_str().unwrap(),
        ])
        .args([
            "--out",
            out_dir.to_str().unwrap(),
            "--recipient",
            &recipient,
            "--yes",
        ])
        .env("CREDROTATE_TOKEN", env.sandbox.token())
        .current_dir(&fixtures);
        let out = cmd.output().await.unwrap();
        assert_exit(&out, 2);
        let stderr = text(&out.stderr);
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("{location}:")) && l.contains(substring)),
            "{file}: stderr lacks `{location}: ...{substring}...`:\n{stderr}"
        );
        assert!(
            !out_dir.join("report.csv").exists(),
            "{file}: a report was written"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} malformed manifests checked");
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
