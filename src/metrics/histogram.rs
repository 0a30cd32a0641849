//! A Prometheus histogram of seconds with fixed buckets.
//!
//! Invariant: buckets are cumulative when rendered (`le="x"` counts every observation ≤ x), the
//! `+Inf` bucket equals `_count`.

use std::fmt::Write;

/// Upper bounds in seconds: from a fast answer to a row that waited out long `Retry-After`s.
const BOUNDS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, Clone, Default)]
pub(super) struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    counts: [u64; BOUNDS.len() + 1],
    sum: f64,
}

impl Histogram {
    pub(super) fn observe(&mut self, seconds: f64) {
        let i = BOUNDS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BOUNDS.len());
        self.counts[i] += 1;
        self.sum += seconds;
    }

    /// `_bucket`, `_sum` and `_count` lines with `labels` (without braces) on each.
    pub(super) fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, n) in self.counts.iter().enumerate() {
            cumulative += n;
            let le = BOUNDS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inf_is_the_count() {
        let mut h = Histogram::default();
        for s in [0.01, 0.3, 0.3, 7.0, 1000.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "p=\"g\"");
        assert!(out.contains("x_bucket{p=\"g\",le=\"0.05\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"g\",le=\"0.5\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"g\",le=\"300\"} 4\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"g\",le=\"+Inf\"} 5\n"), "{out}");
        assert!(out.contains("x_count{p=\"g\"} 5\n"), "{out}");
    }
}
