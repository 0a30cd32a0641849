//! The plan: what a run is about to do, per provider — rows to reset and rows excluded, where
//! (base URL), with which credential, how fast and for how long, to whom the export will be
//! encrypted, and what to watch out for. `validate` prints it; `run` prints the same before it
//! asks for confirmation.
//!
//! Invariants: the plan names credential sources and recipients' public keys, never a secret;
//! every estimate is derived from the settings the run will use (flags applied).

use std::fmt::Write as _;
use std::time::Duration;

use crate::auth::AuthSection;
use crate::config::{Config, RunSpec};
use crate::manifest::Plan;
use crate::provider::ProviderSpec;

use super::selection::Tally;

/// Everything the plan shows.
pub struct PlanView<'a> {
    pub plan: &'a Plan,
    pub tally: &'a Tally,
    pub config: &'a Config,
    pub spec: &'a RunSpec,
    /// Export recipients (public keys); empty when none were given (`validate`).
    pub recipients: &'a [String],
    pub dry_run: bool,
}

impl PlanView<'_> {
    pub fn render(&self) -> String {
        let (p, t) = (self.plan, self.tally);
        let mut out = format!(
            "plan: {} of {} manifest row(s) to reset, {} excluded{} (manifest sha256 {})\n",
            t.to_send(),
            p.rows,
            t.excluded_total(),
            match &self.spec.retry_from {
                Some(r) => format!(
                    ", {} not among the failed rows of {}",
                    t.unselected,
                    r.dir.display()
                ),
                None => String::new(),
            },
            p.sha256
        );
        for name in p.rows_by_provider.keys() {
            self.provider(&mut out, name);
        }
        self.recipients_lines(&mut out);
        self.rails(&mut out);
        for w in &p.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        out
    }

    fn provider(&self, out: &mut String, name: &str) {
        let send = self.tally.send.get(name).copied().unwrap_or(0);
        let excluded = self.tally.excluded.get(name).copied().unwrap_or(0);
        let Some(spec) = self.config.spec.providers.get(name) else {
            let _ = writeln!(out, "  {name}: {send} row(s): not configured");
            return;
        };
        let s = &spec.shared;
        let _ = writeln!(
            out,
            "  {name}: {send} row(s) to reset, {excluded} excluded (kind {})\n    base URL {}\n    credential: {}\n    rate {} (burst {}, concurrency {}): {}",
            spec.kind.name(),
            s.base_url,
            credential(spec),
            s.rate,
            s.burst,
            s.concurrency,
            estimate(send, s.rate.per_second()),
        );
        if let Some(note) = spec.kind.experimental() {
            let _ = writeln!(out, "    warning: {name} is {note}");
        }
        if let Some(caveat) = spec.kind.caveat() {
            let _ = writeln!(out, "    warning: {name}: {caveat}");
        }
        if spec.kind.revokes() {
            let _ = writeln!(out, "    then revokes each user's sign-in sessions");
        }
    }

    fn recipients_lines(&self, out: &mut String) {
        if self.dry_run {
            return;
        }
        if self.recipients.is_empty() {
            let _ = writeln!(
                out,
                "  export: no recipient given (run needs --recipient or --recipients-file)"
            );
            return;
        }
        let _ = writeln!(out, "  export encrypted to:");
        for r in self.recipients {
            let _ = writeln!(out, "    {}", fingerprint(r));
        }
    }

    fn rails(&self, out: &mut String) {
        let b = &self.spec.breaker;
        let auth = match b.max_auth_failures {
            0 => "off".to_owned(),
            n => format!("{n} consecutive 401/403"),
        };
        let rate = if b.max_failure_rate >= 1.0 {
            "off".to_owned()
        } else {
            format!(
                "more than {:.0} % of the last {} requests failed",
                b.max_failure_rate * 100.0,
                crate::pipeline::breaker::WINDOW
            )
        };
        let _ = writeln!(out, "  circuit breaker (exit 3): {auth}; {rate}");
        if self.spec.canary > 0 {
            let _ = writeln!(
                out,
                "  canary: the first {} row(s) of each provider must succeed before the rest are sent",
                self.spec.canary
            );
        }
        let entries = self.spec.exclusions().len();
        if entries > 0 {
            let _ = writeln!(out, "  exclusions: {entries} user(s) listed");
        }
    }
}

/// The credential's kind and source; for Graph, whether the token is delegated or app-only.
fn credential(spec: &ProviderSpec) -> String {
    let auth = &spec.shared.auth;
    let token = match (spec.kind.name(), auth) {
        (_, AuthSection::DeviceCode { .. }) => "delegated",
        (_, AuthSection::ClientCredentials { .. }) => "app-only",
        ("graph", _) => "must be delegated: resetPassword refuses app-only tokens",
        ("graph-profile", _) => "must be app-only, with User.ReadWrite.All and a directory role",
        _ => "",
    };
    match token {
        "" => auth.describe(),
        token => format!("{}; {token}", auth.describe()),
    }
}

/// `at least 2m 5s`, from the rows and the rate.
fn estimate(rows: u64, per_second: Option<f64>) -> String {
    match per_second {
        Some(r) if r > 0.0 => format!(
            "at least {}",
            humantime::format_duration(Duration::from_secs((rows as f64 / r).ceil() as u64))
        ),
        _ => "no rate limit set".to_owned(),
    }
}

/// `age1qyqszqgp…l3z0 (sha256 1f2e3d4c5b6a7988)`: enough to recognise a key, short enough to
/// read aloud.
pub fn fingerprint(recipient: &str) -> String {
    use sha2::Digest;
    let r = recipient.trim();
    let digest = sha2::Sha256::digest(r.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let chars: Vec<char> = r.chars().collect();
    let shown = if chars.len() > 24 {
        let head: String = chars[..12].iter().collect();
        let tail: String = chars[chars.len() - 6..].iter().collect();
        format!("{head}…{tail}")
    } else {
        r.to_owned()
    };
    format!("{shown} (sha256 {hex})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_short_and_stable() {
        let key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let f = fingerprint(key);
        assert!(f.starts_with("age1ql3z7hjy…mcac8p (sha256 "), "{f}");
        assert_eq!(f, fingerprint(&format!(" {key}\n")));
        assert_eq!(estimate(100, Some(20.0)), "at least 5s");
        assert_eq!(estimate(1, None), "no rate limit set");
    }
}
