//! `dancuctl bench run`: the closed-loop load generator of [`crate::bench`] on the command line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use dancu_proto::v1::Consistency;
use dancu_synthetic::Population;

use super::{to_json, Failure, GlobalArgs, OutputFormat};
use crate::bench::{self, parse_duration, BenchConfig, BenchError, Distribution, KeySet, Workload};
use crate::citizen_json::parse_consistency;
use crate::{Client, ClientOptions};

/// Most `--connections` (separately connected clients).
const CONNECTIONS_MAX: u64 = 256;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// A closed loop: --concurrency loops, each with one request in flight, for --duration after --warmup.
    ///
    /// Table output: one line `WORKLOAD [CONSISTENCY] DISTRIBUTION c=N m=M: X ops/s, Y keys/s, p50 .. ms, p99 .. ms,
    /// p999 .. ms, max .. ms, E errors`. JSON: `{"workload", "consistency", "distribution", "concurrency",
    /// "connections", "duration_s", "batch_size", "ops", "errors", "ops_per_s", "keys_per_s",
    /// "latency_ms": {"p50", "p99", "p999", "max", "mean"}, "per_second": [...], "first_error"}`. Failed requests
    /// (not found, verify mismatch included) are counted as errors, not fatal (with table output the first one goes
    /// to stderr); the exit status is 0.
    Run(RunArgs),
    /// dancu side by side with etcd 3.4 and the hardware ceilings, in one run on this machine: fresh local 3-node
    /// clusters of both loaded with the same synthetic records, the same workloads at 1/16/64/256 clients, an echo
    /// RPC server and raw RocksDB as ceilings, leader kills under write load. Writes DIR/results.json,
    /// DIR/report.md and SVG plots, and prints the ratio table. Runs the `dancu-bench` executable installed next
    /// to dancuctl; needs `etcd` (Debian's etcd-server, installed by `make deps`). Global flags do not apply.
    Compare(CompareArgs),
    /// How dancu bends under more load than it can take, on a fresh local 3-node cluster (optionally capped with
    /// `--node-cpus C`): an import beside 64 readers, the write knee (256 closed-loop writers), open-loop writes at
    /// multiples of it (`--levels 0.5,1,1.5,2`), the recovery. Writes DIR/overload.json and DIR/overload.md and
    /// prints the table. Runs `dancu-bench overload`; its flags pass through as they are.
    Overload(CompareArgs),
}

