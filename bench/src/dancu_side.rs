//! dancu in a compare run: a fresh local 3-node cluster (the harness's, real `dancu-node` processes), loaded with
//! `dancu_client::import` (what `dancuctl import` does), driven by `dancu_client::bench` (what `dancuctl bench
//! run` does), and a [`FailoverTarget`] that kills the leader of one partition.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dancu_client::bench::{BenchConfig, BenchResult, KeySet, LoopShape, Operation, Workload};
use dancu_client::proto::{Citizen, Consistency};
use dancu_client::{Client, ClientOptions, ImportOptions, TlsIdentity};
use dancu_jepsen::{ClusterSpec, CpuCap, LocalCluster};
use dancu_synthetic::Population;
use rand::rngs::StdRng;
use rand::Rng;

use crate::failover::FailoverTarget;
use crate::results::Load;
use crate::CompareError;

/// Time a fresh cluster may take to elect a leader for every partition.
const HEALTHY_MAX: Duration = Duration::from_secs(120);
/// A failover writer's request gives up after this, so a writer stuck on the killed node moves on.
const FAILOVER_WRITE_DEADLINE: Duration = Duration::from_millis(1_500);
const FAILOVER_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// What one dancu run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DancuWorkload {
    GetLinearizable,
    /// A `stale` read: served by the first replica asked, no leader round (etcd's serializable read).
    GetStale,
    Put,
    BatchGet(usize),
}

/// A running local dancu cluster under test.
pub struct DancuSystem {
    cluster: LocalCluster,
    client: Client,
}

impl DancuSystem {
    /// Starts three nodes (three replicas per partition, default Raft timing, fsync on) with their data in
    /// `base_dir`, and waits until every partition has a leader.
    pub async fn start(
        node_bin: &Path,
        base_dir: &Path,
        cpu_cap: Option<Arc<CpuCap>>,
    ) -> Result<DancuSystem, CompareError> {
        let spec = ClusterSpec { base_dir: Some(base_dir.to_path_buf()), cpu_cap, ..ClusterSpec::new(node_bin) };
        DancuSystem::start_spec(spec, None).await
    }

    /// Starts the cluster `spec` describes (e.g. a mutual-TLS one), waits until every partition has a leader, and
    /// connects the client the load and the workloads share, as `caller` when the cluster runs mutual TLS.
    pub async fn start_spec(spec: ClusterSpec, caller: Option<&str>) -> Result<DancuSystem, CompareError> {
        let cluster = LocalCluster::start(spec)?;
        cluster.wait_healthy(HEALTHY_MAX).await?;
        let tls = caller.and_then(|caller| cluster.caller_tls(caller));
        let client = Client::connect(&cluster.endpoints(), ClientOptions { tls, ..bench_options() }).await?;
        Ok(DancuSystem { cluster, client })
    }

    /// `caller`'s certificate in a mutual-TLS cluster.
    pub fn identity(&self, caller: &str) -> Result<TlsIdentity, CompareError> {
        self.cluster
            .caller_tls(caller)
            .ok_or_else(|| CompareError::TlsPhase(format!("the cluster runs without TLS: no certificate for {caller}")))
    }

    pub fn version(&self) -> String {
        format!("dancu {}", env!("CARGO_PKG_VERSION"))
    }

    /// The settings that matter for the figures, one line.
    pub fn settings(&self) -> String {
        let config = self.cluster.config();
        let raft = &config.raft;
        format!(
            "{} nodes, {} replicas per partition, {} partitions, heartbeat {} ms, election timeout {}–{} ms, \
             fsync before every acknowledged write (group commit)",
            config.nodes.len(),
            config.partitions.replicas,
            config.partition_map().map_or(0, |map| map.partitions.len()),
            raft.heartbeat_interval_ms,
            raft.election_timeout_ms_min,
            raft.election_timeout_ms_max,
        )
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.cluster.endpoints()
    }

