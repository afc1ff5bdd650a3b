//! The register workload: concurrent workers read, write and compare-and-set a small set of contended
//! keys through the client crate, each op with a deadline, every written value unique.
//!
//! Each key is a citizen record whose `other_name` carries the register's value (`v<number>`) and whose
//! server-side revision is the register's revision.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dancu_client::proto::{Citizen, Consistency, Date, Sex};
use dancu_client::{Client, ClientError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use crate::history::{Op, OpKind, Outcome, ReadLevel};

/// Provinces the keys are spread over, so several Raft groups (and leaders) are exercised.
const KEY_PROVINCES: [&str; 3] = ["001", "079", "048"];

/// The workload's keys: synthetic IDs (male, born 1999) in `KEY_PROVINCES`, round-robin.
pub fn register_keys(n_keys: usize) -> Vec<String> {
    (0..n_keys).map(|i| format!("{}099{:06}", KEY_PROVINCES[i % KEY_PROVINCES.len()], 900_000 + i)).collect()
}

/// The record that holds `value` in register `key`.
pub fn register_record(key: &str, value: u64) -> Citizen {
    Citizen {
        id: key.to_string(),
        full_name: "Nguyễn Văn Kiểm".into(),
        other_name: format!("v{value}"),
        date_of_birth: Some(Date { year: 1999, month: 1, day: 1 }),
        sex: Sex::Male.into(),
        ..Citizen::default()
    }
}

/// The register value a record holds (`None` when it holds none).
pub fn register_value(citizen: &Citizen) -> Option<u64> {
    citizen.other_name.strip_prefix('v').and_then(|v| v.parse().ok())
}

/// Collects ops from every worker; times are microseconds since the run started.
pub struct Recorder {
    started: Instant,
    next_index: AtomicUsize,
    ops: Mutex<Vec<Op>>,
}

impl Recorder {
    pub fn new(started: Instant) -> Recorder {
        Recorder { started, next_index: AtomicUsize::new(0), ops: Mutex::new(Vec::new()) }
    }

    pub fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    pub fn record(&self, mut op: Op) {
        op.index = self.next_index.fetch_add(1, Ordering::Relaxed);
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).push(op);
    }

    pub fn take(&self) -> Vec<Op> {
        let mut ops = std::mem::take(&mut *self.ops.lock().unwrap_or_else(|p| p.into_inner()));
        ops.sort_by_key(|op| op.index);
        ops
    }
}

#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub keys: Vec<String>,
    /// Workers that read, write and compare-and-set.
    pub n_workers: usize,
    /// Workers that only read at the leader levels, through clients of their own: a client that never sees a
    /// write time out keeps reading from a leader as long as it answers, as a read-only service would — the
    /// reads that expose a deposed leader still trusting its lease.
    pub n_readers: usize,
    /// Target total ops per second over all workers (0: as fast as the workers go).
    pub rate_per_s: u64,
    pub seed: u64,
}

pub fn level_consistency(level: ReadLevel) -> Consistency {
    match level {
        ReadLevel::Linearizable => Consistency::Linearizable,
        ReadLevel::ReadIndex => Consistency::ReadIndex,
        ReadLevel::Follower => Consistency::Follower,
        ReadLevel::Stale => Consistency::Stale,
    }
}

/// Runs workers until `stop` turns true. `clients[i]` prefers node i for follower/stale reads; worker w
/// uses `clients[w % clients.len()]`, so local reads are spread over the nodes.
pub async fn run(
    clients: Vec<Client>,
    reader_clients: Vec<Client>,
    config: WorkloadConfig,
    recorder: Arc<Recorder>,
    stop: watch::Receiver<bool>,
) {
    let values = Arc::new(AtomicU64::new(1));
    let n_all = config.n_workers + config.n_readers;
    let workers = (0..n_all).map(|w| {
        let reads_only = w >= config.n_workers;
        let pool = if reads_only && !reader_clients.is_empty() { &reader_clients } else { &clients };
        let client = pool[w % pool.len()].clone();
        let worker = Worker {
            process: w as u32,
            reads_only,
            client,
            keys: config.keys.clone(),
            rng: StdRng::seed_from_u64(config.seed.wrapping_mul(1_000_003).wrapping_add(w as u64)),
            last_revision: vec![0; config.keys.len()],
            values: values.clone(),
            recorder: recorder.clone(),
        };
        // Each worker paces itself to its share of the target rate; no target, no pacing.
        let pace =
            (1_000_000 * n_all as u64).checked_div(config.rate_per_s).map_or(Duration::ZERO, Duration::from_micros);
        let stop = stop.clone();
        tokio::spawn(worker.run(pace, stop))
    });
    for worker in futures::future::join_all(workers).await {
        if let Err(error) = worker {
            tracing::error!(%error, "workload worker failed");
        }
    }
}

