//! The closed loop: `concurrency` loops, each with one request in flight, over `connections` clients; warm-up,
//! then the measured window; per-loop latency histograms and per-second counts, merged at the end.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use super::request::Plan;
use super::{BenchConfig, BenchError, BenchResult, KeyChooser, KeySet, LatencySummary};
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

/// When measuring starts and ends.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// What one loop saw in the measured window.
#[derive(Debug)]
struct Tally {
    latency_us: Histogram<u64>,
    per_second: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new(n_seconds: usize) -> Result<Tally, BenchError> {
        let latency_us = Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGNIFICANT_DIGITS)
            .map_err(|error| BenchError::Histogram(error.to_string()))?;
        Ok(Tally { latency_us, per_second: vec![0; n_seconds], errors: 0, first_error: None })
    }

    fn merge(&mut self, other: Tally) -> Result<(), BenchError> {
        self.latency_us.add(&other.latency_us).map_err(|error| BenchError::Histogram(format!("{error:?}")))?;
        assert_eq!(self.per_second.len(), other.per_second.len(), "loops share one window");
        for (total, count) in self.per_second.iter_mut().zip(&other.per_second) {
            *total += count;
        }
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        Ok(())
    }
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
    let plan = Arc::new(Plan { config: config.clone(), keys, chooser, run_tag });
    // Whole seconds of the window, the last one possibly partial.
    let n_seconds = (config.duration.as_secs_f64().ceil() as usize).max(1);

    let started = Instant::now();
    let window = Window { from: started + config.warmup, until: started + config.warmup + config.duration };
    let mut loops = JoinSet::new();
    for loop_idx in 0..config.concurrency {
        let client = clients[loop_idx % clients.len()].clone();
        loops.spawn(drive(plan.clone(), client, loop_idx, window, Tally::new(n_seconds)?));
    }
    // Loops stop sending at `until`; a request still in flight ends within its client's deadline.
    let request_deadline_max = clients.iter().map(|client| client.options().deadline).max().unwrap_or_default();
    let stop_by = window.until + request_deadline_max + STOP_SLACK;
    let mut total = Tally::new(n_seconds)?;
    loop {
        match tokio::time::timeout_at(stop_by.into(), loops.join_next()).await {
            Err(_elapsed) => {
                loops.abort_all();
                return Err(BenchError::Overran { seconds_max: (stop_by - started).as_secs_f64() });
            }
            Ok(None) => break,
            Ok(Some(Err(join_error))) => return Err(BenchError::Task(join_error.to_string())),
            Ok(Some(Ok(tally))) => total.merge(tally)?,
        }
    }
    Ok(summarize(config, clients.len(), total))
}

/// One loop: a request at a time until the window ends. Requests started in the warm-up or still running when
/// the window ends are not counted (so the figures slightly undercount, never overcount).
async fn drive(plan: Arc<Plan>, client: Client, loop_idx: usize, window: Window, mut tally: Tally) -> Tally {
    let mut rng = KeyChooser::rng_for(plan.config.seed, loop_idx);
    for op_idx in 0..OPS_PER_LOOP_MAX {
        let op_started = Instant::now();
        if op_started >= window.until {
            break;
        }
        let outcome = plan.execute(&client, &mut rng, loop_idx, op_idx).await;
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
                tally.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    tally
}

fn summarize(config: &BenchConfig, n_connections: usize, total: Tally) -> BenchResult {
    let ops: u64 = total.per_second.iter().sum();
    assert_eq!(ops, total.latency_us.len(), "every counted request has one latency");
    let duration_s = config.duration.as_secs_f64();
    let ops_per_s = ops as f64 / duration_s;
    BenchResult {
        workload: config.workload.name().to_string(),
        consistency: config.consistency_name().map(str::to_string),
        distribution: config.distribution.name().to_string(),
        concurrency: config.concurrency,
        connections: n_connections,
        duration_s,
        batch_size: config.keys_per_op(),
        ops,
        errors: total.errors,
        ops_per_s,
        keys_per_s: ops_per_s * config.keys_per_op() as f64,
        latency_ms: LatencySummary::from_histogram_us(&total.latency_us),
        per_second: total.per_second,
        first_error: total.first_error,
    }
}
