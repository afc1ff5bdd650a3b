//! What a compare run leaves behind: `results.json` (the schema of [`crate::results`]), `report.md` ([`markdown`])
//! and the SVG plots ([`plots`]); and the summary printed at the end ([`summary_table`]).
//!
//! Architecture Invariant: the report only presents [`Results`]; every number in it is in results.json or
//! computed from it (ratios), never measured here.

mod markdown;
mod plots;
mod rows;
mod terminal;

use std::path::{Path, PathBuf};

use plots::Plot;
pub use terminal::summary_table;

use crate::results::Results;
use crate::CompareError;

pub const RESULTS_FILE: &str = "results.json";
pub const REPORT_FILE: &str = "report.md";

/// Writes `results.json`, `report.md` and the plots into `dir` (created if missing); returns the paths written.
pub fn write_all(results: &Results, dir: &Path) -> Result<Vec<PathBuf>, CompareError> {
    std::fs::create_dir_all(dir).map_err(|source| CompareError::io(format!("creating {}", dir.display()), source))?;
    let mut written = Vec::new();

    let json_path = dir.join(RESULTS_FILE);
    let json = serde_json::to_string_pretty(results)
        .map_err(|source| CompareError::Json { path: json_path.clone(), source })?;
    write(&json_path, json)?;
    written.push(json_path);

    let report_path = dir.join(REPORT_FILE);
    write(&report_path, markdown::report(results))?;
    written.push(report_path);

    for plot in Plot::ALL {
        let path = dir.join(plot.file_name());
        let svg = plot.svg(results).map_err(|message| CompareError::Plot { path: path.clone(), message })?;
        write(&path, svg)?;
        written.push(path);
    }
    Ok(written)
}

fn write(path: &Path, contents: String) -> Result<(), CompareError> {
    std::fs::write(path, contents).map_err(|source| CompareError::io(format!("writing {}", path.display()), source))
}

#[cfg(test)]
mod tests;
