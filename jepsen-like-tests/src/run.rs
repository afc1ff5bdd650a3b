//! One consistency run: a cluster (in network namespaces when root, else on loopback; data dirs on
//! `dancu-lazyfs` for power losses; clocks under libfaketime for clock faults), the register workload and the
//! nemesis for a fixed time, then heal, final reads from every node, the checker, the lost-writes count and the
//! report. The verdict is the run's answer; everything started is torn down, also on error.
//!
//! A run is mutual TLS by default: the configuration gets the suite's roles and callers
//! ([`MutualTls::consistency_suite`]), certificates are issued into `OUT/cluster/certs/`, the workload connects as
//! [`SUITE_WORKLOAD_CALLER`] and the harness as the operator; the run proves plaintext is refused
//! ([`transport::confirm`]). [`TransportSecurity::InsecurePlaintext`] (`--insecure-plaintext`) runs without TLS.
//!
//! A self-test (`--self-test NAME`) starts the nodes with one hidden unsafe switch and the faults that expose it;
//! the run must then be judged invalid, which proves the suite can catch that bug.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_client::{Client, ClientOptions};
use dancu_cluster_config::RaftConfig;
use serde_json::json;

use crate::checker::{self, CheckConfig, Verdict};
use crate::clock::{self, ClockControl};
use crate::history::{Op, OpKind, Outcome, ReadLevel};
use crate::lost_writes::{self, FinalState};
use crate::nemesis::{ClockPlan, Nemesis, NemesisConfig, NemesisKind, NemesisTally};
use crate::netns::{self, NetTopology};
use crate::report::{self, RunReport};
use crate::transport::{self, Transport, TransportSecurity};
use crate::workload::{self, Recorder, WorkloadConfig};
use crate::{lazyfs_binary, ClusterSpec, HarnessError, LocalCluster, MutualTls, SUITE_PURPOSE, SUITE_WORKLOAD_CALLER};

/// Longest the cluster may take to become healthy, at the start and after healing.
const HEALTHY_WAIT: Duration = Duration::from_secs(90);
/// Per-call deadline of workload operations (retries included).
const OP_DEADLINE: Duration = Duration::from_secs(2);

/// The suite's self-tests: each starts the nodes with one hidden unsafe switch; the run must be judged invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfTest {
    /// Linearizable reads served locally without the linearizer (`--unsafe-skip-linearizer`).
    BrokenReads,
    /// Votes granted right after a restart, inside the lease (`--unsafe-early-votes`).
    EarlyVotes,
    /// Writes acknowledged without a WAL fsync (`--unsafe-skip-fsync`), then power losses.
    SkipFsync,
    /// A cut-off leader's clock far slower than the drift bound allows (no node switch: the fault is the bug).
    ClockBeyondBound,
}

impl SelfTest {
    pub const ALL: [SelfTest; 4] =
        [SelfTest::BrokenReads, SelfTest::EarlyVotes, SelfTest::SkipFsync, SelfTest::ClockBeyondBound];

