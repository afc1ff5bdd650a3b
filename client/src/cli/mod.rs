//! `dancuctl`: argument parsing, dispatch, output and exit codes. One module per command group.

mod bench_cmd;
mod certs_cmd;
mod citizen_cmd;
mod config_cmd;
mod event_cmd;
mod gen_cmd;
mod import_cmd;
mod node_cmd;
mod query_cmd;
mod status_cmd;
mod table;
mod whoami_cmd;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dancu_cluster_config::ClusterConfig;

use crate::{Client, ClientError, ClientOptions, TlsIdentity};

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
  printf '001085012345\n' | dancuctl --config cluster.toml batch-get --output json
  dancuctl --config cluster.toml import citizens.jsonl --batch-size 500
  dancuctl --config cluster.toml verify 001085012345 --name 'Nguyễn Văn An' --dob 1985-03-14 --output json
  dancuctl --config cluster.toml scan 100 --out partition-100.jsonl
  dancuctl --config cluster.toml event death 001085012345 --date 2024-05-01";

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
    /// The cluster's id (32 hex digits, as `status` shows it): nodes of any other cluster are refused. Default:
    /// the id of the first node that answers.
    #[arg(long, value_name = "HEX", global = true, env = "DANCU_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// Mutual TLS (clusters with `tls.mode = "mutual"`): the directory `dancuctl certs` wrote. Use with --identity.
    #[arg(long, value_name = "DIR", global = true, env = "DANCU_TLS_DIR")]
    tls_dir: Option<PathBuf>,
    /// The caller whose certificate to present (`DIR/NAME.crt`, `DIR/NAME.key`), e.g. `admin`.
    #[arg(long, value_name = "NAME", global = true, env = "DANCU_IDENTITY")]
    identity: Option<String>,
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
    /// Load citizen records from JSON lines (a file or stdin), batched per partition; bad lines are skipped.
    ///
    /// Summary on stdout: `imported N records (written W, unchanged U), skipped S bad lines, T s, R records/s`;
    /// JSON: `{"lines", "written", "unchanged", "skipped", "bad_lines": [{"line", "reason"}] (first 100),
    /// "seconds", "records_per_s"}`. Bad lines go to stderr as `line 17: date_of_birth: ...` (the first 100).
    /// Exit 0 even with skipped lines; 1 with --strict on a bad line; 2 when a batch fails for good.
    /// Re-importing the same file writes nothing new (every record unchanged). --deadline-ms bounds connecting;
    /// each batch has 60 s, retries included.
    Import(import_cmd::ImportArgs),
    /// Does a claim about a person (name, date of birth, sex) match the register? Never prints stored values.
    ///
    /// JSON: `{"match": bool, "id_status": "found"|"not_found"|"replaced",
    /// "fields": {"full_name": "match"|"mismatch", ...}}` with only the fields compared. Exit 0 whether or not it
    /// matches.
    Verify(query_cmd::VerifyArgs),
    /// Many verifications: JSON lines `{"id", "full_name"?, "date_of_birth"?, "sex"?}` from a file or stdin.
    ///
    /// Output: one JSON line per query (`{"id", "match", "id_status", "fields"}`) or a table, in input order.
    BatchVerify(query_cmd::BatchVerifyArgs),
    /// The personal ID holding a legacy 9-digit identity card number; JSON `{"found", "id"}`, exit 1 if none.
    Legacy(query_cmd::LegacyArgs),
    /// The members of a citizen's household (or of --household-id H), from every partition.
    ///
    /// JSON: `{"household_id", "members": [{"id", "full_name", "date_of_birth", "sex", "relationship_to_head",
    /// "status"}]}`.
    Household(query_cmd::HouseholdArgs),
    /// Citizens by full name (case- and diacritic-insensitive) and date of birth, optionally in one province.
    ///
    /// JSON: `{"hits": [{"id", "full_name", "date_of_birth", "sex", "household_id", "relationship_to_head",
    /// "status"}], "truncated": bool}`; hits sorted by ID.
    Search(query_cmd::SearchArgs),
    /// Export a whole partition as JSON lines (records as `get --output json` prints them, one per line).
    ///
    /// Records go to stdout or --out FILE; the summary goes to stderr.
    Scan(query_cmd::ScanArgs),
    /// Record a life event: birth, death, move, household change, marriage, ID correction.
    Event {
        #[command(subcommand)]
        command: event_cmd::EventCommand,
    },
    /// Operator actions on one node: `node re-add N` after it lost its data dir.
    Node {
        #[command(subcommand)]
        command: node_cmd::NodeCommand,
    },
    /// Make the cluster's certificate authority and a certificate per node and caller of --config (mutual TLS).
    ///
    /// Writes DIR/ca.crt, DIR/ca.key and DIR/NAME.crt + DIR/NAME.key for each node (`node-N`) and each
    /// `[[callers]]` name. An authority already in DIR is kept, so running it again renews every certificate;
    /// nodes and clients load renewed files without a restart. JSON: `{"dir", "authority": "created"|"kept",
    /// "identities"}`.
    Certs(certs_cmd::CertsArgs),
    /// Who the cluster takes this client for (its certificate), its role and what the role allows.
    ///
    /// JSON: `{"identity", "role", "operations", "hidden_fields", "provinces", "purposes", "requests_per_s",
    /// "burst"}` (empty provinces: every province; purposes ["*"]: any; requests_per_s 0: no quota).
    Whoami,
    /// Generate synthetic citizens as JSON lines (deterministic for a seed; no cluster needed).
    Gen(gen_cmd::GenArgs),
    /// Load generators: `bench run` drives a closed loop of requests and reports throughput and latency percentiles.
    Bench {
        #[command(subcommand)]
        command: bench_cmd::BenchCommand,
    },
}

