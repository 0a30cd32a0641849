//! A request rate (`--rate`, `rate = "..."`): a value type shared by config and pipeline, so it
//! lives low and depends on nothing of the crate.
//!
//! Invariants: a `Rate` is never zero (`N >= 1`, or unlimited); it is written and read (serde,
//! journal header) in the same text form the operator types, e.g. `20/s`.

use std::fmt;
use std::str::FromStr;

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

impl serde::Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // The parser quotes what it got: keep a pasted blob out of the message.
        if text.chars().count() > 40 {
            return Err(serde::de::Error::custom(format!(
                "{} characters is no rate; expected N/s, N/m or N/h (e.g. 20/s), or \"unlimited\"",
                text.chars().count()
            )));
        }
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for text in ["unlimited", "20/s", "3/m", "1/h"] {
            let rate: Rate = text.parse().unwrap();
            assert_eq!(rate.to_string(), text);
            let json = serde_json::to_string(&rate).unwrap();
            assert_eq!(serde_json::from_str::<Rate>(&json).unwrap(), rate);
        }
        assert!("0/s".parse::<Rate>().is_err());
        assert!(serde_json::from_str::<Rate>(&format!("{:?}", "9".repeat(50))).is_err());
    }
}
