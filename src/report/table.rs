//! `report.csv` and `report.json`: one redacted row per manifest row, streamed as rows finish.
//!
//! Invariants: only [`ReportRow`] is written, which by construction holds no secret. No cell of
//! `report.csv` starts with a character that makes a spreadsheet run it as a formula (`=`, `+`,
//! `-`, `@`, tab, CR): such a cell gets a leading `'` (OWASP's CSV-injection advice), since
//! users, methods and provider messages come from outside. `report.json` stays exact.

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
    rows: u64,
}

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

impl ReportWriter {
    pub fn create(dir: &Path) -> Result<ReportWriter> {
        let csv = csv::Writer::from_writer(AtomicFile::create(dir.join(REPORT_CSV))?);
        let mut json = AtomicFile::create(dir.join(REPORT_JSON))?;
        json.write_all(b"[")?;
        Ok(ReportWriter { csv, json, rows: 0 })
    }

    pub fn write(&mut self, row: &ReportRow) -> Result<()> {
        let (header, cells) = cells(row)?;
        if self.rows == 0 {
            self.csv.write_record(&header)?;
        }
        self.csv.write_record(cells.iter().map(neutralise))?;
        let sep: &[u8] = if self.rows == 0 { b"\n  " } else { b",\n  " };
        self.json.write_all(sep)?;
        serde_json::to_writer(&mut self.json, row)?;
        self.rows += 1;
        Ok(())
    }

    /// Completes both files and renames them into place.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        if self.rows == 0 {
            // csv writes the header with the first record; keep the header for an empty report.
            self.csv.write_record(HEADER)?;
        }
        self.json.write_all(b"\n]\n")?;
        let csv = self.csv.into_inner().map_err(|e| e.into_error())?;
        Ok(vec![csv.commit()?, self.json.commit()?])
    }
}

/// A cell as a spreadsheet will show it, never run it.
fn neutralise(cell: &str) -> String {
    if cell.starts_with(FORMULA_START) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The column names and cells of `row`, exactly as csv's serde support renders them.
fn cells(row: &ReportRow) -> Result<(csv::StringRecord, csv::StringRecord)> {
    let mut one = csv::Writer::from_writer(Vec::new());
    one.serialize(row)?;
    let bytes = one.into_inner().map_err(|e| e.into_error())?;
    let mut back = csv::Reader::from_reader(bytes.as_slice());
    let header = back.headers()?.clone();
    let cells = back
        .records()
        .next()
        .ok_or_else(|| anyhow::anyhow!("a report row serialised to nothing"))??;
    Ok((header, cells))
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
