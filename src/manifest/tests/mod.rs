//! Tests of the manifest module: shared helpers here, one file per area.

mod csv;
mod fixtures;
mod json;
mod paths;
mod rules;
mod streaming;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::{
    open, validate, InputRule, ManifestError, Plan, Problem, ProviderRules, Rules, Target,
};

pub(super) const GRAPH_METHOD: &str = "28c10230-6103-485e-b985-444c60001490";

/// The rules the fixtures are written for: one provider `graph`, the default.
pub(super) fn graph_rules() -> Rules {
    let mut rules = rules_with(&[("graph", GRAPH_METHOD, InputRule::None)], Some("graph"));
    // As configured for kind = "graph": resetPassword's path holds the method id.
    if let Some(graph) = rules.providers.get_mut("graph") {
        graph.method_in_path = true;
    }
    rules
}

pub(super) fn rules_with(providers: &[(&str, &str, InputRule)], default: Option<&str>) -> Rules {
    let providers: BTreeMap<String, ProviderRules> = providers
        .iter()
        .map(|(name, method, rule)| {
            let pr = ProviderRules {
                default_method: (*method).to_owned(),
                input_rule: *rule,
                method_in_path: false,
                forces_change: false,
            };
            ((*name).to_owned(), pr)
        })
        .collect();
    Rules {
        providers,
        default_provider: default.map(str::to_owned),
    }
}

/// A manifest written to a temporary directory.
pub(super) struct Manifest {
    dir: TempDir,
    pub path: PathBuf,
}

impl Manifest {
    pub(super) fn new(name: &str, content: impl AsRef<[u8]>) -> Manifest {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write manifest");
        Manifest { dir, path }
    }

    pub(super) fn validate(&self, rules: &Rules) -> Result<Plan, ManifestError> {
        validate(&self.path, None, rules)
    }

    /// The problems validation finds, displayed with the file name only.
    pub(super) fn problems(&self, rules: &Rules) -> Vec<String> {
        match self.validate(rules) {
            Err(ManifestError::Invalid(problems)) => {
                problems.iter().map(|p| self.show(p)).collect()
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    pub(super) fn plan(&self, rules: &Rules) -> Plan {
        match self.validate(rules) {
            Ok(plan) => plan,
            Err(ManifestError::Invalid(problems)) => {
                let shown: Vec<String> = problems.iter().map(|p| self.show(p)).collect();
                panic!("expected a plan, got problems: {shown:#?}")
            }
            Err(e) => panic!("expected a plan, got {e}"),
        }
    }

    /// Everything `open` yields.
    pub(super) fn rows(&self, rules: &Rules) -> Vec<Result<Target, Problem>> {
        open(&self.path, None, rules).expect("open").collect()
    }

    /// `p` displayed with the directory removed from its location.
    pub(super) fn show(&self, p: &Problem) -> String {
        strip_dir(&p.to_string(), self.dir.path())
    }
}

pub(super) fn strip_dir(text: &str, dir: &Path) -> String {
    text.replace(&format!("{}/", dir.display()), "")
}
