//! One consistency run: a cluster (in network namespaces when root, else on loopback), the register
//! workload and the nemesis for a fixed time, then heal, final reads from every node, the checker and
//! the report. The verdict is the run's answer; everything started is torn down, also on error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_client::{Client, ClientOptions};
use dancu_cluster_config::RaftConfig;
use serde_json::json;

use crate::checker::{self, CheckConfig, Verdict};
use crate::history::{Op, OpKind, Outcome, ReadLevel};
use crate::nemesis::{Nemesis, NemesisConfig, NemesisKind};
use crate::netns::{self, NetTopology};
use crate::report::{self, RunReport};
use crate::workload::{self, Recorder, WorkloadConfig};
use crate::{ClusterSpec, LocalCluster};

/// Longest the cluster may take to become healthy, at the start and after healing.
const HEALTHY_WAIT: Duration = Duration::from_secs(90);
/// Per-call deadline of workload operations (retries included).
const OP_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub duration: Duration,
    pub nemeses: Vec<NemesisKind>,
    pub seed: u64,
    pub out: PathBuf,
    pub n_nodes: usize,
    /// Target total ops/s (0: unpaced).
    pub rate: u64,
    pub broken_reads: bool,
    pub node_bin: PathBuf,
    pub n_keys: usize,
    pub n_workers: usize,
    pub check_budget: Duration,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub verdict: Verdict,
    pub n_ops: usize,
    pub n_faults: usize,
    pub final_reads_agree: bool,
    pub check_ms: u64,
}

/// The loopback fallback cannot cut links; say what the run could not do.
fn network_mode() -> (Option<String>, Vec<String>) {
    match netns::netns_available() {
        Ok(()) => (Some(format!("{:04x}", std::process::id() & 0xffff)), Vec::new()),
        Err(why) => (None, vec![format!("network namespaces unavailable ({why}): loopback, process faults only")]),
    }
}

fn raft_config() -> RaftConfig {
    RaftConfig {
        // Frequent snapshots so that log purges and snapshot installs happen during a short run.
        snapshot_logs_since_last: 300,
        max_in_snapshot_log_to_keep: 50,
        ..RaftConfig::default()
    }
}

pub async fn run(config: RunConfig) -> Result<RunOutcome, String> {
    std::fs::create_dir_all(&config.out).map_err(|e| format!("{}: {e}", config.out.display()))?;
    let removed = netns::remove_stale("dancu");
    if !removed.is_empty() {
        tracing::warn!(?removed, "removed namespaces left by an earlier run");
    }
    let (tag, mut notes) = network_mode();
    notes.push("clock skew cannot be injected on this machine".into());
    notes.push("only single-key registers are checked; cross-partition queries are not snapshots".into());
    let node_ids: Vec<u64> = (1..=config.n_nodes as u64).collect();
    let mut net = match &tag {
        Some(tag) => Some(NetTopology::create(tag, &node_ids).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut spec = ClusterSpec::new(&config.node_bin);
    spec.n_nodes = config.n_nodes;
    spec.raft = Some(raft_config());
    spec.base_dir = Some(config.out.join("cluster"));
    spec.keep_dir = true;
    if config.broken_reads {
        spec.extra_node_args.push("--unsafe-skip-linearizer".into());
    }
    if let Some(net) = &net {
        spec.config = Some(netns::namespaced_config(net, &node_ids, 3, Some(raft_config())));
        spec.node_command_prefix = node_ids.iter().map(|id| (*id, net.exec_prefix(*id))).collect();
    }
    let mut cluster = LocalCluster::start(spec).map_err(|e| e.to_string())?;
    let result = drive(&config, &mut cluster, net.as_mut(), notes).await;
    drop(cluster);
    drop(net);
    result
}

async fn connect_per_node(cluster: &LocalCluster) -> Result<Vec<Client>, String> {
    let options = ClientOptions {
        deadline: OP_DEADLINE,
        rpc_timeout: Duration::from_millis(1_000),
        purpose: "consistency-audit".into(),
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
    notes: Vec<String>,
) -> Result<RunOutcome, String> {
    cluster.wait_healthy(HEALTHY_WAIT).await.map_err(|e| e.to_string())?;
    let keys = workload::register_keys(config.n_keys);
    let map = cluster.config().partition_map().map_err(|e| e.to_string())?;
    let mut partitions: Vec<u32> = keys.iter().filter_map(|k| map.partition_for(k)).map(|p| p.id.0).collect();
    partitions.dedup();
    partitions.sort_unstable();
    partitions.dedup();
    let clients = connect_per_node(cluster).await?;

    let started = Instant::now();
    let recorder = Arc::new(Recorder::new(started));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workload_config =
        WorkloadConfig { keys: keys.clone(), n_workers: config.n_workers, rate_per_s: config.rate, seed: config.seed };
    let workload = tokio::spawn(workload::run(clients.clone(), workload_config, recorder.clone(), stop_rx));

    let nemesis_config = NemesisConfig {
        kinds: config.nemeses.clone(),
        seed: config.seed,
        partitions: partitions.clone(),
        quiet_ms: (1_000, 3_000),
        hold_ms: (2_000, 6_000),
    };
    let mut nemesis = Nemesis::new(cluster, net.as_deref_mut(), nemesis_config, started);
    nemesis.run_until(started + config.duration).await;
    let _ = stop_tx.send(true);
    if workload.await.is_err() {
        tracing::error!("workload task panicked");
    }
    nemesis.heal_all().await;
    let faults = std::mem::take(&mut nemesis.faults);
    drop(nemesis);
    cluster.wait_healthy(HEALTHY_WAIT).await.map_err(|e| e.to_string())?;

    let (final_reads, final_reads_agree) = final_reads(cluster, &clients, &keys, &recorder).await;
    let ops = recorder.take();
    let check_config = CheckConfig { time_budget: config.check_budget, ..CheckConfig::default() };
    let ops_for_check = ops.clone();
    let check = tokio::task::spawn_blocking(move || checker::check(&ops_for_check, &check_config))
        .await
        .map_err(|e| format!("checker failed: {e}"))?;
    let verdict = if final_reads_agree { check.verdict } else { Verdict::Invalid };
    let run_config = json!({
        "duration_s": config.duration.as_secs_f64(),
        "nemeses": config.nemeses.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "nodes": config.n_nodes,
        "rate": config.rate,
        "keys": keys,
        "workers": config.n_workers,
        "broken_reads": config.broken_reads,
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
    };
    report::write_run_report(&config.out, &report).map_err(|e| format!("writing the report: {e}"))?;
    Ok(RunOutcome { verdict, n_ops: ops.len(), n_faults: faults.len(), final_reads_agree, check_ms: check.elapsed_ms })
}

/// After healing: one linearizable read per key (recorded in the history), then every node must serve
/// the same value locally once caught up.
async fn final_reads(
    cluster: &LocalCluster,
    clients: &[Client],
    keys: &[String],
    recorder: &Recorder,
) -> (serde_json::Value, bool) {
    let mut per_key = Vec::new();
    let mut all_agree = true;
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
    (json!({"keys": per_key, "all_agree": all_agree}), all_agree)
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
