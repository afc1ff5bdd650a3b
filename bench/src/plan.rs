//! How much a compare run does: records, concurrency levels, durations, batch sizes, leader kills.

use std::time::Duration;

/// `--smoke` (seconds, checks the output files in `make test`), `--quick` (100k records, minutes) or full (1M).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Smoke,
    Quick,
    Full,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComparePlan {
    pub mode: Mode,
    /// Synthetic citizens loaded into each system (the population `dancuctl gen --seed` writes).
    pub records: u64,
    pub population_seed: u64,
    /// Concurrent clients of each sweep; includes [`crate::results::HEADLINE_CONCURRENCY`].
    pub concurrency_levels: Vec<usize>,
    /// Batch sizes measured at the headline concurrency (100 is the headline one).
    pub batch_sizes: Vec<usize>,
    pub warmup: Duration,
    pub duration: Duration,
    /// Leader kills under write load, per system.
    pub failover_kills: usize,
}

impl ComparePlan {
    pub fn for_mode(mode: Mode) -> ComparePlan {
        match mode {
            Mode::Smoke => ComparePlan {
                mode,
                records: 2_000,
                population_seed: 42,
                concurrency_levels: vec![1, 64],
                batch_sizes: vec![10, 100],
                warmup: Duration::from_millis(100),
                duration: Duration::from_millis(400),
                failover_kills: 2,
            },
            Mode::Quick => ComparePlan {
                mode,
                records: 100_000,
                population_seed: 42,
                concurrency_levels: vec![1, 16, 64, 256],
                batch_sizes: vec![10, 100, 1_000],
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(3),
                failover_kills: 10,
            },
            Mode::Full => ComparePlan {
                mode,
                records: 1_000_000,
                population_seed: 42,
                concurrency_levels: vec![1, 16, 64, 256],
                batch_sizes: vec![10, 100, 1_000],
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(10),
                failover_kills: 10,
            },
        }
    }
}
