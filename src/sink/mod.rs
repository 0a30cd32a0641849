//! Delivering confirmed passwords to a secret store (`[sink]`): Vault or OpenBao, KV version 2.
//!
//! ```text
//! collector ── outcome journaled ──▶ stage: flush journal → read latest → write (cas) → `delivery` record
//! resume / report --deliver ── confirmed rows without a delivery ──▶ the same stage
//! ```
//! Invariants:
//! - The sink is checked before the first reset ([`Delivery::connect`]: a store that is
//!   unreachable or refuses the credential is a start-up error, exit 2, nothing sent).
//! - Only confirmed passwords are written; uncertain rows never are (their candidates stay in the
//!   age export, which is always written: it is the backup when the store is down).
//! - A row is delivered at most once per reset (see `deliver`) and its delivery is journaled,
//!   so `resume` and `report --deliver` deliver exactly the confirmed rows still pending.
//! - The store's token, secret id, JWT and the passwords never reach a log, report or message.
//!
//! One job per file: `spec` (the config section), `path` (the secret path template), `http`
//! (client and answer classes), `auth` (sign-in and renewal), `kv` (KV v2 with check-and-set),
//! `deliver` (one row), `stage` (the session's delivery workers and journaling).

mod auth;
mod deliver;
mod http;
mod kv;
mod path;
mod spec;
mod stage;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

pub use deliver::Job;
pub use spec::{SinkFile, SinkSpec};
pub use stage::Stage;

use crate::auth::Tls;
use crate::journal::{
    each_record, read_record_at, Binding, Header, JournalState, Opener, Record, RowState,
};
use crate::outcome::DeliveryState;
use crate::pipeline::Backoff;
use crate::secret::SecretString;

/// A connected sink: where and how to deliver.
#[derive(Debug)]
pub struct Delivery {
    spec: SinkSpec,
    kv: kv::Kv,
    run_id: String,
    backoff: Backoff,
}

impl Delivery {
    /// Signs in at the store and checks the credential: the start-up check.
    pub async fn connect(
        spec: &SinkSpec,
        tls: &Tls,
        timeout: Duration,
        backoff: Backoff,
    ) -> Result<Delivery> {
        let http = http::Http::new(&spec.address, spec.namespace.clone(), tls, timeout)?;
        let auth = auth::SinkAuth::connect(http, &spec.auth).await?;
        tracing::info!(address = %spec.address, mount = %spec.mount, "secret store reached; confirmed passwords will be delivered there");
        Ok(Delivery {
            spec: spec.clone(),
            kv: kv::Kv {
                auth,
                mount: spec.mount.clone(),
            },
            run_id: String::new(),
            backoff,
        })
    }

    /// Names the run whose passwords this delivers (written into every secret).
    pub fn for_run(mut self, header: &Header) -> Delivery {
        self.run_id = run_id(header);
        self
    }
}

/// Connects the run's sink, if it has one (see [`Delivery::connect`]).
pub async fn connect(
    spec: Option<&SinkSpec>,
    tls: &Tls,
    timeout: Duration,
    backoff: Backoff,
) -> Result<Option<Delivery>> {
    match spec {
        Some(spec) => Ok(Some(Delivery::connect(spec, tls, timeout, backoff).await?)),
        None => Ok(None),
    }
}

/// A short, stable id of the run: the first 16 hex digits of SHA-256 over the header's creation
/// time and manifest digest.
pub fn run_id(header: &Header) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}|{}", header.created_at, header.manifest.sha256));
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Every confirmed row whose password is not yet in the store, with that password: one pass
/// over the journal (like the report's second pass), taking each row's confirmed password and
/// report from the lines `state` points at. Only passwords of pending rows are opened.
pub fn pending_jobs(dir: &Path, state: &JournalState, opener: &Opener) -> Result<Vec<Job>> {
    let mut confirmed: HashMap<u64, SecretString> = HashMap::new();
    let mut jobs = Vec::new();
    each_record(dir, |at, rec| {
        let (n, sealed, binding, report) = match &rec {
            Record::Intent(i) => (i.row, &i.password, i.binding(), None),
            Record::Outcome(o) => (o.row, &o.password, o.binding(), o.report.as_ref()),
            _ => return Ok(()),
        };
        let row = state.row(n)?;
        if !row.needs_delivery() {
            return Ok(());
        }
        if let (Some(sealed), true) = (sealed, row.confirmed_at == at) {
            let password = open_confirmed(opener, sealed, binding)
                .with_context(|| format!("row {n}: cannot open its confirmed password"))?;
            confirmed.insert(n, password);
        }
        let (Some(report), true, Some(reset)) =
            (report, row.report_at == at, row.confirmed_reset())
        else {
            return Ok(());
        };
        if let Some(password) = confirmed.remove(&n) {
            jobs.push(Job {
                row: n,
                reset,
                user: report.user.clone(),
                provider: report.provider.clone(),
                method: report.method.clone(),
                rotated_at: report.finished_at.clone(),
                password,
            });
        }
        Ok(())
    })?;
    Ok(jobs)
}

/// Reads a journal password back: the one place delivery touches the journal's crypto.
fn open_confirmed(opener: &Opener, sealed: &str, binding: Binding) -> Result<SecretString> {
    opener.open(sealed, binding)
}

/// The report's delivery cells for a row of a run with a sink (an undelivered row's reason is
/// read back from its `delivery` line in `dir`'s journal).
pub fn report_cells(dir: &Path, row: &RowState) -> Result<(Option<DeliveryState>, Option<u64>)> {
    if let Some(d) = row.delivery() {
        if d.delivered {
            return Ok((Some(DeliveryState::Delivered), d.kv_version));
        }
        return match read_record_at(dir, d.at)? {
            Record::Delivery(r) => Ok((Some(r.state), r.kv_version)),
            _ => Err(anyhow!(
                "journal byte {}: not the delivery record the scan found there (hint: the journal changed while it was read)",
                d.at
            )),
        };
    }
    let reason = if row.succeeded() && row.confirmed_at == 0 {
        return Ok((None, None)); // nothing to deliver: no password is known
    } else if row.succeeded() {
        "pending: the run stopped before delivering it (`credrotate resume` or `credrotate report --deliver` delivers it)"
    } else if row.uncertain() {
        "uncertain reset, not written (its candidate passwords are in the export)"
    } else {
        return Ok((None, None));
    };
    let state = DeliveryState::Undelivered {
        reason: reason.into(),
    };
    Ok((Some(state), None))
}
