//! What a run does: the workload, the key distribution, the load shape and the run's bounds.

use std::time::Duration;

use dancu_proto::v1::Consistency;

use super::BenchError;
use crate::BATCH_IDS_MAX;

/// Longest measured duration (and longest warm-up) one run accepts.
pub const DURATION_MAX: Duration = Duration::from_secs(3_600);
/// Most concurrent request loops in one run (each keeps a latency histogram of about 140 KB).
pub const CONCURRENCY_MAX: usize = 1_024;

/// The request each loop iteration sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `GetCitizen` of one key at the configured consistency.
    Get,
    /// `BatchGetCitizens` of `batch_size` keys at the configured consistency.
    BatchGet,
    /// `VerifyCitizen` of one key's own full name and date of birth; a mismatch counts as an error.
    Verify,
    /// `PutCitizen` of one key's record with `other_name` set to a per-operation value, so every put writes.
    Put,
    /// `put_percent` % puts as [`Workload::Put`], the rest linearizable gets.
    Mixed,
}

impl Workload {
    /// The name used on the command line and in results (`batch-get`).
    pub fn name(self) -> &'static str {
        match self {
            Workload::Get => "get",
            Workload::BatchGet => "batch-get",
            Workload::Verify => "verify",
            Workload::Put => "put",
            Workload::Mixed => "mixed",
        }
    }

    /// Whether the workload needs whole records (names, dates, the record to re-put), not only IDs.
    pub fn needs_records(self) -> bool {
        matches!(self, Workload::Verify | Workload::Put | Workload::Mixed)
    }
}

/// How keys are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// Key rank r (1-based) drawn with probability ∝ 1 / r^s; ranks are mapped to keys by a fixed shuffle.
    Zipfian {
        /// The exponent (0.99 is the usual "hot keys" skew).
        s: f64,
    },
}

impl Distribution {
    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Zipfian { .. } => "zipfian",
        }
    }
}

/// One benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    pub workload: Workload,
    /// Read level of `get`, `batch-get` and `verify` (`mixed` always reads linearizably; `put` has none).
    pub consistency: Consistency,
    /// Keys per `batch-get` request, 1 to [`BATCH_IDS_MAX`].
    pub batch_size: usize,
    pub distribution: Distribution,
    /// Request loops, each with one request in flight.
    pub concurrency: usize,
    /// The measured time, after the warm-up.
    pub duration: Duration,
    /// Time the loops run before measuring starts (excluded from the results).
    pub warmup: Duration,
    /// Seed of the key choice: the same seed draws the same keys in each loop.
    pub seed: u64,
    /// Share of puts in `mixed`, 0 to 100.
    pub put_percent: u8,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            workload: Workload::Get,
            consistency: Consistency::Linearizable,
            batch_size: 100,
            distribution: Distribution::Uniform,
            concurrency: 16,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            seed: 1,
            put_percent: 5,
        }
    }
}

impl BenchConfig {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |field, message: String| Err(BenchError::InvalidConfig { field, message });
        if self.batch_size == 0 || self.batch_size > BATCH_IDS_MAX {
            return invalid("batch_size", format!("{}, expected 1 to {BATCH_IDS_MAX}", self.batch_size));
        }
        if self.concurrency == 0 || self.concurrency > CONCURRENCY_MAX {
            return invalid("concurrency", format!("{}, expected 1 to {CONCURRENCY_MAX}", self.concurrency));
        }
        if self.duration.is_zero() || self.duration > DURATION_MAX {
            return invalid("duration", format!("{:?}, expected more than 0 and at most 1 hour", self.duration));
        }
        if self.warmup > DURATION_MAX {
            return invalid("warmup", format!("{:?}, expected at most 1 hour", self.warmup));
        }
        if self.put_percent > 100 {
            return invalid("put_percent", format!("{}, expected 0 to 100", self.put_percent));
        }
        if let Distribution::Zipfian { s } = self.distribution {
            if !(s.is_finite() && s > 0.0) {
                return invalid("zipf_s", format!("{s}, expected a positive number"));
            }
        }
        Ok(())
    }

    /// Keys each request reads or writes.
    pub fn keys_per_op(&self) -> usize {
        if self.workload == Workload::BatchGet {
            self.batch_size
        } else {
            1
        }
    }

    /// The read level the workload uses, as a name (`read-index`); `None` for `put`.
    pub fn consistency_name(&self) -> Option<&'static str> {
        let level = match self.workload {
            Workload::Put => return None,
            Workload::Mixed => Consistency::Linearizable,
            Workload::Get | Workload::BatchGet | Workload::Verify => self.consistency,
        };
        Some(match level {
            Consistency::Linearizable | Consistency::Unspecified => "linearizable",
            Consistency::ReadIndex => "read-index",
            Consistency::Follower => "follower",
            Consistency::Stale => "stale",
        })
    }
}
