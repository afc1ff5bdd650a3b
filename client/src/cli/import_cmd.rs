//! `dancuctl import`: bulk load of JSON-lines citizen records (see `crate::import` for how it batches).

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::{plural, to_json, Failure, GlobalArgs, OutputFormat};
use crate::import::{import, BadLine, ImportError, ImportFailure, ImportOptions, ImportProgress, ImportSummary};
use crate::ClientError;

/// Bad lines printed (stderr) and listed in the JSON summary; the rest are only counted.
const BAD_LINES_SHOWN_MAX: usize = 100;
/// Read buffer for the input.
const READ_BUFFER_BYTES: usize = 1 << 20;

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// JSON lines, one record per line (the shape `get --output json` prints, on one line); `-` or no FILE reads
    /// stdin. Blank lines are ignored.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Records per PutCitizens batch (one Raft entry, applied all or nothing), 1 to 1000. Batches are also sent
    /// before they exceed 4 MiB.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch_size: u64,
    /// Unanswered batches per partition (at most 64 overall).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    in_flight: u64,
    /// Stop at the first bad line (exit 1) instead of skipping it; batches already sent stay written.
    #[arg(long)]
    strict: bool,
    /// Fix the run id that every batch's request id derives from, so a re-run with the same id and file is
    /// answered from the servers' exactly-once table. Default: random per run (a re-run then rewrites records
    /// that changed since, and leaves identical ones unchanged).
    #[arg(long, value_name = "S")]
    run_id: Option<String>,
}

/// `import --output json`.
#[derive(Debug, Serialize)]
struct SummaryJson<'a> {
    lines: u64,
    written: u64,
    unchanged: u64,
    skipped: usize,
    /// The first 100 bad lines.
    bad_lines: Vec<BadLineJson<'a>>,
    seconds: f64,
    records_per_s: f64,
    /// Attempts nodes refused as overloaded (each retried after the node's hint).
    overload_refusals: u64,
    /// The smallest in-flight window the import came down to.
    in_flight_min: usize,
}

#[derive(Debug, Serialize)]
struct BadLineJson<'a> {
    line: u64,
    reason: &'a str,
}

pub(crate) async fn run(global: &GlobalArgs, args: ImportArgs) -> Result<String, Failure> {
    let (source, reader) = open_input(args.file.as_deref())?;
    let client = global.connect().await?;
    let options = ImportOptions {
        batch_size: usize::try_from(args.batch_size).unwrap_or(crate::PUT_CITIZENS_MAX),
        in_flight_per_partition: usize::try_from(args.in_flight).unwrap_or(1),
        strict: args.strict,
        run_id: args.run_id,
        ..ImportOptions::default()
    };
    let bar = progress_bar();
    let result = import(&client, reader, &options, |progress| bar.set_message(progress_message(progress))).await;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            print_bad_lines(&summary.bad_lines);
            match global.output {
                OutputFormat::Json => to_json(&summary_json(&summary)),
                OutputFormat::Table => Ok(summary_line(&summary)),
            }
        }
        Err(failure) => Err(import_failure(&source, *failure)),
    }
}

/// The input and its name for messages.
fn open_input(file: Option<&Path>) -> Result<(String, Box<dyn BufRead + Send>), Failure> {
    match file {
        Some(path) if path != Path::new("-") => {
            let source = path.display().to_string();
            let opened =
                std::fs::File::open(path).map_err(|error| Failure::usage(format!("cannot read {source}: {error}")))?;
            Ok((source, Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, opened))))
        }
        _ => Ok(("stdin".to_string(), Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, std::io::stdin())))),
    }
}

/// A spinner with counters on stderr; hidden when stderr is not a terminal (logs, pipes, tests).
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn progress_message(progress: &ImportProgress) -> String {
    let seconds = progress.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 { progress.lines_read as f64 / seconds } else { 0.0 };
    format!(
        "read {}, written {}, unchanged {}, skipped {}, {rate:.0} records/s",
        progress.lines_read, progress.records_written, progress.records_unchanged, progress.lines_skipped
    )
}

/// The first bad lines on stderr (`line 17: date_of_birth: ...`), then how many more there were.
fn print_bad_lines(bad_lines: &[BadLine]) {
    for bad_line in bad_lines.iter().take(BAD_LINES_SHOWN_MAX) {
        eprintln!("{bad_line}");
    }
    if bad_lines.len() > BAD_LINES_SHOWN_MAX {
        eprintln!("... and {} more", plural(bad_lines.len() - BAD_LINES_SHOWN_MAX, "bad line"));
    }
}

