//! Delivering one confirmed password: read the secret's latest version, and write a new one
//! with check-and-set unless the store already holds this password.
//!
//! Invariants: a password is written at most once per reset: before each write the latest
//! version is read, and when it already holds the password (a write whose answer was lost, or a
//! crash after the write and before the journal said so) that version is the delivery; every
//! write names the version read (`cas`), so a concurrent writer makes it a conflict, answered by
//! reading again. Transient failures are retried with the run's backoff and attempt limit; a
//! refusal ends the delivery at once. After a stop no request leaves.

use serde_json::{json, Value};

use super::http::SinkError;
use super::path::PathValues;
use super::Delivery;
use crate::pipeline::Stop;
use crate::secret::{ExposeSecret, SecretString};

/// A confirmed password to deliver, and the reset it comes from.
pub struct Job {
    pub row: u64,
    /// (session, attempt) of the reset's `succeeded` outcome.
    pub reset: (u32, u32),
    pub user: String,
    pub provider: String,
    pub method: String,
    /// When the reset was confirmed (RFC 3339).
    pub rotated_at: String,
    pub password: SecretString,
}

/// How a delivery ended.
#[derive(Debug)]
pub enum Outcome {
    /// The secret's version that holds the password.
    Delivered(u64),
    Undelivered(SinkError),
    /// Stopped (signal) before it ended: the row stays pending.
    Stopped,
}

impl Delivery {
    /// Delivers `job`, retrying what is transient.
    pub async fn deliver(&self, job: &Job, stop: &Stop) -> Outcome {
        let name = self.spec.path.render(&PathValues {
            provider: &job.provider,
            user: &job.user,
            method: &job.method,
        });
        let data = self.data(job);
        let mut attempts = 0;
        loop {
            if stop.requested() {
                return Outcome::Stopped;
            }
            attempts += 1;
            let error = match self.attempt(&name, &data, &job.password).await {
                Ok(version) => return Outcome::Delivered(version),
                Err(e) => e,
            };
            let retry_after = match &error {
                SinkError::Refused { .. } => return Outcome::Undelivered(error),
                _ if attempts >= self.backoff.max_attempts => return Outcome::Undelivered(error),
                SinkError::Conflict => None,
                SinkError::Transient { retry_after, .. } => *retry_after,
            };
            tracing::debug!(
                row = job.row,
                attempt = attempts,
                "delivery to the secret store will be retried: {error}"
            );
            if stop.sleep(self.backoff.delay(attempts, retry_after)).await {
                return Outcome::Stopped;
            }
        }
    }

    async fn attempt(
        &self,
        name: &str,
        data: &Value,
        password: &SecretString,
    ) -> Result<u64, SinkError> {
        let latest = self.kv.latest(name).await?;
        if latest
            .password
            .is_some_and(|p| p.expose_secret() == password.expose_secret())
        {
            return Ok(latest.version);
        }
        self.kv.write(name, data, latest.version).await
    }

    /// The secret's fields (issue 13: a public format).
    fn data(&self, job: &Job) -> Value {
        json!({
            "password": job.password.expose_secret(),
            "user": job.user,
            "provider": job.provider,
            "method": job.method,
            "rotated_at": job.rotated_at,
            "run_id": self.run_id,
        })
    }
}
