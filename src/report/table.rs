//! `report.csv` and `report.json`: one redacted row per manifest row, streamed as rows finish.
//!
//! Invariants: only [`ReportRow`] is written, which by construction holds no secret. No cell of
//! `report.csv` starts with a character that makes a spreadsheet run it as a formula (`=`, `+`,
//! `-`, `@`, tab, CR): such a cell gets a leading `'` (OWASP's CSV-injection advice), since
//! users, methods and provider messages come from outside. `report.json` stays exact.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::files::AtomicFile;
use crate::outcome::ReportRow;

pub const REPORT_CSV: &str = "report.csv";
pub const REPORT_JSON: &str = "report.json";

pub struct ReportWriter {
    csv: csv::Writer<AtomicFile>,
    json: AtomicFile,
    /// One row's JSON, serialised here and written in one piece (serde_json writes token by
    /// token).
    line: Vec<u8>,
    rows: u64,
}

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

impl ReportWriter {
    pub fn create(dir: &Path) -> Result<ReportWriter> {
        let csv = csv::Writer::from_writer(AtomicFile::create(dir.join(REPORT_CSV))?);
        let mut json = AtomicFile::create(dir.join(REPORT_JSON))?;
        json.write_all(b"[")?;
        Ok(ReportWriter {
            csv,
            json,
            line: Vec::with_capacity(1024),
            rows: 0,
        })
    }

    pub fn write(&mut self, row: &ReportRow) -> Result<()> {
        if self.rows == 0 {
            self.csv.write_record(HEADER)?;
        }
        self.csv
            .write_record(cells(row).iter().map(|c| c.as_bytes()))?;
        let sep: &[u8] = if self.rows == 0 { b"\n  " } else { b",\n  " };
        self.line.clear();
        self.line.extend_from_slice(sep);
        serde_json::to_writer(&mut self.line, row)?;
        self.json.write_all(&self.line)?;
        self.rows += 1;
        Ok(())
    }

    /// Completes both files and renames them into place.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        if self.rows == 0 {
            self.csv.write_record(HEADER)?;
        }
        self.json.write_all(b"\n]\n")?;
        let csv = self.csv.into_inner().map_err(|e| e.into_error())?;
        Ok(vec![csv.commit()?, self.json.commit()?])
    }
}

/// A cell as a spreadsheet will show it, never run it.
fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.starts_with(FORMULA_START) {
        true => Cow::Owned(format!("'{cell}")),
        false => Cow::Borrowed(cell),
    }
}

/// The cells of `row` in `HEADER`'s order, each as csv's serde support renders it (None as an
/// empty cell; the test `cells_are_what_serde_renders` holds the two together), neutralised.
/// Written by hand: a serde round trip per row cost a tenth of a run's CPU.
fn cells(row: &ReportRow) -> [Cow<'_, str>; 18] {
    fn text(v: &Option<String>) -> Cow<'_, str> {
        neutralise(v.as_deref().unwrap_or(""))
    }
    fn shown(v: Option<impl Into<String>>) -> Cow<'static, str> {
        let s: String = v.map(Into::into).unwrap_or_default();
        match neutralise(&s) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(n) => Cow::Owned(n),
        }
    }
    [
        Cow::Owned(row.row.to_string()),
        neutralise(&row.user),
        neutralise(&row.method),
        neutralise(&row.provider),
        Cow::Borrowed(row.status.as_str()),
        Cow::Owned(row.attempts.to_string()),
        shown(row.http_status.map(|s| s.to_string())),
        text(&row.error_code),
        text(&row.error_message),
        text(&row.operation_id),
        text(&row.request_id),
        neutralise(&row.started_at),
        neutralise(&row.finished_at),
        text(&row.provider_result),
        shown(row.revoke_sessions.clone()),
        text(&row.client_request_id),
        shown(row.delivery.clone()),
        shown(row.kv_version.map(|v| v.to_string())),
    ]
}

