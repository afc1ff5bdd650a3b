//! What auditors read: the files a consistency run leaves in its run directory.
//!
//! - `history.jsonl`: the history, one [`Op`] per line, as recorded;
//! - `results.json`: the verdict and the facts of the run, for machines (see [`results_json`]);
//! - `summary.md`: the verdict, counts, faults and anomalies, for people;
//! - `report.html`: one self-contained page (inline CSS and SVG, no scripts, no links): a verdict banner,
//!   counts, a timeline of the ops with the fault windows shaded, throughput and latency over time, and each
//!   anomaly's smallest failing window.
//!
//! Architecture Invariant: the report only presents; it decides nothing beyond folding the final reads'
//! agreement into the verdict (see [`run_verdict`]).

mod charts;
mod html;
mod stats;
mod summary;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::json;

use crate::checker::{CheckReport, Verdict};
use crate::history::{FaultWindow, Op};
use crate::nemesis::NemesisTally;
use crate::transport::Transport;

pub const HISTORY_FILE: &str = "history.jsonl";
pub const RESULTS_FILE: &str = "results.json";
pub const SUMMARY_FILE: &str = "summary.md";
pub const HTML_FILE: &str = "report.html";

/// Everything a run's report shows.
#[derive(Debug, Clone)]
pub struct RunReport<'a> {
    pub ops: &'a [Op],
    pub faults: &'a [FaultWindow],
    pub check: &'a CheckReport,
    pub seed: u64,
    pub git_rev: String,
    /// The run's configuration: duration, nemeses, nodes, rate, broken_reads, network mode, ...
    pub config: serde_json::Value,
    /// What this run could not do or did differently, e.g. "no clock-skew injection on this machine".
    pub notes: Vec<String>,
    /// Post-heal reads per node per key; an `"all_agree": false` member makes the run invalid.
    pub final_reads: serde_json::Value,
    /// Acknowledged writes the final state lost (see `run::acked_writes_lost`); any makes the run invalid.
    pub acked_writes_lost: u64,
    /// Faults injected and confirmed, per nemesis kind, and the unconfirmed ones.
    pub nemesis: &'a NemesisTally,
    /// Mutual TLS or insecure plaintext, and the evidence.
    pub transport: &'a Transport,
}

/// Writes `history.jsonl`, `results.json`, `summary.md` and `report.html` into `dir` (created if missing).
pub fn write_run_report(dir: &Path, report: &RunReport) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    write_history(&dir.join(HISTORY_FILE), report.ops)?;
    let results = serde_json::to_string_pretty(&results_json(report)).map_err(io::Error::other)?;
    fs::write(dir.join(RESULTS_FILE), results + "\n")?;
    fs::write(dir.join(SUMMARY_FILE), summary::render(report))?;
    fs::write(dir.join(HTML_FILE), html::render(report))?;
    Ok(())
}

/// The run's verdict: the checker's, except that nodes disagreeing after the heal, or an acknowledged write lost,
/// makes it invalid.
pub fn run_verdict(report: &RunReport) -> Verdict {
    if final_reads_disagree(report) || report.acked_writes_lost > 0 {
        return Verdict::Invalid;
    }
    report.check.verdict
}

fn final_reads_disagree(report: &RunReport) -> bool {
    report.final_reads.get("all_agree").and_then(serde_json::Value::as_bool) == Some(false)
}

/// The contents of `results.json`:
/// `{"valid": true|false|"unknown", "ops": N, "faults": [...], "anomalies": [...], "seed": S, "git_rev": "...",
/// "config": {...}, "checker": {"verdict", "elapsed_ms", "n_keys", "keys": [...]}, "counts": {"ok", "fail",
/// "info"}, "final_reads": ..., "notes": [...], "acked_writes_lost": N, "nemesis_injected": {"kill": N, ...},
/// "nemesis_confirmed": {"kill": N, ...}, "nemesis_unconfirmed": ["...", ...], "transport": "mutual TLS" |
/// "insecure plaintext", "transport_evidence": "..."}`.
pub fn results_json(report: &RunReport) -> serde_json::Value {
    let valid = match run_verdict(report) {
        Verdict::Valid => json!(true),
        Verdict::Invalid => json!(false),
        Verdict::Unknown => json!("unknown"),
    };
    let counts = stats::OutcomeCounts::of(report.ops.iter());
    json!({
        "valid": valid,
        "ops": report.ops.len(),
        "faults": report.faults,
        "anomalies": report.check.anomalies,
        "seed": report.seed,
        "git_rev": report.git_rev,
        "config": report.config,
        "checker": {
            "verdict": report.check.verdict,
            "elapsed_ms": report.check.elapsed_ms,
            "n_keys": report.check.n_keys,
            "keys": report.check.keys,
        },
        "counts": {"ok": counts.ok, "fail": counts.fail, "info": counts.info},
        "final_reads": report.final_reads,
        "notes": report.notes,
        "acked_writes_lost": report.acked_writes_lost,
        "nemesis_injected": report.nemesis.injected,
        "nemesis_confirmed": report.nemesis.confirmed,
        "nemesis_unconfirmed": report.nemesis.unconfirmed,
        "transport": report.transport.security.name(),
        "transport_evidence": report.transport.evidence,
    })
}

fn write_history(path: &Path, ops: &[Op]) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for op in ops {
        serde_json::to_writer(&mut out, op).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests;
