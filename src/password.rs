//! Password policy and generator.
//!
//! Invariants: every character comes from a CSPRNG by rejection sampling, so each pick is
//! exactly uniform over its alphabet. The CSPRNG is ChaCha12 (`StdRng`) keyed afresh from the
//! OS (`OsRng`) for each password: one `getrandom` call per password instead of one per
//! character (which cost a tenth of a large run's CPU), and no state shared between passwords; required classes are placed at uniformly random
//! positions (Fisher–Yates with the same unbiased sampler). The generated string goes straight
//! into a [`SecretString`]; the working buffer is zeroized.

use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng};
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        union(&self.classes())
    }

    /// Generates one password. The policy must have passed [`Policy::check`]. A run builds a
    /// [`Generator`] once instead.
    pub fn generate(&self) -> SecretString {
        Generator::new(self).generate()
    }
}

/// A checked policy's alphabets, sorted and filtered once, so that generating a password does
/// no work that is the same for every password.
#[derive(Debug, Clone)]
pub struct Generator {
    length: usize,
    /// Each class's minimum count and characters (after exclusions).
    minimums: Vec<(usize, Vec<u8>)>,
    /// The union of all classes: the alphabet for the positions no minimum claims.
    alphabet: Vec<u8>,
}

impl Generator {
    /// The generator for `policy`, which must have passed [`Policy::check`].
    pub fn new(policy: &Policy) -> Generator {
        let classes = policy.classes();
        Generator {
            length: policy.length,
            alphabet: union(&classes),
            minimums: classes
                .into_iter()
                .map(|(_, min, set)| (min, set))
                .collect(),
        }
    }