struct Worker {
    process: u32,
    reads_only: bool,
    client: Client,
    keys: Vec<String>,
    rng: StdRng,
    /// The last revision this worker saw per key: the expected revision of its next CAS.
    last_revision: Vec<u64>,
    values: Arc<AtomicU64>,
    recorder: Arc<Recorder>,
}

impl Worker {
    async fn run(mut self, pace: Duration, stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let started = Instant::now();
            self.one_op().await;
            if let Some(rest) = pace.checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
    }

    async fn one_op(&mut self) {
        let key_idx = self.rng.random_range(0..self.keys.len());
        if self.reads_only {
            let level = if self.rng.random_range(0..100) < 80 { ReadLevel::Linearizable } else { ReadLevel::ReadIndex };
            return self.read(key_idx, level).await;
        }
        let roll = self.rng.random_range(0..100);
        if roll < 50 {
            let level = match self.rng.random_range(0..100) {
                0..30 => ReadLevel::Linearizable,
                30..50 => ReadLevel::ReadIndex,
                50..75 => ReadLevel::Follower,
                _ => ReadLevel::Stale,
            };
            self.read(key_idx, level).await;
        } else if roll < 85 {
            self.write(key_idx, None).await;
        } else {
            let expected = self.last_revision[key_idx];
            self.write(key_idx, Some(expected)).await;
        }
    }

    async fn read(&mut self, key_idx: usize, level: ReadLevel) {
        let mut op = Op::invoked(self.process, &self.keys[key_idx], OpKind::Read, self.recorder.now_us());
        op.level = Some(level);
        let result = self.client.get(&self.keys[key_idx], level_consistency(level)).await;
        op.complete_us = self.recorder.now_us();
        match result {
            Ok(Some(found)) => {
                op.outcome = Outcome::Ok;
                op.value = found.citizen.as_ref().and_then(register_value);
                op.revision = Some(found.revision);
                op.node = found.meta.map(|m| m.served_by);
                self.last_revision[key_idx] = found.revision;
            }
            Ok(None) => {
                op.outcome = Outcome::Ok;
                op.revision = Some(0);
            }
            Err(error) => {
                // A read that failed observed nothing: the checker drops it.
                op.outcome = Outcome::Fail;
                op.error = Some(error.to_string());
            }
        }
        self.recorder.record(op);
    }

    async fn write(&mut self, key_idx: usize, expected_revision: Option<u64>) {
        let value = self.values.fetch_add(1, Ordering::Relaxed);
        let kind = if expected_revision.is_some() { OpKind::Cas } else { OpKind::Write };
        let mut op = Op::invoked(self.process, &self.keys[key_idx], kind, self.recorder.now_us());
        op.value = Some(value);
        op.expected_revision = expected_revision;
        let request_id = format!("jepsen-{}-{value}", self.process);
        let record = register_record(&self.keys[key_idx], value);
        let result = self.client.put_with_request_id(record, request_id, expected_revision).await;
        op.complete_us = self.recorder.now_us();
        match result {
            Ok(written) => {
                op.outcome = Outcome::Ok;
                op.revision = Some(written.revision);
                self.last_revision[key_idx] = written.revision;
            }
            Err(ClientError::RevisionMismatch { current_revision }) => {
                op.outcome = Outcome::Fail;
                op.error = Some(format!("revision mismatch (stored {current_revision})"));
                self.last_revision[key_idx] = current_revision;
            }
            Err(error @ ClientError::InvalidArgument { .. }) => {
                // The workload built a bad record: a bug in the suite, not an observation of the register.
                tracing::error!(%error, "workload write refused as invalid; left out of the history");
                return;
            }
            Err(error) => {
                // Timed out or lost: it may still take effect.
                op.outcome = Outcome::Info;
                op.error = Some(error.to_string());
            }
        }
        self.recorder.record(op);
    }
}