/// `bench compare`'s (and `bench overload`'s) arguments, passed to `dancu-bench compare` as they are: that binary
/// defines and checks them (`--quick | --smoke`, `--out DIR`, `--records N`, `--node-cpus C`, `--node-bin FILE`,
/// `--etcd-bin FILE`; `--help` lists them), so the flags are defined once.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct CompareArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("keys").required(true).args(["population_count", "ids"]))]
pub(crate) struct RunArgs {
    /// The request each loop sends.
    #[arg(long, value_enum)]
    workload: WorkloadArg,
    /// Read level of get, batch-get and verify (mixed reads linearizably).
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
    /// Keys per batch-get request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch_size: u64,
    /// How keys are drawn.
    #[arg(long, value_enum, default_value_t = DistributionArg::Uniform)]
    distribution: DistributionArg,
    /// Exponent of the zipfian distribution.
    #[arg(long, default_value_t = 0.99)]
    zipf_s: f64,
    /// Keys: the population `dancuctl gen --seed S --count N` wrote (and `import` loaded).
    #[arg(long, value_name = "S", default_value_t = 42, requires = "population_count")]
    population_seed: u64,
    /// Keys: the number of records of that population.
    #[arg(long, value_name = "N")]
    population_count: Option<u64>,
    /// Keys: personal IDs from FILE, one per line (get and batch-get only: no records).
    #[arg(long, value_name = "FILE", conflicts_with = "population_count")]
    ids: Option<PathBuf>,
    /// Request loops, each with one request in flight.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=bench::CONCURRENCY_MAX as u64))]
    concurrency: u64,
    /// Separately connected clients (own channels to every node); loop i uses client i mod M.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=CONNECTIONS_MAX))]
    connections: u64,
    /// Measured time (`500ms`, `10s`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Time run before measuring, not counted.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Seed of the key choice: the same seed draws the same keys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of puts in the mixed workload, 0 to 100.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=100))]
    put_percent: u8,
    /// Gets and batch gets to one node travel together while this many requests to it are in flight; 0 sends
    /// each alone (the client option `get_batches_in_flight`).
    #[arg(long, value_name = "N", default_value_t = ClientOptions::default().get_batches_in_flight)]
    get_batches_in_flight: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadArg {
    Get,
    BatchGet,
    Verify,
    Put,
    Mixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DistributionArg {
    Uniform,
    Zipfian,
}

pub(crate) fn run(global: &GlobalArgs, command: BenchCommand) -> Result<String, Failure> {
    match command {
        BenchCommand::Run(args) => run_bench(global, args),
        BenchCommand::Compare(args) => run_bench_exe("compare", &args),
        BenchCommand::Overload(args) => run_bench_exe("overload", &args),
    }
}

/// The executable `bench compare` hands over to: it starts clusters and servers, which the client library
/// does not (as `git` runs `git-foo`).
const COMPARE_EXE: &str = "dancu-bench";

fn run_bench_exe(subcommand: &str, args: &CompareArgs) -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .map_err(|error| Failure::usage(format!("cannot locate dancuctl itself: {error}")))?
        .with_file_name(COMPARE_EXE);
    if !exe.is_file() {
        return Err(Failure::usage(format!(
            "{} not found: build it with `cargo build --release -p dancu-bench` (or `make bench`)",
            exe.display()
        )));
    }
    let mut command = std::process::Command::new(&exe);
    command.arg(subcommand).args(&args.args);
    let status = command.status().map_err(|error| Failure::usage(format!("cannot run {}: {error}", exe.display())))?;
    if status.success() {
        Ok(String::new())
    } else {
        Err(Failure::usage(format!("{COMPARE_EXE} {subcommand} failed ({status})")))
    }
}

fn run_bench(global: &GlobalArgs, args: RunArgs) -> Result<String, Failure> {
    let config = bench_config(&args);
    config.validate().map_err(bench_failure)?;
    let keys = Arc::new(key_set(&args, config.workload).map_err(bench_failure)?);
    // dancuctl's other commands run on one thread; a load generator needs every core, or it measures itself.
    let worker_threads = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .enable_all()
        .build()
        .map_err(|error| Failure::usage(format!("cannot start the async runtime: {error}")))?;
    let result = runtime.block_on(async {
        let mut clients: Vec<Client> = Vec::new();
        let options = ClientOptions { get_batches_in_flight: args.get_batches_in_flight, ..global.client_options() };
        for _ in 0..args.connections {
            clients.push(global.connect_with(options.clone()).await?);
        }
        bench::run(&config, keys, &clients).await.map_err(bench_failure)
    })?;
    match global.output {
        OutputFormat::Json => to_json(&result),
        OutputFormat::Table => {
            // The table line only counts errors; say what the first one was, as import does with bad lines.
            if let Some(first_error) = &result.first_error {
                eprintln!("first error: {first_error}");
            }
            Ok(format!("{}\n", result.table_line()))
        }
    }
}

fn bench_config(args: &RunArgs) -> BenchConfig {
    let workload = match args.workload {
        WorkloadArg::Get => Workload::Get,
        WorkloadArg::BatchGet => Workload::BatchGet,
        WorkloadArg::Verify => Workload::Verify,
        WorkloadArg::Put => Workload::Put,
        WorkloadArg::Mixed => Workload::Mixed,
    };
    let distribution = match args.distribution {
        DistributionArg::Uniform => Distribution::Uniform,
        DistributionArg::Zipfian => Distribution::Zipfian { s: args.zipf_s },
    };
    // clap bounds these flags far below usize::MAX.
    BenchConfig {
        workload,
        consistency: args.consistency,
        batch_size: args.batch_size as usize,
        distribution,
        concurrency: args.concurrency as usize,
        duration: args.duration,
        warmup: args.warmup,
        seed: args.seed,
        put_percent: args.put_percent,
    }
}

fn key_set(args: &RunArgs, workload: Workload) -> Result<KeySet, BenchError> {
    if let Some(path) = &args.ids {
        if workload.needs_records() {
            return Err(BenchError::NeedsRecords { workload: workload.name() });
        }
        return KeySet::from_ids_file(path);
    }
    // clap's "keys" group requires --population-count when --ids is absent.
    let count = args.population_count.unwrap_or(0);
    let population = Population::new(args.population_seed, count)?;
    KeySet::from_population(&population, workload.needs_records())
}

fn bench_failure(error: BenchError) -> Failure {
    Failure::usage(error.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let cli = Cli::try_parse_from(["dancuctl", "bench", "run"].iter().chain(args))?;
        match cli.command {
            Command::Bench { command: BenchCommand::Run(args) } => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// Everything after `compare`, flags and `--help` included, goes to dancu-bench untouched.
    #[test]
    fn compare_passes_its_arguments_through() {
        let passed = ["--quick", "--out", "bench-results", "--records", "5000", "--help"];
        let cli = Cli::try_parse_from(["dancuctl", "bench", "compare"].iter().chain(&passed)).expect("valid");
        match cli.command {
            Command::Bench { command: BenchCommand::Compare(args) } => assert_eq!(args.args, passed),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&["--workload", "batch-get", "--population-count", "1000"]).expect("valid");
        let config = bench_config(&args);
        assert_eq!((config.batch_size, config.concurrency, config.put_percent), (100, 16, 5));
        assert_eq!((config.duration, config.warmup), (Duration::from_secs(10), Duration::from_secs(2)));
        assert_eq!((args.population_seed, args.connections), (42, 1));

        let args = parse(&[
            "--workload",
            "get",
            "--ids",
            "ids.txt",
            "--distribution",
            "zipfian",
            "--zipf-s",
            "1.2",
            "--consistency",
            "stale",
            "--duration",
            "500ms",
        ])
        .expect("valid");
        let config = bench_config(&args);
        assert_eq!(config.distribution, Distribution::Zipfian { s: 1.2 });
        assert_eq!((config.consistency, config.duration), (Consistency::Stale, Duration::from_millis(500)));
    }

    #[test]
    fn key_source_is_required_and_exclusive() {
        assert!(parse(&["--workload", "get"]).is_err());
        assert!(parse(&["--workload", "get", "--ids", "a", "--population-count", "5"]).is_err());
        assert!(parse(&["--workload", "get", "--population-count", "5", "--batch-size", "1001"]).is_err());
        assert!(parse(&["--workload", "get", "--population-count", "5", "--duration", "10"]).is_err());
    }
}
