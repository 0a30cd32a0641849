//! A provider that applies the password and then answers badly, or redirects the request: from
//! the sandbox's truth, no password it applied is missing from the export, nothing reaches the
//! host a redirect or a foreign Location names, and the run says how many rows need checking.

mod common;

use std::time::Duration;

use common::{assert_exit, text, Env};
use credrotate::sandbox::{Faults, OddAnswers, Options};

fn hostile() -> Options {
    Options {
        faults: Faults {
            drop_ratio: 0.05,
            odd: OddAnswers {
                redirect: 0.06,
                text_200: 0.06,
                foreign_location: 0.06,
                poll_404: 0.06,
                error_after_apply: 0.06,
                unknown_state: 0.06,
                slow: 0.03,
                slow_delay: Duration::from_secs(3),
            },
            ..Faults::default()
        },
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_applied_password_is_exported_whatever_the_answer() {
    let env = Env::start(hostile()).await;
    let users = 300;
    let manifest = env.users_csv(users);
    let config = env.config("", "");
    let out = env
        .run(
            &manifest,
            &config,
            &[
                "--rate",
                "unlimited",
                "--concurrency",
                "16",
                "--timeout",
                "1s",
                "--max-failure-rate",
                "1",
            ],
        )
        .await;
    assert_exit(&out, 1);
    let acc = env.assert_no_password_lost(users).await;
    assert!(
        acc.uncertain > 0,
        "odd answers make rows uncertain: {acc:?}"
    );
    assert!(acc.failed > 0, "redirects are refused: {acc:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("check {} row(s)", acc.uncertain)),
        "the final lines say how many rows need checking:\n{stdout}"
    );
    let summary = env.summary();
    assert_eq!(summary["uncertain"], acc.uncertain as u64);
    let codes: Vec<String> = env
        .report_json()
        .iter()
        .filter_map(|r| r["error_code"].as_str().map(str::to_owned))
        .collect();
    for code in [
        "redirect_refused",
        "bad_response",
        "foreign_location",
        "poll_Request_ResourceNotFound",
        "operation_unknown_state",
    ] {
        assert!(codes.iter().any(|c| c == code), "no {code} in {codes:?}");
    }
    assert!(
        env.path("out").join("journal.key").exists(),
        "an unfinished run keeps its key for resume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_resets_uncertain_rows_until_confirmed() {
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
    let users = 60;
    let manifest = env.users_csv(users);
    let config = env.config("", "");
    let args = ["--rate", "unlimited", "--max-failure-rate", "1"];
    let out = env.run(&manifest, &config, &args).await;
    assert_exit(&out, 1);
    let first = env.assert_no_password_lost(users).await;
    assert!(first.uncertain > 0, "{first:?}");
    // Up to a few resumes: each resets the uncertain rows again (30 % odd answers each time).
    let mut last = None;
    for _ in 0..10 {
        let out = env.resume(&[]).await;
        let code = out.status.code();
        last = Some(out);
        env.assert_no_password_lost(users).await;
        if code == Some(0) {
            break;
        }
    }
    let last = last.unwrap();
    assert_exit(&last, 0);
    let acc = env.assert_no_password_lost(users).await;
    assert_eq!((acc.succeeded, acc.uncertain), (users, 0));
}
