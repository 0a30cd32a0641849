//! The crash-trial harness (issue 3): a mass reset killed with SIGKILL at random moments, resumed
//! (and killed again) until done, must lose no password.
//!
//! Per trial: 5,000 users against the sandbox with latency and a few dropped connections; `run`
//! is SIGKILLed at a random moment, then `resume` is started, and killed again with falling
//! probability, until one finishes. Then, judged by the sandbox's own truth:
//! - zero users whose current password is missing from the decrypted export;
//! - every manifest row exactly once in the report, all succeeded;
//! - no user reset more often than the requests journaled for it (every request a kill caught in
//!   flight has its intent in the journal, so this bounds resets by attempts plus those kills).
//!
//! `CRASH_TRIALS=N` sets the number of trials (default 20); `scripts/crash-trials --trials N`.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use common::{text, Env};
use credrotate::sandbox::{Faults, Options};
use rand::Rng;
use serde_json::Value;

const USERS: usize = 5000;

struct Tally {
    kills: usize,
    in_flight_at_kills: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_lose_no_password() {
    let trials: usize = std::env::var("CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let faults = Faults {
        latency: Duration::from_millis(2),
        jitter: Duration::from_millis(8),
        drop_ratio: 0.01,
        ..Faults::default()
    };
    let env = Env::start(Options {
        faults,
        ..Options::default()
    })
    .await;
    let config = env.config("", "");
    let mut tally = Tally {
        kills: 0,
        in_flight_at_kills: 0,
    };
    for trial in 0..trials {
        run_trial(&env, &config, trial, &mut tally).await;
    }
    eprintln!(
        "crash trials: {trials} trials, {} kills, {} requests in flight at a kill (uncertain rows resumed), 0 lost passwords",
        tally.kills, tally.in_flight_at_kills
    );
    assert!(tally.kills >= trials, "every trial killed its first run");
    assert!(
        tally.in_flight_at_kills > 0,
        "some kills caught requests in flight"
    );
}

async fn run_trial(env: &Env, config: &std::path::Path, trial: usize, tally: &mut Tally) {
    let users: Vec<String> = (1..=USERS)
        .map(|i| format!("t{trial:03}-u{i:05}@example.test"))
        .collect();
    let manifest = env.path(&format!("users-{trial}.csv"));
    std::fs::write(&manifest, format!("user\n{}\n", users.join("\n"))).unwrap();
    let out = env.path(&format!("out-{trial}"));
    let run = env
        .run_cmd()
        .manifest(&manifest)
        .config(config)
        .out(&out)
        .args(["--rate", "unlimited", "--concurrency", "32"])
        .args(["--max-attempts", "10"])
        .args_vec();
    let o = out.to_str().unwrap();
    let resume = ["resume", "--out", o, "--yes", "--progress", "never"].map(String::from);
    let mut round = 0;
    loop {
        let args: &[String] = if out.join("journal.jsonl").exists() {
            &resume
        } else {
            &run
        };
        // The first run is always killed; later rounds less and less often.
        let kill = round == 0 || rand::thread_rng().gen_bool(0.6 / round as f64);
        let finished = start(
            env,
            args,
            kill.then(|| rand::thread_rng().gen_range(50..3000)),
        )
        .await;
        match finished {
            None => {
                tally.kills += 1;
                tally.in_flight_at_kills += in_flight(&out);
            }
            Some(output) => {
                assert_eq!(
                    output.status.code(),
                    Some(0),
                    "trial {trial}: {args:?} failed:\n{}",
                    text(&output.stderr)
                );
                break;
            }
        }
        round += 1;
        assert!(round < 40, "trial {trial}: no end after 40 rounds");
    }
    check_trial(env, &out, &users, trial).await;
}

/// Runs credrotate; with `kill_after_ms`, SIGKILLs it then (None if it was killed).
async fn start(
    env: &Env,
    args: &[String],
    kill_after_ms: Option<u64>,
) -> Option<std::process::Output> {
    let mut child = env.spawn(args);
    if let Some(ms) = kill_after_ms {
        tokio::select! {
            status = child.wait() => { status.unwrap(); }
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {
                child.kill().await.unwrap();
                return None;
            }
        }
    }
    Some(child.wait_with_output().await.unwrap())
}

/// Intents without an outcome in the journal: requests a kill caught in flight.
fn in_flight(out: &std::path::Path) -> usize {
    let Ok(text) = std::fs::read_to_string(out.join("journal.jsonl")) else {
        return 0;
    };
    let mut open = HashSet::new();
    for line in text.lines() {
        let Ok(rec) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let key = (
            rec["session"].as_u64(),
            rec["row"].as_u64(),
            rec["attempt"].as_u64(),
        );
        match rec["type"].as_str() {
            Some("intent") => open.insert(key),
            Some("outcome") => open.remove(&key),
            _ => false,
        };
    }
    open.len()
}

async fn check_trial(env: &Env, out: &std::path::Path, users: &[String], trial: usize) {
    let report: Vec<Value> =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report.len(),
        USERS,
        "trial {trial}: every manifest row exactly once in the report"
    );
    let rows: HashSet<u64> = report.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(rows.len(), USERS, "trial {trial}: no row twice");
    assert!(
        report.iter().all(|r| r["status"] == "succeeded"),
        "trial {trial}: all succeeded"
    );

    let export = env.decrypt(&out.join("passwords.csv.age"));
    let pairs: Vec<(String, String)> = export
        .iter()
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    let ok = env.verify(&pairs).await;
    let signs_in: HashSet<&String> = pairs
        .iter()
        .zip(&ok)
        .filter(|(_, ok)| **ok)
        .map(|(p, _)| &p.0)
        .collect();
    let missing: Vec<&String> = users.iter().filter(|u| !signs_in.contains(u)).collect();
    assert!(
        missing.is_empty(),
        "trial {trial}: {} users whose current password is not in the export: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    let stats = env.stats().await;
    let resets = stats["resets_per_user"].as_object().unwrap();
    let attempts: HashMap<&str, u64> = report
        .iter()
        .map(|r| (r["user"].as_str().unwrap(), r["attempts"].as_u64().unwrap()))
        .collect();
    let mut over = BTreeMap::new();
    for u in users {
        let n = resets.get(u).and_then(Value::as_u64).unwrap_or(0);
        assert!(n >= 1, "trial {trial}: {u} was never reset");
        if n > attempts[u.as_str()] {
            over.insert(u.clone(), (n, attempts[u.as_str()]));
        }
    }
    assert!(
        over.is_empty(),
        "trial {trial}: users reset more often than journaled attempts: {over:?}"
    );
}
