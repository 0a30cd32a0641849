//! Every malformed config in tests/fixtures/bad-config (listed in EXPECTED.tsv) makes the real
//! binary exit 2 with an error starting `file:line:column:` and saying what is wrong, without a
//! panic, while the sandbox sees zero requests. `@GRAPH@` and `@SANDBOX@` in a fixture stand for
//! the sandbox's URLs, so a config that wrongly passed would send there.

mod common;

use std::path::Path;

use common::{assert_exit, text, Env};
use credrotate::sandbox::Options;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_configs_exit_2_and_send_nothing() {
    let env = Env::start(Options::default()).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fixtures = root.join("bad-config");
    std::fs::copy(root.join("good/users.csv"), env.path("users.csv")).unwrap();
    let expected = std::fs::read_to_string(fixtures.join("EXPECTED.tsv")).unwrap();
    let mut listed = Vec::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, location, substring] = cols[..] else {
            panic!("bad EXPECTED.tsv line {line:?}")
        };
        listed.push(file.to_owned());
        // Bytes, not text: some fixtures are not UTF-8 on purpose.
        let bytes = std::fs::read(fixtures.join(file)).unwrap();
        let bytes = replace(&bytes, b"@GRAPH@", env.sandbox.graph_url().as_bytes());
        let bytes = replace(&bytes, b"@SANDBOX@", env.sandbox.base_url().as_bytes());
        std::fs::write(env.path(file), bytes).unwrap();
        let out_dir = env.path(&format!("out-{file}"));
        let run = env
            .run_cmd()
            .manifest("users.csv")
            .config(file)
            .out(&out_dir);
        let out = run.output().await;
        assert_exit(&out, 2);
        let stderr = text(&out.stderr);
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("error: {location}: ")) && l.contains(substring)),
            "{file}: stderr lacks `{location}: ...{substring}...`:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(!out_dir.exists(), "{file}: the output folder was created");
    }
    // Every fixture is listed, so none goes untested.
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "EXPECTED.tsv" || listed.contains(&name),
            "{name} is not in EXPECTED.tsv"
        );
    }
    assert!(
        listed.len() >= 20,
        "only {} malformed configs",
        listed.len()
    );
    let stats = env.stats().await;
    assert_eq!(
        stats["requests_total"], 0,
        "the sandbox saw requests: {stats}"
    );
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
