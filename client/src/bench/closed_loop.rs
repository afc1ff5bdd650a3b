//! The closed loop: `concurrency` loops, each with one request in flight; warm-up, then the measured window;
//! per-loop latency histograms and per-second counts, merged at the end.
//!
//! The loop is generic over [`Operation`] so the same measurement drives dancu (through [`Client`]), and the
//! systems `dancu-bench compare` puts next to it (etcd, the RPC echo ceiling): figures differ only by what one
//! request is.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use tokio::task::JoinSet;

use super::request::Plan;
use super::{BenchConfig, BenchError, BenchResult, KeyChooser, KeySet};
use crate::Client;

/// Highest latency a histogram holds exactly (60 s); slower requests are recorded as 60 s.
const LATENCY_US_MAX: u64 = 60_000_000;
/// Significant digits of the latency histograms (0.1 % resolution).
const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;
/// Requests one loop may issue. A bound that is never reached in practice: a loop runs at most
/// `warmup + duration` ≤ 2 hours and no request completes in under a microsecond.
const OPS_PER_LOOP_MAX: u64 = 2 * 3_600 * 1_000_000;
/// Time allowed beyond the last request's deadline for the loops to report.
const STOP_SLACK: Duration = Duration::from_secs(5);

/// One request of a workload. `loop_idx` (0..concurrency) and `op_idx` (0.. within the loop) make a value
/// unique; `rng` is the loop's own seeded random source. An `Err` is counted as a failed request, its message
/// kept for the first error (it must not carry a stored value).
pub trait Operation: Send + Sync + 'static {
    fn execute(
        &self,
        rng: &mut StdRng,
        loop_idx: usize,
        op_idx: u64,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The shape of a closed-loop run, whatever the system under test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopShape {
    /// Request loops, each with one request in flight.
    pub concurrency: usize,
    /// Time the loops run before measuring starts.
    pub warmup: Duration,
    /// The measured time.
    pub duration: Duration,
    /// Seed of each loop's random source (loop `i` gets one derived from `(seed, i)`).
    pub seed: u64,
    /// Longest one request may take; the run waits this long after the window for loops to report.
    pub request_deadline: Duration,
}

/// What the loops measured together: successful requests' latencies, per-second counts and the failures.
#[derive(Debug)]
pub struct Measured {
    /// Latency of every successful request in the window, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Successful requests completed in each second of the window (the last may be partial).
    pub per_second: Vec<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub duration: Duration,
}

impl Measured {
    fn new(n_seconds: usize, duration: Duration) -> Result<Measured, BenchError> {
        let latency_us = Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGNIFICANT_DIGITS)
            .map_err(|error| BenchError::Histogram(error.to_string()))?;
        Ok(Measured { latency_us, per_second: vec![0; n_seconds], errors: 0, first_error: None, duration })
    }

    fn merge(&mut self, other: Measured) -> Result<(), BenchError> {
        self.latency_us.add(&other.latency_us).map_err(|error| BenchError::Histogram(format!("{error:?}")))?;
        assert_eq!(self.per_second.len(), other.per_second.len(), "loops share one window");
        for (total, count) in self.per_second.iter_mut().zip(&other.per_second) {
            *total += count;
        }
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        Ok(())
    }

    /// Successful requests in the window.
    pub fn ops(&self) -> u64 {
        self.per_second.iter().sum()
    }

    /// Successful requests per second of the window.
    pub fn ops_per_s(&self) -> f64 {
        self.ops() as f64 / self.duration.as_secs_f64()
    }
}

