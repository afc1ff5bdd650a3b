//! `dancu-node --config FILE --node-id N [--data-dir DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dancu_cluster_config::ClusterConfig;
use dancu_node::identity::join::JoinMode;
use dancu_node::raft::groups::GroupOptions;
use dancu_node::raft::late_heartbeats::LateHeartbeats;
use dancu_node::server::{run, NodeOptions};
use dancu_node::service::linearizer::ReadMode;
use dancu_node::storage::Durability;

/// glibc malloc spends a fifth of a node's CPU on the write path (large, short-lived batch buffers);
/// mimalloc keeps per-thread free lists and does not return every large buffer to the kernel.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One node of a dancu cluster: serves the partitions the config places on it.
#[derive(Debug, Parser)]
#[command(name = "dancu-node", version)]
struct Args {
    /// Cluster topology (TOML), e.g. cluster-config/examples/local-3.toml.
    #[arg(long)]
    config: PathBuf,
    /// This node's id in the config.
    #[arg(long)]
    node_id: u64,
    /// Where this node keeps its RocksDB and snapshots [default: data/node-<id>].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TEST ONLY: serve linearizable reads locally without the linearizer, so the consistency
    /// suite can prove it catches stale reads. Never use in production.
    #[arg(long, hide = true)]
    unsafe_skip_linearizer: bool,
    /// TEST ONLY: grant (pre-)votes right after a restart instead of waiting out the lease this node may have
    /// promised, so the consistency suite can prove it catches the stale reads that follow. Never in production.
    #[arg(long, hide = true)]
    unsafe_early_votes: bool,
    /// TEST ONLY: acknowledge writes without fsyncing the WAL, so the consistency suite can prove its power-loss
    /// fault catches lost acknowledged writes. Never in production.
    #[arg(long, hide = true)]
    unsafe_skip_fsync: bool,
    /// With an empty data dir, join the existing cluster instead of taking part in creating one: adopt the cluster
    /// id a majority of the configured nodes report and wait (no votes) until `dancuctl node re-add N` (e.g. for a
    /// founder that lost its disk).
    #[arg(long)]
    join: bool,
    /// The directory `dancuctl certs` wrote: `ca.crt`, `node-<id>.crt`, `node-<id>.key`. Required when the
    /// configuration says `tls.mode = "mutual"`. The files are reloaded when they change (or on SIGHUP).
    #[arg(long, env = "DANCU_TLS_DIR")]
    tls_dir: Option<PathBuf>,
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn main() -> ExitCode {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::registry().with(filter).with(LateHeartbeats).with(log).init();
    let args = Args::parse();
    // Failpoints named in the FAILPOINTS environment variable take effect from the start.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let config = match ClusterConfig::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = NodeOptions {
        config,
        node_id: args.node_id,
        data_dir: args.data_dir.unwrap_or_else(|| PathBuf::from(format!("data/node-{}", args.node_id))),
        read_mode: ReadMode { skip_linearizer: args.unsafe_skip_linearizer },
        join: if args.join { JoinMode::Existing } else { JoinMode::New },
        group_options: GroupOptions { unsafe_early_votes: args.unsafe_early_votes },
        durability: if args.unsafe_skip_fsync { Durability::UnsafeSkipFsync } else { Durability::Fsync },
        tls_dir: args.tls_dir,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
