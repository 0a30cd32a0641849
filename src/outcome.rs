//! What happened to one manifest row: the unit the pipeline hands to the report and export.
//!
//! Invariant: nothing here that is serialised holds a secret. The new password travels beside the
//! row in [`RowResult::password`], which only the export ever reads.

use serde::{Deserialize, Serialize};

use crate::secret::SecretString;

/// Final status of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Succeeded,
    /// The provider certainly did not apply the row's password.
    Failed,
    /// The provider may have applied the row's password: its candidates are in the export, and
    /// `resume` resets the row again (docs/DESIGN.md §4.4).
    Uncertain,
    DryRun,
    /// A break-glass exclusion (`--exclude-file`, `exclude = [...]`): never sent.
    Excluded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Uncertain => "uncertain",
            Status::DryRun => "dry_run",
            Status::Excluded => "excluded",
        }
    }
}

/// One report row: redacted, safe to write anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub row: u64,
    pub user: String,
    pub method: String,
    pub provider: String,
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub operation_id: Option<String>,
    pub request_id: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC.
    pub finished_at: String,
    /// What the provider said beyond the status, when it says more (Wristband's `result`).
    #[serde(default)]
    pub provider_result: Option<String>,
    /// The follow-up `revokeSignInSessions` step, or `None` when it was not run (not asked
    /// for, the provider has none, or the reset did not succeed).
    #[serde(default)]
    pub revoke_sessions: Option<RevokeResult>,
    /// The `client-request-id` the last request was sent with (Graph), to find it in the
    /// provider's logs beside its `request_id`.
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// Delivery of the confirmed password to the `[sink]` secret store: `delivered`,
    /// `undelivered: REASON`, or `None` when no sink is configured or there is nothing to deliver.
    #[serde(default)]
    pub delivery: Option<DeliveryState>,
    /// The secret's KV version the delivery wrote (or found already holding the password).
    #[serde(default)]
    pub kv_version: Option<u64>,
}

/// What the `revokeSignInSessions` follow-up came to. Written as `succeeded` or `failed: CODE`
/// in the report (a public format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum RevokeResult {
    Succeeded,
    Failed { code: String },
}

impl RevokeResult {
    pub fn failed(&self) -> bool {
        matches!(self, RevokeResult::Failed { .. })
    }
}

impl From<RevokeResult> for String {
    fn from(r: RevokeResult) -> String {
        match r {
            RevokeResult::Succeeded => "succeeded".into(),
            RevokeResult::Failed { code } => format!("failed: {code}"),
        }
    }
}

impl TryFrom<String> for RevokeResult {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.strip_prefix("failed: ") {
            _ if text == "succeeded" => Ok(RevokeResult::Succeeded),
            Some(code) => Ok(RevokeResult::Failed { code: code.into() }),
            None => Err(format!("not a revoke result: {text:?}")),
        }
    }
}

/// Where a confirmed password stands with the `[sink]` secret store. Written as `delivered` or
/// `undelivered: REASON` in the report and journal (a public format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DeliveryState {
    Delivered,
    Undelivered { reason: String },
}

impl DeliveryState {
    pub fn delivered(&self) -> bool {
        matches!(self, DeliveryState::Delivered)
    }
}

impl From<DeliveryState> for String {
    fn from(d: DeliveryState) -> String {
        match d {
            DeliveryState::Delivered => "delivered".into(),
            DeliveryState::Undelivered { reason } => format!("undelivered: {reason}"),
        }
    }
}

impl TryFrom<String> for DeliveryState {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.strip_prefix("undelivered: ") {
            _ if text == "delivered" => Ok(DeliveryState::Delivered),
            Some(reason) => Ok(DeliveryState::Undelivered {
                reason: reason.into(),
            }),
            None => Err(format!("not a delivery state: {text:?}")),
        }
    }
}

/// A finished row plus, when it succeeded, the password now in force, or when it is uncertain,
/// the password that may be (for the journal and export only).
#[derive(Debug)]
pub struct RowResult {
    pub report: ReportRow,
    pub password: Option<SecretString>,
    /// Responses with status 429 seen for this row.
    pub throttled: u32,
    /// The password came from the provider's answer (not from an intent).
    pub server_generated: bool,
}

/// RFC 3339 UTC timestamp with millisecond precision.
pub fn timestamp(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::RevokeResult;

    #[test]
    fn revoke_results_keep_their_report_spelling() {
        let failed = RevokeResult::Failed {
            code: "Authorization_RequestDenied".into(),
        };
        let text = serde_json::to_string(&failed).unwrap();
        assert_eq!(text, r#""failed: Authorization_RequestDenied""#);
        assert_eq!(serde_json::from_str::<RevokeResult>(&text).unwrap(), failed);
        let ok: RevokeResult = serde_json::from_str(r#""succeeded""#).unwrap();
        assert_eq!(ok, RevokeResult::Succeeded);
        assert!(serde_json::from_str::<RevokeResult>(r#""maybe""#).is_err());
    }
}
