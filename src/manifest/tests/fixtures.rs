//! The fixture manifests under `tests/fixtures/`: every bad one fails as `EXPECTED.tsv` says, the
//! good ones (the same five users in each format) validate and read back alike.

use std::path::{Path, PathBuf};

use super::{graph_rules, strip_dir, GRAPH_METHOD};
use crate::manifest::{open, validate, ManifestError, Problem};

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn invalid(path: &Path) -> Vec<Problem> {
    match validate(path, None, &graph_rules()) {
        Err(ManifestError::Invalid(problems)) => problems,
        other => panic!("{}: expected Invalid, got {other:?}", path.display()),
    }
}

/// Each line of EXPECTED.tsv: file, location (`name:line[:column]`), substring of the message.
#[test]
fn bad_fixtures_fail_as_expected() {
    let dir = fixtures("bad");
    let expected = std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut listed = Vec::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [file, location, substring] = fields[..] else {
            panic!("EXPECTED.tsv: want 3 tab-separated fields: {line:?}");
        };
        listed.push(file.to_owned());
        let problems = invalid(&dir.join(file));
        let shown: Vec<String> = problems
            .iter()
            .map(|p| strip_dir(&p.to_string(), &dir))
            .collect();
        let hit = shown
            .iter()
            .any(|s| s.starts_with(&format!("{location}: ")) && s.contains(substring));
        assert!(
            hit,
            "{file}: no problem at {location} containing {substring:?} in {shown:#?}"
        );
    }
    // Every bad fixture is listed, so none goes untested.
    for entry in std::fs::read_dir(&dir).expect("read fixtures/bad") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != "EXPECTED.tsv" {
            assert!(listed.contains(&name), "{name} is not in EXPECTED.tsv");
        }
    }
    assert!(listed.len() >= 18);
}

#[test]
fn good_fixtures_agree_across_formats() {
    let dir = fixtures("good");
    let mut seen = Vec::new();
    for name in ["users.csv", "users.json", "users.jsonl"] {
        let path = dir.join(name);
        let plan = validate(&path, None, &graph_rules()).expect("valid");
        assert_eq!(plan.rows, 5, "{name}");
        assert_eq!(plan.rows_by_provider.get("graph"), Some(&5));
        assert!(plan.warnings.is_empty());
        assert_eq!(plan.sha256.len(), 64);
        let rows: Vec<_> = open(&path, None, &graph_rules())
            .expect("open")
            .map(|r| r.expect("row"))
            .map(|t| (t.row, t.user, t.provider, t.method, t.require_change))
            .collect();
        seen.push(rows);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    assert_eq!(seen[0][2].3, GRAPH_METHOD);
    assert_eq!(seen[0][2].4, None);
    assert_eq!(seen[0][3].4, Some(true));
}

/// Prints every problem of every bad fixture (`cargo test -- --ignored --nocapture`), to write
/// EXPECTED.tsv from.
#[test]
#[ignore]
fn dump_bad_fixtures() {
    let dir = fixtures("bad");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("read")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e != "tsv"))
        .collect();
    names.sort();
    for path in names {
        for p in invalid(&path) {
            println!("{}", strip_dir(&p.to_string(), &dir));
        }
    }
}
