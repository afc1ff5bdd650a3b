//! Why a benchmark could not run. Failed requests during a run are not errors of the run: they are counted.

use std::path::PathBuf;

/// Why [`run`](super::run) or its setup failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A setting is out of range (`concurrency: 0, at least 1`).
    #[error("{field}: {message}")]
    InvalidConfig {
        /// The offending setting, e.g. `batch_size`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// There are no keys to choose from.
    #[error("no keys: the population or ID file is empty")]
    NoKeys,
    /// The workload needs whole records (verify, put, mixed) but the keys came from an ID file.
    #[error("workload {workload} needs the records: use --population-seed/--population-count instead of --ids")]
    NeedsRecords {
        /// The workload's name.
        workload: &'static str,
    },
    /// The synthetic population could not be made.
    #[error("population: {0}")]
    Population(#[from] dancu_synthetic::GenError),
    /// The ID file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadIds {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the ID file is not a 12-digit personal ID.
    #[error("{}: line {line_no}: not a 12-digit personal ID", path.display())]
    BadId {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line_no: usize,
    },
    /// No client to send requests with.
    #[error("no clients: at least one connection is needed")]
    NoClients,
    /// A load task panicked or was cancelled (a bug, not a server error).
    #[error("a load task failed: {0}")]
    Task(String),
    /// The tasks did not stop within the run's time bound (duration, warm-up and one request deadline).
    #[error("the load tasks did not stop within {seconds_max:.1} s")]
    Overran {
        /// The bound that passed.
        seconds_max: f64,
    },
    /// Merging the per-task latency histograms failed (a bug: all are made with the same bounds).
    #[error("merging latency histograms: {0}")]
    Histogram(String),
}
