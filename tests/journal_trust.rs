//! Trusting an output folder again: the OS lock between processes, the authenticated journal
//! header and its format version, `--no-fsync` runs, `resume`/`report --identity` when the run
//! key is gone, folder ownership, and formula cells in report.csv. Every test runs the real
//! binary against the in-process sandbox and asserts what the sandbox and the files observed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::run_cmd::RunCmd;
use common::{assert_exit, text, Env};
use credrotate::sandbox::{Faults, Options};

/// A throwaway unencrypted ed25519 key (made with ssh-keygen for these tests) and its public key.
const SSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBu0pz7pORdYRdHOXBXPIVH4NFDH9h9HLUooj856dXyuQAAAJi6waoWusGq
FgAAAAtzc2gtZWQyNTUxOQAAACBu0pz7pORdYRdHOXBXPIVH4NFDH9h9HLUooj856dXyuQ
AAAEDDpXefRAc21beiin0EZOvn7TUUVI7fyfzFIY5oSoYhoG7SnPuk5F1hF0c5cFc8hUfg
0UMf2H0ctSiiPznp1fK5AAAAD2NyZWRyb3RhdGUtdGVzdAECAwQFBg==
-----END OPENSSH PRIVATE KEY-----
";
const SSH_PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7SnPuk5F1hF0c5cFc8hUfg0UMf2H0ctSiiPznp1fK5 credrotate-test";

fn slow() -> Options {
    let faults = Faults {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        ..Faults::default()
    };
    Options {
        faults,
        ..Options::default()
    }
}

/// Paths of a test run: manifest, config, out.
struct Run {
    manifest: PathBuf,
    config: PathBuf,
    out: PathBuf,
}

impl Run {
    fn new(env: &Env, users: usize) -> Run {
        Run {
            manifest: env.users_csv(users),
            config: env.config("", ""),
            out: env.path("out"),
        }
    }

