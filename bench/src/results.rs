//! `results.json`: every figure of a compare run. The field names are a stable interface (the acceptance check
//! and dashboards read them); add fields, never rename or remove one.
//!
//! Headline figures (`get_linearizable`, `batch_get_keys_per_s`, `put_ops_per_s`, …) are those measured with
//! [`HEADLINE_CONCURRENCY`] concurrent clients; `runs` holds every run of the sweep, for the plots.

use dancu_client::bench::BenchResult;
use serde::{Deserialize, Serialize};

/// The concurrency the headline figures and the goals are taken at.
pub const HEADLINE_CONCURRENCY: usize = 64;
/// The batch size of the headline batch-get figures.
pub const HEADLINE_BATCH: usize = 100;

/// Throughput and latency of one workload at [`HEADLINE_CONCURRENCY`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Failed requests in the measured window.
    pub errors: u64,
}

impl Figures {
    pub fn of(result: &BenchResult) -> Figures {
        Figures {
            ops_per_s: result.ops_per_s,
            p50_ms: result.latency_ms.p50,
            p99_ms: result.latency_ms.p99,
            p999_ms: result.latency_ms.p999,
            errors: result.errors,
        }
    }
}

/// Batch get at one batch size, at [`HEADLINE_CONCURRENCY`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchFigures {
    pub batch_size: usize,
    pub keys_per_s: f64,
    pub requests_per_s: f64,
    pub p99_ms: f64,
}

impl BatchFigures {
    pub fn of(result: &BenchResult) -> BatchFigures {
        BatchFigures {
            batch_size: result.batch_size,
            keys_per_s: result.keys_per_s,
            requests_per_s: result.ops_per_s,
            p99_ms: result.latency_ms.p99,
        }
    }
}

/// Leader kills under write load: how long writes failed after each kill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Failover {
    /// Milliseconds from the kill to the first write that succeeded after it, one per kill.
    pub recoveries_ms: Vec<f64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Set when the measurement stopped before every kill: what did not happen in time (a restarted member not
    /// rejoining, writes not recovering). The figures cover the kills before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// Loading the same synthetic records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub records: u64,
    pub seconds: f64,
    pub records_per_s: f64,
    /// Bytes of the records as loaded (dancu: protobuf as imported; etcd: the JSON value), divided by `records`.
    pub mean_record_bytes: f64,
}

/// One system (dancu or etcd) measured the same way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemResults {
    /// Name and version (`dancu 0.1.0`, `etcd 3.4.23`) and how it was configured, for the report.
    pub version: String,
    pub settings: String,
    pub get_linearizable: Figures,
    /// dancu: a `stale` read from the nearest replica; etcd: a serializable read from the member asked.
    pub get_serializable: Figures,
    pub put: Figures,
    /// `put.ops_per_s` (each put fsync'd before it is acknowledged).
    pub put_ops_per_s: f64,
    /// Keys per second of the batch-get run at batch size 100 (etcd: a Txn of 100 gets).
    pub batch_get_keys_per_s: f64,
    pub batch_get: Vec<BatchFigures>,
    pub failover: Failover,
    pub failover_p50_ms: f64,
    pub failover_p99_ms: f64,
    /// Largest resident set of one node (member) after loading, MiB.
    pub rss_mib: f64,
    /// Every node's resident set after loading, MiB.
    pub rss_mib_per_node: Vec<f64>,
    pub load: Load,
    /// Every run of the sweep: workloads × concurrency levels (and batch sizes).
    pub runs: Vec<BenchResult>,
    /// dancu: leader changes the nodes saw from their start to the end of the load (0 in a healthy cluster).
    #[serde(default)]
    pub leader_changes_during_load: Option<u64>,
    /// The cores the server processes shared (`--node-cpus`); `None`: uncapped.
    #[serde(default)]
    pub cpu_cap_cores: Option<f64>,
    /// CFS periods in which the cap held the servers back: the proof it took effect (0 when uncapped).
    #[serde(default)]
    pub cpu_throttled_periods: u64,
}