    /// Generates one password.
    pub fn generate(&self) -> SecretString {
        let mut rng = StdRng::from_rng(OsRng).expect("the OS random source failed");
        let mut buf = Zeroizing::new(Vec::with_capacity(self.length));
        for (min, set) in &self.minimums {
            for _ in 0..*min {
                buf.push(set[uniform(&mut rng, set.len())]);
            }
        }
        while buf.len() < self.length {
            buf.push(self.alphabet[uniform(&mut rng, self.alphabet.len())]);
        }
        shuffle(&mut rng, &mut buf);
        // Every byte is printable ASCII (see `classes`), so this is a copy, never a repair.
        secret(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// The characters of all `classes`, sorted, once each.
fn union(classes: &[(&'static str, usize, Vec<u8>)]) -> Vec<u8> {
    let mut all: Vec<u8> = classes.iter().flat_map(|c| c.2.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// A uniformly distributed index in `0..n` from `rng`, by rejection sampling (values in the
/// incomplete last block of `u32` are redrawn, so no index is favoured).
fn uniform(rng: &mut impl RngCore, n: usize) -> usize {
    assert!(
        n > 0 && n <= u32::MAX as usize,
        "alphabet size out of range"
    );
    let n = n as u32;
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let v = rng.next_u32();
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// Fisher–Yates shuffle with the unbiased sampler above.
fn shuffle(rng: &mut impl RngCore, buf: &mut [u8]) {
    for i in (1..buf.len()).rev() {
        let j = uniform(rng, i + 1);
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
            seen[uniform(&mut OsRng, 7)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn policy_edge_cases() {
        let exact = Policy {
            length: 20,
            min_upper: 5,
            min_lower: 5,
            min_digit: 5,
            min_special: 5,
            ..Policy::default()
        };
        assert_eq!(exact.check(false), Ok(()), "minimums may fill the length");
        let s = exact.generate();
        assert_eq!(
            s.expose_secret().bytes().filter(u8::is_ascii_digit).count(),
            5
        );
        let nineteen = Policy {
            length: 19,
            ..Policy::default()
        };
        assert_eq!(nineteen.check(false), Err(PolicyError::TooShort(19)));
        assert_eq!(nineteen.check(true), Ok(()));
        let zero = Policy {
            length: 0,
            ..Policy::default()
        };
        assert_eq!(zero.check(true), Err(PolicyError::Zero));
        let nothing = Policy {
            min_upper: 0,
            min_lower: 0,
            min_digit: 0,
            min_special: 0,
            special: String::new(),
            exclude: format!("{UPPER}{LOWER}{DIGITS}"),
            ..Policy::default()
        };
        assert_eq!(nothing.check(false), Err(PolicyError::EmptyAlphabet));
        let no_special = Policy {
            special: String::new(),
            ..Policy::default()
        };
        assert_eq!(
            no_special.check(false),
            Err(PolicyError::EmptyClass("special"))
        );
        let letters_only = Policy {
            min_digit: 0,
            min_special: 0,
            special: String::new(),
            exclude: DIGITS.into(),
            ..Policy::default()
        };
        assert_eq!(letters_only.check(false), Ok(()));
        let pw = letters_only.generate();
        assert!(pw.expose_secret().bytes().all(|b| b.is_ascii_alphabetic()));
    }

    #[test]
    fn custom_special_set_is_the_only_punctuation() {
        let p = Policy {
            special: "-_".into(),
            min_special: 3,
            ..Policy::default()
        };
        p.check(false).unwrap();
        for _ in 0..200 {
            let pw = p.generate();
            let s = pw.expose_secret();
            assert!(s.bytes().filter(|b| b"-_".contains(b)).count() >= 3);
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));
        }
    }

    /// Chi-square statistic of `counts` against a uniform distribution.
    fn chi_square(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    /// Upper critical value of chi-square with `df` degrees of freedom at p = 1e-4
    /// (Wilson–Hilferty approximation; z = 3.719), so a correct generator fails 1 run in 10,000.
    fn critical(df: usize) -> f64 {
        let k = df as f64;
        let a = 2.0 / (9.0 * k);
        k * (1.0 - a + 3.719 * a.sqrt()).powi(3)
    }

    fn histogram(p: &Policy, n: usize, alphabet: &[u8]) -> Vec<u64> {
        let mut counts = vec![0u64; alphabet.len()];
        for _ in 0..n {
            for b in p.generate().expose_secret().bytes() {
                let i = alphabet
                    .binary_search(&b)
                    .expect("character from the alphabet");
                counts[i] += 1;
            }
        }
        counts
    }

    #[test]
    fn chi_square_uniform_over_100k_passwords() {
        // Without minimums every position draws from the whole alphabet: all characters equally likely.
        let free = Policy {
            min_upper: 0,
            min_lower: 0,
            min_digit: 0,
            min_special: 0,
            ..Policy::default()
        };
        let alphabet = free.alphabet();
        let counts = histogram(&free, 100_000, &alphabet);
        let (x2, limit) = (chi_square(&counts), critical(alphabet.len() - 1));
        assert!(
            x2 < limit,
            "chi-square {x2:.1} over {limit:.1}: not uniform"
        );
        // With minimums, characters are uniform within each class.
        let p = Policy::default();
        let counts = histogram(&p, 100_000, &p.alphabet());
        let alphabet = p.alphabet();
        for (name, _, set) in p.classes() {
            let class: Vec<u64> = set
                .iter()
                .map(|b| counts[alphabet.binary_search(b).unwrap()])
                .collect();
            let (x2, limit) = (chi_square(&class), critical(class.len() - 1));
            assert!(x2 < limit, "{name}: chi-square {x2:.1} over {limit:.1}");
        }
    }

    #[test]
    fn required_classes_land_on_uniform_positions() {
        // One digit required, none elsewhere: its position must be uniform over the 24 places.
        let p = Policy {
            min_upper: 0,
            min_lower: 0,
            min_special: 0,
            min_digit: 1,
            exclude: DIGITS[1..].into(),
            special: String::new(),
            ..Policy::default()
        };
        let mut at = vec![0u64; p.length];
        for _ in 0..48_000 {
            let pw = p.generate();
            let s = pw.expose_secret();
            for (i, b) in s.bytes().enumerate() {
                if b == b'0' {
                    at[i] += 1;
                }
            }
        }
        let (x2, limit) = (chi_square(&at), critical(at.len() - 1));
        assert!(x2 < limit, "positions: chi-square {x2:.1} over {limit:.1}");
    }
}
