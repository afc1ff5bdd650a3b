//! The overload run (`dancu-bench overload`): how dancu bends under more load than it can take.
//!
//! One fresh 3-node cluster, optionally on a "slow box" (`--node-cpus`: the nodes share that many cores), goes
//! through four phases, each measured with the same reader loops (linearizable gets of imported records):
//! 1. **Import** of the population beside the readers: records/s, read p99, leader changes.
//! 2. **Knee**: 256 closed-loop writers (single puts) give a first rate; open-loop steps then raise the offered rate
//!    by a quarter each for as long as goodput grows with it (by 5 % over the best so far). The most goodput a step
//!    reached is the peak: the sustainable write rate.
//! 3. **Offered load** at each level × the peak, open loop (requests sent on a schedule whatever the
//!    answers, as independent callers do): goodput (and its share of the peak), write p99, refusals
//!    (`RESOURCE_EXHAUSTED`) and how fast they came, timeouts, read p99, leader changes. The writers do not retry
//!    refusals (`ClientOptions::retry_overloaded` off), so every refusal is counted.
//! 4. **Recovery** after the last level stops: time until the readers' p99 is back near its unloaded value.
//!
//! Writes with a deadline of [`WRITE_DEADLINE`]: a write that takes longer is a timeout, not goodput. The readers are
//! interactive callers: each sends a get every [`READ_INTERVAL`] (one right after the other when a get takes longer),
//! so reads alone do not saturate the box and the overload is the writers'.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dancu_client::bench::{BenchConfig, LatencySummary, Workload};
use dancu_client::proto::{Citizen, Consistency, LifeStatus};
use dancu_client::{Client, ClientError, ClientOptions};
use dancu_synthetic::Population;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::dancu_side::DancuSystem;
use crate::CompareError;

/// A write slower than this failed: a caller does not wait longer for a single record.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(2);
/// Writers of the knee phase.
const KNEE_WRITERS: usize = 256;
/// Reader loops beside every phase, and how often each reads.
const READERS: usize = 64;
pub const READ_INTERVAL: Duration = Duration::from_millis(20);
/// The knee search: each step offers this much more than the last, at most this many steps.
const KNEE_GROWTH: f64 = 1.25;
const KNEE_STEPS_MAX: usize = 10;
/// The knee search goes on while a step's goodput exceeds the best so far by this factor.
const KNEE_GOODPUT_GAIN: f64 = 1.05;
/// Open-loop writes in flight at most; the generator counts the ones it could not send (its own limit, not the
/// cluster's).
const OPEN_LOOP_IN_FLIGHT_MAX: u64 = 20_000;
/// How often the open-loop generator sends what its schedule owes.
const SEND_TICK: Duration = Duration::from_millis(2);
/// Window of the recovery measurement, and how long recovery is waited for at most.
const RECOVERY_WINDOW: Duration = Duration::from_millis(250);
const RECOVERY_MAX: Duration = Duration::from_secs(30);
/// Recovered: read p99 within this factor of the unloaded p99 (or 2 ms of it) in two windows in a row.
const RECOVERED_FACTOR: f64 = 1.5;
const RECOVERED_SLACK_MS: f64 = 2.0;

