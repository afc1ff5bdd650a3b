//! Write admission: backpressure instead of timeouts.
//!
//! Each partition bounds the writes it has accepted but not yet applied (by count and by bytes); the node refuses
//! bulk writes while RocksDB is near a write stall, holds them back while its CPU is saturated, and refuses
//! interactive writes too when its runtime falls far behind with writes queued. A refusal is immediate — `RESOURCE_EXHAUSTED` with
//! `retry_after_ms` — so a caller backs off at once instead of waiting in a queue until its deadline passes, which
//! would leave the work it gave up on still queued (and every retry adding more).
//!
//! Bulk writes (`PutCitizens`, the importer's batches) may fill only part of a partition's bound, so single puts and
//! life events are still admitted while an import runs at full speed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dancu_cluster_config::PartitionId;

use crate::limits::{
    BULK_CPU_WAIT_MAX, NODE_PROPOSALS_IN_FLIGHT_MAX, NODE_PROPOSAL_BYTES_IN_FLIGHT_MAX, NODE_QUEUED_WRITES_OVERWHELMED,
    PROPOSALS_IN_FLIGHT_MAX, PROPOSAL_BYTES_IN_FLIGHT_MAX, RETRY_AFTER_BULK, RETRY_AFTER_CPU_SATURATED,
    RETRY_AFTER_QUEUE_FULL, RETRY_AFTER_WRITE_STALL, SCHEDULING_DELAY_BULK_MAX, SCHEDULING_DELAY_INTERACTIVE_MAX,
    SCHEDULING_PROBE_INTERVAL, SCHEDULING_WINDOW, WRITE_PRESSURE_SAMPLE_INTERVAL,
};
use crate::service::errors::ApiError;
use crate::storage::Store;

/// How a write competes for a partition's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteClass {
    /// One record or one life event: a person or service waits for it.
    Interactive,
    /// A batch of records (imports): yields to interactive writes.
    Bulk,
}

impl WriteClass {
    /// The share of a partition's bound this class may fill, in quarters.
    fn quarters(self) -> u64 {
        match self {
            WriteClass::Interactive => 4,
            WriteClass::Bulk => 3,
        }
    }
}

/// Writes a partition has admitted and not yet finished (applied on this leader, or failed).
#[derive(Default)]
struct PartitionLoad {
    n_writes: AtomicU64,
    n_bytes: AtomicU64,
}

pub struct Admission {
    partitions: HashMap<PartitionId, PartitionLoad>,
    /// Writes and bytes admitted over every partition of the node: bound the node's queueing delay and memory.
    node: PartitionLoad,
    /// RocksDB near a write stall, from the last sample (see [`Admission::watch_storage`]).
    near_stall: AtomicBool,
    /// The runtime is late to run ready tasks (see [`Admission::watch_scheduling`]): the CPU is saturated, and every
    /// heartbeat and read waits in line. Bulk writes wait for it to clear (see [`Admission::admit_when_cpu_free`]).
    cpu_saturated: tokio::sync::watch::Sender<bool>,
    /// The worst lateness of the last scheduling window, in microseconds: past
    /// [`SCHEDULING_DELAY_INTERACTIVE_MAX`], with writes queued, interactive writes are refused too.
    lateness_us: AtomicU64,
    /// Writes refused since the start (`Status` reports it).
    n_refused: AtomicU64,
}

/// An admitted write: holds its share of the partition's bound until dropped.
pub struct Ticket<'a> {
    loads: [&'a PartitionLoad; 2],
    n_bytes: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        for load in self.loads {
            load.n_writes.fetch_sub(1, Ordering::AcqRel);
            load.n_bytes.fetch_sub(self.n_bytes, Ordering::AcqRel);
        }
    }
}

impl Admission {
    pub fn new(partitions: impl IntoIterator<Item = PartitionId>) -> Admission {
        Admission {
            partitions: partitions.into_iter().map(|pid| (pid, PartitionLoad::default())).collect(),
            node: PartitionLoad::default(),
            near_stall: AtomicBool::new(false),
            cpu_saturated: tokio::sync::watch::Sender::new(false),
            lateness_us: AtomicU64::new(0),
            n_refused: AtomicU64::new(0),
        }
    }

