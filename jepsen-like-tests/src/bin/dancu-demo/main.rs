//! `dancu-demo`: runs a three-node dancu cluster on this machine (the ports of
//! `cluster-config/examples/local-3.toml`), loads synthetic citizens into it, shows who leads what and one lookup at
//! every consistency level, then serves until Ctrl-C.

mod synthetic;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use dancu_client::proto::Consistency;
use dancu_client::{Client, ClientOptions};
use dancu_jepsen::{node_binary, ClusterSpec, LocalCluster};
use futures::StreamExt;

/// How long the cluster may take to elect a leader for every partition.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(120);

/// Puts in flight while loading.
const LOAD_CONCURRENCY: usize = 32;

/// Run a local three-node dancu cluster with synthetic data, until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "dancu-demo")]
struct Args {
    /// Cluster configuration to run (its node addresses are the ports used).
    #[arg(long, default_value = "cluster-config/examples/local-3.toml")]
    config: PathBuf,
    /// Data directories (`node-N/`) and logs (`node-N.log`); kept after exit, so a second run restarts on them.
    #[arg(long, default_value = "demo-data")]
    data_dir: PathBuf,
    /// Synthetic citizens to write.
    #[arg(long, default_value_t = 1_000)]
    records: u64,
    /// Seed of the synthetic population (the same seed writes the same people).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let spec = ClusterSpec {
        fixed_config: Some(args.config.clone()),
        base_dir: Some(args.data_dir.clone()),
        keep_dir: true,
        ..ClusterSpec::new(node_binary()?)
    };
    println!("starting the nodes of {} (data and logs in {}/)", args.config.display(), args.data_dir.display());
    let mut cluster = LocalCluster::start(spec)?;
    cluster.wait_healthy(HEALTHY_TIMEOUT).await?;
    let options = ClientOptions { purpose: "demo".to_string(), ..ClientOptions::default() };
    let client = Client::connect(&cluster.endpoints(), options).await?;
    load(&client, &args).await?;
    print_leaders(&cluster).await?;
    print_lookups(&cluster, &synthetic::citizen(args.seed, 0).id).await?;
    println!();
    let dancuctl = dancuctl_path();
    let config = args.config.display();
    println!("The cluster is running. Try:");
    println!("  {dancuctl} --config {config} status");
    let id = synthetic::citizen(args.seed, 1).id;
    println!("  {dancuctl} --config {config} get {id} --consistency stale");
    println!("Press Ctrl-C to stop it.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    println!("stopping the nodes");
    for node in cluster.node_ids() {
        cluster.stop(node)?;
    }
    Ok(())
}

/// `dancuctl` beside this executable (both are built into the same target directory), relative to the current
/// directory when inside it.
fn dancuctl_path() -> String {
    let fallback = PathBuf::from("target/release/dancuctl");
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("dancuctl")));
    let path = beside.unwrap_or(fallback);
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(&path).display().to_string()
}

/// Writes `args.records` synthetic citizens, `LOAD_CONCURRENCY` at a time.
async fn load(client: &Client, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut puts = futures::stream::iter(0..args.records)
        .map(|idx| client.put(synthetic::citizen(args.seed, idx), None))
        .buffer_unordered(LOAD_CONCURRENCY);
    let mut n_written = 0u64;
    while let Some(result) = puts.next().await {
        result.context("writing a synthetic citizen")?;
        n_written += 1;
    }
    let elapsed = started.elapsed();
    let rate = n_written as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    println!("wrote {n_written} synthetic citizens in {elapsed:.1?} ({rate:.0} writes/s)");
    Ok(())
}

/// One line per node: its address and how many partitions it hosts and leads.
async fn print_leaders(cluster: &LocalCluster) -> anyhow::Result<()> {
    println!();
    println!("{:<6} {:<20} {:>8} {:>6} {:>14}", "node", "address", "hosted", "leads", "applied (sum)");
    for node in cluster.node_ids() {
        let status = cluster.status(node).await?;
        let hosted = status.partitions.iter().filter(|partition| partition.replicas.contains(&node)).count();
        let leads = status.partitions.iter().filter(|partition| partition.local_role == "leader").count();
        let applied: u64 = status.partitions.iter().map(|partition| partition.last_applied).sum();
        println!("{node:<6} {:<20} {hosted:>8} {leads:>6} {applied:>14}", cluster.addr(node));
    }
    Ok(())
}

/// The same record read at every consistency level, each from the first node (which may be a follower).
async fn print_lookups(cluster: &LocalCluster, id: &str) -> anyhow::Result<()> {
    println!();
    println!("lookups of {id} through node 1 (synthetic data):");
    let first_node = cluster.node_ids()[0];
    let client = Client::connect(&[cluster.addr(first_node)], ClientOptions::default()).await?;
    let levels = [Consistency::Linearizable, Consistency::ReadIndex, Consistency::Follower, Consistency::Stale];
    for level in levels {
        let started = Instant::now();
        let answer = client.get(id, level).await?.context("a record the demo wrote is missing")?;
        let name = answer.citizen.map(|citizen| citizen.full_name).unwrap_or_default();
        let served_by = answer.meta.map_or(0, |meta| meta.served_by);
        println!(
            "  {:<13} {name:<22} revision {} log index {:>5} served by node {served_by} in {:.1?}",
            level.as_str_name().trim_start_matches("CONSISTENCY_").to_lowercase(),
            answer.revision,
            answer.log_index,
            started.elapsed()
        );
    }
    Ok(())
}
