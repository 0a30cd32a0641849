//! The run's artefacts in the output folder: `report.csv`, `report.json`, `summary.json` and the
//! password export. This module only reads outcomes; it never decides them.

mod candidates;
pub mod excluded;
pub mod export;
pub mod files;
pub mod live;
pub mod rebuild;
pub mod summary;
pub mod table;

pub use export::{Destination, Export, EXPORT_AGE, EXPORT_PLAIN};
pub use files::{prepare_out_dir, write_atomic};
pub use summary::{Summary, SUMMARY_JSON};
pub use table::{ReportWriter, REPORT_CSV};
