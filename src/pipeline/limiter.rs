//! Request pacing: the `--rate` value and the governor limiter built from it.
//!
//! Invariant: every request a worker sends first waits on its lane's [`Pacer`], so the rate a
//! provider sees is bounded by the configured rate plus the configured burst.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A request rate: `N/s`, `N/m`, `N/h`, or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Unlimited,
    PerSecond(u32),
    PerMinute(u32),
    PerHour(u32),
}

impl Rate {
    /// Requests per second, as a float (`None` when unlimited).
    pub fn per_second(self) -> Option<f64> {
        match self {
            Rate::Unlimited => None,
            Rate::PerSecond(n) => Some(n as f64),
            Rate::PerMinute(n) => Some(n as f64 / 60.0),
            Rate::PerHour(n) => Some(n as f64 / 3600.0),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Unlimited => f.write_str("unlimited"),
            Rate::PerSecond(n) => write!(f, "{n}/s"),
            Rate::PerMinute(n) => write!(f, "{n}/m"),
            Rate::PerHour(n) => write!(f, "{n}/h"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid rate {0:?}: expected N/s, N/m or N/h with N ≥ 1 (e.g. 20/s), or \"unlimited\"")]
pub struct RateError(String);

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("none") {
            return Ok(Rate::Unlimited);
        }
        let err = || RateError(s.to_owned());
        let (n, unit) = text.split_once('/').ok_or_else(err)?;
        let n: u32 = n.trim().parse().map_err(|_| err())?;
        if n == 0 {
            return Err(err());
        }
        match unit.trim() {
            "s" | "sec" | "second" => Ok(Rate::PerSecond(n)),
            "m" | "min" | "minute" => Ok(Rate::PerMinute(n)),
            "h" | "hour" => Ok(Rate::PerHour(n)),
            _ => Err(err()),
        }
    }
}

/// A lane's pacer: a governor limiter, or nothing when unlimited.
#[derive(Debug)]
pub struct Pacer(Option<DefaultDirectRateLimiter>);

impl Pacer {
    pub fn new(rate: Rate, burst: u32) -> Pacer {
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = match rate {
            Rate::Unlimited => return Pacer(None),
            Rate::PerSecond(n) => Quota::per_second(nonzero(n)),
            Rate::PerMinute(n) => Quota::per_minute(nonzero(n)),
            Rate::PerHour(n) => Quota::per_hour(nonzero(n)),
        };
        Pacer(Some(RateLimiter::direct(quota.allow_burst(burst))))
    }

    /// Waits until one more request may leave.
    pub async fn ready(&self) {
        if let Some(limiter) = &self.0 {
            limiter.until_ready().await;
        }
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!("20/s".parse::<Rate>().unwrap(), Rate::PerSecond(20));
        assert_eq!("600/m".parse::<Rate>().unwrap(), Rate::PerMinute(600));
        assert_eq!("unlimited".parse::<Rate>().unwrap(), Rate::Unlimited);
        assert!("0/s".parse::<Rate>().is_err());
        assert!("20".parse::<Rate>().is_err());
        assert!("20/d".parse::<Rate>().is_err());
        assert_eq!(Rate::PerMinute(30).per_second(), Some(0.5));
    }
}
