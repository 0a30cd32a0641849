//! Password policy and generator.
//!
//! Invariants: every character comes from the OS CSPRNG (`OsRng`) by rejection sampling, so each
//! pick is exactly uniform over its alphabet; required classes are placed at uniformly random
//! positions (Fisher–Yates with the same unbiased sampler). The generated string goes straight
//! into a [`SecretString`]; the working buffer is zeroized.

use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::secret::{secret, SecretString};

pub const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
pub const DIGITS: &str = "0123456789";
/// Default special characters: printable ASCII punctuation that survives CSV, JSON and shells
/// without surprises (no quote, backslash, backtick or space).
pub const SPECIAL: &str = "!#$%&()*+,-./:;<=>?@[]^_{|}~";

/// Where passwords come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generate {
    /// credrotate generates them (default).
    #[default]
    Client,
    /// The provider generates them and returns them in its response.
    Server,
}

/// A validated password policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    pub length: usize,
    pub min_upper: usize,
    pub min_lower: usize,
    pub min_digit: usize,
    pub min_special: usize,
    pub special: String,
    pub exclude: String,
    pub generate: Generate,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            length: 24,
            min_upper: 1,
            min_lower: 1,
            min_digit: 1,
            min_special: 1,
            special: SPECIAL.to_owned(),
            exclude: String::new(),
            generate: Generate::Client,
        }
    }
}

/// Why a policy cannot be satisfied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("password length {0} is below 20 (hint: use 20 or more, or set allow_short = true in [password])")]
    TooShort(usize),
    #[error("password length must be at least 1")]
    Zero,
    #[error("the minimum class counts add up to {sum}, more than the length {length} (hint: lower the minimums or raise length)")]
    MinimumsOverLength { sum: usize, length: usize },
    #[error("the {0} class has a minimum but no characters left after `exclude` (hint: remove the minimum or exclude fewer characters)")]
    EmptyClass(&'static str),
    #[error("no characters left to build passwords from (hint: check `special` and `exclude`)")]
    EmptyAlphabet,
}

impl Policy {
    /// Checks the policy can be satisfied. `allow_short` permits lengths below 20.
    pub fn check(&self, allow_short: bool) -> Result<(), PolicyError> {
        if self.length == 0 {
            return Err(PolicyError::Zero);
        }
        if self.length < 20 && !allow_short {
            return Err(PolicyError::TooShort(self.length));
        }
        let sum = self.min_upper + self.min_lower + self.min_digit + self.min_special;
        if sum > self.length {
            return Err(PolicyError::MinimumsOverLength {
                sum,
                length: self.length,
            });
        }
        for (name, min, set) in self.classes() {
            if min > 0 && set.is_empty() {
                return Err(PolicyError::EmptyClass(name));
            }
        }
        if self.alphabet().is_empty() {
            return Err(PolicyError::EmptyAlphabet);
        }
        Ok(())
    }

    /// Each class's name, minimum count and characters (after exclusions).
    fn classes(&self) -> [(&'static str, usize, Vec<u8>); 4] {
        let keep = |set: &str| -> Vec<u8> {
            let mut v: Vec<u8> = set
                .bytes()
                .filter(|b| b.is_ascii_graphic() && !self.exclude.as_bytes().contains(b))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        [
            ("upper", self.min_upper, keep(UPPER)),
            ("lower", self.min_lower, keep(LOWER)),
            ("digit", self.min_digit, keep(DIGITS)),
            ("special", self.min_special, keep(&self.special)),
        ]
    }

    /// The union of all classes: the alphabet for the positions no minimum claims.
    fn alphabet(&self) -> Vec<u8> {
        let mut all: Vec<u8> = self.classes().into_iter().flat_map(|c| c.2).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Generates one password. The policy must have passed [`Policy::check`].
    pub fn generate(&self) -> SecretString {
        let mut buf = Zeroizing::new(Vec::with_capacity(self.length));
        for (_, min, set) in self.classes() {
            for _ in 0..min {
                buf.push(set[uniform(set.len())]);
            }
        }
        let alphabet = self.alphabet();
        while buf.len() < self.length {
            buf.push(alphabet[uniform(alphabet.len())]);
        }
        shuffle(&mut buf);
        let text = Zeroizing::new(String::from_utf8_lossy(&buf).into_owned());
        secret(text.to_string())
    }
}

/// A uniformly distributed index in `0..n` from the OS CSPRNG, by rejection sampling
/// (values in the incomplete last block of `u32` are redrawn, so no index is favoured).
pub fn uniform(n: usize) -> usize {
    assert!(
        n > 0 && n <= u32::MAX as usize,
        "alphabet size out of range"
    );
    let n = n as u32;
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let v = OsRng.next_u32();
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// Fisher–Yates shuffle with the unbiased sampler above.
fn shuffle(buf: &mut [u8]) {
    for i in (1..buf.len()).rev() {
        let j = uniform(i + 1);
        buf.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn default_policy_meets_its_classes() {
        let p = Policy::default();
        p.check(false).unwrap();
        for _ in 0..200 {
            let pw = p.generate();
            let s = pw.expose_secret();
            assert_eq!(s.len(), 24);
            assert!(s.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(s.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(s.bytes().any(|b| b.is_ascii_digit()));
            assert!(s.bytes().any(|b| SPECIAL.as_bytes().contains(&b)));
        }
    }

    #[test]
    fn excluded_characters_never_appear() {
        let p = Policy {
            exclude: "0O1lI".into(),
            ..Policy::default()
        };
        for _ in 0..500 {
            let pw = p.generate();
            assert!(!pw.expose_secret().chars().any(|c| "0O1lI".contains(c)));
        }
    }

    #[test]
    fn impossible_policies_are_rejected() {
        let short = Policy {
            length: 12,
            ..Policy::default()
        };
        assert_eq!(short.check(false), Err(PolicyError::TooShort(12)));
        assert!(short.check(true).is_ok());
        let over = Policy {
            min_upper: 20,
            min_lower: 10,
            ..Policy::default()
        };
        assert!(matches!(
            over.check(false),
            Err(PolicyError::MinimumsOverLength { .. })
        ));
        let no_digits = Policy {
            exclude: DIGITS.into(),
            ..Policy::default()
        };
        assert_eq!(
            no_digits.check(false),
            Err(PolicyError::EmptyClass("digit"))
        );
    }

    #[test]
    fn uniform_covers_range() {
        let mut seen = [false; 7];
        for _ in 0..1000 {
            seen[uniform(7)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
