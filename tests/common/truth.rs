//! The sandbox's truth against the run's artefacts: no password the sandbox applied is missing
//! from the export, and every row is accounted for.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Env;

/// What a run left, as checked against the sandbox.
#[derive(Debug, Default)]
pub struct Accounting {
    pub rows: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub uncertain: usize,
    /// Users whose password the sandbox changed at least once.
    pub applied: usize,
}

impl Env {
    /// Asserts, from the sandbox's truth, that every password it applied is in the export (as
    /// `confirmed` or `candidate`), every succeeded row's confirmed password signs in, every row
    /// of the manifest has a report line that is succeeded, failed with a reason, or uncertain
    /// with a candidate, and nothing reached the trap listener.
    pub async fn assert_no_password_lost(&self, manifest_rows: usize) -> Accounting {
        let stats = self.stats().await;
        assert_eq!(
            stats["trap_requests"], 0,
            "a request reached the trap listener"
        );
        let report = self.report_json();
        assert_eq!(report.len(), manifest_rows, "a row is unaccounted for");
        let export = self.export();
        let by_user = group(&export);
        let mut acc = Accounting {
            rows: report.len(),
            ..Accounting::default()
        };
        for row in &report {
            count_row(&mut acc, row, &by_user);
        }
        let confirmed: Vec<(String, String)> = export
            .iter()
            .filter(|r| r[4] == "confirmed")
            .map(|r| (r[0].clone(), r[3].clone()))
            .collect();
        let ok = self.verify(&confirmed).await;
        assert!(
            ok.iter().all(|o| *o),
            "a confirmed password does not sign in"
        );
        let applied = applied_users(&stats);
        acc.applied = applied.len();
        self.assert_applied_exported(&applied, &by_user).await;
        acc
    }

    /// For every user whose password the sandbox changed, one exported password signs in.
    async fn assert_applied_exported(
        &self,
        applied: &BTreeSet<String>,
        by_user: &BTreeMap<String, Vec<String>>,
    ) {
        let mut pairs = Vec::new();
        for user in applied {
            let candidates = by_user.get(user).cloned().unwrap_or_default();
            assert!(
                !candidates.is_empty(),
                "the sandbox applied a password for {user}, but the export has none"
            );
            pairs.extend(candidates.into_iter().map(|p| (user.clone(), p)));
        }
        let ok = self.verify(&pairs).await;
        let mut signs_in = BTreeSet::new();
        for ((user, _), ok) in pairs.iter().zip(ok) {
            if ok {
                signs_in.insert(user.clone());
            }
        }
        let lost: Vec<&String> = applied.difference(&signs_in).collect();
        assert!(
            lost.is_empty(),
            "passwords in force but not exported: {lost:?}"
        );
    }
}

fn group(export: &[Vec<String>]) -> BTreeMap<String, Vec<String>> {
    let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in export {
        by_user.entry(r[0].clone()).or_default().push(r[3].clone());
    }
    by_user
}

fn count_row(acc: &mut Accounting, row: &Value, by_user: &BTreeMap<String, Vec<String>>) {
    let user = row["user"].as_str().unwrap_or_default();
    match row["status"].as_str() {
        Some("succeeded") => acc.succeeded += 1,
        Some("failed") => {
            assert!(
                row["error_code"].is_string(),
                "a failed row without a reason: {row}"
            );
            acc.failed += 1;
        }
        Some("uncertain") => {
            assert!(
                row["error_code"].is_string(),
                "an uncertain row without a reason: {row}"
            );
            assert!(
                by_user.contains_key(user) || row["error_code"] == "no_password_returned",
                "an uncertain row without a candidate in the export: {row}"
            );
            acc.uncertain += 1;
        }
        other => panic!("unexpected status {other:?} in {row}"),
    }
}

fn applied_users(stats: &Value) -> BTreeSet<String> {
    stats["resets_per_user"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