    pub fn name(self) -> &'static str {
        match self {
            SelfTest::BrokenReads => "broken-reads",
            SelfTest::EarlyVotes => "early-votes",
            SelfTest::SkipFsync => "skip-fsync",
            SelfTest::ClockBeyondBound => "clock-beyond-bound",
        }
    }

    pub fn parse(text: &str) -> Result<SelfTest, String> {
        SelfTest::ALL.into_iter().find(|test| test.name() == text).ok_or_else(|| {
            let names: Vec<&str> = SelfTest::ALL.iter().map(|test| test.name()).collect();
            format!("unknown self-test {text:?}; expected one of {}", names.join(", "))
        })
    }

    fn node_args(self) -> Vec<String> {
        match self {
            SelfTest::BrokenReads => vec!["--unsafe-skip-linearizer".into()],
            SelfTest::EarlyVotes => vec!["--unsafe-early-votes".into()],
            SelfTest::SkipFsync => vec!["--unsafe-skip-fsync".into()],
            SelfTest::ClockBeyondBound => Vec::new(),
        }
    }

    /// The faults that expose the switch, when the run does not name its own.
    pub fn nemeses(self) -> Vec<NemesisKind> {
        match self {
            SelfTest::BrokenReads => NemesisKind::ALL.to_vec(),
            SelfTest::EarlyVotes => vec![NemesisKind::Restart],
            SelfTest::SkipFsync => vec![NemesisKind::PowerLoss],
            SelfTest::ClockBeyondBound => vec![NemesisKind::Clock],
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub duration: Duration,
    pub nemeses: Vec<NemesisKind>,
    pub seed: u64,
    pub out: PathBuf,
    pub n_nodes: usize,
    /// Target total ops/s (0: unpaced).
    pub rate: u64,
    pub self_test: Option<SelfTest>,
    pub node_bin: PathBuf,
    pub n_keys: usize,
    pub n_workers: usize,
    pub n_readers: usize,
    pub check_budget: Duration,
    /// Mutual TLS (the default) or insecure plaintext (`--insecure-plaintext`).
    pub transport: TransportSecurity,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub verdict: Verdict,
    pub n_ops: usize,
    pub n_faults: usize,
    pub final_reads_agree: bool,
    pub check_ms: u64,
    pub acked_writes_lost: u64,
    pub nemesis: NemesisTally,
    /// How the run's connections were secured, and the evidence.
    pub transport: Transport,
}

/// The loopback fallback cannot cut links; say what the run could not do.
fn network_mode() -> (Option<String>, Vec<String>) {
    match netns::netns_available() {
        Ok(()) => (Some(format!("{:04x}", std::process::id() & 0xffff)), Vec::new()),
        Err(why) => (None, vec![format!("network namespaces unavailable ({why}): loopback, process faults only")]),
    }
}

/// The clock-drift bound the nodes are configured with, and the largest rate deviation the in-bound clock fault
/// uses (within it).
const DRIFT_BOUND_PPM: u32 = 20_000;
const IN_BOUND_DEVIATION: f64 = 0.02;
/// The clock self-test slows the cut-off leader's clock to this rate: far beyond the bound.
const BEYOND_BOUND_RATE: f64 = 0.1;

fn raft_config(nemeses: &[NemesisKind]) -> RaftConfig {
    let base = RaftConfig {
        // Frequent snapshots so that log purges and snapshot installs happen during a short run.
        snapshot_logs_since_last: 300,
        max_in_snapshot_log_to_keep: 50,
        max_clock_drift_ppm: DRIFT_BOUND_PPM,
        ..RaftConfig::default()
    };
    if !nemeses.iter().any(|kind| matches!(kind, NemesisKind::Restart | NemesisKind::Clock)) {
        return base;
    }
    // A lease much longer than the shortest election timeout: nodes that restart, or whose clocks run wrong, get
    // the chance to elect a new leader while the cut-off one still trusts its lease — the schedule that makes an
    // unsafe vote or an unbounded clock visible as stale reads.
    RaftConfig { heartbeat_interval_ms: 100, election_timeout_ms_min: 300, election_timeout_ms_max: 3_000, ..base }
}

/// Drops the kinds this machine cannot inject, saying why in the notes.
fn available_nemeses(config: &RunConfig, netns: bool, notes: &mut Vec<String>) -> Vec<NemesisKind> {
    let mut kinds = config.nemeses.clone();
    if kinds.contains(&NemesisKind::PowerLoss) {
        if let Err(why) = lazyfs_binary(&config.node_bin).map(|_| ()).and_then(|()| fuse_available()) {
            notes.push(format!("power-loss faults skipped: {why}"));
            kinds.retain(|kind| *kind != NemesisKind::PowerLoss);
        }
    }
    if kinds.contains(&NemesisKind::Clock) {
        if let Err(why) = clock::faketime_available() {
            notes.push(format!("clock faults skipped: {why}"));
            kinds.retain(|kind| *kind != NemesisKind::Clock);
        }
    }
    if !netns {
        kinds.retain(|kind| *kind != NemesisKind::Partition);
    }
    kinds
}

fn fuse_available() -> Result<(), HarnessError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(|_| ())
        .map_err(|source| HarnessError::io("opening /dev/fuse (power loss needs FUSE, as root)", source))
}

