//! Randomness the sandbox needs: ids, tokens, server-generated passwords and fault dice.
//!
//! Everything draws from `rand::thread_rng()`, a CSPRNG reseeded from the OS. The sandbox is a
//! test double, but server-generated passwords still look like real ones (mixed classes) so the
//! client's handling of them (journal, export) is exercised with realistic values.

use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#$%&*+-=?@^_";

/// Length of a server-generated password (Graph's own are shorter; 16 is a safe middle).
pub(crate) const GENERATED_PASSWORD_LEN: usize = 16;

/// `n` random bytes as lowercase hex.
pub(crate) fn hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| format!("{:02x}", rng.gen::<u8>())).collect()
}

/// A GUID-shaped random id (version-4 layout), like Graph's request and operation ids.
pub(crate) fn guid() -> String {
    let h = hex(16);
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A bearer token for a sandbox started without one.
pub(crate) fn token() -> String {
    format!("sandbox-{}", hex(24))
}

/// A password with at least one upper, lower, digit and symbol, shuffled so the classes do not
/// sit at fixed positions.
pub(crate) fn password() -> String {
    let mut rng = rand::thread_rng();
    let classes = [UPPER, LOWER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let mut chars: Vec<u8> = classes
        .iter()
        .filter_map(|class| class.choose(&mut rng).copied())
        .collect();
    while chars.len() < GENERATED_PASSWORD_LEN {
        if let Some(c) = all.choose(&mut rng) {
            chars.push(*c);
        }
    }
    chars.shuffle(&mut rng);
    chars.into_iter().map(char::from).collect()
}

/// Error diffusion for a ratio of answers: each draw adds the ratio to a credit and fires when
/// the credit reaches 1, so `n` draws at ratio `p` fire `floor(p·n)` or `ceil(p·n)` times,
/// evenly spaced. The credit starts at a random point, so which request fires first varies.
#[derive(Debug)]
pub(crate) struct Spread {
    credit: f64,
}

impl Spread {
    pub(crate) fn new() -> Self {
        Spread {
            credit: rand::thread_rng().gen::<f64>(),
        }
    }

    pub(crate) fn next(&mut self, p: f64) -> bool {
        if p.is_nan() || p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.credit += p;
        if self.credit >= 1.0 {
            self.credit -= 1.0;
            return true;
        }
        false
    }
}

/// True with probability `p`; `p <= 0` (or NaN) is never, `p >= 1` always.
pub(crate) fn roll(p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        return false;
    }
    p >= 1.0 || rand::thread_rng().gen::<f64>() < p
}

/// A duration drawn uniformly from `[0, max]`.
pub(crate) fn up_to(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    max.mul_f64(rand::thread_rng().gen::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_have_every_class() {
        for _ in 0..200 {
            let p = password();
            assert_eq!(p.len(), GENERATED_PASSWORD_LEN);
            assert!(p.bytes().any(|b| UPPER.contains(&b)));
            assert!(p.bytes().any(|b| LOWER.contains(&b)));
            assert!(p.bytes().any(|b| DIGITS.contains(&b)));
            assert!(p.bytes().any(|b| SYMBOLS.contains(&b)));
        }
    }

    #[test]
    fn guids_are_guid_shaped() {
        let g = guid();
        let parts: Vec<&str> = g.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(g.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(guid(), g);
    }

    #[test]
    fn roll_edges() {
        assert!(!roll(0.0));
        assert!(!roll(f64::NAN));
        assert!(!roll(-1.0));
        assert!(roll(1.0));
        assert!(roll(7.0));
    }

    #[test]
    fn a_spread_fires_its_ratio_evenly_from_any_start() {
        for _ in 0..200 {
            let mut s = Spread::new();
            let fired: Vec<bool> = (0..40).map(|_| s.next(0.15)).collect();
            let n = fired.iter().filter(|f| **f).count();
            assert!((6..=7).contains(&n), "{n} of 40 at 15 %");
            // Evenly spaced: never two 503s within six draws of each other at 15 %.
            let at: Vec<usize> = (0..40).filter(|i| fired[*i]).collect();
            assert!(at.windows(2).all(|w| w[1] - w[0] >= 6), "{at:?}");
        }
        let mut s = Spread::new();
        assert!((0..10).all(|_| !s.next(0.0) && s.next(1.0)));
        assert!(!s.next(f64::NAN));
    }
}
