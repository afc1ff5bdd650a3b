//! `dancu-jepsen run`: the consistency suite auditors run against real dancu nodes, over mutual TLS unless
//! `--insecure-plaintext` is given.
//!
//! Exit status: 0 the history is linearizable and no acknowledged write was lost; 1 it is not (or the nodes
//! disagree after healing, or an acknowledged write was lost); 2 the checker ran out of time (unknown — never a
//! pass); 3 the run itself failed, including a fault that did not prove it took effect.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dancu_jepsen::checker::Verdict;
use dancu_jepsen::nemesis::NemesisKind;
use dancu_jepsen::run::{run, RunConfig, SelfTest};
use dancu_jepsen::transport::TransportSecurity;

#[derive(Debug, Parser)]
#[command(
    name = "dancu-jepsen",
    version,
    about = "dancu's consistency suite: real nodes, real faults, a linearizability checker"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workload under faults, check the history, write the report to --out.
    Run {
        /// How long the workload and the faults run, e.g. 60s, 5m.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
        /// `all` or a comma list of partition,kill,pause,leader,membership,admin,failpoint,restart,clock,
        /// power-loss,disk-wipe [default: all; with --self-test, the faults that expose its switch].
        #[arg(long, value_parser = parse_nemeses)]
        nemesis: Option<NemesisList>,
        /// Seed of the fault schedule and the workload (printed in the report; replays the schedule).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory for history.jsonl, results.json, summary.md, report.html and the nodes' logs
        /// [default: jepsen-reports/<UTC time>-seed<S>, with jepsen-reports/latest pointing at it].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Nodes in the cluster (3 or 5).
        #[arg(long, default_value_t = 3, value_parser = parse_nodes)]
        nodes: usize,
        /// Target operations per second over all workers (0: as fast as they go).
        #[arg(long, default_value_t = 200)]
        rate: u64,
        /// TEST THE SUITE: start the nodes with one hidden unsafe switch; the run must then be found invalid (exit 1):
        /// broken-reads (reads skip the linearizer), early-votes (votes right after a restart), skip-fsync (writes
        /// acknowledged without fsync, under power losses), clock-beyond-bound (a cut-off leader's clock at 0.1×).
        #[arg(long, value_parser = SelfTest::parse, conflicts_with = "broken_reads")]
        self_test: Option<SelfTest>,
        /// The same as `--self-test broken-reads` (kept for earlier scripts).
        #[arg(long)]
        broken_reads: bool,
        /// Registers (keys) the workload contends on.
        #[arg(long, default_value_t = 6)]
        keys: usize,
        /// Concurrent client workers that read, write and compare-and-set.
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Concurrent read-only workers (leader-level reads, through clients of their own).
        #[arg(long, default_value_t = 4)]
        readers: usize,
        /// Checker time budget; when it runs out the verdict is `unknown`.
        #[arg(long, default_value = "120s", value_parser = parse_duration)]
        check_budget: Duration,
        /// The dancu-node binary [default: DANCU_NODE_BIN or next to this binary].
        #[arg(long)]
        node_bin: Option<PathBuf>,
        /// Run the cluster without TLS: plaintext connections, no caller identities (as the benchmarks'
        /// plaintext rows do); the report says so. Default: mutual TLS with certificates made for the run, the
        /// workload and the harness as callers with their own roles, and plaintext proven refused.
        #[arg(long)]
        insecure_plaintext: bool,
    },
}

/// The nemeses of a run, parsed from `all` or a comma list.
#[derive(Debug, Clone)]
struct NemesisList(Vec<NemesisKind>);

fn parse_nemeses(text: &str) -> Result<NemesisList, String> {
    NemesisKind::parse_list(text).map(NemesisList)
}

fn parse_nodes(text: &str) -> Result<usize, String> {
    match text {
        "3" => Ok(3),
        "5" => Ok(5),
        _ => Err(format!("{text:?}: a cluster has 3 or 5 nodes")),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number with a unit, e.g. 60s or 5m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    }
}

