//! Row rules: provider and method resolution, provider inputs, duplicates, warnings, the problem
//! cap, and that secrets never reach a message.

use super::{graph_rules, rules_with, Manifest, GRAPH_METHOD};
use crate::manifest::{validate, Format, InputRule, ManifestError, Rules};

fn multi_rules() -> Rules {
    rules_with(
        &[
            ("graph", GRAPH_METHOD, InputRule::None),
            ("ping", "", InputRule::OldPasswordXorConfirmationToken),
            ("wb", "", InputRule::WristbandCodes),
        ],
        None,
    )
}

#[test]
fn provider_resolution() {
    let m = Manifest::new("m.csv", "user,provider,method\na,,\nb,graph,m\nc,ping,\n");
    let problems = m.problems(&multi_rules());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(problems[0], "m.csv:2: field `provider`: no provider for this row (hint: add a `provider` column or pass --provider NAME)");
    assert!(problems[1].starts_with("m.csv:4: provider `ping` needs exactly one of"));

    // Without configured providers any name goes, and the method defaults to "".
    let open = Rules {
        providers: Default::default(),
        default_provider: Some("x".into()),
    };
    let m = Manifest::new("m.csv", "user,provider,old_password\na,,pw\nb,okta,\n");
    let plan = m.plan(&open);
    assert_eq!(
        plan.rows_by_provider.into_iter().collect::<Vec<_>>(),
        [("okta".into(), 1), ("x".into(), 1)]
    );
    let rows: Vec<_> = m.rows(&open).into_iter().map(|r| r.expect("row")).collect();
    assert_eq!(
        (rows[0].provider.as_str(), rows[0].method.as_str()),
        ("x", "")
    );
}

#[test]
fn unknown_provider_lists_configured_ones() {
    let m = Manifest::new("m.jsonl", "{\"user\": \"a\", \"provider\": \"okta\"}\n");
    assert_eq!(
        m.problems(&multi_rules()),
        ["m.jsonl:1:1: field `provider`: unknown provider \"okta\" (hint: configured providers: graph, ping, wb)"]
    );
}

#[test]
fn ping_takes_old_password_xor_confirmation_token() {
    let text = "user,provider,old_password,confirmation_token\n\
                a,ping,Old-Secret-1,\nb,ping,,Token-Secret-2\nc,ping,Old-Secret-3,Token-Secret-4\nd,ping,,\n";
    let problems = Manifest::new("m.csv", text).problems(&multi_rules());
    assert_eq!(problems, [
        "m.csv:4: provider `ping` needs exactly one of old_password or confirmation_token; this row has both (hint: fill exactly one of the two columns on each row)",
        "m.csv:5: provider `ping` needs exactly one of old_password or confirmation_token; this row has neither (hint: fill exactly one of the two columns on each row)",
    ]);
}

#[test]
fn wristband_takes_exactly_one_code_form() {
    let text = "user,provider,email_auth_code,password_reset_code,request_code,verification_code,old_password\n\
                a,wb,E1,,,,\nb,wb,,P2,,,\nc,wb,,,R3,V3,\n\
                d,wb,,,R4,,\ne,wb,,,,V5,\nf,wb,E6,P6,,,\ng,wb,E7,,R7,V7,\nh,wb,,,,,\ni,wb,E9,,,,O9\n";
    let problems = Manifest::new("m.csv", text).problems(&multi_rules());
    let forms = "email_auth_code, password_reset_code, or request_code with verification_code";
    assert_eq!(problems, [
        format!("m.csv:5: field `verification_code`: missing: request_code is given, and it only works together with verification_code (hint: add verification_code to this row, or use one of: {forms})"),
        format!("m.csv:6: field `request_code`: missing: verification_code is given, and it only works together with request_code (hint: add request_code to this row, or use one of: {forms})"),
        format!("m.csv:7: provider `wb` needs exactly one of {forms}; this row has email_auth_code and password_reset_code (hint: fill exactly one of these forms on each row)"),
        format!("m.csv:8: provider `wb` needs exactly one of {forms}; this row has email_auth_code and request_code with verification_code (hint: fill exactly one of these forms on each row)"),
        format!("m.csv:9: provider `wb` needs exactly one of {forms}; this row has none (hint: fill exactly one of these forms on each row)"),
        "m.csv:10: field `old_password`: provider `wb` does not take this input (hint: leave it empty, or set `provider` to the provider it is meant for)".to_owned(),
    ]);
}

