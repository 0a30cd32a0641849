//! Every config in `examples/` is accepted by `credrotate validate` as shipped: secrets named by
//! `*_env` keys are set to dummies (validate reads them, sends nothing), and the manifest has the
//! columns the example's kinds need. A broken example is the first thing a new user meets.

mod common;

use std::path::Path;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;

/// The environment variables an example reads its secrets from.
fn secret_envs(config: &str) -> Vec<String> {
    config
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            let key = key.trim();
            (key.ends_with("_env")).then(|| value.split('"').nth(1).map(str::to_owned))?
        })
        .collect()
}

/// A manifest whose rows satisfy the example's kinds.
fn manifest_for(config: &str) -> &'static str {
    let has = |kind: &str| config.contains(&format!("kind = \"{kind}\""));
    if has("pingone") {
        "user,old_password\nuser1@example.test,Old-password-1\n"
    } else if has("wristband") {
        "user,email_auth_code\nuser1@example.test,code1\n"
    } else {
        "user\nuser1@example.test\n"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_config_validates() {
    let env = Env::start(Options::default()).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let config = std::fs::read_to_string(&path).unwrap();
        let manifest = env.write("users.csv", manifest_for(&config));
        let envs = secret_envs(&config);
        let vars: Vec<(&str, &str)> = envs
            .iter()
            .map(|v| (v.as_str(), "dummy-secret-value"))
            .collect();
        let args = [
            "validate",
            "--manifest",
            manifest.to_str().unwrap(),
            "--config",
            path.to_str().unwrap(),
        ];
        let out = env.credrotate(&args, &vars).await;
        assert_exit(&out, 0);
        assert!(
            text(&out.stdout).contains("manifest OK"),
            "{}: {}",
            path.display(),
            text(&out.stdout)
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} examples found");
    assert_eq!(
        env.stats().await["requests_total"],
        0,
        "validate sent nothing"
    );
}
