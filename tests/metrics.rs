//! `--metrics-file`: after a run the file parses as Prometheus text (every sample's family has
//! `# HELP` and `# TYPE`, names are `credrotate_*`, label syntax and values are valid, histogram
//! buckets are cumulative with `+Inf` equal to `_count`) and its counts are the run's: rows by
//! status and provider, the exit code.

mod common;

use std::collections::BTreeMap;

use common::{assert_exit, Env};
use credrotate::sandbox::Options;

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition format strictly enough to catch what a scraper would refuse.
fn parse(text: &str) -> Vec<Sample> {
    let mut typed = BTreeMap::new();
    let mut helped = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap().to_owned(), ());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned(), kind.to_owned());
        } else {
            let sample = sample(line);
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    sample
                        .0
                        .strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(&sample.0)
                .to_owned();
            assert!(
                typed.contains_key(&family) && helped.contains_key(&family),
                "no TYPE/HELP before {line}"
            );
            samples.push(sample);
        }
    }
    samples
}

fn sample(line: &str) -> Sample {
    let (series, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => (name, labels(rest.strip_suffix('}').expect("closing brace"))),
    };
    let valid = name.starts_with("credrotate_")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    assert!(valid, "bad metric name: {line}");
    (name.to_owned(), labels, value)
}

fn labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(',') {
        let (k, v) = pair.split_once('=').expect("label=value");
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .expect("quoted label value");
        out.insert(k.to_owned(), v.to_owned());
    }
    out
}

fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no {name} {want:?}"))
        .2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_file_is_prometheus_text_with_the_runs_counts() {
    let env = Env::start(Options {
        users: Some((1..=3).map(common::user).collect()),
        ..Options::default()
    })
    .await;
    let (manifest, config) = (env.users_csv(5), env.config("", ""));
    let path = env.path("metrics/credrotate.prom");
    std::fs::create_dir(env.path("metrics")).unwrap();
    let out = env
        .run_cmd()
        .manifest(&manifest)
        .config(&config)
        .args(["--metrics-file", path.to_str().unwrap()])
        .output()
        .await;
    assert_exit(&out, 1);
    let text = std::fs::read_to_string(&path).unwrap();
    let samples = parse(&text);
    let graph = [("provider", "graph")];
    assert_eq!(
        value(
            &samples,
            "credrotate_rows_total",
            &[("provider", "graph"), ("status", "succeeded")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "credrotate_rows_total",
            &[("provider", "graph"), ("status", "failed")]
        ),
        2.0
    );
    assert_eq!(value(&samples, "credrotate_run_exit_code", &[]), 1.0);
    assert_eq!(value(&samples, "credrotate_run_in_progress", &[]), 0.0);
    assert_eq!(value(&samples, "credrotate_rows_planned", &[]), 5.0);
    assert_eq!(
        value(&samples, "credrotate_row_duration_seconds_count", &graph),
        5.0
    );
    assert_eq!(
        value(
            &samples,
            "credrotate_row_duration_seconds_bucket",
            &[("provider", "graph"), ("le", "+Inf")]
        ),
        5.0
    );
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(n, _, _)| n == "credrotate_row_duration_seconds_bucket")
        .map(|s| s.2)
        .collect();
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "cumulative buckets: {buckets:?}"
    );
    let start = value(&samples, "credrotate_run_start_timestamp_seconds", &[]);
    assert!(value(&samples, "credrotate_run_end_timestamp_seconds", &[]) >= start);
    let leftovers: Vec<_> = std::fs::read_dir(env.path("metrics"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary file left behind: {leftovers:?}"
    );
}