#[test]
fn duplicates_after_resolution_case_insensitive() {
    let text = "user,method,provider\nAlice@Example.com,,\nbob,,\nalice@example.com,28C10230-6103-485E-B985-444C60001490,graph\nbob,other,\nbob,,graph\n";
    let problems = Manifest::new("m.csv", text).problems(&graph_rules());
    assert_eq!(problems, [
        "m.csv:4: field `user`: duplicate of the row at line 2 (same provider, user and method) (hint: remove one of the two rows; each user is reset once per run)",
        "m.csv:6: field `user`: duplicate of the row at line 3 (same provider, user and method) (hint: remove one of the two rows; each user is reset once per run)",
    ]);
    let json = Manifest::new("m.json", "[\n {\"user\": \"a\"},\n   {\"user\": \"a\"}]");
    let problems = json.problems(&graph_rules());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("m.json:3:4: field `user`: duplicate of the row at line 2:2"));
}

#[test]
fn new_password_is_a_warning() {
    let m = Manifest::new("m.csv", "user,new_password\na,N3w-Secret-Pass\nb,\n");
    let plan = m.plan(&graph_rules());
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].starts_with("1 row(s) carry a `new_password`"));
    assert!(!plan.warnings[0].contains("N3w-Secret"));
    let rows = m.rows(&graph_rules());
    let first = rows[0].as_ref().expect("row");
    assert!(first.new_password.is_some() && rows[1].as_ref().expect("row").new_password.is_none());
    assert!(!format!("{first:?}").contains("N3w-Secret"));
}

#[test]
fn secrets_never_appear_in_problems() {
    let secrets = [
        "Old-Secret-1",
        "Token-Secret-2",
        "Code-Secret-3",
        "NewPw-Secret-4",
        "Code-Secret-5",
    ];
    let csv = format!(
        "user,provider,old_password,confirmation_token,email_auth_code,new_password,request_code\n\
         ,ping,{},{},{},{},\nb,graph,,,,,{}\nb,graph,,,,,\n",
        secrets[0], secrets[1], secrets[2], secrets[3], secrets[4]
    );
    let json = format!(
        "{{\"user\": \"a\", \"provider\": \"wb\", \"request_code\": \"{}\", \"old_password\": \"{}\", \"require_change\": \"x\"}}\n",
        secrets[4], secrets[0]
    );
    for m in [Manifest::new("m.csv", csv), Manifest::new("m.jsonl", json)] {
        let Err(ManifestError::Invalid(problems)) = m.validate(&multi_rules()) else {
            panic!("expected problems");
        };
        assert!(problems.len() >= 3);
        let rows = m.rows(&multi_rules());
        let text = format!(
            "{problems:?} {problems:#?} {} {rows:?}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        for s in secrets {
            assert!(!text.contains(s), "{s} leaked: {text}");
        }
    }
}

#[test]
fn problems_are_capped_with_a_count_of_the_rest() {
    let mut text = String::from("user,require_change\n");
    for i in 0..1500 {
        // Alternate bad booleans with duplicates of the first row, so both kinds interleave.
        if i % 2 == 0 {
            text.push_str(&format!("u{i},perhaps\n"));
        } else {
            text.push_str("u0,\n");
        }
    }
    let problems = Manifest::new("m.csv", text).problems(&graph_rules());
    assert_eq!(problems.len(), 1001);
    let line = |p: &String| -> u64 {
        let rest = p.strip_prefix("m.csv:").unwrap_or("");
        rest.split(':')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let lines: Vec<u64> = problems.iter().map(line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "not in file order");
    assert!(problems[1].contains("duplicate of the row at line 2"));
    assert!(
        problems[1000].starts_with("m.csv:1002: 500 more problem(s) not shown"),
        "{}",
        problems[1000]
    );
}

#[test]
fn format_selection_and_io_errors() {
    let m = Manifest::new("m.txt", "user\na\n");
    assert!(matches!(
        m.validate(&graph_rules()),
        Err(ManifestError::UnknownFormat(_))
    ));
    assert_eq!(
        validate(&m.path, Some(Format::Csv), &graph_rules())
            .map(|p| p.rows)
            .ok(),
        Some(1)
    );
    let missing = m.path.with_file_name("missing.csv");
    assert!(matches!(
        validate(&missing, None, &graph_rules()),
        Err(ManifestError::Io { .. })
    ));
    let err = crate::manifest::open(&missing, None, &graph_rules())
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().starts_with("cannot read manifest"));
}