    /// The client the workloads share.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn node_ids(&self) -> Vec<u64> {
        self.cluster.node_ids()
    }

    pub fn log_path(&self, node: u64) -> std::path::PathBuf {
        self.cluster.log_path(node)
    }

    /// Imports the population as `dancuctl import` would (JSON lines generated beforehand, not timed).
    pub async fn load(&self, population: &Population) -> Result<Load, CompareError> {
        let mut lines = Vec::new();
        let mut chunk = Vec::new();
        for chunk_idx in 0..population.n_chunks() {
            chunk.clear();
            population.chunk_json(chunk_idx, &mut chunk);
            lines.extend_from_slice(&chunk);
        }
        let n_bytes = lines.len();
        let summary = dancu_client::import(&self.client, Cursor::new(lines), &ImportOptions::default(), |_| {})
            .await
            .map_err(|failure| CompareError::Import(failure.to_string()))?;
        if !summary.bad_lines.is_empty() || summary.lines != population.count() {
            return Err(CompareError::Import(format!(
                "{} of {} lines imported, {} bad",
                summary.lines,
                population.count(),
                summary.bad_lines.len()
            )));
        }
        Ok(Load {
            records: summary.lines,
            seconds: summary.seconds,
            records_per_s: summary.records_per_s,
            mean_record_bytes: n_bytes as f64 / population.count().max(1) as f64,
        })
    }

    /// Leader changes since the nodes started, as the node that saw most reports them (every node hosts a replica of
    /// every partition, so each sees nearly every change).
    pub async fn leader_changes(&self) -> Result<u64, CompareError> {
        let mut most = 0;
        for node in self.cluster.node_ids() {
            most = most.max(self.cluster.status(node).await?.leader_changes);
        }
        Ok(most)
    }

    /// Resident set of every node, MiB, in node order.
    pub fn rss_mib_per_node(&self) -> Result<Vec<f64>, CompareError> {
        self.node_pids()?.into_iter().map(crate::process_stats::rss_mib).collect()
    }

    /// CPU time all nodes have used since they started, seconds.
    pub fn cpu_s(&self) -> Result<f64, CompareError> {
        self.node_pids()?.into_iter().map(crate::process_stats::cpu_s).sum()
    }

    fn node_pids(&self) -> Result<Vec<u32>, CompareError> {
        let pid = |node| {
            self.cluster
                .pid(node)
                .ok_or_else(|| CompareError::io(format!("node {node}"), std::io::Error::other("not running")))
        };
        self.cluster.node_ids().into_iter().map(pid).collect()
    }

    /// Runs one workload through `dancu_client::bench` (the `dancuctl bench run` loop), keys uniform over `keys`.
    pub async fn run_workload(
        &self,
        workload: DancuWorkload,
        keys: Arc<KeySet>,
        shape: LoopShape,
    ) -> Result<BenchResult, CompareError> {
        run_workload_as(&self.client, workload, keys, shape).await
    }

    /// The failover target (the leader of the partition of `population`'s first record) and its writes.
    pub async fn failover(
        &mut self,
        population: &Population,
    ) -> Result<(DancuFailover<'_>, Arc<PartitionWrites>), CompareError> {
        let first = population.citizens().next().ok_or_else(|| CompareError::Import("empty population".into()))?;
        let partition = self.client.partition_of(&first.id)?;
        let records: Vec<Citizen> = population
            .citizens()
            .filter(|citizen| self.client.partition_of(&citizen.id).is_ok_and(|p| p == partition))
            .take(1_000)
            .collect();
        let options = ClientOptions {
            deadline: FAILOVER_WRITE_DEADLINE,
            rpc_timeout: FAILOVER_ATTEMPT_TIMEOUT,
            ..bench_options()
        };
        let mut clients = Vec::new();
        for _ in 0..crate::failover::WRITERS {
            clients.push(Client::connect(&self.endpoints(), options.clone()).await?);
        }
        let writes = Arc::new(PartitionWrites { records, clients });
        Ok((DancuFailover { cluster: &mut self.cluster, partition }, writes))
    }
}

/// Runs one workload through `dancu_client::bench` (the `dancuctl bench run` loop) with `client` (a caller of the
/// cluster: its options say who it is), keys uniform over `keys`.
pub async fn run_workload_as(
    client: &Client,
    workload: DancuWorkload,
    keys: Arc<KeySet>,
    shape: LoopShape,
) -> Result<BenchResult, CompareError> {
    let (kind, consistency, batch_size) = match workload {
        DancuWorkload::GetLinearizable => (Workload::Get, Consistency::Linearizable, 1),
        DancuWorkload::GetStale => (Workload::Get, Consistency::Stale, 1),
        DancuWorkload::Put => (Workload::Put, Consistency::Linearizable, 1),
        DancuWorkload::BatchGet(size) => (Workload::BatchGet, Consistency::Linearizable, size),
    };
    let config = BenchConfig {
        workload: kind,
        consistency,
        batch_size,
        concurrency: shape.concurrency,
        duration: shape.duration,
        warmup: shape.warmup,
        seed: shape.seed,
        ..BenchConfig::default()
    };
    // Every loop shares one client, as a service's tasks share one `Client`: its clones share the channels
    // and the coalescing of concurrent gets (measured: 4 separately connected clients at 64 loops gave 0.6×
    // the gets, 0.9× the batch-get keys and 0.9× the puts of one).
    Ok(dancu_client::bench::run(&config, keys, std::slice::from_ref(client)).await?)
}

/// Every benchmark client's options: purpose `benchmark`, plaintext.
pub(crate) fn bench_options() -> ClientOptions {
    ClientOptions { purpose: "benchmark".to_string(), ..ClientOptions::default() }
}

/// Kills the leader of one partition.
pub struct DancuFailover<'a> {
    cluster: &'a mut LocalCluster,
    partition: u32,
}

impl FailoverTarget for DancuFailover<'_> {
    async fn leader(&mut self) -> Result<usize, CompareError> {
        let leader = self.cluster.leader_of(self.partition).await.ok_or_else(|| CompareError::Timeout {
            what: format!("a leader of partition {}", self.partition),
            seconds: 0.0,
        })?;
        Ok(leader as usize)
    }

    fn kill(&mut self, member: usize) -> Result<(), CompareError> {
        Ok(self.cluster.kill(member as u64)?)
    }

    fn restart(&mut self, member: usize) -> Result<(), CompareError> {
        Ok(self.cluster.restart(member as u64)?)
    }

    /// Leaders agreed and the restarted node caught up: a kill before it has would be a second fault while the
    /// first is still being repaired (its groups just started, behind in their logs), not a single failover.
    async fn wait_settled(&mut self, time_max: Duration) -> Result<(), CompareError> {
        let started = std::time::Instant::now();
        self.cluster.wait_healthy(time_max).await?;
        Ok(self.cluster.wait_caught_up(time_max.saturating_sub(started.elapsed())).await?)
    }
}

/// Puts to records of one partition, each with a new `other_name` so every put writes.
pub struct PartitionWrites {
    records: Vec<Citizen>,
    /// One per writer loop.
    clients: Vec<Client>,
}

impl Operation for PartitionWrites {
    async fn execute(&self, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), String> {
        let mut record = self.records[rng.random_range(0..self.records.len())].clone();
        record.other_name = format!("failover {loop_idx} {op_idx}");
        let client = &self.clients[loop_idx % self.clients.len()];
        client.put(record, None).await.map(drop).map_err(|error| error.to_string())
    }
}
