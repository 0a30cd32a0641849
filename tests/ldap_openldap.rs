//! `kind = "ldap"`, `mode = "password_modify"` against a real OpenLDAP (slapd, started by
//! `scripts/ldap-servers`): a thousand users rotated and proven by binding as each of them, a
//! password-policy refusal per row, server-generated passwords, and slapd killed mid-run and
//! restarted without a password lost. Every check binds at the server.

mod common;
mod ldap_support;

use std::time::{Duration, Instant};

use common::{assert_exit, text, Env};
use ldap_support::{manifest, provider, Directory};

const PEOPLE: &str = "ou=people,dc=example,dc=test";

fn dn(user: &str) -> String {
    format!("uid={user},{PEOPLE}")
}

async fn env() -> Env {
    Env::start(credrotate::sandbox::Options::default()).await
}

/// Each exported (user, password) binds, and the user's first password no longer does.
async fn assert_rotated(d: &Directory, rows: &[Vec<String>], index_of: impl Fn(&str) -> usize) {
    let to_dn = |u: &str| if u.contains('=') { u.to_owned() } else { dn(u) };
    let new: Vec<(String, String)> = rows.iter().map(|r| (to_dn(&r[0]), r[3].clone())).collect();
    let refused: Vec<&String> = new
        .iter()
        .zip(d.binds(&new).await)
        .filter(|(_, ok)| !ok)
        .map(|(p, _)| &p.0)
        .collect();
    assert!(
        refused.is_empty(),
        "exported passwords slapd refuses: {refused:?}"
    );
    let old: Vec<(String, String)> = rows
        .iter()
        .map(|r| (to_dn(&r[0]), d.old_password(index_of(&r[0]))))
        .collect();
    let still: Vec<&String> = old
        .iter()
        .zip(d.binds(&old).await)
        .filter(|(_, ok)| *ok)
        .map(|(p, _)| &p.0)
        .collect();
    assert!(
        still.is_empty(),
        "old passwords slapd still accepts: {still:?}"
    );
}