/// `jepsen-reports/<UTC time>-seed<S>`, and `jepsen-reports/latest` pointing at it.
fn default_out(seed: u64) -> std::io::Result<PathBuf> {
    let reports = PathBuf::from("jepsen-reports");
    std::fs::create_dir_all(&reports)?;
    let name = format!("{}-seed{seed}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let latest = reports.join("latest");
    let _ = std::fs::remove_file(&latest);
    std::os::unix::fs::symlink(&name, &latest)?;
    Ok(reports.join(name))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,dancu_client=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Run {
        duration,
        nemesis,
        seed,
        out,
        nodes,
        rate,
        self_test,
        broken_reads,
        keys,
        workers,
        readers,
        check_budget,
        node_bin,
        insecure_plaintext,
    } = Args::parse().command;
    let self_test = self_test.or(broken_reads.then_some(SelfTest::BrokenReads));
    let nemeses = match (nemesis, self_test) {
        (Some(list), _) => list.0,
        (None, Some(test)) => test.nemeses(),
        (None, None) => NemesisKind::ALL.to_vec(),
    };
    let out = match out {
        Some(out) => out,
        None => match default_out(seed) {
            Ok(out) => out,
            Err(error) => {
                eprintln!("error: cannot create the report directory: {error}");
                return ExitCode::from(3);
            }
        },
    };
    let node_bin = match node_bin.map_or_else(dancu_jepsen::node_binary, Ok) {
        Ok(path) => path,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(3);
        }
    };
    let config = RunConfig {
        duration,
        nemeses,
        seed,
        out: out.clone(),
        n_nodes: nodes,
        rate,
        self_test,
        node_bin,
        n_keys: keys.max(1),
        n_workers: workers.max(1),
        n_readers: readers,
        check_budget,
        transport: if insecure_plaintext { TransportSecurity::InsecurePlaintext } else { TransportSecurity::MutualTls },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(3);
        }
    };
    // On Ctrl-C or SIGTERM the run future is dropped, which kills the nodes and removes the namespaces.
    let outcome = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            outcome = run(config) => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => None,
        }
    });
    match outcome {
        None => {
            eprintln!("interrupted: nodes stopped and namespaces removed; no verdict");
            ExitCode::from(130)
        }
        Some(Err(error)) => {
            eprintln!("error: {error}");
            ExitCode::from(3)
        }
        Some(Ok(outcome)) => {
            let confirmed: Vec<String> =
                outcome.nemesis.confirmed.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
            println!(
                "verdict: {} ({} ops, {} faults, final reads {}, acked writes lost {}, checker {} ms, over {}); \
                 confirmed faults: {}; report: {}",
                outcome.verdict,
                outcome.n_ops,
                outcome.n_faults,
                if outcome.final_reads_agree { "agree" } else { "DISAGREE" },
                outcome.acked_writes_lost,
                outcome.check_ms,
                outcome.transport.security,
                if confirmed.is_empty() { "none".to_string() } else { confirmed.join(", ") },
                out.join("report.html").display()
            );
            for unconfirmed in &outcome.nemesis.unconfirmed {
                eprintln!("error: fault not confirmed: {unconfirmed}");
            }
            match outcome.verdict {
                Verdict::Invalid => ExitCode::from(1),
                _ if !outcome.nemesis.unconfirmed.is_empty() => ExitCode::from(3),
                Verdict::Valid => ExitCode::SUCCESS,
                Verdict::Unknown => ExitCode::from(2),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `run ARGS` asks for plaintext.
    fn insecure(args: &[&str]) -> bool {
        let parsed = Args::try_parse_from(["dancu-jepsen", "run"].iter().chain(args)).expect("valid arguments");
        let Command::Run { insecure_plaintext, .. } = parsed.command;
        insecure_plaintext
    }

    #[test]
    fn mutual_tls_unless_insecure_plaintext_is_named() {
        assert!(!insecure(&[]));
        assert!(!insecure(&["--self-test", "skip-fsync", "--nodes", "5"]));
        assert!(insecure(&["--insecure-plaintext"]));
        assert!(Args::try_parse_from(["dancu-jepsen", "run", "--insecure"]).is_err(), "only the full name");
    }
}
