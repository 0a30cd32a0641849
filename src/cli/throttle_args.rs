//! `credrotate sandbox` throttle-model flags: a token bucket (`--throttle-rate`), a sliding
//! window like Graph's (`--throttle-window 500/10s`), and per-family limits
//! (`--family-throttle keycloak=20:5`, `--family-window graph=3000/150s`).
//!
//! Invariant: every value is parsed here into the sandbox's types; a family name outside
//! graph, pingone, wristband, keycloak is a usage error.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use crate::sandbox;

const FAMILIES: [&str; 4] = ["graph", "pingone", "wristband", "keycloak"];

#[derive(Debug, Args)]
pub(super) struct ThrottleArgs {
    /// Answer 429 once reset requests exceed this many per second (token bucket refill rate).
    #[arg(long, value_name = "PER_SECOND")]
    throttle_rate: Option<f64>,
    /// Token bucket capacity for --throttle-rate.
    #[arg(long, value_name = "N", default_value_t = 10)]
    throttle_capacity: u32,
    /// A sliding-window limit per family instead of the bucket: at most N requests in any W
    /// (e.g. 3000/150s, Graph's write limit); Retry-After = time until the window frees.
    #[arg(long, value_name = "N/W", value_parser = parse_window)]
    throttle_window: Option<sandbox::Window>,
    /// A token bucket for one family: FAMILY=RATE[:CAPACITY] (capacity default 10); repeatable.
    #[arg(long, value_name = "FAMILY=RATE[:CAP]", value_parser = parse_family_bucket)]
    family_throttle: Vec<(String, sandbox::Bucket)>,
    /// A sliding window for one family: FAMILY=N/W; repeatable; wins over --family-throttle.
    #[arg(long, value_name = "FAMILY=N/W", value_parser = parse_family_window)]
    family_window: Vec<(String, sandbox::Window)>,
}

/// What the flags set in the sandbox's options.
pub(super) struct Limits {
    pub throttle: Option<sandbox::Bucket>,
    pub window: Option<sandbox::Window>,
    pub family_throttle: BTreeMap<String, sandbox::Bucket>,
    pub family_window: BTreeMap<String, sandbox::Window>,
}

impl From<ThrottleArgs> for Limits {
    fn from(a: ThrottleArgs) -> Self {
        Limits {
            throttle: a.throttle_rate.map(|rate| sandbox::Bucket {
                rate,
                capacity: a.throttle_capacity,
            }),
            window: a.throttle_window,
            family_throttle: a.family_throttle.into_iter().collect(),
            family_window: a.family_window.into_iter().collect(),
        }
    }
}

fn parse_window(s: &str) -> Result<sandbox::Window> {
    let (n, w) = s
        .split_once('/')
        .ok_or_else(|| anyhow!("expected N/W such as 500/10s, got {s:?}"))?;
    let requests: u32 = n.trim().parse().map_err(|e| anyhow!("{n:?}: {e}"))?;
    let per = humantime::parse_duration(w.trim()).map_err(|e| anyhow!("{w:?}: {e}"))?;
    if requests == 0 || per.is_zero() || per > Duration::from_secs(3600) {
        bail!("a window needs N >= 1 and 0 < W <= 1h, got {s:?}");
    }
    Ok(sandbox::Window { requests, per })
}

fn family(s: &str) -> Result<(String, &str)> {
    let (name, rest) = s
        .split_once('=')
        .ok_or_else(|| anyhow!("expected FAMILY=..., got {s:?}"))?;
    let name = name.trim();
    if !FAMILIES.contains(&name) {
        bail!("unknown family {name:?}: one of {}", FAMILIES.join(", "));
    }
    Ok((name.to_owned(), rest))
}

fn parse_family_bucket(s: &str) -> Result<(String, sandbox::Bucket)> {
    let (name, spec) = family(s)?;
    let (rate, capacity) = spec.split_once(':').unwrap_or((spec, "10"));
    let rate: f64 = rate.trim().parse().map_err(|e| anyhow!("{rate:?}: {e}"))?;
    let capacity: u32 = capacity
        .trim()
        .parse()
        .map_err(|e| anyhow!("{capacity:?}: {e}"))?;
    if !(rate.is_finite() && rate > 0.0) || capacity == 0 {
        bail!("a bucket needs RATE > 0 and CAPACITY >= 1, got {s:?}");
    }
    Ok((name, sandbox::Bucket { rate, capacity }))
}

fn parse_family_window(s: &str) -> Result<(String, sandbox::Window)> {
    let (name, spec) = family(s)?;
    Ok((name, parse_window(spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits() {
        let w = parse_window("500/10s").unwrap();
        assert_eq!((w.requests, w.per), (500, Duration::from_secs(10)));
        assert!(parse_window("0/10s").is_err() && parse_window("5").is_err());
        let (f, b) = parse_family_bucket("keycloak=20:5").unwrap();
        assert_eq!((f.as_str(), b.rate, b.capacity), ("keycloak", 20.0, 5));
        assert_eq!(parse_family_bucket("graph=7").unwrap().1.capacity, 10);
        assert!(parse_family_bucket("okta=7").is_err());
        let (f, w) = parse_family_window("graph=3000/150s").unwrap();
        assert_eq!((f.as_str(), w.requests), ("graph", 3000));
    }
}
