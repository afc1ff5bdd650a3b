//! The plain-text summary `dancu-bench compare` prints when it is done: the ratio table and the goals. `÷plaintext`
//! is a mutual-TLS row's figure over the plaintext row above it.

use std::fmt::Write;

use super::rows::{self, Row};
use crate::results::Results;

const LABEL_WIDTH: usize = 42;
const COLUMN_WIDTH: usize = 12;

/// The ratio table at the headline concurrency and every goal, met or not, aligned for a terminal.
pub fn summary_table(results: &Results) -> String {
    let mut text = format!(
        "dancu vs etcd at {} concurrent clients ({} mode, {} records)\n",
        results.concurrency, results.mode, results.records
    );
    let header = ["dancu", "etcd", "dancu/etcd", "÷plaintext", "echo ceil.", "rocksdb ceil."];
    let _ = write!(text, "{:<LABEL_WIDTH$}", "");
    for column in header {
        let _ = write!(text, "{column:>COLUMN_WIDTH$}  ");
    }
    text.push('\n');
    for row in rows::headline_rows(results) {
        push_row(&mut text, &row);
    }
    text.push_str("\ngoals\n");
    if results.goals.is_empty() {
        text.push_str("  (none checked)\n");
    }
    for goal in &results.goals {
        let verdict = if goal.met { "met" } else { "NOT MET" };
        let _ = writeln!(text, "  {verdict:<8} {}: {} (measured {:.2})", goal.name, goal.target, goal.measured);
    }
    text
}

fn push_row(text: &mut String, row: &Row) {
    let cells = [
        rows::figure(row.dancu, row.unit),
        rows::figure(row.etcd, row.unit),
        rows::ratio_text(row.dancu_vs_etcd()),
        rows::ratio_text(row.dancu_vs_plaintext()),
        rows::figure(row.echo, row.unit),
        rows::figure(row.rocksdb, row.unit),
    ];
    let _ = write!(text, "{:<LABEL_WIDTH$}", row.label);
    for cell in cells {
        let _ = write!(text, "{cell:>COLUMN_WIDTH$}  ");
    }
    // The padding of the last column is noise at the end of a line.
    text.truncate(text.trim_end().len());
    text.push('\n');
}
