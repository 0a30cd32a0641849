//! Why a run stopped early on purpose: a lane's circuit breaker tripped, or the canary's rows did
//! not all succeed. Both end the run with exit 3 (resumable) and one line naming the cause.
//!
//! Invariants: the first cause wins and is logged once; setting one also requests the run's
//! stop, so no new request leaves after it (requests on the wire finish and are journaled).

use std::sync::{Arc, Mutex};

use super::breaker::Trip;
use super::Stop;

/// A canary row that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryMiss {
    pub row: u64,
    pub user: String,
    pub provider: String,
    /// `failed 401 InvalidAuthenticationToken`, `uncertain timeout`...
    pub what: String,
}

/// The cause of an early stop.
#[derive(Debug, Clone, PartialEq)]
pub enum Halted {
    Breaker(Trip),
    Canary(Vec<CanaryMiss>),
}

impl Halted {
    /// One line for the operator.
    pub fn describe(&self) -> String {
        match self {
            Halted::Breaker(t) => format!("circuit breaker ({}): {}", t.lane, t.cause),
            Halted::Canary(misses) => {
                let rows: Vec<String> = misses
                    .iter()
                    .take(10)
                    .map(|m| format!("row {} {} at {}: {}", m.row, m.user, m.provider, m.what))
                    .collect();
                let more = misses.len().saturating_sub(rows.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "canary: {} canary row(s) did not succeed ({}{more})",
                    misses.len(),
                    rows.join("; ")
                )
            }
        }
    }
}

/// The run's early-stop cell, shared by the lanes' workers and the session.
#[derive(Debug, Clone, Default)]
pub struct Halt(Arc<Mutex<Option<Halted>>>);

impl Halt {
    /// Records `cause` (unless one is already recorded), logs it once and stops the run.
    pub fn set(&self, cause: Halted, stop: &Stop) {
        let mut cell = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cell.is_none() {
            tracing::error!(
                "stopping: {}; no further requests are sent",
                cause.describe()
            );
            *cell = Some(cause);
        }
        drop(cell);
        stop.request();
    }

    pub fn get(&self) -> Option<Halted> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_cause_wins_and_stops_the_run() {
        let (halt, stop) = (Halt::default(), Stop::default());
        let trip = Trip {
            lane: "graph".into(),
            cause: "5 consecutive 401 x from graph".into(),
        };
        halt.set(Halted::Breaker(trip.clone()), &stop);
        halt.set(Halted::Canary(vec![]), &stop);
        assert!(stop.requested());
        assert_eq!(halt.get(), Some(Halted::Breaker(trip)));
        let miss = CanaryMiss {
            row: 2,
            user: "u2".into(),
            provider: "graph".into(),
            what: "failed 404 Request_ResourceNotFound".into(),
        };
        let text = Halted::Canary(vec![miss]).describe();
        assert_eq!(
            text,
            "canary: 1 canary row(s) did not succeed (row 2 u2 at graph: failed 404 Request_ResourceNotFound)"
        );
    }
}