pub async fn run(mut config: RunConfig) -> Result<RunOutcome, String> {
    std::fs::create_dir_all(&config.out).map_err(|e| format!("{}: {e}", config.out.display()))?;
    let removed = netns::remove_stale("dancu");
    if !removed.is_empty() {
        tracing::warn!(?removed, "removed namespaces left by an earlier run");
    }
    let (tag, mut notes) = network_mode();
    config.nemeses = available_nemeses(&config, tag.is_some(), &mut notes);
    notes.push("only single-key registers are checked; cross-partition queries are not snapshots".into());
    let node_ids: Vec<u64> = (1..=config.n_nodes as u64).collect();
    let mut net = match &tag {
        Some(tag) => Some(NetTopology::create(tag, &node_ids).map_err(|e| e.to_string())?),
        None => None,
    };
    let raft = raft_config(&config.nemeses);
    let mut spec = ClusterSpec::new(&config.node_bin);
    spec.n_nodes = config.n_nodes;
    spec.raft = Some(raft.clone());
    spec.base_dir = Some(config.out.join("cluster"));
    spec.keep_dir = true;
    spec.extra_node_args = config.self_test.map(SelfTest::node_args).unwrap_or_default();
    if config.transport == TransportSecurity::MutualTls {
        // Applied to the generated loopback or namespaced configuration; the certificates are issued once its
        // addresses are final, before a node starts.
        spec.mutual_tls = Some(MutualTls::consistency_suite());
    }
    if config.nemeses.contains(&NemesisKind::PowerLoss) {
        spec.lazyfs_bin = Some(lazyfs_binary(&config.node_bin).map_err(|e| e.to_string())?);
    }
    if let Some(net) = &net {
        spec.config = Some(netns::namespaced_config(net, &node_ids, 3, Some(raft)));
        spec.node_command_prefix = node_ids.iter().map(|id| (*id, net.exec_prefix(*id))).collect();
    }
    let clocks = if config.nemeses.contains(&NemesisKind::Clock) {
        clock_controls(&config.out, &node_ids, &mut spec.node_command_prefix)?
    } else {
        BTreeMap::new()
    };
    let mut cluster = LocalCluster::start(spec).map_err(|e| e.to_string())?;
    let result = drive(&config, &mut cluster, net.as_mut(), clocks, notes).await;
    drop(cluster);
    drop(net);
    result
}

/// A clock control per node, its prefix appended to the node's command prefix (after `ip netns exec`).
fn clock_controls(
    out: &std::path::Path,
    node_ids: &[u64],
    prefixes: &mut BTreeMap<u64, Vec<String>>,
) -> Result<BTreeMap<u64, ClockControl>, String> {
    let mut clocks = BTreeMap::new();
    for &node in node_ids {
        let clock = ClockControl::new(out.join("clocks").join(format!("node-{node}"))).map_err(|e| e.to_string())?;
        prefixes.entry(node).or_default().extend(clock.command_prefix());
        clocks.insert(node, clock);
    }
    Ok(clocks)
}