fn index_of(user: &str) -> usize {
    let name = user.trim_start_matches("uid=").split(',').next().unwrap();
    name.trim_start_matches("user")
        .trim_start_matches("strict")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_users_rotate_and_each_binds_with_its_exported_password() {
    let d = Directory::slapd(1000);
    let env = env().await;
    // Login names resolved through base_dn + user_filter, and a few DNs as given.
    let users = (0..1000).map(|i| {
        if i % 100 == 0 {
            dn(&format!("user{i}"))
        } else {
            format!("user{i}")
        }
    });
    let m = env.write("users.csv", &manifest(users));
    let c = env.write(
        "c.toml",
        &provider(&d, "rate = \"unlimited\"\nconcurrency = 8"),
    );
    let started = Instant::now();
    let out = env.run(&m, &c, &[]).await;
    assert_exit(&out, 0);
    eprintln!(
        "1,000 RFC 3062 resets in {:.2?} (debug build)",
        started.elapsed()
    );

    let rows = env.export();
    assert_eq!(rows.len(), 1000);
    assert!(
        rows.iter().all(|r| r[4] == "confirmed"),
        "every password confirmed"
    );
    assert_rotated(&d, &rows, index_of).await;
    let report = env.report_json();
    assert!(report
        .iter()
        .all(|r| r["status"] == "succeeded" && r["attempts"] == 1));
    let mut secrets: Vec<String> = rows.iter().map(|r| r[3].clone()).collect();
    secrets.push(
        std::fs::read_to_string(d.get("bind_password_file"))
            .unwrap()
            .trim()
            .to_owned(),
    );
    env.assert_secrets_absent(&out, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_and_unknown_users_fail_per_row_and_the_rest_rotate() {
    let d = Directory::slapd(10);
    let env = env().await;
    // user2 changes its password self-service style (oldPasswd); user3's old password is wrong.
    let csv = "user,old_password\nstrict0,\nuser0,\nstrict1,\nuser1,\nnobody,\na*,\n";
    let csv = format!(
        "{csv}user2,{}\nuser3,wrong-old-password\n",
        d.old_password(2)
    );
    let m = env.write("users.csv", &csv);
    let c = env.write("c.toml", &provider(&d, ""));
    let out = env.run(&m, &c, &[]).await;
    assert_exit(&out, 1);

    for strict in ["strict0", "strict1"] {
        let row = env.report_row(strict);
        assert_eq!(row["status"], "failed", "{row}");
        assert_eq!(row["error_code"], "constraintViolation", "{row}");
        let message = row["error_message"].as_str().unwrap();
        assert!(
            message.contains("Password fails quality checking policy"),
            "{message}"
        );
    }
    // Nothing matched: the filter is named, and `*` was escaped (it matches no one).
    for (user, filter) in [("nobody", "(uid=nobody)"), ("a*", "(uid=a\\2a)")] {
        let row = env.report_row(user);
        assert_eq!(
            (row["status"].as_str(), row["error_code"].as_str()),
            (Some("failed"), Some("no_such_user")),
            "{row}"
        );
        assert!(
            row["error_message"].as_str().unwrap().contains(filter),
            "{row}"
        );
    }
    let row = env.report_row("user3");
    assert_eq!(
        (row["status"].as_str(), row["error_code"].as_str()),
        (Some("failed"), Some("unwillingToPerform")),
        "{row}"
    );
    let mut rows = env.export();
    rows.sort();
    let exported: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(exported, ["user0", "user1", "user2"]);
    assert_rotated(&d, &rows, index_of).await;
    // The refused users keep their password.
    let kept = [
        (dn("strict0"), d.old_password(0)),
        (dn("strict1"), d.old_password(1)),
        (dn("user3"), d.old_password(3)),
    ];
    assert_eq!(d.binds(&kept).await, [true, true, true]);
    env.assert_secrets_absent(&out, &[d.old_password(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bind_password_fails_every_row_and_changes_nothing() {
    let d = Directory::slapd(30);
    let env = env().await;
    let wrong = env.write("wrong-bind", "not-the-bind-password\n");
    let section = provider(&d, "").replace(d.get("bind_password_file"), wrong.to_str().unwrap());
    let m = env.write("users.csv", &manifest((0..30).map(|i| format!("user{i}"))));
    let c = env.write("c.toml", &section);
    let out = env.run(&m, &c, &[]).await;
    assert_exit(&out, 1);
    let report = env.report_json();
    let refused =
        |r: &&serde_json::Value| r["status"] == "failed" && r["error_code"] == "invalidCredentials";
    assert!(report.iter().all(|r| refused(&r)), "{report:?}");
    let message = report[29]["error_message"].as_str().unwrap();
    assert!(
        message.starts_with("bind as cn=rotator,ou=service,dc=example,dc=test: "),
        "{message}"
    );
    let old: Vec<(String, String)> = (0..30)
        .map(|i| (dn(&format!("user{i}")), d.old_password(i)))
        .collect();
    assert!(d.binds(&old).await.iter().all(|ok| *ok), "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_generated_passwords_come_back_in_the_export() {
    let d = Directory::slapd(10);
    let env = env().await;
    let m = env.write("users.csv", &manifest((0..5).map(|i| format!("user{i}"))));
    let c = env.write("c.toml", &provider(&d, "generate = \"server\""));
    let out = env.run(&m, &c, &[]).await;
    assert_exit(&out, 0);
    let rows = env.export();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter().all(|r| !r[3].is_empty() && r[4] == "confirmed"),
        "{rows:?}"
    );
    assert_rotated(&d, &rows, index_of).await;
}

/// Waits (bounded) until the run's journal holds `n` outcome records.
async fn wait_for_outcomes(env: &Env, n: usize) {
    let journal = env.path("out").join("journal.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let count = std::fs::read_to_string(&journal)
            .map(|t| t.lines().filter(|l| l.contains("\"outcome\"")).count())
            .unwrap_or(0);
        if count >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the run did not reach {n} outcomes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_killed_mid_run_and_restarted_loses_no_password() {
    let mut d = Directory::slapd(400);
    let env = env().await;
    let m = env.write("users.csv", &manifest((0..400).map(|i| format!("user{i}"))));
    let c = env.write("c.toml", &provider(&d, "rate = \"50/s\"\nconcurrency = 4"));
    let mut run = env.run_cmd().manifest(&m).config(&c).spawn();
    wait_for_outcomes(&env, 60).await;
    d.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.restart_slapd();
    let first = tokio::time::timeout(Duration::from_secs(300), run.wait())
        .await
        .expect("the run ends")
        .unwrap();
    let report = env.report_json();
    let hit = report
        .iter()
        .filter(|r| r["status"] != "succeeded" || r["attempts"] != 1)
        .count();
    assert!(hit > 0, "the outage touched no row: {report:?}");

    if first.code() != Some(0) {
        let resumed = resume(&env).await;
        assert_exit(&resumed, 0);
        eprintln!("resume: {}", text(&resumed.stdout));
    }
    let rows = env.export();
    assert_eq!(rows.len(), 400, "one confirmed password per user");
    assert!(rows.iter().all(|r| r[4] == "confirmed"));
    assert_rotated(&d, &rows, index_of).await;
}

/// `credrotate resume` with the test identity (the run key is gone once a run completed).
async fn resume(env: &Env) -> std::process::Output {
    let key = age::secrecy::ExposeSecret::expose_secret(&env.identity.to_string()).to_owned();
    let identity = env.write("key.txt", &key);
    env.resume(&["--identity", identity.to_str().unwrap()])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modifies_that_time_out_are_uncertain_and_keep_their_candidate_passwords() {
    let d = Directory::slapd(80);
    let env = env().await;
    // DNs: no lookup, so a frozen server meets the password operation itself.
    let m = env.write(
        "users.csv",
        &manifest((0..80).map(|i| dn(&format!("user{i}")))),
    );
    let extra = "rate = \"20/s\"\nconcurrency = 4\ntimeout = \"2s\"";
    let c = env.write("c.toml", &provider(&d, extra));
    let mut run = env
        .run_cmd()
        .manifest(&m)
        .config(&c)
        .arg("--max-attempts")
        .arg("1")
        .spawn();
    wait_for_outcomes(&env, 10).await;
    d.signal("-STOP");
    tokio::time::sleep(Duration::from_secs(5)).await;
    d.signal("-CONT");
    let status = tokio::time::timeout(Duration::from_secs(300), run.wait())
        .await
        .expect("the run ends")
        .unwrap();
    assert_eq!(status.code(), Some(1));

    let report = env.report_json();
    let uncertain: Vec<&str> = report
        .iter()
        .filter(|r| r["status"] == "uncertain")
        .map(|r| r["user"].as_str().unwrap())
        .collect();
    assert!(!uncertain.is_empty(), "no modify timed out: {report:?}");
    assert!(
        report
            .iter()
            .all(|r| r["status"] != "uncertain" || r["error_code"] == "timeout"),
        "{report:?}"
    );
    // Each uncertain row's password is in the export as a candidate, and whatever the server
    // holds now is that candidate or the user's first password: nothing is lost.
    let rows = env.export();
    for user in &uncertain {
        let candidate = rows
            .iter()
            .find(|r| r[0] == *user)
            .unwrap_or_else(|| panic!("{user} has no candidate"));
        assert_eq!(candidate[4], "candidate");
        let tries = [
            (user.to_string(), candidate[3].clone()),
            (user.to_string(), d.old_password(index_of(user))),
        ];
        assert!(
            d.binds(&tries).await.contains(&true),
            "{user}: neither its candidate nor its old password binds"
        );
    }
    assert_exit(&resume(&env).await, 0);
    let rows = env.export();
    assert_eq!(rows.len(), 80);
    assert!(rows.iter().all(|r| r[4] == "confirmed"), "{rows:?}");
    assert_rotated(&d, &rows, index_of).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_trusts_ca_file_and_refuses_an_unknown_certificate() {
    let d = Directory::slapd(10);
    let ca_line = format!("ca_file = \"{}\"\n", d.get("ca_file"));
    let trusted = env().await;
    let m = trusted.write("users.csv", &manifest((0..5).map(|i| format!("user{i}"))));
    let c = trusted.write("c.toml", &provider(&d, "starttls = true"));
    assert!(std::fs::read_to_string(&c).unwrap().contains(&ca_line));
    assert_exit(&trusted.run(&m, &c, &[]).await, 0);
    assert_rotated(&d, &trusted.export(), index_of).await;

    // Without the CA only the system roots are trusted: refused before any password is sent.
    let untrusted = env().await;
    let m = untrusted.write("users.csv", &manifest((5..10).map(|i| format!("user{i}"))));
    let section = provider(&d, "starttls = true").replace(&ca_line, "");
    let c = untrusted.write("c.toml", &section);
    assert_exit(&untrusted.run(&m, &c, &[]).await, 1);
    let report = untrusted.report_json();
    for row in &report {
        assert_eq!(
            (row["status"].as_str(), row["error_code"].as_str()),
            (Some("failed"), Some("tls")),
            "{row}"
        );
        assert_eq!(
            row["attempts"], 1,
            "a refused certificate is not retried: {row}"
        );
        assert!(
            row["error_message"].as_str().unwrap().contains("ca_file"),
            "{row}"
        );
    }
    let old: Vec<(String, String)> = (5..10)
        .map(|i| (dn(&format!("user{i}")), d.old_password(i)))
        .collect();
    assert!(d.binds(&old).await.iter().all(|ok| *ok), "nothing changed");
}