pub struct OverloadOptions {
    pub out_dir: PathBuf,
    pub node_bin: Option<PathBuf>,
    pub records: u64,
    pub node_cpus: Option<f64>,
    /// How long each phase (knee, each level) runs.
    pub step: Duration,
    /// Offered write load of each open-loop phase, as a multiple of the knee.
    pub levels: Vec<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImportFigures {
    pub records: u64,
    pub seconds: f64,
    pub records_per_s: f64,
    pub leader_changes: u64,
    pub read_p99_ms: f64,
    pub reads: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LevelFigures {
    /// Offered load as a multiple of the knee.
    pub level: f64,
    pub offered_per_s: f64,
    /// Writes acknowledged within the deadline, per second.
    pub goodput_per_s: f64,
    pub write_latency_ms: Option<LatencySummary>,
    /// Writes refused as overloaded, and how long the refusals took.
    pub refused: u64,
    pub refusal_latency_ms: Option<LatencySummary>,
    /// Writes that missed the deadline or found no quorum.
    pub timed_out: u64,
    /// Any other failed write.
    pub errors: u64,
    /// Writes the generator could not send (its own in-flight limit).
    pub not_sent: u64,
    /// What the first timed-out or failed write saw.
    pub first_failure: Option<String>,
    pub read_p99_ms: f64,
    pub reads_per_s: f64,
    pub leader_changes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OverloadResults {
    pub records: u64,
    pub node_cpus: Option<f64>,
    pub cpu_throttled_periods: u64,
    pub unloaded_read_p99_ms: f64,
    pub import: ImportFigures,
    /// Goodput of the closed-loop writers: where the knee search starts.
    pub closed_loop_per_s: f64,
    /// The open-loop steps of the knee search.
    pub knee_steps: Vec<LevelFigures>,
    /// The knee: the most goodput any knee step reached, the sustainable write rate, which the levels multiply.
    pub knee_per_s: f64,
    pub levels: Vec<LevelFigures>,
    /// From the end of the last level until the readers' p99 is back (`None`: not within 30 s).
    pub recovery_s: Option<f64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn micros(elapsed: Duration) -> u64 {
    (elapsed.as_micros() as u64).clamp(1, 60_000_000)
}

/// Reader loops running beside every phase; their latencies go into whatever window is current.
struct Readers {
    window: Arc<Mutex<Histogram<u64>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Readers {
    fn start(client: &Client, ids: Arc<Vec<String>>) -> Readers {
        let window = Arc::new(Mutex::new(histogram()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..READERS)
            .map(|reader_idx| {
                let (client, ids, window, stop) = (client.clone(), ids.clone(), window.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut key_idx = reader_idx * 7_919;
                    // Readers start spread over one interval, so their gets do not arrive in bursts of 64.
                    let first = tokio::time::Instant::now() + READ_INTERVAL.mul_f64(reader_idx as f64 / READERS as f64);
                    let mut pace = tokio::time::interval_at(first, READ_INTERVAL);
                    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while !stop.load(Ordering::Relaxed) {
                        pace.tick().await;
                        key_idx = (key_idx + 104_729) % ids.len();
                        let started = Instant::now();
                        if client.get(&ids[key_idx], Consistency::Linearizable).await.is_ok() {
                            let mut window = window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                            let _ = window.record(micros(started.elapsed()));
                        }
                    }
                })
            })
            .collect();
        Readers { window, stop, tasks }
    }

    /// The reads since the last call (and starts a new window).
    fn take_window(&self) -> Histogram<u64> {
        let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *window, histogram())
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn p99_ms(histogram: &Histogram<u64>) -> f64 {
    LatencySummary::from_histogram_us(histogram).p99
}

/// What the open-loop writers saw in one level.
#[derive(Default)]
struct WriteTally {
    written: Mutex<Option<Histogram<u64>>>,
    refused: Mutex<Option<Histogram<u64>>>,
    timed_out: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl WriteTally {
    fn record(slot: &Mutex<Option<Histogram<u64>>>, elapsed: Duration) {
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = slot.get_or_insert_with(histogram).record(micros(elapsed));
    }

    fn summary(slot: &Mutex<Option<Histogram<u64>>>) -> (u64, Option<LatencySummary>) {
        let slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref().map_or((0, None), |h| (h.len(), Some(LatencySummary::from_histogram_us(h))))
    }
}

/// A record of the population with a changed address line, so each write really writes.
fn rewritten(population: &[Citizen], serial: u64) -> Citizen {
    let mut citizen = population[(serial as usize * 7_877) % population.len()].clone();
    if let Some(residence) = citizen.current_residence.as_mut() {
        residence.address_line = format!("Số {} đường Overload", serial % 100_000);
    }
    citizen
}

/// Sends `rate` writes per second for `duration` on a fixed schedule, whatever the answers.
async fn open_loop(client: &Client, records: Arc<Vec<Citizen>>, rate: f64, duration: Duration) -> (WriteTally, u64) {
    let tally = Arc::new(WriteTally::default());
    let started = Instant::now();
    let (mut n_sent, mut not_sent) = (0u64, 0u64);
    let mut tick = tokio::time::interval(SEND_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < duration {
        tick.tick().await;
        let owed = (started.elapsed().as_secs_f64() * rate) as u64;
        while n_sent + not_sent < owed {
            if tally.in_flight.load(Ordering::Relaxed) >= OPEN_LOOP_IN_FLIGHT_MAX {
                not_sent += 1;
                continue;
            }
            let (client, tally, citizen) = (client.clone(), tally.clone(), rewritten(&records, n_sent));
            tally.in_flight.fetch_add(1, Ordering::Relaxed);
            tasks.spawn(async move {
                let sent_at = Instant::now();
                match client.put(citizen, None).await {
                    Ok(_) => WriteTally::record(&tally.written, sent_at.elapsed()),
                    Err(ClientError::Overloaded { .. }) => WriteTally::record(&tally.refused, sent_at.elapsed()),
                    Err(error) => {
                        let counter = match error {
                            ClientError::DeadlineExceeded | ClientError::Unavailable { .. } => &tally.timed_out,
                            _ => &tally.errors,
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        let mut first = tally.first_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        first.get_or_insert_with(|| error.to_string());
                    }
                }
                tally.in_flight.fetch_sub(1, Ordering::Relaxed);
            });
            n_sent += 1;
        }
        while tasks.try_join_next().is_some() {}
    }
    // The level ends when its schedule does; writes still in flight count when they finish.
    while tasks.join_next().await.is_some() {}
    let tally = Arc::into_inner(tally).expect("every writer task finished");
    (tally, not_sent)
}

pub async fn run(options: OverloadOptions) -> Result<OverloadResults, CompareError> {
    let (work, node_bin) = crate::compare::prepare(&options.out_dir, options.node_bin.as_deref())?;
    let cap = crate::compare::slow_box("overload", options.node_cpus)?;
    let system = DancuSystem::start(&node_bin, &work.path().join("dancu"), cap.clone()).await?;
    let outcome = measure(&system, &options).await;
    let logs = options.out_dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|source| CompareError::io(format!("creating {}", logs.display()), source))?;
    for node in system.node_ids() {
        let log = system.log_path(node);
        let _ = std::fs::copy(&log, logs.join(format!("dancu-node-{node}.log")));
    }
    let mut results = outcome?;
    if let Some(cap) = &cap {
        results.cpu_throttled_periods = cap.throttled_periods()?;
    }
    let json = serde_json::to_string_pretty(&results).map_err(|error| CompareError::Import(error.to_string()))?;
    let path = options.out_dir.join("overload.json");
    std::fs::write(&path, json).map_err(|source| CompareError::io(format!("writing {}", path.display()), source))?;
    let table = table(&results);
    let path = options.out_dir.join("overload.md");
    std::fs::write(&path, &table).map_err(|source| CompareError::io(format!("writing {}", path.display()), source))?;
    print!("{table}");
    Ok(results)
}

async fn measure(system: &DancuSystem, options: &OverloadOptions) -> Result<OverloadResults, CompareError> {
    let population = Population::new(42, options.records).map_err(|error| CompareError::Import(error.to_string()))?;
    let records: Vec<Citizen> = population.citizens().collect();
    let ids: Arc<Vec<String>> = Arc::new(records.iter().map(|citizen| citizen.id.clone()).collect());
    // The open-loop writers move people's addresses: only the living ones (a deceased person's residences do not
    // change, and such a write is refused).
    let records: Arc<Vec<Citizen>> =
        Arc::new(records.into_iter().filter(|citizen| citizen.status == LifeStatus::Alive as i32).collect());
    let mut results = OverloadResults { records: options.records, node_cpus: options.node_cpus, ..Default::default() };

    // Import beside the readers (most reads miss until their record arrives: an answer is an answer).
    let readers = Readers::start(system.client(), ids.clone());
    let changes_before = system.leader_changes().await?;
    let load = system.load(&population).await?;
    let window = readers.take_window();
    results.import = ImportFigures {
        records: load.records,
        seconds: load.seconds,
        records_per_s: load.records_per_s,
        leader_changes: system.leader_changes().await? - changes_before,
        read_p99_ms: p99_ms(&window),
        reads: window.len(),
    };
    eprintln!(
        "overload: import {:.0} records/s, read p99 {:.1} ms, {} leader changes",
        load.records_per_s, results.import.read_p99_ms, results.import.leader_changes
    );

    tokio::time::sleep(options.step.min(Duration::from_secs(5))).await;
    readers.take_window();
    tokio::time::sleep(options.step).await;
    results.unloaded_read_p99_ms = p99_ms(&readers.take_window());

    let config = BenchConfig {
        workload: Workload::Put,
        concurrency: KNEE_WRITERS,
        duration: options.step,
        warmup: Duration::from_secs(1),
        ..BenchConfig::default()
    };
    let keys = Arc::new(dancu_client::bench::KeySet::from_population(&population, true)?);
    let closed_loop = dancu_client::bench::run(&config, keys, std::slice::from_ref(system.client())).await?;
    results.closed_loop_per_s = closed_loop.ops_per_s;
    eprintln!("overload: {:.0} writes/s with {KNEE_WRITERS} closed-loop writers", closed_loop.ops_per_s);

    let writer_options =
        ClientOptions { deadline: WRITE_DEADLINE, retry_overloaded: false, ..system.client().options().clone() };
    let writer = system.client().with_options(writer_options);
    let mut rate = results.closed_loop_per_s.max(1.0);
    for _ in 0..KNEE_STEPS_MAX {
        let step = offer(system, &writer, &readers, records.clone(), rate, options.step).await?;
        eprintln!("overload: knee step: {}", row(&step, None));
        let grew = step.goodput_per_s >= KNEE_GOODPUT_GAIN * results.knee_per_s;
        results.knee_per_s = results.knee_per_s.max(step.goodput_per_s);
        results.knee_steps.push(step);
        if !grew {
            break;
        }
        rate *= KNEE_GROWTH;
    }
    eprintln!("overload: peak goodput {:.0} writes/s", results.knee_per_s);

    for &level in &options.levels {
        let mut figures =
            offer(system, &writer, &readers, records.clone(), results.knee_per_s * level, options.step).await?;
        figures.level = level;
        eprintln!("overload: level {level}: {}", row(&figures, Some(results.knee_per_s)));
        results.levels.push(figures);
    }

    // Recovery: the readers' p99 per window, from the moment the last level stopped sending.
    let stopped = Instant::now();
    let target =
        (results.unloaded_read_p99_ms * RECOVERED_FACTOR).max(results.unloaded_read_p99_ms + RECOVERED_SLACK_MS);
    let mut good_windows = 0;
    while stopped.elapsed() < RECOVERY_MAX {
        tokio::time::sleep(RECOVERY_WINDOW).await;
        let window = readers.take_window();
        good_windows = if !window.is_empty() && p99_ms(&window) <= target { good_windows + 1 } else { 0 };
        if good_windows == 2 {
            results.recovery_s = Some((stopped.elapsed() - RECOVERY_WINDOW).as_secs_f64());
            break;
        }
    }
    readers.stop().await;
    Ok(results)
}

/// One open-loop phase at `rate` writes/s, with the readers' figures of the same window.
async fn offer(
    system: &DancuSystem,
    writer: &Client,
    readers: &Readers,
    records: Arc<Vec<Citizen>>,
    rate: f64,
    duration: Duration,
) -> Result<LevelFigures, CompareError> {
    readers.take_window();
    let changes_before = system.leader_changes().await?;
    let (tally, not_sent) = open_loop(writer, records, rate, duration).await;
    let reads = readers.take_window();
    let (n_written, write_latency_ms) = WriteTally::summary(&tally.written);
    let (refused, refusal_latency_ms) = WriteTally::summary(&tally.refused);
    let seconds = duration.as_secs_f64();
    let first_failure = tally.first_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    Ok(LevelFigures {
        level: 0.0,
        offered_per_s: rate,
        goodput_per_s: n_written as f64 / seconds,
        write_latency_ms,
        refused,
        refusal_latency_ms,
        timed_out: tally.timed_out.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        not_sent,
        first_failure,
        read_p99_ms: p99_ms(&reads),
        reads_per_s: reads.len() as f64 / seconds,
        leader_changes: system.leader_changes().await? - changes_before,
    })
}

fn ms(summary: &Option<LatencySummary>, pick: fn(&LatencySummary) -> f64) -> String {
    summary.as_ref().map_or_else(|| "-".to_string(), |summary| format!("{:.1}", pick(summary)))
}

/// A table row; `peak` (levels only) adds the goodput's share of the peak.
fn row(level: &LevelFigures, peak: Option<f64>) -> String {
    let offered = if level.level > 0.0 { format!("{:.1}×", level.level) } else { "step".to_string() };
    let share = match peak {
        Some(peak) if peak > 0.0 => format!("{:.0} %", 100.0 * level.goodput_per_s / peak),
        _ => "-".to_string(),
    };
    format!(
        "| {offered} | {:.0} | {:.0} | {share} | {} | {} | {} / {} | {} | {} | {:.1} | {} |",
        level.offered_per_s,
        level.goodput_per_s,
        ms(&level.write_latency_ms, |s| s.p99),
        level.refused,
        ms(&level.refusal_latency_ms, |s| s.p99),
        ms(&level.refusal_latency_ms, |s| s.max),
        level.timed_out + level.errors,
        level.not_sent,
        level.read_p99_ms,
        level.leader_changes,
    )
}

const TABLE_HEAD: &str = "| offered | offered/s | goodput/s | of peak | write p99 ms | refused | refusal p99 / max ms | \
     timeouts+errors | not sent | read p99 ms | leader changes |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";

/// The results as markdown: the import, the knee, one row per offered load, the recovery.
pub fn table(results: &OverloadResults) -> String {
    let cap = results.node_cpus.map_or_else(
        || "uncapped".to_string(),
        |cores| format!("nodes capped to {cores} cores together ({} throttled periods)", results.cpu_throttled_periods),
    );
    let mut text = format!(
        "overload run: {} records, {cap}\n\nimport: {:.0} records/s, read p99 beside it {:.1} ms ({} reads), {} leader \
         changes\nunloaded read p99: {:.1} ms\n\nknee search ({:.0} writes/s with {KNEE_WRITERS} closed-loop writers, \
         then open loop, +{:.0} % per step):\n\n{TABLE_HEAD}",
        results.records,
        results.import.records_per_s,
        results.import.read_p99_ms,
        results.import.reads,
        results.import.leader_changes,
        results.unloaded_read_p99_ms,
        results.closed_loop_per_s,
        (KNEE_GROWTH - 1.0) * 100.0,
    );
    for step in &results.knee_steps {
        text.push_str(&row(step, None));
        text.push('\n');
    }
    text.push_str(&format!(
        "\npeak goodput (the knee): {:.0} writes/s\n\noffered load × the peak:\n\n{TABLE_HEAD}",
        results.knee_per_s
    ));
    for level in &results.levels {
        text.push_str(&row(level, Some(results.knee_per_s)));
        text.push('\n');
    }
    let failures: Vec<String> = results
        .knee_steps
        .iter()
        .chain(&results.levels)
        .filter_map(|level| {
            level.first_failure.as_ref().map(|failure| format!("{:.0}/s: {failure}", level.offered_per_s))
        })
        .collect();
    if !failures.is_empty() {
        text.push_str(&format!("\nfirst failure per phase: {}\n", failures.join("; ")));
    }
    text.push_str(&match results.recovery_s {
        Some(seconds) => {
            format!("\nrecovery: read p99 back within {RECOVERED_FACTOR}× of unloaded in {seconds:.2} s\n")
        }
        None => format!("\nrecovery: read p99 not back within {} s\n", RECOVERY_MAX.as_secs()),
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(offered_per_s: f64, goodput_per_s: f64, refused: u64) -> LevelFigures {
        LevelFigures { offered_per_s, goodput_per_s, refused, ..LevelFigures::default() }
    }

    #[test]
    fn the_table_shows_the_knee_search_and_each_level_against_the_peak() {
        let results = OverloadResults {
            knee_steps: vec![step(1_000.0, 1_000.0, 0), step(1_250.0, 1_100.0, 0)],
            knee_per_s: 1_100.0,
            levels: vec![LevelFigures {
                level: 2.0,
                first_failure: Some("deadline exceeded".into()),
                ..step(2_000.0, 990.0, 700)
            }],
            ..OverloadResults::default()
        };
        let text = table(&results);
        assert!(text.contains("peak goodput (the knee): 1100 writes/s"), "{text}");
        assert!(text.contains("| 2.0× | 2000 | 990 | 90 % |"), "{text}");
        assert!(text.contains("| step | 1250 | 1100 | - |"), "{text}");
        assert!(text.contains("2000/s: deadline exceeded"), "{text}");
    }
}