/// A client per node (preferring that node), as the suite's workload caller over mutual TLS when the cluster
/// runs it.
async fn connect_per_node(cluster: &LocalCluster) -> Result<Vec<Client>, String> {
    let options = ClientOptions {
        deadline: OP_DEADLINE,
        rpc_timeout: Duration::from_millis(1_000),
        purpose: SUITE_PURPOSE.into(),
        tls: cluster.caller_tls(SUITE_WORKLOAD_CALLER),
        ..ClientOptions::default()
    };
    let mut clients = Vec::new();
    for node in cluster.node_ids() {
        let mut endpoints = vec![cluster.addr(node)];
        endpoints.extend(cluster.endpoints().into_iter().filter(|e| *e != cluster.addr(node)));
        clients.push(Client::connect(&endpoints, options.clone()).await.map_err(|e| e.to_string())?);
    }
    Ok(clients)
}

async fn drive(
    config: &RunConfig,
    cluster: &mut LocalCluster,
    mut net: Option<&mut NetTopology>,
    clocks: BTreeMap<u64, ClockControl>,
    notes: Vec<String>,
) -> Result<RunOutcome, String> {
    cluster.wait_healthy(HEALTHY_WAIT).await.map_err(|e| e.to_string())?;
    let transport = transport::confirm(cluster, config.transport).await?;
    tracing::info!(transport = %transport.security, evidence = %transport.evidence, "transport security");
    let keys = workload::register_keys(config.n_keys);
    let map = cluster.config().partition_map().map_err(|e| e.to_string())?;
    let mut partitions: Vec<u32> = keys.iter().filter_map(|k| map.partition_for(k)).map(|p| p.id.0).collect();
    partitions.dedup();
    partitions.sort_unstable();
    partitions.dedup();
    let clients = connect_per_node(cluster).await?;
    let reader_clients = connect_per_node(cluster).await?;

    let started = Instant::now();
    let recorder = Arc::new(Recorder::new(started));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workload_config = WorkloadConfig {
        keys: keys.clone(),
        n_workers: config.n_workers,
        n_readers: config.n_readers,
        rate_per_s: config.rate,
        seed: config.seed,
    };
    let workload =
        tokio::spawn(workload::run(clients.clone(), reader_clients, workload_config, recorder.clone(), stop_rx));

    let clock_plan = match config.self_test {
        Some(SelfTest::ClockBeyondBound) => ClockPlan { max_deviation: 1.0 - BEYOND_BOUND_RATE, extreme: true },
        _ => ClockPlan { max_deviation: IN_BOUND_DEVIATION, extreme: false },
    };
    let nemesis_config = NemesisConfig {
        kinds: config.nemeses.clone(),
        seed: config.seed,
        partitions: partitions.clone(),
        quiet_ms: (1_000, 3_000),
        hold_ms: (2_000, 6_000),
        clock: clock_plan,
        restart_with_cut_off_leader: config.self_test == Some(SelfTest::EarlyVotes),
    };
    let mut nemesis = Nemesis::new(cluster, net.as_deref_mut(), clocks, nemesis_config, started);
    nemesis.run_until(started + config.duration).await;
    let _ = stop_tx.send(true);
    if workload.await.is_err() {
        tracing::error!("workload task panicked");
    }
    nemesis.heal_all().await;
    let faults = std::mem::take(&mut nemesis.faults);
    let tally = std::mem::take(&mut nemesis.tally);
    drop(nemesis);
    cluster.wait_healthy(HEALTHY_WAIT).await.map_err(|e| e.to_string())?;

    let (final_reads, final_reads_agree, final_state) = final_reads(cluster, &clients, &keys, &recorder).await;
    let ops = recorder.take();
    let acked_writes_lost = lost_writes::acked_writes_lost(&ops, &final_state);
    let check_config = CheckConfig { time_budget: config.check_budget, ..CheckConfig::default() };
    let ops_for_check = ops.clone();
    let check = tokio::task::spawn_blocking(move || checker::check(&ops_for_check, &check_config))
        .await
        .map_err(|e| format!("checker failed: {e}"))?;
    let verdict = if final_reads_agree && acked_writes_lost == 0 { check.verdict } else { Verdict::Invalid };
    let run_config = json!({
        "duration_s": config.duration.as_secs_f64(),
        "nemeses": config.nemeses.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "nodes": config.n_nodes,
        "rate": config.rate,
        "keys": keys,
        "workers": config.n_workers,
        "readers": config.n_readers,
        "self_test": config.self_test.map(SelfTest::name),
        "raft": {
            "heartbeat_interval_ms": cluster.config().raft.heartbeat_interval_ms,
            "election_timeout_ms_min": cluster.config().raft.election_timeout_ms_min,
            "election_timeout_ms_max": cluster.config().raft.election_timeout_ms_max,
            "max_clock_drift_ppm": cluster.config().raft.max_clock_drift_ppm,
        },
        "network": if net.is_some() { "namespaces" } else { "loopback" },
    });
    let report = RunReport {
        ops: &ops,
        faults: &faults,
        check: &check,
        seed: config.seed,
        git_rev: git_rev(),
        config: run_config,
        notes,
        final_reads,
        acked_writes_lost,
        nemesis: &tally,
        transport: &transport,
    };
    report::write_run_report(&config.out, &report).map_err(|e| format!("writing the report: {e}"))?;
    Ok(RunOutcome {
        verdict,
        n_ops: ops.len(),
        n_faults: faults.len(),
        final_reads_agree,
        check_ms: check.elapsed_ms,
        acked_writes_lost,
        nemesis: tally,
        transport,
    })
}

