//! A small pool of bound LDAP connections, at most the provider's concurrency of them.
//!
//! Invariants:
//! - A connection is handed to one attempt at a time and comes back only after an operation
//!   the server answered; one that failed at the transport level is dropped, so the next
//!   attempt reconnects and binds again (a restarted server is picked up this way).
//! - An idle connection whose driver has ended (the server closed it) is never handed out.
//! - No more than `size` connections exist at once: a semaphore permit travels with each.
//! - Once the server refuses the bind account's password, no further bind is tried in this run
//!   (every row fails without a request): thousands of wrong binds would lock the account out.

use std::sync::{Arc, Mutex, OnceLock};

use ldap3::Ldap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connect::Endpoint;
use crate::provider::{Attempt, Failure};

/// The result code name of a refused bind (`result_code`'s spelling).
const BIND_REFUSED: &str = "invalidCredentials";

#[derive(Debug)]
pub struct Pool {
    endpoint: Endpoint,
    idle: Mutex<Vec<Ldap>>,
    permits: Arc<Semaphore>,
    /// The bind refusal that stopped this pool from binding again.
    refused: OnceLock<Failure>,
}

/// A connection lent to one attempt.
pub struct Lease {
    pub ldap: Ldap,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub fn new(endpoint: Endpoint, size: usize) -> Pool {
        Pool {
            endpoint,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
            refused: OnceLock::new(),
        }
    }

    /// An idle connection that is still open, or a fresh bound one.
    pub async fn get(&self) -> Result<Lease, Attempt> {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return Err(crate::provider::http_util::not_sent(
                "pool_closed",
                "the connection pool is closed".into(),
            ));
        };
        if let Some(ldap) = self.take_open() {
            return Ok(Lease {
                ldap,
                _permit: permit,
            });
        }
        if let Some(refused) = self.refused.get() {
            let mut failure = refused.clone();
            failure.message += " (not tried again in this run: fix the bind password and resume)";
            return Err(Attempt::NotApplied(failure));
        }
        match self.endpoint.open().await {
            Ok(ldap) => Ok(Lease {
                ldap,
                _permit: permit,
            }),
            Err(Attempt::NotApplied(failure)) if failure.code == BIND_REFUSED => {
                let _ = self.refused.set(failure.clone());
                Err(Attempt::NotApplied(failure))
            }
            Err(attempt) => Err(attempt),
        }
    }

    /// Returns a connection whose last operation was answered.
    pub fn put(&self, lease: Lease) {
        self.lock().push(lease.ldap);
    }

    fn take_open(&self) -> Option<Ldap> {
        let mut idle = self.lock();
        while let Some(mut ldap) = idle.pop() {
            if !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Ldap>> {
        // A panic while holding the lock leaves a plain Vec behind: still usable.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}
