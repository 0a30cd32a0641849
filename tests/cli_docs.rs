//! The command line's generated documentation and discovery: shell completions and the man page
//! come from the parser itself (so they list `--resume-unfinished`), `--version` names the
//! commit and build date, and `CREDROTATE_CONFIG` names the config when `--config` is absent.

mod common;

use assert_cmd::Command;
use common::BIN;
use predicates::str::contains;

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_credrotate()"),
        ("zsh", "#compdef credrotate"),
        ("fish", "complete -c credrotate"),
    ] {
        Command::new(BIN)
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(contains(marker))
            .stdout(contains("resume-unfinished"));
    }
}

#[test]
fn completions_for_an_unknown_shell_exit_2() {
    Command::new(BIN)
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(contains("tcsh"));
}

#[test]
fn man_prints_a_roff_page_with_every_subcommand() {
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH credrotate 1"), "{page}");
    for section in [
        "CREDROTATE RUN",
        "CREDROTATE RESUME",
        "CREDROTATE COMPLETIONS",
    ] {
        assert!(page.contains(section), "no section {section}");
    }
    assert!(
        page.contains("resume\\-unfinished"),
        "run's flags are listed"
    );
}

#[test]
fn version_names_the_commit_and_build_date() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    assert!(version.contains("(commit "), "{version}");
    let date = version.split("built ").nth(1).unwrap_or("");
    let date = date.trim_end().trim_end_matches(')');
    assert_eq!(date.len(), 10, "YYYY-MM-DD: {version}");
    assert!(date.chars().filter(|c| *c == '-').count() == 2, "{version}");
}

#[test]
fn credrotate_config_names_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "user\nalice@example.test\n").unwrap();
    let config = dir.path().join("elsewhere.toml");
    std::fs::write(
        &config,
        "[providers.graph]\nkind = \"graph\"\nrate = \"7/s\"\n",
    )
    .unwrap();
    Command::new(BIN)
        .current_dir(dir.path())
        .env("CREDROTATE_CONFIG", &config)
        .env("CREDROTATE_TOKEN", "t")
        .args(["validate", "--manifest", "users.csv"])
        .assert()
        .code(0)
        .stdout(contains("7/s"));
}
