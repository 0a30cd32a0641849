//! Streaming: large manifests validate in one pass, `open` agrees with `validate` row for row,
//! and the plan pins the exact bytes.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::{graph_rules, Manifest};

#[test]
fn a_200k_row_csv_validates_and_reads_back() {
    const N: u64 = 200_000;
    let mut text = String::from("user,method,require_change\n");
    for i in 0..N {
        let _ = writeln!(text, "user{i}@example.com,,{}", i % 2 == 0);
    }
    let m = Manifest::new("big.csv", &text);
    let plan = m.plan(&graph_rules());
    assert_eq!(plan.rows, N);
    assert_eq!(plan.rows_by_provider.get("graph"), Some(&N));
    let mut count = 0;
    for (i, row) in m.rows(&graph_rules()).into_iter().enumerate() {
        let t = row.expect("row");
        count += 1;
        assert_eq!(t.row, i as u64 + 1);
        assert_eq!(t.location.line, i as u64 + 2);
    }
    assert_eq!(count, N);
}

#[test]
fn sha256_covers_the_file_bytes() {
    let text = "user\r\nalice\r\n\r\n";
    let plan = Manifest::new("m.csv", text).plan(&graph_rules());
    let want: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(plan.sha256, want);
    let json = "[{\"user\": \"a\"}]   \n\n";
    let plan = Manifest::new("m.json", json).plan(&graph_rules());
    assert_eq!(
        plan.sha256,
        format!("{:x}", Sha256::digest(json.as_bytes()))
    );
}

/// `open` yields one item per data row, numbered as validate numbers them, in every format,
/// bad rows included.
#[test]
fn open_numbers_rows_like_validate() {
    let cases = [
        ("m.csv", "user,require_change\na,\nb,nope\nc,x,y\nd,\n"),
        (
            "m.json",
            "[{\"user\": \"a\"}, {\"user\": 1}, 7, {\"user\": \"d\"}]",
        ),
        (
            "m.jsonl",
            "{\"user\": \"a\"}\n{\"user\": 1}\n\n[7]\n{\"user\": \"d\"}\n",
        ),
    ];
    for (name, text) in cases {
        let m = Manifest::new(name, text);
        let problems = m.problems(&graph_rules());
        assert_eq!(problems.len(), 2, "{name}: {problems:#?}");
        let rows = m.rows(&graph_rules());
        assert_eq!(rows.len(), 4, "{name}");
        let ok: Vec<(u64, String)> = rows
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|t| (t.row, t.user.clone())))
            .collect();
        assert_eq!(ok, [(1, "a".to_owned()), (4, "d".to_owned())], "{name}");
        let errs: Vec<String> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|p| m.show(p))
            .collect();
        assert_eq!(errs, problems, "{name}");
    }
}

#[test]
fn open_fails_on_header_problems() {
    let m = Manifest::new("m.csv", "user,usr\na,b\n");
    match crate::manifest::open(&m.path, None, &graph_rules()) {
        Err(crate::manifest::ManifestError::Invalid(p)) => assert_eq!(p.len(), 1),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let m = Manifest::new("m.json", "{}");
    assert!(crate::manifest::open(&m.path, None, &graph_rules()).is_err());
}

#[test]
fn rows_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<crate::manifest::Rows>();
}

/// Peak memory of validating a 1,000,000-row CSV stays a few tens of MB (Linux: VmHWM). Slow in
/// debug builds, so opt-in: `cargo test --release --lib million -- --ignored`.
#[test]
#[ignore]
fn a_million_row_csv_validates_in_bounded_memory() {
    const N: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("million.csv");
    {
        use std::io::Write as _;
        let file = std::fs::File::create(&path).expect("create");
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "user,method,require_change").expect("write");
        for i in 0..N {
            writeln!(out, "user{i}@example.com,,false").expect("write");
        }
    }
    let before = peak_kib();
    let plan = crate::manifest::validate(&path, None, &graph_rules()).expect("valid");
    assert_eq!(plan.rows, N);
    if let (Some(before), Some(after)) = (before, peak_kib()) {
        let grown_mib = after.saturating_sub(before) / 1024;
        eprintln!("peak memory grew by {grown_mib} MiB");
        assert!(grown_mib < 64, "peak memory grew by {grown_mib} MiB");
    }
}

/// The process's peak resident set, in KiB, where /proc tells it.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