    /// `run`: 100/s, 4 at once, a 10 s grace period, the test identity as recipient.
    fn cmd<'e>(&self, env: &'e Env) -> RunCmd<'e> {
        env.run_cmd()
            .manifest(&self.manifest)
            .config(&self.config)
            .out(&self.out)
            .args(["--rate", "100/s", "--concurrency", "4", "--grace", "10s"])
    }

    /// `resume` of this run's folder, without a prompt or a progress bar, plus `extra`.
    async fn resume(&self, env: &Env, extra: &[&str]) -> Output {
        let mut args = vec![
            "resume",
            "--out",
            s(&self.out),
            "--yes",
            "--progress",
            "never",
        ];
        args.extend_from_slice(extra);
        env.credrotate(&args, &[]).await
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

use common::signal;

/// Waits until the journal holds at least `n` lines (the run is under way).
async fn wait_for_journal(out: &Path, n: usize) {
    let path = out.join("journal.jsonl");
    for _ in 0..600 {
        let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
        if lines >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the run did not start");
}

/// Starts a run (encrypting to the test identity plus `recipients`), lets it journal a little,
/// stops it with SIGTERM (exit 143, nothing uncertain).
async fn interrupted(env: &Env, run: &Run, recipients: &[&str], extra: &[&str]) -> Output {
    let cmd = recipients
        .iter()
        .fold(run.cmd(env), |cmd, r| cmd.recipient(r));
    let child = cmd.args(extra).spawn();
    wait_for_journal(&run.out, 30).await;
    signal(&child, "-TERM");
    let output = child.wait_with_output().await.unwrap();
    assert_exit(&output, 143);
    assert_eq!(env.summary()["uncertain"], 0, "in-flight requests finished");
    output
}

async fn requests(env: &Env) -> u64 {
    env.stats().await["requests_total"].as_u64().unwrap()
}

/// Every user was reset exactly once, by whichever process.
async fn assert_each_user_reset_once(env: &Env, users: usize) {
    let stats = env.stats().await;
    let per_user = stats["resets_per_user"].as_object().unwrap();
    assert_eq!(per_user.len(), users, "{stats}");
    assert!(
        per_user.values().all(|v| v == 1),
        "a user was reset twice: {stats}"
    );
}

fn write_identity(env: &Env) -> PathBuf {
    let secret = age::secrecy::ExposeSecret::expose_secret(&env.identity.to_string()).to_owned();
    env.write("key.txt", &secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_work_on_one_folder_at_once() {
    let env = Env::start(slow()).await;
    let run = Run::new(&env, 400);
    let first = run.cmd(&env).spawn();
    let first_pid = first.id().unwrap();
    wait_for_journal(&run.out, 20).await;

    let second = run.resume(&env, &[]).await;
    assert_exit(&second, 2);
    let msg = text(&second.stderr);
    let lock = std::fs::canonicalize(&run.out).unwrap().join("run.lock");
    assert!(
        msg.contains(&format!("another credrotate (pid {first_pid} on host "))
            && msg.contains(&format!("holds {} since ", lock.display()))
            && msg.contains("wait for it"),
        "{msg}"
    );

    signal(&first, "-TERM");
    assert_exit(&first.wait_with_output().await.unwrap(), 143);
    // Two resumes started together: exactly one works, the other is refused.
    let (a, b) = tokio::join!(run.resume(&env, &[]), run.resume(&env, &[]));
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(2)],
        "{}\n{}",
        text(&a.stderr),
        text(&b.stderr)
    );
    let loser = if a.status.code() == Some(2) { &a } else { &b };
    assert!(
        text(&loser.stderr).contains("holds"),
        "{}",
        text(&loser.stderr)
    );
    assert_each_user_reset_once(&env, 400).await;
    env.assert_export_verifies(400).await;
    assert!(!run.out.join("run.lock").exists(), "released and removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_file_left_by_a_dead_process_does_not_block() {
    let env = Env::start(Options::default()).await;
    let run = Run::new(&env, 20);
    std::fs::create_dir(&run.out).unwrap();
    std::fs::write(
        run.out.join("run.lock"),
        "pid 1\nhost gone-container\nsince 2026-01-01T00:00:00.000Z\n",
    )
    .unwrap();
    assert_exit(&run.cmd(&env).output().await, 0);
    assert_each_user_reset_once(&env, 20).await;
    assert!(!run.out.join("run.lock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_an_altered_header_or_an_old_journal_and_sends_nothing() {
    let env = Env::start(slow()).await;
    let run = Run::new(&env, 300);
    interrupted(&env, &run, &[], &[]).await;
    let journal = run.out.join("journal.jsonl");
    let original = std::fs::read_to_string(&journal).unwrap();
    let attacker = age::x25519::Identity::generate().to_public().to_string();
    let before = requests(&env).await;

    let tampered = [
        // An extra recipient: a resume would seal new passwords to it.
        original.replacen(
            "\"recipients\":[",
            &format!("\"recipients\":[\"{attacker}\","),
            1,
        ),
        // The recipient replaced outright.
        original.replacen(&env.recipient(), &attacker, 1),
        // The run's settings changed.
        original.replacen("\"max_attempts\":5", "\"max_attempts\":50", 1),
    ];
    for text_ in &tampered {
        assert_ne!(text_, &original, "the tampering applies");
        std::fs::write(&journal, text_).unwrap();
        let refused = run.resume(&env, &[]).await;
        assert_exit(&refused, 2);
        let msg = text(&refused.stderr);
        assert!(msg.contains("was changed after the run started"), "{msg}");
    }

    // A journal of the previous format (version 2: an untyped `config` header field).
    let v2 = original.replacen("\"version\":4", "\"version\":2", 1);
    std::fs::write(&journal, v2).unwrap();
    let refused = run.resume(&env, &[]).await;
    assert_exit(&refused, 2);
    let msg = text(&refused.stderr);
    assert!(
        msg.contains("journal format version 2 was written by an older credrotate")
            && msg.contains("reads only version 4"),
        "{msg}"
    );
    assert_eq!(requests(&env).await, before, "nothing was sent");

    std::fs::write(&journal, &original).unwrap();
    assert_exit(&run.resume(&env, &[]).await, 0);
    assert_each_user_reset_once(&env, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_fsync_run_is_recorded_and_resume_says_it_was_not_crash_safe() {
    let env = Env::start(slow()).await;
    let run = Run::new(&env, 200);
    let first = interrupted(&env, &run, &[], &["--no-fsync"]).await;
    assert!(text(&first.stderr).contains("NOT crash-safe"));
    let journal = std::fs::read_to_string(run.out.join("journal.jsonl")).unwrap();
    let header: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(header["fsync"], false);
    let resumed = run.resume(&env, &[]).await;
    assert_exit(&resumed, 0);
    assert!(
        text(&resumed.stderr).contains("started with --no-fsync")
            && text(&resumed.stderr).contains("NOT crash-safe"),
        "{}",
        text(&resumed.stderr)
    );
}

/// The run key is gone: `resume` needs `--identity`, says so, and with the operator's age
/// identity finishes the run; every exported password signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_an_age_identity_finishes_a_run_whose_key_is_gone() {
    let env = Env::start(slow()).await;
    let run = Run::new(&env, 300);
    let first = interrupted(&env, &run, &[], &[]).await;
    assert!(text(&first.stdout).contains("finish with: credrotate resume --out"));
    std::fs::remove_file(run.out.join("journal.key")).unwrap();

    let report = env.credrotate(&["report", "--out", s(&run.out)], &[]).await;
    assert_exit(&report, 1);
    assert!(
        text(&report.stdout).contains("journal.key is gone, so finish with: credrotate resume")
            && text(&report.stdout).contains("--identity KEY"),
        "{}",
        text(&report.stdout)
    );
    let before = requests(&env).await;
    let refused = run.resume(&env, &[]).await;
    assert_exit(&refused, 2);
    assert!(text(&refused.stderr).contains("pass --identity KEY"));

    let wrong = env.write(
        "wrong.txt",
        age::secrecy::ExposeSecret::expose_secret(&age::x25519::Identity::generate().to_string()),
    );
    let refused = run.resume(&env, &["--identity", s(&wrong)]).await;
    assert_exit(&refused, 2);
    let msg = text(&refused.stderr);
    assert!(
        msg.contains("cannot open this run's passwords") && msg.contains(&env.recipient()),
        "{msg}"
    );
    assert_eq!(requests(&env).await, before, "nothing was sent");

    let key = write_identity(&env);
    let resumed = run.resume(&env, &["--identity", s(&key)]).await;
    assert_exit(&resumed, 0);
    let msg = text(&resumed.stderr);
    assert!(
        msg.contains("cannot be authenticated") && msg.contains(&env.recipient()),
        "the unauthenticated header's recipients are shown: {msg}"
    );
    assert_each_user_reset_once(&env, 300).await;
    env.assert_export_verifies(300).await;
    assert!(env.report_json().iter().all(|r| r["status"] == "succeeded"));
}

/// Same with an SSH ed25519 key the export was also encrypted to; `report --identity` with it
/// rebuilds the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_and_report_accept_an_ssh_key() {
    let env = Env::start(slow()).await;
    let run = Run::new(&env, 200);
    interrupted(&env, &run, &[SSH_PUBLIC], &[]).await;
    std::fs::remove_file(run.out.join("journal.key")).unwrap();
    let key = env.write("id_ed25519", SSH_KEY);
    let resumed = run.resume(&env, &["--identity", s(&key)]).await;
    assert_exit(&resumed, 0);
    assert_each_user_reset_once(&env, 200).await;
    env.assert_export_verifies(200).await;

    std::fs::remove_file(run.out.join("passwords.csv.age")).unwrap();
    let rebuilt = env
        .credrotate(
            &["report", "--out", s(&run.out), "--identity", s(&key)],
            &[],
        )
        .await;
    assert_exit(&rebuilt, 0);
    env.assert_export_verifies(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_refuses_an_identity_that_is_not_a_recipient() {
    let env = Env::start(Options::default()).await;
    let run = Run::new(&env, 5);
    assert_exit(&run.cmd(&env).output().await, 0);
    let key = env.write("id_ed25519", SSH_KEY);
    let refused = env
        .credrotate(
            &["report", "--out", s(&run.out), "--identity", s(&key)],
            &[],
        )
        .await;
    assert_exit(&refused, 2);
    assert!(
        text(&refused.stderr).contains("cannot open this run's passwords"),
        "{}",
        text(&refused.stderr)
    );
}

/// Only root can hand a folder to another user; elsewhere this test has nothing to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_owned_by_another_user_is_refused() {
    if rustix::process::geteuid().as_raw() != 0 {
        return;
    }
    let env = Env::start(Options::default()).await;
    let run = Run::new(&env, 3);
    std::fs::create_dir(&run.out).unwrap();
    std::os::unix::fs::chown(&run.out, Some(65534), Some(65534)).unwrap();
    let refused = run.cmd(&env).output().await;
    assert_exit(&refused, 2);
    assert!(
        text(&refused.stderr).contains("is owned by uid 65534, not by you"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(requests(&env).await, 0, "nothing was sent");
}

/// A user id a spreadsheet would run as a formula lands in report.csv neutralised, exact in
/// report.json and in the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formula_user_ids_are_neutralised_in_report_csv() {
    let env = Env::start(Options::default()).await;
    let users = [
        r#"=HYPERLINK("evil.example","click")"#,
        "+cmd@example.test",
        "-2+3@example.test",
        "@SUM(1+1)@example.test",
        "plain@example.test",
    ];
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["user"]).unwrap();
    for u in users {
        csv.write_record([u]).unwrap();
    }
    let manifest = env.path("users.csv");
    std::fs::write(&manifest, csv.into_inner().unwrap()).unwrap();
    let run = Run {
        manifest,
        config: env.config("", ""),
        out: env.path("out"),
    };
    assert_exit(&run.cmd(&env).output().await, 0);

    // Rows are reported as they finish: put them back in manifest order by their `row`.
    let mut report = csv::Reader::from_path(run.out.join("report.csv")).unwrap();
    let headers = report.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (row, at) = (column("row"), column("user"));
    let mut cells: Vec<(u64, String)> = report
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[row].parse().unwrap(), r[at].to_owned()))
        .collect();
    cells.sort();
    let cells: Vec<String> = cells.into_iter().map(|(_, u)| u).collect();
    let expected: Vec<String> = users
        .iter()
        .map(|u| match u.starts_with("plain") {
            true => u.to_string(),
            false => format!("'{u}"),
        })
        .collect();
    assert_eq!(cells, expected);
    let mut json = env.report_json();
    json.sort_by_key(|r| r["row"].as_u64());
    let json: Vec<String> = json
        .iter()
        .map(|r| r["user"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(json, users, "report.json stays exact");
    let exported = env.assert_export_verifies(users.len()).await;
    let mut exported: Vec<&str> = exported.iter().map(|r| r[0].as_str()).collect();
    exported.sort();
    let mut sorted = users.to_vec();
    sorted.sort();
    assert_eq!(exported, sorted, "the export stays exact");
}