/// dancu over mutual TLS (`dancu_tls` in results.json): a second fresh cluster, the same nodes and population as the
/// plaintext one but `tls.mode = "mutual"`, measured after the plaintext cluster stopped and before etcd started.
/// Callers are two roles of the benchmark's own: [`TlsResults::full_caller`] sees every field, and
/// [`TlsResults::masked_caller`] has [`TlsResults::hidden_fields`] masked in every reply. Every figure is at
/// [`HEADLINE_CONCURRENCY`]; the batch figures are at [`HEADLINE_BATCH`] keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsResults {
    /// How the cluster, its TLS and its roles were set up, one line.
    pub settings: String,
    /// The caller with every field visible (its role allows get, batch-get and import; it also loads the records).
    pub full_caller: String,
    /// The caller whose role hides `hidden_fields`.
    pub masked_caller: String,
    pub hidden_fields: Vec<String>,
    /// Linearizable get as `full_caller`.
    pub get_linearizable: Figures,
    /// Batch get as `full_caller`.
    pub batch_get: BatchFigures,
    /// `batch_get.keys_per_s`.
    pub batch_get_keys_per_s: f64,
    /// Linearizable get as `masked_caller`.
    pub masked_get_linearizable: Figures,
    /// Batch get as `masked_caller`.
    pub masked_batch_get: BatchFigures,
    /// `masked_batch_get.keys_per_s`.
    pub masked_batch_get_keys_per_s: f64,
    /// New mutual-TLS connections: each a TCP connect, a full TLS handshake (no session resumption, as a freshly
    /// started process has no session to resume) and HTTP/2 setup, up to its first answered `WhoAmI`; closed
    /// after it. Latency is the whole of that.
    pub handshakes: Figures,
    /// `handshakes.ops_per_s`: new connections per second over mutual TLS.
    pub handshakes_per_s: f64,
    /// Handshakes the connection run completed in full, its warm-up included.
    pub handshakes_full: u64,
    /// Handshakes that resumed a session (0: resumption is off, and a resumed one fails its connection).
    pub handshakes_resumed: u64,
    /// The same connection loop against the plaintext cluster (measured in its phase): TCP connect and HTTP/2
    /// setup up to the first answered `WhoAmI`.
    pub plaintext_connections: Figures,
    /// `plaintext_connections.ops_per_s`.
    pub plaintext_connections_per_s: f64,
    /// Loading the same population as `full_caller`.
    pub load: Load,
    /// Cores the nodes used together before the load (half a second after every partition had a leader: Raft
    /// heartbeats alone).
    #[serde(default)]
    pub baseline_node_cores: f64,
    /// Seconds the runs waited after the load for the nodes to be about that idle again (their flushes and
    /// compactions of the load done; at most 20), and the cores they used in the last half second of the wait.
    #[serde(default)]
    pub idle_wait_s: f64,
    #[serde(default)]
    pub idle_node_cores: f64,
    /// The cores the TLS cluster's nodes shared (`--node-cpus`); `None`: uncapped.
    #[serde(default)]
    pub cpu_cap_cores: Option<f64>,
    /// CFS periods in which the cap held the TLS cluster's nodes back.
    #[serde(default)]
    pub cpu_throttled_periods: u64,
    /// Every run behind these figures, with the caller that made it.
    pub runs: Vec<TlsRun>,
}

/// One run of [`TlsResults`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsRun {
    /// The caller whose certificate the run presented; `insecure-plaintext` for the plaintext connection run.
    pub caller: String,
    pub result: BenchResult,
}

/// The ceilings: what the RPC layer and the storage engine alone reach on this machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ceilings {
    /// A tonic unary echo server in its own process answering with a reply of `reply_bytes`, at
    /// [`HEADLINE_CONCURRENCY`] concurrent clients.
    pub echo_ops_per_s: f64,
    pub echo: Figures,
    pub echo_reply_bytes: usize,
    /// Raw RocksDB point gets of the loaded records' bytes, with as many threads as the machine has cores.
    pub rocksdb_get_per_s: f64,
    /// Raw RocksDB `multi_get` of 100 keys, keys per second.
    pub rocksdb_multi_get_keys_per_s: f64,
    pub rocksdb_records: u64,
    /// Raw RocksDB writing what three replicas store for an import of the same records (at most 1M), all three
    /// at once: records per second, the ceiling of the load rate (`ceiling::import_writes`).
    #[serde(default)]
    pub rocksdb_import_records_per_s: f64,
    #[serde(default)]
    pub rocksdb_import_records: u64,
    /// `echo_ops_per_s` ÷ 3: a put replicated without batching needs three request/reply round trips (client to
    /// leader, leader to each of two followers), so no unbatched put rate on this machine can exceed it.
    #[serde(default)]
    pub unbatched_replicated_put_ops_per_s: f64,
    /// Every echo run of the sweep.
    pub runs: Vec<BenchResult>,
}

