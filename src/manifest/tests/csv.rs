//! CSV reading: header checks, cells, booleans, locations.

use super::{graph_rules, Manifest, GRAPH_METHOD};

#[test]
fn reads_trimmed_cells_and_absent_values() {
    let m = Manifest::new(
        "m.csv",
        "user , method ,require_change\n  alice@example.com ,  ,\nbob@example.com,m-1, TRUE \n",
    );
    let rows: Vec<_> = m
        .rows(&graph_rules())
        .into_iter()
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].user, "alice@example.com");
    assert_eq!(rows[0].method, GRAPH_METHOD);
    assert_eq!(rows[0].require_change, None);
    assert_eq!(rows[0].provider, "graph");
    assert_eq!(
        (rows[1].method.as_str(), rows[1].require_change),
        ("m-1", Some(true))
    );
    assert_eq!((rows[0].row, rows[1].row), (1, 2));
}

#[test]
fn booleans_in_every_accepted_spelling() {
    let m = Manifest::new(
        "m.csv",
        "user,require_change\na,true\nb,False\nc,1\nd,0\ne,YES\nf,no\n",
    );
    let got: Vec<_> = m
        .rows(&graph_rules())
        .into_iter()
        .map(|r| r.expect("row").require_change)
        .collect();
    let want = [true, false, true, false, true, false].map(Some);
    assert_eq!(got, want);
    let bad = Manifest::new("m.csv", "user,require_change\na,y\nb,2\n");
    assert_eq!(
        bad.problems(&graph_rules()),
        [
            "m.csv:2: field `require_change`: expected true or false, got \"y\" (hint: write true/false, yes/no or 1/0)",
            "m.csv:3: field `require_change`: expected true or false, got \"2\" (hint: write true/false, yes/no or 1/0)",
        ]
    );
}

#[test]
fn bom_and_crlf_are_tolerated() {
    let m = Manifest::new("m.csv", "\u{feff}user,method\r\nalice,\r\nbob,\r\n");
    assert_eq!(m.plan(&graph_rules()).rows, 2);
}

#[test]
fn records_of_empty_cells_are_no_rows() {
    let m = Manifest::new("m.csv", "user,method\n\nalice,\n , \n,,,\nbob,\n");
    let rows: Vec<_> = m
        .rows(&graph_rules())
        .into_iter()
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].row, rows[1].location.line), (2, 6));
}

#[test]
fn location_is_first_line_of_a_multi_line_record() {
    let m = Manifest::new(
        "m.csv",
        "user,new_password\n\"alice\",\"multi\nline\npassword\"\nbob,m\ncarol,\"x\ny\",extra\n",
    );
    let rows = m.rows(&graph_rules());
    let lines: Vec<u64> = rows
        .iter()
        .map(|r| match r {
            Ok(t) => t.location.line,
            Err(p) => p.location.line,
        })
        .collect();
    assert_eq!(lines, [2, 5, 6]);
    assert_eq!(
        m.problems(&graph_rules()),
        ["m.csv:6: row has 3 field(s), the header has 2 (hint: quote values that contain commas, e.g. \"Doe, Jane\")"]
    );
}

#[test]
fn unknown_columns_are_named_and_rows_still_checked() {
    let m = Manifest::new("m.csv", "user,department,require_change\na,IT,maybe\n");
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("m.csv:1: field `department`: unknown column (header cell 2) (hint: known columns are user, method,"));
    assert!(problems[1].starts_with("m.csv:2: field `require_change`"));
}

#[test]
fn missing_user_column_stops_at_the_header() {
    let m = Manifest::new("m.csv", "method,provider\nm,graph\nm,graph\n");
    assert_eq!(
        m.problems(&graph_rules()),
        ["m.csv:1: field `user`: missing column: the header has no `user` column (hint: add a `user` column holding each user's object id, UPN or DN)"]
    );
}

#[test]
fn a_first_line_of_data_is_not_echoed() {
    let m = Manifest::new("m.csv", "alice@example.com,Tr0ub4dor&3\n");
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("not a header"));
    assert!(!problems[0].contains("Tr0ub4dor"));
    assert!(!problems[0].contains("alice"));
}

#[test]
fn duplicate_and_empty_header_cells() {
    let m = Manifest::new("m.csv", "user,,method,method\na,,m,m\n");
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("m.csv:1: header cell 2 is empty"));
    assert!(problems[1].starts_with(
        "m.csv:1: field `method`: column appears twice in the header (cells 3 and 4)"
    ));
}

#[test]
fn ragged_rows_do_not_stop_reading() {
    let m = Manifest::new("m.csv", "user,method\na\nb,m,x\nc,m\n,m\n");
    let problems = m.problems(&graph_rules());
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with("m.csv:2: row has 1 field(s), the header has 2"));
    assert!(problems[1].starts_with("m.csv:3: row has 3 field(s)"));
    assert!(problems[2].starts_with("m.csv:5: field `user`: is required"));
    let rows = m.rows(&graph_rules());
    assert_eq!(rows[2].as_ref().map(|t| t.row).ok(), Some(3));
}

#[test]
fn invalid_utf8_is_a_problem_of_the_cell() {
    let m = Manifest::new("m.csv", b"user,method\nal\xffice,m\n");
    assert_eq!(
        m.problems(&graph_rules()),
        ["m.csv:2: field `user`: is not valid UTF-8 (hint: save the manifest as UTF-8)"]
    );
}

/// Regression: csv's own record positions were one line early with CRLF (and with each blank
/// line); locations now count `\n`, `\r\n` and a lone `\r` as one line break each.
#[test]
fn line_numbers_with_crlf_cr_and_blank_lines() {
    let rows = "alice,true\nbob,maybe\n\ncarol,perhaps\n\"da\nve\",never\n\n\nerin,no-way\n";
    for (eol, bom) in [("\n", ""), ("\r\n", ""), ("\r", ""), ("\r\n", "\u{feff}")] {
        let text = format!("{bom}user,require_change\n{rows}").replace('\n', eol);
        let m = Manifest::new("m.csv", text);
        let lines: Vec<String> = m
            .problems(&graph_rules())
            .iter()
            .map(|p| p.split(": ").next().unwrap_or_default().to_owned())
            .collect();
        let want = ["m.csv:3", "m.csv:5", "m.csv:6", "m.csv:6", "m.csv:10"];
        assert_eq!(lines, want, "line ends {eol:?}, bom {bom:?}");
    }
}

#[test]
fn a_record_over_a_mebibyte_is_one_located_problem() {
    let mut text = String::from("user\r\nalice\r\n");
    text.push_str(&"b".repeat(3 << 20));
    text.push_str("\r\ncarol\r\n");
    assert_eq!(
        Manifest::new("m.csv", &text).problems(&graph_rules()),
        ["m.csv:3: this record is longer than 1048576 bytes; reading stopped here (hint: a row is a few hundred bytes at most: look for an unclosed `\"` (a quoted cell runs on to the next `\"`), or check that this file is the manifest)"]
    );
    // Many rows just under the bound in a row are fine: the bound is per record.
    let row = "r".repeat(1000);
    let many: String = (0..3000).map(|i| format!("u{i},{row}\n")).collect();
    let m = Manifest::new("m.csv", format!("user,new_password\n{many}"));
    assert_eq!(m.plan(&graph_rules()).rows, 3000);
}
