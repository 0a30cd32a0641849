//! The password export and policy from the outside: age X25519 and SSH recipients decrypted by
//! Debian's `age -d` (when installed), recipients files, plaintext only with `--export-plaintext`
//! (0600, loudly), and password policy flags and their limits.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
        || Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// `age -d -i identity file` → CSV rows.
fn age_decrypt(identity: &Path, file: &Path) -> Vec<Vec<String>> {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("age runs");
    assert!(out.status.success(), "age -d failed: {}", text(&out.stderr));
    csv::Reader::from_reader(out.stdout.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn ssh_key(env: &Env, kind: &str) -> (std::path::PathBuf, String) {
    let key = env.path(&format!("id_{kind}"));
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn age_cli_decrypts_for_x25519_and_ssh_recipients() {
    if !have("age") || !have("ssh-keygen") {
        eprintln!("skipped: needs Debian's `age` and `ssh-keygen` (scripts/test installs age)");
        return;
    }
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(12);
    let config = env.config("", "");
    let (ed_key, ed_pub) = ssh_key(&env, "ed25519");
    let (rsa_key, rsa_pub) = ssh_key(&env, "rsa");
    let recipients = env.path("recipients.txt");
    std::fs::write(&recipients, format!("# team keys\n\n{rsa_pub}\n")).unwrap();
    let args = ["--recipient", &ed_pub, "--recipients-file"];
    let mut args = args.to_vec();
    args.push(recipients.to_str().unwrap());
    let out = env.run(&manifest, &config, &args).await;
    assert_exit(&out, 0);

    let export = env.path("out").join("passwords.csv.age");
    let x25519_id = env.path("age-identity.txt");
    std::fs::write(
        &x25519_id,
        secrecy::ExposeSecret::expose_secret(&env.identity.to_string()),
    )
    .unwrap();
    let expected = env.export();
    assert_eq!(expected.len(), 12);
    for identity in [&x25519_id, &ed_key, &rsa_key] {
        assert_eq!(age_decrypt(identity, &export), expected, "{identity:?}");
    }
    let pairs: Vec<(String, String)> = expected
        .iter()
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    assert!(env.verify(&pairs).await.iter().all(|ok| *ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_only_with_the_flag_and_0600() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(5);
    let config = env.config("", "");
    let base = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .no_recipient();
    // No recipient and no flag: refused, nothing sent, no plaintext anywhere.
    let refused = base.output().await;
    assert_exit(&refused, 2);
    assert!(text(&refused.stderr).contains("--recipient"));
    assert!(!env.path("out").join("passwords.csv").exists());
    assert_eq!(env.stats().await["reset_requests_total"], 0);

    let out = base.arg("--export-plaintext").output().await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stderr).contains("UNENCRYPTED"),
        "{}",
        text(&out.stderr)
    );
    let plain = env.path("out").join("passwords.csv");
    let mode = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!env.path("out").join("passwords.csv.age").exists());
    let rows: Vec<Vec<String>> = csv::Reader::from_path(&plain)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 5);
    let pairs: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[3].clone())).collect();
    assert!(env.verify(&pairs).await.iter().all(|ok| *ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_flags_shape_the_generated_passwords() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(30);
    let config = env.config("", "");
    let flags = [
        "--password-length",
        "32",
        "--password-exclude",
        "0O1lI",
        "--password-special",
        "-_.",
    ];
    let out = env.run(&manifest, &config, &flags).await;
    assert_exit(&out, 0);
    for row in env.export() {
        let pw = &row[3];
        assert_eq!(pw.len(), 32);
        assert!(
            !pw.chars().any(|c| "0O1lI".contains(c)),
            "excluded char in a password"
        );
        assert!(pw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert!(pw.chars().any(|c| "-_.".contains(c)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_or_impossible_policies_are_config_errors() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(3);
    let config = env.config("", "");
    let cases: [&[&str]; 3] = [
        &["--password-length", "12"],
        &["--password-length", "20", "--password-special", ""],
        &["--password-exclude", "0123456789"],
    ];
    for flags in cases {
        let out = env.run(&manifest, &config, flags).await;
        assert_exit(&out, 2);
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("[password]") && stderr.contains("hint"),
            "{stderr}"
        );
    }
    let short = env.path("short.toml");
    let text_config = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&short, format!("[password]\nlength = 12\n{text_config}")).unwrap();
    let out = env.run(&manifest, &short, &[]).await;
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("allow_short"));
    let over = env.path("over.toml");
    std::fs::write(
        &over,
        format!("[password]\nlength = 24\nmin_upper = 20\nmin_digit = 10\n{text_config}"),
    )
    .unwrap();
    assert_exit(&env.run(&manifest, &over, &[]).await, 2);
    assert_eq!(env.stats().await["reset_requests_total"], 0);

    std::fs::write(
        &short,
        format!("[password]\nlength = 12\nallow_short = true\n{text_config}"),
    )
    .unwrap();
    let out = env.run(&manifest, &short, &[]).await;
    assert_exit(&out, 0);
    assert!(env.export().iter().all(|r| r[3].len() == 12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_refused_for_a_non_loopback_host() {
    let env = Env::start(Options::default()).await;
    let manifest = env.users_csv(1);
    let config = env.path("remote.toml");
    std::fs::write(
        &config,
        "[providers.graph]\nkind = \"graph\"\nbase_url = \"http://10.1.2.3/v1.0\"\n",
    )
    .unwrap();
    let out = env.run(&manifest, &config, &[]).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("plain http") && stderr.contains("https://"),
        "{stderr}"
    );
}
