//! `dancuctl`: argument parsing, dispatch, output and exit codes. One module per command group.

mod citizen_cmd;
mod config_cmd;
mod status_cmd;
mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dancu_cluster_config::ClusterConfig;

use crate::{Client, ClientError, ClientOptions};

const EXIT_CODES_HELP: &str = "\
Exit status:
  0  success
  1  usage error, invalid input or configuration, record not found, revision mismatch, other server refusal
  2  cluster unreachable or unavailable (no endpoint answered, retries exhausted, deadline exceeded)

Cluster: pass --endpoints HOST:PORT[,HOST:PORT...] or --config FILE (every node of the file is an endpoint);
DANCU_ENDPOINTS and DANCU_CONFIG set the same. Errors are one line on stderr starting with `error:`.

Examples:
  dancuctl config validate cluster.toml
  dancuctl --config cluster.toml status
  dancuctl --config cluster.toml put --file examples/citizen.json --expected-revision 0
  dancuctl --endpoints 127.0.0.1:7102 get 001085012345 --consistency stale --output json
  printf '001085012345\n' | dancuctl --config cluster.toml batch-get --output json";

/// dancu operator and user CLI: check configurations, inspect a cluster, read and write citizen records.
///
/// All data shown in examples is synthetic. Citizen records are JSON objects whose field names are the
/// protobuf field names (see `examples/citizen.json`).
#[derive(Debug, Parser)]
#[command(name = "dancuctl", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Cluster configuration (TOML); every node's address becomes an endpoint.
    #[arg(long = "config", value_name = "FILE", global = true, env = "DANCU_CONFIG")]
    config_file: Option<PathBuf>,
    /// Node addresses, comma-separated. The first one that answers describes the cluster; FOLLOWER and STALE
    /// reads go to the first one when it holds a replica. Takes precedence over --config.
    #[arg(long, value_name = "HOST:PORT,...", value_delimiter = ',', global = true, env = "DANCU_ENDPOINTS")]
    endpoints: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    output: OutputFormat,
    /// Time one command may spend on the cluster, retries included, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    deadline_ms: u64,
    /// Why the data is processed; sent with every request and recorded by the audit log.
    #[arg(long, default_value = "operator", global = true)]
    purpose: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Aligned columns or key/value lines for people.
    Table,
    /// Pretty-printed JSON for programs.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check or print a cluster configuration (no cluster needed).
    Config {
        #[command(subcommand)]
        command: config_cmd::ConfigCommand,
    },
    /// Nodes and partitions (leaders, terms, applied indices) as the first reachable endpoint sees them.
    ///
    /// Table output ends with a summary line such as `63 partitions, 63 with a leader`.
    Status,
    /// Read one citizen by personal ID.
    Get(citizen_cmd::GetArgs),
    /// Create or replace one citizen record from a JSON file.
    Put(citizen_cmd::PutArgs),
    /// Read many citizens: IDs one per line from a file or stdin.
    BatchGet(citizen_cmd::BatchGetArgs),
}

/// Why a command failed: the lines to print after `error: `, and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    lines: Vec<String>,
    exit_code: u8,
}

impl Failure {
    /// A usage or domain error (exit status 1).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure { lines: vec![message.into()], exit_code: 1 }
    }

    pub(crate) fn lines(lines: Vec<String>) -> Failure {
        Failure { lines, exit_code: 1 }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        let exit_code = match error {
            ClientError::Connect { .. } | ClientError::Unavailable { .. } | ClientError::DeadlineExceeded => 2,
            _ => 1,
        };
        Failure { lines: vec![error.to_string()], exit_code }
    }
}

/// Runs `dancuctl` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout and succeed; usage errors exit 1 like every other domain error.
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    init_tracing();
    match run(cli) {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`dancuctl status | head`) is not an error worth reporting.
            let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(failure) => {
            for line in &failure.lines {
                eprintln!("error: {line}");
            }
            ExitCode::from(failure.exit_code)
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings only).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs one command; returns what to print on stdout.
fn run(cli: Cli) -> Result<String, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::usage(format!("cannot start the async runtime: {error}")))?;
    let global = &cli.global;
    match cli.command {
        Command::Config { command } => config_cmd::run(global, command),
        Command::Status => runtime.block_on(status_cmd::run(global)),
        Command::Get(args) => runtime.block_on(citizen_cmd::get(global, args)),
        Command::Put(args) => runtime.block_on(citizen_cmd::put(global, args)),
        Command::BatchGet(args) => runtime.block_on(citizen_cmd::batch_get(global, args)),
    }
}

impl GlobalArgs {
    fn client_options(&self) -> ClientOptions {
        let deadline = Duration::from_millis(self.deadline_ms);
        let defaults = ClientOptions::default();
        ClientOptions {
            deadline,
            rpc_timeout: defaults.rpc_timeout.min(deadline),
            purpose: self.purpose.clone(),
            ..defaults
        }
    }

    /// Connects to the cluster named by --endpoints, else by --config.
    async fn connect(&self) -> Result<Client, Failure> {
        let options = self.client_options();
        let endpoints: Vec<String> =
            self.endpoints.iter().map(|endpoint| endpoint.trim().to_string()).filter(|e| !e.is_empty()).collect();
        if !endpoints.is_empty() {
            return Ok(Client::connect(&endpoints, options).await?);
        }
        let Some(path) = &self.config_file else {
            return Err(Failure::usage(
                "no cluster given: pass --endpoints HOST:PORT[,...] or --config FILE (or set DANCU_ENDPOINTS)",
            ));
        };
        let config = load_config(path)?;
        Ok(Client::from_config(&config, options).await?)
    }
}

/// Loads and validates a configuration; an invalid one fails with every problem on its own line.
fn load_config(path: &Path) -> Result<ClusterConfig, Failure> {
    ClusterConfig::load(path).map_err(|error| match error {
        dancu_cluster_config::ConfigError::Invalid { path, errors } => {
            Failure::lines(errors.0.iter().map(|error| format!("{path}: {error}")).collect())
        }
        // toml's parse errors span several lines (a source excerpt); they stay together after one `error:`.
        other => Failure::usage(other.to_string()),
    })
}

/// Pretty JSON followed by a newline.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::usage(format!("cannot encode the output as JSON: {error}")))?;
    text.push('\n');
    Ok(text)
}

/// `count` followed by `noun`, pluralized with an `s` unless the count is one.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_parse_after_the_command() {
        let cli = Cli::try_parse_from([
            "dancuctl",
            "get",
            "001085012345",
            "--endpoints",
            "a:1,b:2",
            "--output",
            "json",
            "--consistency",
            "stale",
        ])
        .expect("valid arguments");
        assert_eq!(cli.global.endpoints, vec!["a:1".to_string(), "b:2".to_string()]);
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.deadline_ms, 10_000);
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "node"), "1 node");
        assert_eq!(plural(3, "node"), "3 nodes");
        assert_eq!(plural(0, "partition"), "0 partitions");
    }
}
