//! `--shard I/N` end to end: N runs of one manifest take disjoint sets of rows whose union is the
//! manifest (each user reset exactly once, as the sandbox counts), each shard's report lists only
//! its rows and names its shard, `validate` plans a shard, and `report --merge` combines the
//! shards' reports and summaries (a missing shard is named and exits 1).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;
use serde_json::Value;

const USERS: usize = 30;
const SHARDS: usize = 3;

fn read_json(path: PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Runs every shard into `shard-I` and returns the folders.
async fn run_shards(env: &Env) -> Vec<PathBuf> {
    let (manifest, config) = (env.users_csv(USERS), env.config("", ""));
    let mut dirs = Vec::new();
    for i in 0..SHARDS {
        let dir = env.path(&format!("shard-{i}"));
        let out = env
            .run_cmd()
            .manifest(&manifest)
            .config(&config)
            .out(&dir)
            .args(["--shard", &format!("{i}/{SHARDS}")])
            .output()
            .await;
        assert_exit(&out, 0);
        dirs.push(dir);
    }
    dirs
}

fn merge_args<'a>(dirs: &'a [PathBuf], out: &'a str) -> Vec<&'a str> {
    let mut args = vec!["report", "--out", out, "--merge"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_are_disjoint_and_cover_the_manifest_and_merge_into_one_report() {
    let env = Env::start(Options::default()).await;
    let dirs = run_shards(&env).await;
    let mut all = BTreeSet::new();
    for (i, dir) in dirs.iter().enumerate() {
        let report = read_json(dir.join("report.json"));
        let users: BTreeSet<String> = report
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["user"].as_str().unwrap().to_owned())
            .collect();
        assert!(!users.is_empty(), "30 users reach every one of 3 shards");
        assert!(all.is_disjoint(&users), "shard {i} repeats another's rows");
        all.extend(users);
        let summary = read_json(dir.join("summary.json"));
        assert_eq!(summary["shard"], format!("{i}/{SHARDS}"));
        assert_eq!(summary["pending"], 0);
    }
    let expected: BTreeSet<String> = (1..=USERS).map(common::user).collect();
    assert_eq!(all, expected, "the shards' union is the manifest");
    let resets = env.stats().await["resets_per_user"].clone();
    let per_user = resets.as_object().unwrap();
    assert!(
        per_user.len() == USERS && per_user.values().all(|n| n == 1),
        "{resets}"
    );

    let merged = env.path("merged");
    let out = env
        .command()
        .args(merge_args(&dirs, merged.to_str().unwrap()))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report = read_json(merged.join("report.json"));
    let rows: Vec<u64> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(
        rows,
        (1..=USERS as u64).collect::<Vec<_>>(),
        "manifest order"
    );
    let summary = read_json(merged.join("summary.json"));
    assert_eq!(
        (
            summary["succeeded"].as_u64(),
            summary["manifest_rows"].as_u64()
        ),
        (Some(30), Some(30))
    );
    assert!(
        !merged.join("passwords.csv.age").exists(),
        "exports stay per shard"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_shard_is_named_and_exits_1() {
    let env = Env::start(Options::default()).await;
    let dirs = run_shards(&env).await;
    let merged = env.path("merged");
    let out = env
        .command()
        .args(merge_args(&dirs[..2], merged.to_str().unwrap()))
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(text(&out.stderr).contains("2/3"), "{}", text(&out.stderr));
    let twice = [dirs[0].clone(), dirs[0].clone()];
    let out = env
        .command()
        .args(merge_args(&twice, merged.to_str().unwrap()))
        .output()
        .unwrap();
    assert_exit(&out, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_plans_a_shard_and_a_bad_shard_is_refused() {
    let env = Env::start(Options::default()).await;
    let (manifest, config) = (env.users_csv(USERS), env.config("", ""));
    let m = manifest.to_str().unwrap();
    let c = config.to_str().unwrap();
    let out = env
        .command()
        .args(["validate", "--manifest", m, "--config", c, "--shard", "1/3"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("shard 1/3: "),
        "{}",
        text(&out.stdout)
    );
    let out = env
        .command()
        .args(["validate", "--manifest", m, "--shard", "3/3"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("0 <= I < N"),
        "{}",
        text(&out.stderr)
    );
}
