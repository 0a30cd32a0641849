//! `kind = "ldap"`, `mode = "ad_unicodepwd"` against a real Samba Active Directory domain
//! controller (started by `scripts/ldap-servers`, LDAPS with its own CA, `old password allowed
//! period = 0`): 200 users rotated and proven by binding as each, the old password refused, a
//! too-weak password refused per row with AD's `0000052D`, and the plan's warning about the
//! old-password period. One test: a domain controller's ports are fixed, so one domain at a time.
//! If Samba cannot start, the test fails and says why (it never skips).

mod common;
mod ldap_support;

use std::time::Instant;

use common::{assert_exit, text, Env};
use ldap_support::{manifest, provider, Directory};

const USERS: usize = 200;

fn dn(user: &str) -> String {
    format!("CN={user},CN=Users,DC=credrotate,DC=test")
}

async fn env() -> Env {
    Env::start(credrotate::sandbox::Options::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_users_rotate_over_ldaps_and_weak_passwords_are_refused_per_row() {
    let d = Directory::samba(USERS);
    let section = provider(
        &d,
        "mode = \"ad_unicodepwd\"\nrate = \"unlimited\"\nconcurrency = 8",
    );

    // The plan warns about AD's old-password period.
    let env = env().await;
    let m = env.write(
        "users.csv",
        &manifest((0..USERS).map(|i| format!("user{i}"))),
    );
    let c = env.write("c.toml", &section);
    let plan = env
        .credrotate(
            &[
                "validate",
                "--manifest",
                m.to_str().unwrap(),
                "--config",
                c.to_str().unwrap(),
            ],
            &[],
        )
        .await;
    assert_exit(&plan, 0);
    assert!(
        text(&plan.stdout).contains("old password allowed period"),
        "{}",
        text(&plan.stdout)
    );

    let started = Instant::now();
    let out = env.run(&m, &c, &[]).await;
    assert_exit(&out, 0);
    eprintln!(
        "{USERS} unicodePwd resets over LDAPS in {:.2?} (debug build)",
        started.elapsed()
    );
    let rows = env.export();
    assert_eq!(rows.len(), USERS);
    let new: Vec<(String, String)> = rows.iter().map(|r| (dn(&r[0]), r[3].clone())).collect();
    let refused: Vec<_> = new
        .iter()
        .zip(d.binds(&new).await)
        .filter(|(_, ok)| !ok)
        .map(|(p, _)| p.0.clone())
        .collect();
    assert!(
        refused.is_empty(),
        "exported passwords the DC refuses: {refused:?}"
    );
    let old: Vec<(String, String)> = (0..USERS)
        .map(|i| (dn(&format!("user{i}")), d.old_password(i)))
        .collect();
    let still: Vec<_> = old
        .iter()
        .zip(d.binds(&old).await)
        .filter(|(_, ok)| *ok)
        .map(|(p, _)| p.0.clone())
        .collect();
    assert!(
        still.is_empty(),
        "old passwords the DC still accepts: {still:?}"
    );
    let mut secrets: Vec<String> = rows.iter().map(|r| r[3].clone()).collect();
    secrets.push(
        std::fs::read_to_string(d.get("bind_password_file"))
            .unwrap()
            .trim()
            .to_owned(),
    );
    env.assert_secrets_absent(&out, &secrets);

    // Too short for the domain's policy (7 characters): refused per row, nothing changed.
    let weak = Env::start(credrotate::sandbox::Options::default()).await;
    let m = weak.write("users.csv", &manifest((0..3).map(|i| format!("user{i}"))));
    let c = weak.write(
        "c.toml",
        &format!("[password]\nlength = 5\nallow_short = true\n{section}"),
    );
    let out = weak.run(&m, &c, &[]).await;
    assert_exit(&out, 1);
    for i in 0..3 {
        let row = weak.report_row(&format!("user{i}"));
        assert_eq!(row["status"], "failed", "{row}");
        assert_eq!(row["error_code"], "constraintViolation:0000052D", "{row}");
        assert!(
            row["error_message"].as_str().unwrap().contains("0000052D"),
            "{row}"
        );
    }
    assert_eq!(
        d.binds(&new[..3]).await,
        [true, true, true],
        "the refused resets changed nothing"
    );
}