/// Why a command failed: the lines to print after `error: `, and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    lines: Vec<String>,
    exit_code: u8,
    /// Printed on stdout before the error lines: an answer that is also a failure (e.g. `{"found": false}`).
    stdout: String,
}

impl Failure {
    /// A usage or domain error (exit status 1).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure { lines: vec![message.into()], exit_code: 1, stdout: String::new() }
    }

    pub(crate) fn lines(lines: Vec<String>) -> Failure {
        Failure { lines, exit_code: 1, stdout: String::new() }
    }

    /// The same failure, with `stdout` printed first.
    pub(crate) fn with_stdout(self, stdout: String) -> Failure {
        Failure { stdout, ..self }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        let exit_code = match error {
            ClientError::Connect { .. } | ClientError::Unavailable { .. } | ClientError::DeadlineExceeded => 2,
            _ => 1,
        };
        Failure { lines: vec![error.to_string()], exit_code, stdout: String::new() }
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
            if !failure.stdout.is_empty() {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(failure.stdout.as_bytes()).and_then(|()| stdout.flush());
            }
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
        Command::Import(args) => runtime.block_on(import_cmd::run(global, args)),
        Command::Verify(args) => runtime.block_on(query_cmd::verify(global, args)),
        Command::BatchVerify(args) => runtime.block_on(query_cmd::batch_verify(global, args)),
        Command::Legacy(args) => runtime.block_on(query_cmd::legacy(global, args)),
        Command::Household(args) => runtime.block_on(query_cmd::household(global, args)),
        Command::Search(args) => runtime.block_on(query_cmd::search(global, args)),
        Command::Scan(args) => runtime.block_on(query_cmd::scan(global, args)),
        Command::Event { command } => runtime.block_on(event_cmd::run(global, command)),
        Command::Node { command } => runtime.block_on(node_cmd::run(global, command)),
        Command::Certs(args) => certs_cmd::run(global, args),
        Command::Whoami => runtime.block_on(whoami_cmd::run(global)),
        Command::Gen(args) => gen_cmd::run(args),
        Command::Bench { command } => bench_cmd::run(global, command),
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
            cluster_id: self.cluster_id.clone(),
            tls: match (&self.tls_dir, &self.identity) {
                (Some(dir), Some(name)) => Some(TlsIdentity { dir: dir.clone(), name: name.clone() }),
                _ => None,
            },
            ..defaults
        }
    }

    /// Connects to the cluster named by --endpoints, else by --config.
    async fn connect(&self) -> Result<Client, Failure> {
        self.connect_with(self.client_options()).await
    }

    /// [`GlobalArgs::connect`] with options a command adjusted.
    async fn connect_with(&self, options: ClientOptions) -> Result<Client, Failure> {
        match (&self.tls_dir, &self.identity) {
            (Some(_), None) => {
                return Err(Failure::usage("--tls-dir needs --identity NAME (whose certificate to present)"))
            }
            (None, Some(_)) => return Err(Failure::usage("--identity needs --tls-dir DIR (where its certificate is)")),
            _ => {}
        }
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
        if config.requires_tls() && options.tls.is_none() {
            return Err(Failure::usage(
                "this cluster requires mutual TLS (tls.mode = \"mutual\"): pass --tls-dir DIR --identity NAME",
            ));
        }
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
