//! A run streams its report and export as rows finish (issue 10): what it leaves must be exactly
//! what `credrotate report` rebuilds from the journal alone, with a recipient's key once the run
//! key is gone; and the journal holds one sealed data key, not an age file per password.

mod common;

use std::collections::BTreeMap;

use common::{assert_exit, text, Env};
use credrotate::sandbox::{Faults, Options};
use serde_json::Value;

/// Report rows by row number (a run lists them as they finished).
fn by_row(rows: Vec<Value>) -> BTreeMap<u64, Value> {
    rows.into_iter()
        .map(|r| (r["row"].as_u64().expect("row"), r))
        .collect()
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_report_and_export_equal_the_rebuild_from_the_journal() {
    let faults = Faults {
        error_ratio: 0.2,
        drop_ratio: 0.1,
        op_failure_ratio: 0.1,
        ..Faults::default()
    };
    let env = Env::start(Options {
        faults,
        ..Options::default()
    })
    .await;
    let users = 300;
    let manifest = env.users_csv(users);
    let config = env.config("", "");
    let args = [
        "--rate",
        "unlimited",
        "--concurrency",
        "16",
        "--max-attempts",
        "2",
        // The faults are the point here, not a reason to stop.
        "--max-failure-rate",
        "1",
    ];
    let ran = env.run(&manifest, &config, &args).await;
    let out = env.path("out");
    assert!(
        matches!(ran.status.code(), Some(0 | 1)),
        "{}",
        text(&ran.stderr)
    );

    // The streamed files: valid JSON, one line per row, statuses of every kind.
    let streamed_report = env.report_json();
    assert_eq!(streamed_report.len(), users);
    let statuses: std::collections::BTreeSet<&str> = streamed_report
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert!(
        statuses.contains("succeeded") && statuses.len() > 1,
        "{statuses:?}"
    );
    let streamed_export = env.export();
    let streamed_summary = env.summary();
    let csv_lines = std::fs::read_to_string(out.join("report.csv")).unwrap();
    assert_eq!(csv_lines.lines().count(), users + 1);
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".credrotate-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // The journal: one wrapped data key in the header, compact intents.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert_eq!(journal.matches("BEGIN AGE ENCRYPTED FILE").count(), 1);
    let header: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(header["version"], 4);
    let intents: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("\"type\":\"intent\""))
        .collect();
    assert!(intents.len() >= users);
    let longest = intents.iter().map(|l| l.len()).max().unwrap();
    assert!(longest <= 300, "an intent line of {longest} bytes");

    // Rebuilt from the journal with the recipient's key alone (a finished run has no run key).
    let complete = streamed_summary["uncertain"] == 0 && streamed_summary["pending"] == 0;
    assert_eq!(!out.join("journal.key").exists(), complete);
    let key = env.write(
        "key.txt",
        &format!("{}\n", credrotate_secret(&env.identity)),
    );
    for name in [
        "report.json",
        "report.csv",
        "summary.json",
        "passwords.csv.age",
    ] {
        std::fs::remove_file(out.join(name)).unwrap();
    }
    let rebuilt = env
        .credrotate(
            &[
                "report",
                "--out",
                out.to_str().unwrap(),
                "--identity",
                key.to_str().unwrap(),
            ],
            &[],
        )
        .await;
    assert!(
        matches!(rebuilt.status.code(), Some(0 | 1)),
        "{}",
        text(&rebuilt.stderr)
    );
    assert_eq!(by_row(env.report_json()), by_row(streamed_report));
    assert_eq!(sorted(env.export()), sorted(streamed_export));
    let summary = env.summary();
    for field in [
        "succeeded",
        "failed",
        "uncertain",
        "rows",
        "retries",
        "pending",
    ] {
        assert_eq!(summary[field], streamed_summary[field], "{field}");
    }
    if complete {
        env.assert_export_verifies(users).await;
    }
}

/// The age identity file line of `id` (AGE-SECRET-KEY-1...).
fn credrotate_secret(id: &age::x25519::Identity) -> String {
    use age::secrecy::ExposeSecret;
    id.to_string().expose_secret().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_cleanly_leaves_exactly_its_artefacts() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(50);
    let config = env.config("", "");
    assert_exit(&env.run(&manifest, &config, &[]).await, 0);
    let mut names: Vec<String> = std::fs::read_dir(env.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "journal.jsonl",
            "passwords.csv.age",
            "report.csv",
            "report.json",
            "summary.json"
        ]
    );
    env.assert_export_verifies(50).await;
}
