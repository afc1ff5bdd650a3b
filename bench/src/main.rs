//! `dancu-bench`: runs `dancuctl bench compare` (dancuctl hands the command to this binary next to it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use dancu_bench::plan::Mode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// dancu side by side with etcd and the hardware ceilings, in one run.
#[derive(Debug, Parser)]
#[command(name = "dancu-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load the same records into fresh local 3-node dancu and etcd clusters, run the same workloads against
    /// both and the ceilings, write DIR/results.json, DIR/report.md and DIR/*.svg.
    Compare(CompareArgs),
    /// How dancu bends under more load than it can take: an import beside readers, the write knee, open-loop
    /// writes at multiples of it, the recovery. Writes DIR/overload.json and DIR/overload.md.
    Overload(OverloadArgs),
    /// The RPC ceiling's server (started by `compare` in its own process).
    #[command(hide = true)]
    EchoServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        reply_bytes: usize,
    },
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// 100,000 records and short runs (a few minutes) instead of 1,000,000.
    #[arg(long, conflicts_with = "smoke")]
    quick: bool,
    /// A few thousand records and sub-second runs: checks that every output is written, not speed.
    #[arg(long)]
    smoke: bool,
    /// Where results.json, report.md and the plots go (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Records to load instead of the mode's count.
    #[arg(long)]
    records: Option<u64>,
    /// The dancu-node executable (default: the one next to this binary, or DANCU_NODE_BIN).
    #[arg(long, value_name = "FILE")]
    node_bin: Option<PathBuf>,
    /// Caps the CPU of each system's server processes (dancu nodes, etcd members), together, to this many cores
    /// (a cgroup; needs root): the "slow box". The load generator stays uncapped.
    #[arg(long, value_name = "CORES")]
    node_cpus: Option<f64>,
    /// The etcd executable (default: ETCD_BIN, else `etcd` on PATH).
    #[arg(long, value_name = "FILE")]
    etcd_bin: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct OverloadArgs {
    /// Where overload.json, overload.md and the node logs go (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Records imported in the first phase (and read and rewritten afterwards).
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Caps the nodes' CPU, together, to this many cores (a cgroup; needs root).
    #[arg(long, value_name = "CORES")]
    node_cpus: Option<f64>,
    /// How long the knee and each offered load run.
    #[arg(long, default_value = "10s", value_parser = parse_step)]
    step: std::time::Duration,
    /// Offered write loads, as multiples of the knee.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,1.5,2")]
    levels: Vec<f64>,
    /// The dancu-node executable (default: the one next to this binary, or DANCU_NODE_BIN).
    #[arg(long, value_name = "FILE")]
    node_bin: Option<PathBuf>,
}

fn parse_step(text: &str) -> Result<std::time::Duration, String> {
    dancu_client::bench::parse_duration(text).map_err(|error| error.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,dancu_bench=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Command::EchoServer { listen, reply_bytes } => {
            runtime.block_on(dancu_bench::ceiling::echo::serve(listen, reply_bytes))
        }
        Command::Overload(args) => {
            let options = dancu_bench::overload::OverloadOptions {
                out_dir: args.out,
                node_bin: args.node_bin,
                records: args.records,
                node_cpus: args.node_cpus,
                step: args.step,
                levels: args.levels,
            };
            runtime.block_on(dancu_bench::overload::run(options)).map(|_| ())
        }
        Command::Compare(args) => {
            let mode = if args.smoke {
                Mode::Smoke
            } else if args.quick {
                Mode::Quick
            } else {
                Mode::Full
            };
            let mut plan = dancu_bench::plan::ComparePlan::for_mode(mode);
            if let Some(records) = args.records {
                plan.records = records;
            }
            let options = dancu_bench::compare::CompareOptions {
                plan,
                out_dir: args.out,
                node_bin: args.node_bin,
                etcd_bin: args.etcd_bin,
                bench_exe: None,
                node_cpus: args.node_cpus,
            };
            runtime.block_on(dancu_bench::compare::run(options)).map(|results| {
                println!("{}", dancu_bench::report::summary_table(&results));
            })
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