/// The machine the run was on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub hostname: String,
}

/// dancu's figure over another's: what the goals are stated in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    /// dancu linearizable get ops/s ÷ etcd's.
    pub get_linearizable_vs_etcd: f64,
    /// dancu linearizable get ops/s ÷ the echo ceiling.
    pub get_linearizable_vs_echo: f64,
    /// dancu linearizable get p99 ÷ etcd's (≤ 1 is the goal).
    pub get_linearizable_p99_vs_etcd: f64,
    /// dancu put ops/s ÷ etcd's.
    pub put_vs_etcd: f64,
    /// dancu batch get keys/s ÷ etcd's.
    pub batch_get_vs_etcd: f64,
    /// dancu load records/s ÷ etcd's.
    pub load_vs_etcd: f64,
    /// dancu put ops/s ÷ `ceilings.unbatched_replicated_put_ops_per_s`.
    #[serde(default)]
    pub put_vs_unbatched_put_ceiling: f64,
    /// dancu load records/s ÷ `ceilings.rocksdb_import_records_per_s`.
    #[serde(default)]
    pub load_vs_import_write_ceiling: f64,
    /// `dancu_tls.get_linearizable` ops/s ÷ the plaintext `dancu.get_linearizable` (what mutual TLS costs a get).
    #[serde(default)]
    pub get_tls_vs_plaintext: f64,
    /// `dancu_tls.masked_get_linearizable` ops/s ÷ the plaintext `dancu.get_linearizable` (TLS and the mask).
    #[serde(default)]
    pub get_masked_vs_plaintext: f64,
    /// `dancu_tls.get_linearizable` ops/s ÷ etcd's linearizable get.
    #[serde(default)]
    pub get_tls_vs_etcd: f64,
    /// `dancu_tls.masked_get_linearizable` ops/s ÷ etcd's linearizable get.
    #[serde(default)]
    pub get_masked_vs_etcd: f64,
    /// `dancu_tls.batch_get_keys_per_s` ÷ the plaintext `dancu.batch_get_keys_per_s`.
    #[serde(default)]
    pub batch_get_tls_vs_plaintext: f64,
    /// `dancu_tls.masked_batch_get_keys_per_s` ÷ the plaintext `dancu.batch_get_keys_per_s`.
    #[serde(default)]
    pub batch_get_masked_vs_plaintext: f64,
    /// `dancu_tls.handshakes_per_s` ÷ `dancu_tls.plaintext_connections_per_s`.
    #[serde(default)]
    pub handshakes_vs_plaintext_connections: f64,
}

/// One goal of the benchmark issue, checked against this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub name: String,
    /// `>= 6` or `< 1000`, as the issue states it.
    pub target: String,
    pub measured: f64,
    pub met: bool,
}

/// The whole `results.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// `smoke`, `quick` or `full`.
    pub mode: String,
    pub records: u64,
    /// Concurrency the headline figures are at.
    pub concurrency: usize,
    /// Every concurrency level of the sweep.
    pub concurrency_levels: Vec<usize>,
    /// Seconds each workload ran (after its warm-up), per concurrency level.
    pub duration_s: f64,
    pub git_rev: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub machine: Machine,
    /// dancu with insecure plaintext: the cluster every `dancu` figure and ratio is about.
    pub dancu: SystemResults,
    /// dancu over mutual TLS, with a full-access and a masked role.
    #[serde(default)]
    pub dancu_tls: TlsResults,
    pub etcd: SystemResults,
    pub ceilings: Ceilings,
    pub ratios: Ratios,
    pub goals: Vec<Goal>,
}