/// After healing: one linearizable read per key (recorded in the history), then every node must serve
/// the same value locally once caught up. Also returns each key's final state.
async fn final_reads(
    cluster: &LocalCluster,
    clients: &[Client],
    keys: &[String],
    recorder: &Recorder,
) -> (serde_json::Value, bool, FinalState) {
    let mut per_key = Vec::new();
    let mut all_agree = true;
    let mut final_state = FinalState::new();
    for key in keys {
        let invoke_us = recorder.now_us();
        let truth = clients[0].get(key, dancu_client::proto::Consistency::Linearizable).await;
        let complete_us = recorder.now_us();
        let (value, revision) = match &truth {
            Ok(Some(found)) => {
                (found.citizen.as_ref().and_then(|c| c.other_name.strip_prefix('v')?.parse().ok()), found.revision)
            }
            Ok(None) => (None, 0),
            Err(error) => {
                all_agree = false;
                per_key.push(json!({"key": key, "error": error.to_string()}));
                continue;
            }
        };
        final_state.insert(key.clone(), (value, revision));
        let mut op = Op::invoked(u32::MAX, key, OpKind::Read, invoke_us);
        (op.level, op.value, op.revision) = (Some(ReadLevel::Linearizable), value, Some(revision));
        (op.complete_us, op.outcome) = (complete_us, Outcome::Ok);
        recorder.record(op);
        let mut nodes = serde_json::Map::new();
        let mut agree = true;
        for (client, node) in clients.iter().zip(cluster.node_ids()) {
            let seen = poll_local_read(client, key, revision).await;
            agree &= seen == Some(revision);
            nodes.insert(node.to_string(), json!(seen));
        }
        all_agree &= agree;
        per_key.push(json!({"key": key, "value": value, "revision": revision, "nodes": nodes, "agree": agree}));
    }
    (json!({"keys": per_key, "all_agree": all_agree}), all_agree, final_state)
}

/// The revision a node serves locally for `key` once it has caught up to `revision` (or the last seen).
async fn poll_local_read(client: &Client, key: &str, revision: u64) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = None;
    while Instant::now() < deadline {
        match client.get(key, dancu_client::proto::Consistency::Stale).await {
            Ok(found) => {
                seen = Some(found.map_or(0, |f| f.revision));
                if seen == Some(revision) {
                    return seen;
                }
            }
            Err(error) => tracing::debug!(%error, "final local read failed"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

fn git_rev() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