/// When measuring starts and ends.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// Runs `shape.concurrency` loops of `operation` and measures them. Returns after `warmup + duration` plus at
/// most one request deadline (and a few seconds' slack), or [`BenchError::Overran`].
pub async fn measure<O: Operation>(operation: Arc<O>, shape: LoopShape) -> Result<Measured, BenchError> {
    if shape.concurrency == 0 {
        return Err(BenchError::InvalidConfig { field: "concurrency", message: "0, at least 1".to_string() });
    }
    if shape.duration.is_zero() {
        return Err(BenchError::InvalidConfig { field: "duration", message: "0, must be positive".to_string() });
    }
    // Whole seconds of the window, the last one possibly partial.
    let n_seconds = (shape.duration.as_secs_f64().ceil() as usize).max(1);
    let started = Instant::now();
    let window = Window { from: started + shape.warmup, until: started + shape.warmup + shape.duration };
    let mut loops = JoinSet::new();
    for loop_idx in 0..shape.concurrency {
        let rng = KeyChooser::rng_for(shape.seed, loop_idx);
        loops.spawn(drive(operation.clone(), rng, loop_idx, window, Measured::new(n_seconds, shape.duration)?));
    }
    // Loops stop sending at `until`; a request still in flight ends within its deadline.
    let stop_by = window.until + shape.request_deadline + STOP_SLACK;
    let mut total = Measured::new(n_seconds, shape.duration)?;
    loop {
        match tokio::time::timeout_at(stop_by.into(), loops.join_next()).await {
            Err(_elapsed) => {
                loops.abort_all();
                return Err(BenchError::Overran { seconds_max: (stop_by - started).as_secs_f64() });
            }
            Ok(None) => break,
            Ok(Some(Err(join_error))) => return Err(BenchError::Task(join_error.to_string())),
            Ok(Some(Ok(measured))) => total.merge(measured)?,
        }
    }
    assert_eq!(total.ops(), total.latency_us.len(), "every counted request has one latency");
    Ok(total)
}

/// One loop: a request at a time until the window ends. Requests started in the warm-up or still running when
/// the window ends are not counted (so the figures slightly undercount, never overcount).
async fn drive<O: Operation>(
    operation: Arc<O>,
    mut rng: StdRng,
    loop_idx: usize,
    window: Window,
    mut tally: Measured,
) -> Measured {
    for op_idx in 0..OPS_PER_LOOP_MAX {
        let op_started = Instant::now();
        if op_started >= window.until {
            break;
        }
        let outcome = operation.execute(&mut rng, loop_idx, op_idx).await;
        let op_done = Instant::now();
        if op_started < window.from || op_done > window.until {
            continue;
        }
        match outcome {
            Ok(()) => {
                let latency_us = (op_done - op_started).as_micros().min(u128::from(LATENCY_US_MAX)) as u64;
                tally.latency_us.saturating_record(latency_us.max(1));
                let second_idx = ((op_done - window.from).as_secs() as usize).min(tally.per_second.len() - 1);
                tally.per_second[second_idx] += 1;
            }
            Err(error) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(error);
            }
        }
    }
    tally
}

/// Runs `config.workload` against the cluster and measures it. Loop `i` sends with `clients[i % clients.len()]`
/// (pass separately connected clients for separate connections) and draws keys from `keys` with its own seeded
/// random source. Returns after `warmup + duration` plus at most one request deadline.
pub async fn run(config: &BenchConfig, keys: Arc<KeySet>, clients: &[Client]) -> Result<BenchResult, BenchError> {
    config.validate()?;
    if clients.is_empty() {
        return Err(BenchError::NoClients);
    }
    if config.workload.needs_records() && !keys.has_records() {
        return Err(BenchError::NeedsRecords { workload: config.workload.name() });
    }
    let chooser = KeyChooser::new(keys.len(), config.distribution)?;
    let run_tag = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
    let plan = Arc::new(Plan { config: config.clone(), keys, chooser, run_tag, clients: clients.to_vec() });
    let request_deadline = clients.iter().map(|client| client.options().deadline).max().unwrap_or_default();
    let shape = LoopShape {
        concurrency: config.concurrency,
        warmup: config.warmup,
        duration: config.duration,
        seed: config.seed,
        request_deadline,
    };
    let measured = measure(plan, shape).await?;
    Ok(BenchResult::from_measured(
        config.workload.name(),
        config.consistency_name(),
        config.distribution.name(),
        config.keys_per_op(),
        clients.len(),
        config.concurrency,
        &measured,
    ))
}