fn summary_line(summary: &ImportSummary) -> String {
    let overload = match summary.overload_refusals {
        0 => String::new(),
        n => format!("; {n} refused as overloaded and retried (in flight down to {})", summary.in_flight_min),
    };
    format!(
        "imported {} (written {}, unchanged {}), skipped {}, {:.1} s, {:.0} records/s{overload}\n",
        plural(usize::try_from(summary.lines).unwrap_or(usize::MAX), "record"),
        summary.written,
        summary.unchanged,
        plural(summary.bad_lines.len(), "bad line"),
        summary.seconds,
        summary.records_per_s
    )
}

fn summary_json(summary: &ImportSummary) -> SummaryJson<'_> {
    SummaryJson {
        lines: summary.lines,
        written: summary.written,
        unchanged: summary.unchanged,
        skipped: summary.bad_lines.len(),
        bad_lines: summary
            .bad_lines
            .iter()
            .take(BAD_LINES_SHOWN_MAX)
            .map(|bad_line| BadLineJson { line: bad_line.line, reason: &bad_line.reason })
            .collect(),
        seconds: summary.seconds,
        records_per_s: summary.records_per_s,
        overload_refusals: summary.overload_refusals,
        in_flight_min: summary.in_flight_min,
    }
}

/// An early stop: why, then what was written by then. Exit 2 when the cluster was unavailable, else 1.
fn import_failure(source: &str, failure: ImportFailure) -> Failure {
    let ImportFailure { error, summary } = failure;
    let exit_code = match &error {
        ImportError::Batch { error, .. } => match error {
            ClientError::Connect { .. } | ClientError::Unavailable { .. } | ClientError::DeadlineExceeded => 2,
            _ => 1,
        },
        ImportError::Strict { .. } | ImportError::Read(_) | ImportError::Options(_) => 1,
    };
    if !matches!(error, ImportError::Strict { .. }) {
        print_bad_lines(&summary.bad_lines);
    }
    let done = format!(
        "import stopped after reading {} of {source}: {} written, {} unchanged, {} skipped; records read but not \
         yet sent were not written",
        plural(usize::try_from(summary.lines).unwrap_or(usize::MAX), "record"),
        summary.written,
        summary.unchanged,
        summary.bad_lines.len()
    );
    let first = match &error {
        ImportError::Read(message) => format!("cannot read {source}: {message}"),
        other => other.to_string(),
    };
    Failure { lines: vec![first, done], exit_code, stdout: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(n_bad_lines: u64) -> ImportSummary {
        ImportSummary {
            lines: 200_000,
            written: 199_990,
            unchanged: 0,
            bad_lines: (1..=n_bad_lines).map(|line| BadLine { line, reason: "sex: x".to_string() }).collect(),
            batches: 200,
            seconds: 2.1,
            records_per_s: 95_238.1,
            overload_refusals: 0,
            in_flight_min: 64,
        }
    }

    #[test]
    fn summary_line_reads_naturally() {
        assert_eq!(
            summary_line(&summary(10)),
            "imported 200000 records (written 199990, unchanged 0), skipped 10 bad lines, 2.1 s, 95238 records/s\n"
        );
        assert!(summary_line(&summary(1)).contains("skipped 1 bad line,"));
        let refused = ImportSummary { overload_refusals: 12, in_flight_min: 8, ..summary(0) };
        assert!(
            summary_line(&refused).ends_with("records/s; 12 refused as overloaded and retried (in flight down to 8)\n"),
            "{}",
            summary_line(&refused)
        );
    }

    #[test]
    fn json_lists_the_first_hundred_bad_lines() {
        let summary = summary(150);
        let value = serde_json::to_value(summary_json(&summary)).expect("serializable");
        assert_eq!(value["skipped"], 150);
        assert_eq!(value["bad_lines"].as_array().map(Vec::len), Some(100));
        assert_eq!(value["bad_lines"][0], serde_json::json!({"line": 1, "reason": "sex: x"}));
        let keys: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
        let mut want = vec![
            "lines",
            "written",
            "unchanged",
            "skipped",
            "bad_lines",
            "seconds",
            "records_per_s",
            "overload_refusals",
            "in_flight_min",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
    }
}