    /// Like [`Admission::admit`], but a bulk write that finds the CPU saturated first waits (up to
    /// [`BULK_CPU_WAIT_MAX`]) for it to clear: the request is already here, so waiting costs nothing, and the bulk work
    /// goes on the moment the CPU is free — with no round trip and no idle gap, which a refusal would cost the
    /// importer. Only a saturation that lasts is refused.
    pub async fn admit_when_cpu_free(
        &self,
        pid: PartitionId,
        n_bytes: usize,
        class: WriteClass,
    ) -> Result<Ticket<'_>, ApiError> {
        if class == WriteClass::Bulk {
            let mut saturated = self.cpu_saturated.subscribe();
            let _ = tokio::time::timeout(BULK_CPU_WAIT_MAX, saturated.wait_for(|saturated| !saturated)).await;
        }
        self.admit(pid, n_bytes, class)
    }

    /// Admits a write of `n_bytes` to `pid`, or says how long to wait before trying again.
    fn admit(&self, pid: PartitionId, n_bytes: usize, class: WriteClass) -> Result<Ticket<'_>, ApiError> {
        let Some(load) = self.partitions.get(&pid) else {
            // Not hosted here: the caller's own check reports it.
            return Err(ApiError::PartitionNotHosted {
                partition_id: pid.0,
                leader_id: None,
                leader_addr: String::new(),
            });
        };
        if class == WriteClass::Bulk && self.near_stall.load(Ordering::Acquire) {
            return Err(self.refuse(pid, RETRY_AFTER_WRITE_STALL, "storage is near a write stall: bulk writes wait"));
        }
        if class == WriteClass::Bulk && *self.cpu_saturated.borrow() {
            return Err(self.refuse(pid, RETRY_AFTER_CPU_SATURATED, "the node's CPU is saturated: bulk writes wait"));
        }
        if class == WriteClass::Interactive && self.overwhelmed() {
            return Err(self.refuse(
                pid,
                RETRY_AFTER_CPU_SATURATED,
                "the node's CPU cannot keep up with the writes already queued: retry later",
            ));
        }
        let n_bytes = n_bytes as u64;
        let writes_max = PROPOSALS_IN_FLIGHT_MAX * class.quarters() / 4;
        let bytes_max = PROPOSAL_BYTES_IN_FLIGHT_MAX * class.quarters() / 4;
        // Reserve first, then check: concurrent callers never admit past the bound together.
        let [(n_writes_before, n_bytes_before), (node_writes_before, node_bytes_before)] =
            [load, &self.node].map(|load| {
                (load.n_writes.fetch_add(1, Ordering::AcqRel), load.n_bytes.fetch_add(n_bytes, Ordering::AcqRel))
            });
        let ticket = Ticket { loads: [load, &self.node], n_bytes };
        let node_writes_max = NODE_PROPOSALS_IN_FLIGHT_MAX * class.quarters() / 4;
        let node_bytes_max = NODE_PROPOSAL_BYTES_IN_FLIGHT_MAX * class.quarters() / 4;
        // One write is always admitted to an idle partition, however large (the request size limit bounds it).
        let fits = n_writes_before < writes_max
            && (n_bytes_before == 0 || n_bytes_before + n_bytes <= bytes_max)
            && node_writes_before < node_writes_max
            && node_bytes_before + n_bytes <= node_bytes_max;
        if fits {
            return Ok(ticket);
        }
        drop(ticket);
        let retry_after = match class {
            WriteClass::Interactive => RETRY_AFTER_QUEUE_FULL,
            WriteClass::Bulk => RETRY_AFTER_BULK,
        };
        Err(self.refuse(pid, retry_after, "too many writes waiting for commit"))
    }

    /// The runtime has been late by more than [`SCHEDULING_DELAY_INTERACTIVE_MAX`] while writes queue: more
    /// admitted writes would only lengthen the queue, and every answer — refusals included — would come later. A
    /// refusal now costs the caller one retry; one later would cost it its deadline.
    fn overwhelmed(&self) -> bool {
        self.lateness_us.load(Ordering::Acquire) > SCHEDULING_DELAY_INTERACTIVE_MAX.as_micros() as u64
            && self.node.n_writes.load(Ordering::Acquire) >= NODE_QUEUED_WRITES_OVERWHELMED
    }

    fn refuse(&self, pid: PartitionId, retry_after: Duration, why: &str) -> ApiError {
        self.n_refused.fetch_add(1, Ordering::Relaxed);
        ApiError::Overloaded {
            partition_id: pid.0,
            retry_after_ms: retry_after.as_millis() as u32,
            message: why.to_string(),
        }
    }

    pub fn n_refused(&self) -> u64 {
        self.n_refused.load(Ordering::Relaxed)
    }

    /// Samples RocksDB's write-stall signals in the background for as long as the node runs.
    pub fn watch_storage(self: &Arc<Self>, store: Arc<Store>) {
        let admission = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(WRITE_PRESSURE_SAMPLE_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut was_near = false;
            loop {
                interval.tick().await;
                let Some(admission) = admission.upgrade() else {
                    return;
                };
                let near = match store.write_pressure() {
                    Ok(pressure) => {
                        let near = pressure.near_stall();
                        if near != was_near {
                            // Debug: it may flip every sample under an import; `Status.writes_refused` counts the
                            // refusals it causes.
                            tracing::debug!(?pressure, near_stall = near, "storage write pressure changed");
                        }
                        near
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read RocksDB's write-stall signals");
                        false
                    }
                };
                was_near = near;
                admission.near_stall.store(near, Ordering::Release);
            }
        });
    }

    /// Measures how late the runtime runs a task that asked to wake after [`SCHEDULING_PROBE_INTERVAL`], and marks
    /// the CPU saturated while the worst lateness of a window exceeds [`SCHEDULING_DELAY_BULK_MAX`]: elastic work
    /// (bulk writes) then waits, so heartbeats, votes and reads — which queue behind every ready task — keep their
    /// latency (CockroachDB's admission control throttles elastic work by the same kind of signal).
    pub fn watch_scheduling(self: &Arc<Self>) {
        let admission = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let window_started = tokio::time::Instant::now();
                let mut worst = Duration::ZERO;
                while window_started.elapsed() < SCHEDULING_WINDOW {
                    let asked = tokio::time::Instant::now();
                    tokio::time::sleep(SCHEDULING_PROBE_INTERVAL).await;
                    worst = worst.max(asked.elapsed().saturating_sub(SCHEDULING_PROBE_INTERVAL));
                }
                let Some(admission) = admission.upgrade() else {
                    return;
                };
                admission.lateness_us.store(worst.as_micros() as u64, Ordering::Release);
                admission.cpu_saturated.send_if_modified(|saturated| {
                    let now = worst > SCHEDULING_DELAY_BULK_MAX;
                    std::mem::replace(saturated, now) != now
                });
            }
        });
    }

    #[cfg(test)]
    fn set_cpu_saturated(&self, saturated: bool) {
        self.cpu_saturated.send_replace(saturated);
    }

    #[cfg(test)]
    fn set_near_stall(&self, near: bool) {
        self.near_stall.store(near, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: PartitionId = PartitionId(100);

    fn retry_after(error: ApiError) -> u32 {
        match error {
            ApiError::Overloaded { retry_after_ms, partition_id: 100, .. } => retry_after_ms,
            other => panic!("not an overload refusal: {other:?}"),
        }
    }

    #[test]
    fn a_full_partition_refuses_at_once_and_admits_again_when_writes_finish() {
        let admission = Admission::new([PID]);
        let tickets: Vec<Ticket> = (0..PROPOSALS_IN_FLIGHT_MAX)
            .map(|_| admission.admit(PID, 100, WriteClass::Interactive).expect("within the bound"))
            .collect();
        let refused = admission.admit(PID, 100, WriteClass::Interactive).err().expect("over the bound");
        assert_eq!(retry_after(refused), RETRY_AFTER_QUEUE_FULL.as_millis() as u32);
        assert_eq!(admission.n_refused(), 1);
        drop(tickets);
        assert!(admission.admit(PID, 100, WriteClass::Interactive).is_ok());
    }

    #[test]
    fn bulk_writes_leave_room_for_interactive_ones() {
        let admission = Admission::new([PID]);
        let bulk_max = PROPOSALS_IN_FLIGHT_MAX * 3 / 4;
        let _bulk: Vec<Ticket> = (0..bulk_max).map(|_| admission.admit(PID, 10, WriteClass::Bulk).unwrap()).collect();
        let refused = admission.admit(PID, 10, WriteClass::Bulk).err().expect("bulk share full");
        assert_eq!(retry_after(refused), RETRY_AFTER_BULK.as_millis() as u32);
        assert!(admission.admit(PID, 10, WriteClass::Interactive).is_ok(), "an interactive write still fits");
    }

    #[test]
    fn bytes_are_bounded_but_one_large_write_always_fits_an_idle_partition() {
        let admission = Admission::new([PID]);
        let huge = PROPOSAL_BYTES_IN_FLIGHT_MAX as usize * 2;
        let first = admission.admit(PID, huge, WriteClass::Interactive).expect("an idle partition takes one");
        assert!(admission.admit(PID, 1, WriteClass::Interactive).is_err(), "the bytes bound is reached");
        drop(first);
        assert!(admission.admit(PID, 1, WriteClass::Interactive).is_ok());
    }

    #[test]
    fn the_node_bounds_writes_over_all_its_partitions() {
        let pids: Vec<PartitionId> = (1..=8).map(|idx| PartitionId(idx * 100)).collect();
        let admission = Admission::new(pids.clone());
        let per_partition = NODE_PROPOSALS_IN_FLIGHT_MAX / pids.len() as u64;
        assert!(per_partition <= PROPOSALS_IN_FLIGHT_MAX, "each partition stays within its own bound");
        let _tickets: Vec<Ticket> = pids
            .iter()
            .flat_map(|&pid| (0..per_partition).map(move |_| pid))
            .map(|pid| admission.admit(pid, 10, WriteClass::Interactive).expect("within both bounds"))
            .collect();
        let refused = admission.admit(PID, 10, WriteClass::Interactive).err().expect("the node is full");
        assert!(matches!(refused, ApiError::Overloaded { partition_id: 100, .. }), "{refused:?}");
    }

    #[test]
    fn a_write_stall_holds_back_bulk_writes_only() {
        let admission = Admission::new([PID]);
        admission.set_near_stall(true);
        let refused = admission.admit(PID, 10, WriteClass::Bulk).err().expect("bulk waits");
        assert_eq!(retry_after(refused), RETRY_AFTER_WRITE_STALL.as_millis() as u32);
        assert!(admission.admit(PID, 10, WriteClass::Interactive).is_ok());
        admission.set_near_stall(false);
        assert!(admission.admit(PID, 10, WriteClass::Bulk).is_ok());
    }

    #[test]
    fn an_overwhelmed_node_refuses_interactive_writes_only_while_writes_queue() {
        let admission = Admission::new([PID]);
        admission.lateness_us.store(SCHEDULING_DELAY_INTERACTIVE_MAX.as_micros() as u64 * 2, Ordering::Release);
        let queued: Vec<Ticket> = (0..NODE_QUEUED_WRITES_OVERWHELMED - 1)
            .map(|_| admission.admit(PID, 10, WriteClass::Interactive).expect("a short queue is admitted even late"))
            .collect();
        let _last = admission.admit(PID, 10, WriteClass::Interactive).expect("still short");
        let refused = admission.admit(PID, 10, WriteClass::Interactive).err().expect("queued and late");
        assert_eq!(retry_after(refused), RETRY_AFTER_CPU_SATURATED.as_millis() as u32);
        admission.lateness_us.store(0, Ordering::Release);
        assert!(admission.admit(PID, 10, WriteClass::Interactive).is_ok(), "on time again: admitted");
        drop(queued);
    }

    #[test]
    fn a_saturated_cpu_holds_back_bulk_writes_only() {
        let admission = Admission::new([PID]);
        admission.set_cpu_saturated(true);
        let refused = admission.admit(PID, 10, WriteClass::Bulk).err().expect("bulk waits");
        assert_eq!(retry_after(refused), RETRY_AFTER_CPU_SATURATED.as_millis() as u32);
        assert!(admission.admit(PID, 10, WriteClass::Interactive).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_bulk_write_waits_for_the_cpu_to_clear_and_is_refused_only_when_it_does_not() {
        let admission = Arc::new(Admission::new([PID]));
        admission.set_cpu_saturated(true);
        let started = tokio::time::Instant::now();
        let refused = admission.admit_when_cpu_free(PID, 10, WriteClass::Bulk).await.err().expect("still saturated");
        assert_eq!(retry_after(refused), RETRY_AFTER_CPU_SATURATED.as_millis() as u32);
        assert_eq!(started.elapsed(), BULK_CPU_WAIT_MAX, "waited its bound first");
        assert!(admission.admit_when_cpu_free(PID, 10, WriteClass::Interactive).await.is_ok(), "interactive: no wait");

        let clears = admission.clone();
        tokio::spawn(async move {
            tokio::time::sleep(BULK_CPU_WAIT_MAX / 4).await;
            clears.set_cpu_saturated(false);
        });
        let started = tokio::time::Instant::now();
        assert!(admission.admit_when_cpu_free(PID, 10, WriteClass::Bulk).await.is_ok());
        assert_eq!(started.elapsed(), BULK_CPU_WAIT_MAX / 4, "admitted the moment the CPU cleared");
    }

    /// A runtime whose only worker is held runs the probe late: the CPU counts as saturated until it is free.
    #[tokio::test(flavor = "current_thread")]
    async fn a_late_runtime_marks_the_cpu_saturated() {
        let admission = Arc::new(Admission::new([PID]));
        admission.watch_scheduling();
        tokio::task::yield_now().await;
        // Hold the one worker thread, as a long synchronous task would.
        std::thread::sleep(SCHEDULING_DELAY_BULK_MAX * 3);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !*admission.cpu_saturated.borrow() {
            assert!(tokio::time::Instant::now() < deadline, "lateness never noticed");
            tokio::time::sleep(SCHEDULING_PROBE_INTERVAL).await;
        }
        while *admission.cpu_saturated.borrow() {
            assert!(tokio::time::Instant::now() < deadline, "never recovered");
            tokio::time::sleep(SCHEDULING_PROBE_INTERVAL).await;
        }
    }
}
