//! A lane's request budget: at most `--concurrency` requests to the provider at once.
//!
//! A lane runs [`ROWS_PER_SLOT`] times as many row tasks as it has slots, so that while
//! `concurrency` requests are on the wire, the next rows' intents are already being made durable:
//! the journal's fsync overlaps the network instead of adding to every row's latency. A row takes
//! its slot after its intent is durable and holds it until its answer (and each follow-up
//! request takes one of its own), so the provider never sees more than `concurrency` requests.
//!
//! Invariant: after a stop no slot is handed out; a row waiting for one then has a durable intent
//! whose request never left, and says so (see `worker`), instead of sending it.

use tokio::sync::{Semaphore, SemaphorePermit};

use super::Stop;

/// Row tasks per request slot: one row on the wire, one with its intent on the way to disk.
pub const ROWS_PER_SLOT: usize = 2;

/// The lane's request slots.
#[derive(Debug)]
pub struct Wire {
    slots: Semaphore,
}

/// Why no slot was handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl Wire {
    pub fn new(concurrency: usize) -> Wire {
        Wire {
            slots: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Waits for a free slot, unless a stop comes first (or came already).
    pub async fn take(&self, stop: &Stop) -> Result<SemaphorePermit<'_>, Stopped> {
        if stop.requested() {
            return Err(Stopped);
        }
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        // Biased: a stop that came while waiting wins over a slot freed at the same moment.
        tokio::select! {
            biased;
            _ = stop.requested_wait() => Err(Stopped),
            // The semaphore is never closed.
            permit = self.slots.acquire() => permit.map_err(|_| Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn hands_out_at_most_its_slots() {
        let (wire, stop) = (Wire::new(2), Stop::default());
        let a = wire.take(&stop).await.unwrap();
        let _b = wire.take(&stop).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), wire.take(&stop)).await;
        assert!(third.is_err(), "a third slot was handed out");
        drop(a);
        assert!(wire.take(&stop).await.is_ok());
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait_and_hands_out_nothing_after() {
        let (wire, stop) = (Wire::new(1), Stop::default());
        let held = wire.take(&stop).await.unwrap();
        let waiting = async { wire.take(&stop).await.map(|_| ()) };
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stop.request();
        };
        let (waited, ()) = tokio::join!(waiting, stopper);
        assert_eq!(waited, Err(Stopped));
        drop(held);
        assert_eq!(wire.take(&stop).await.map(|_| ()), Err(Stopped));
    }
}