const HEADER: &[&str] = &[
    "row",
    "user",
    "method",
    "provider",
    "status",
    "attempts",
    "http_status",
    "error_code",
    "error_message",
    "operation_id",
    "request_id",
    "started_at",
    "finished_at",
    "provider_result",
    "revoke_sessions",
    "client_request_id",
    "delivery",
    "kv_version",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;

    fn row(n: u64) -> ReportRow {
        ReportRow {
            row: n,
            user: format!("u{n}"),
            method: "m".into(),
            provider: "graph".into(),
            status: Status::Succeeded,
            attempts: 1,
            http_status: Some(202),
            error_code: None,
            error_message: None,
            operation_id: Some("op".into()),
            request_id: Some("rid".into()),
            started_at: "t0".into(),
            finished_at: "t1".into(),
            provider_result: None,
            revoke_sessions: None,
            client_request_id: None,
            delivery: None,
            kv_version: None,
        }
    }

    #[test]
    fn writes_csv_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ReportWriter::create(dir.path()).unwrap();
        w.write(&row(1)).unwrap();
        w.write(&row(2)).unwrap();
        w.finish().unwrap();
        let csv = std::fs::read_to_string(dir.path().join(REPORT_CSV)).unwrap();
        assert!(csv.starts_with(&HEADER.join(",")), "{csv}");
        assert_eq!(csv.lines().count(), 3);
        let json: Vec<ReportRow> =
            serde_json::from_slice(&std::fs::read(dir.path().join(REPORT_JSON)).unwrap()).unwrap();
        assert_eq!(json, vec![row(1), row(2)]);
    }

    #[test]
    fn formula_cells_are_neutralised_in_csv_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = row(1);
        r.user = "=HYPERLINK(\"http://evil.example/\",\"click\")".into();
        r.method = "+1".into();
        r.error_code = Some("-2".into());
        r.error_message = Some("@SUM(A1:A9), and more".into());
        r.operation_id = Some("\tcmd".into());
        r.request_id = Some("\rcmd".into());
        r.provider_result = Some("plain = fine".into());
        let mut w = ReportWriter::create(dir.path()).unwrap();
        w.write(&r).unwrap();
        w.finish().unwrap();
        let mut csv = csv::Reader::from_path(dir.path().join(REPORT_CSV)).unwrap();
        let header = csv.headers().unwrap().clone();
        assert_eq!(header.iter().collect::<Vec<_>>(), HEADER);
        let cells = csv.records().next().unwrap().unwrap();
        let cell = |name: &str| cells[HEADER.iter().position(|h| *h == name).unwrap()].to_owned();
        assert_eq!(cell("user"), format!("'{}", r.user));
        assert_eq!(cell("method"), "'+1");
        assert_eq!(cell("error_code"), "'-2");
        assert_eq!(cell("error_message"), "'@SUM(A1:A9), and more");
        assert_eq!(cell("operation_id"), "'\tcmd");
        assert_eq!(cell("request_id"), "'\rcmd");
        assert_eq!(cell("provider_result"), "plain = fine");
        assert_eq!(cell("http_status"), "202");
        let json: Vec<ReportRow> =
            serde_json::from_slice(&std::fs::read(dir.path().join(REPORT_JSON)).unwrap()).unwrap();
        assert_eq!(json, vec![r], "report.json stays exact");
    }

    /// The old way, kept as the oracle: serde's rendering, read back.
    fn serde_cells(row: &ReportRow) -> (Vec<String>, Vec<String>) {
        let mut one = csv::Writer::from_writer(Vec::new());
        one.serialize(row).unwrap();
        let bytes = one.into_inner().unwrap();
        let mut back = csv::Reader::from_reader(bytes.as_slice());
        let header = back.headers().unwrap().iter().map(str::to_owned).collect();
        let cells = back.records().next().unwrap().unwrap();
        (header, cells.iter().map(str::to_owned).collect())
    }

    #[test]
    fn cells_are_what_serde_renders() {
        use crate::outcome::{DeliveryState, RevokeResult};
        let mut full = row(7);
        full.error_code = Some("E".into());
        full.error_message = Some("a, \"quoted\"\nline".into());
        full.provider_result = Some("r".into());
        full.revoke_sessions = Some(RevokeResult::Failed { code: "x".into() });
        full.client_request_id = Some("c".into());
        full.delivery = Some(DeliveryState::Undelivered {
            reason: "HTTP 403".into(),
        });
        full.kv_version = Some(3);
        let mut empty = row(8);
        (empty.http_status, empty.operation_id, empty.request_id) = (None, None, None);
        empty.status = Status::Uncertain;
        for r in [row(1), full, empty] {
            let (header, expected) = serde_cells(&r);
            assert_eq!(header, HEADER, "HEADER follows ReportRow's fields");
            let got: Vec<String> = cells(&r).iter().map(|c| c.to_string()).collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn empty_report_keeps_header() {
        let dir = tempfile::tempdir().unwrap();
        ReportWriter::create(dir.path()).unwrap().finish().unwrap();
        let csv = std::fs::read_to_string(dir.path().join(REPORT_CSV)).unwrap();
        assert_eq!(csv.trim(), HEADER.join(","));
        let json: Vec<ReportRow> =
            serde_json::from_slice(&std::fs::read(dir.path().join(REPORT_JSON)).unwrap()).unwrap();
        assert!(json.is_empty());
    }
}
