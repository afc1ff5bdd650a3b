//! A dancu cluster of real `dancu-node` processes on this machine, for tests and the demo.
//!
//! Layout of the base directory (a fresh temporary directory unless [`ClusterSpec::base_dir`] names one):
//! `config.toml` (generated unless [`ClusterSpec::fixed_config`] is given), `node-N/` (data), `node-N.log` (stdout
//! and stderr, appended across restarts, each start marked by a line), `certs/` (with [`ClusterSpec::mutual_tls`]:
//! the cluster's authority and every node's and caller's certificate).

use std::collections::BTreeMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dancu_client::certificates::issue_for_config;
use dancu_client::TlsIdentity;
use dancu_cluster_config::{ClusterConfig, RaftConfig};
use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::v1::{StatusRequest, StatusResponse};
use dancu_tls::{PeerIdentity, ReloadingTls, TlsDir};
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

use crate::health;
use crate::lazy_mounts::LazyMounts;
use crate::lazyfs::CrashRecord;
use crate::local_config::{loopback_config, MutualTls};
use crate::poll::poll_until;
use crate::ports::free_loopback_ports;
use crate::process::{tail_lines, Launch, NodeProcess, NodeState};
use crate::HarnessError;

/// Environment variable that keeps the base directory (data and logs) after the cluster is dropped.
pub const KEEP_CLUSTER_ENV: &str = "DANCU_KEEP_CLUSTER";

/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How long `start` waits for every node to accept TCP connections.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between two checks of whether the nodes listen.
const LISTEN_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// Timeout of one TCP connect while checking that a node listens.
const LISTEN_CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// Times `start` picks new ports when a node fails to come up on the ones it was given.
const START_ATTEMPTS_MAX: u32 = 3;

/// Timeout for connecting to a node for a Status call.
const STATUS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Timeout of one Status call (a loaded 2-core machine can be slow to answer).
const STATUS_RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// Log lines quoted when a node exits unexpectedly.
const LOG_LINES_QUOTED: usize = 40;

/// Where [`ClusterSpec::mutual_tls`] puts the certificates, under the base directory.
const CERTS_DIR: &str = "certs";

/// Validity of the certificates the harness issues (authority included): far longer than any run.
const CERT_DAYS: u32 = 30;

/// What cluster to run.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Nodes of a generated configuration (ids 1..=n_nodes); ignored with `fixed_config`.
    pub n_nodes: usize,
    /// Replicas per partition in a generated configuration (3 or 5, at most `n_nodes`).
    pub replicas: u8,
    /// The `dancu-node` executable (see [`crate::node_binary`]).
    pub node_bin: PathBuf,
    /// `[raft]` of a generated configuration; `None` keeps the defaults.
    pub raft: Option<RaftConfig>,
    /// Appended to every node's command line.
    pub extra_node_args: Vec<String>,
    /// Keep the base directory after the cluster is dropped (also when `DANCU_KEEP_CLUSTER=1`, and always when
    /// the dropping thread is panicking, so a failed test leaves its logs behind).
    pub keep_dir: bool,
    /// Run this configuration file as it is instead of generating one (fixed ports: no retry on a port in use).
    pub fixed_config: Option<PathBuf>,
    /// Put data and logs here (created if missing, never removed) instead of in a temporary directory.
    pub base_dir: Option<PathBuf>,
    /// Run this configuration (written to `config.toml`) instead of generating one on loopback ports, e.g. a
    /// [`crate::netns::namespaced_config`]; fixed addresses, so no retry on a port in use. Not with `fixed_config`.
    pub config: Option<ClusterConfig>,
    /// Per node, the command the node binary runs under (its first word is the program), e.g.
    /// [`crate::netns::NetTopology::command_prefixes`]; nodes not listed run directly. The prefix must exec the
    /// node (as `ip netns exec` does) so the harness's signals reach the node itself.
    pub node_command_prefix: BTreeMap<u64, Vec<String>>,
    /// A CPU cap every node joins when it (re)starts: the "slow box" of overload runs.
    pub cpu_cap: Option<std::sync::Arc<crate::CpuCap>>,
    /// Nodes `start` leaves down (start them with [`LocalCluster::restart`]), e.g. while another process holds
    /// their address.
    pub initially_down: Vec<u64>,
    /// Put every node's data dir on a `dancu-lazyfs` mount (this binary) over `node-N.backing/`, so
    /// [`LocalCluster::power_loss`] can drop what a node did not fsync. Needs root and `/dev/fuse`.
    pub lazyfs_bin: Option<PathBuf>,
    /// Mutual TLS (a configuration with `tls.mode = "mutual"`): the directory `dancuctl certs` wrote, passed to
    /// every node as `--tls-dir`, and the caller whose certificate the harness presents for its Status calls.
    pub tls: Option<TlsDir>,
    /// Mutual TLS with certificates the harness makes: the configuration it writes (generated, or `config`) gets
    /// `tls.mode = "mutual"` and these roles and callers, and once its addresses are final, before any node starts,
    /// the authority and every node's and caller's certificate are issued into `BASE/certs/` (a node's for the host
    /// of its address). Nodes get `--tls-dir BASE/certs`; the harness presents `harness_caller`'s certificate.
    /// Not with `tls` or `fixed_config`, which bring their own certificates.
    pub mutual_tls: Option<MutualTls>,
}

impl ClusterSpec {
    /// Three nodes, three replicas, default Raft timing, a temporary directory.
    pub fn new(node_bin: impl Into<PathBuf>) -> Self {
        ClusterSpec {
            n_nodes: 3,
            replicas: 3,
            node_bin: node_bin.into(),
            raft: None,
            extra_node_args: Vec::new(),
            keep_dir: false,
            fixed_config: None,
            base_dir: None,
            config: None,
            node_command_prefix: BTreeMap::new(),
            cpu_cap: None,
            initially_down: Vec::new(),
            lazyfs_bin: None,
            tls: None,
            mutual_tls: None,
        }
    }
}

/// Where the cluster's files live, and whether dropping the cluster removes them.
enum BaseDir {
    Temporary(Option<TempDir>),
    Given(PathBuf),
}

impl BaseDir {
    fn create(given: Option<&Path>) -> Result<BaseDir, HarnessError> {
        let Some(path) = given else {
            let dir = tempfile::Builder::new()
                .prefix("dancu-cluster-")
                .tempdir()
                .map_err(|source| HarnessError::io("creating a temporary directory", source))?;
            return Ok(BaseDir::Temporary(Some(dir)));
        };
        std::fs::create_dir_all(path)
            .map_err(|source| HarnessError::io(format!("creating {}", path.display()), source))?;
        Ok(BaseDir::Given(path.to_path_buf()))
    }

    fn path(&self) -> &Path {
        match self {
            BaseDir::Temporary(dir) => dir.as_ref().expect("the temporary directory lives until drop").path(),
            BaseDir::Given(path) => path,
        }
    }
}

/// A running local cluster. Dropping it SIGKILLs every node it started.
pub struct LocalCluster {
    /// Before `base`: fields drop in order, and the mounts must go before their directories are removed.
    lazy: Option<LazyMounts>,
    base: BaseDir,
    config_path: PathBuf,
    config: ClusterConfig,
    launch: Launch,
    /// Sorted by node id.
    nodes: Vec<NodeProcess>,
    keep_dir: bool,
    initially_down: Vec<u64>,
    /// The certificates' directory and the harness's identity in it, when the cluster runs mutual TLS.
    tls_dir: Option<TlsDir>,
    /// The harness's own TLS identity for Status and Admin calls, loaded from `tls_dir`.
    tls: Option<std::sync::Arc<ReloadingTls>>,
}

impl LocalCluster {
    /// Writes the configuration, starts every node and waits until each accepts TCP connections. A generated
    /// cluster whose node exits because its address is in use (another process took the port) is started again
    /// on new ports, up to three times.
    pub fn start(spec: ClusterSpec) -> Result<LocalCluster, HarnessError> {
        if spec.mutual_tls.is_some() && (spec.tls.is_some() || spec.fixed_config.is_some()) {
            let message = "`mutual_tls` makes its own certificates: not with `tls` or `fixed_config`";
            return Err(HarnessError::Config(message.to_string()));
        }
        let mut cluster = LocalCluster::start_nodes(&spec)?;
        if let Some(tls_dir) = &cluster.tls_dir {
            let loaded = ReloadingTls::load(tls_dir.clone())
                .map_err(|source| HarnessError::Tls { dir: tls_dir.dir.clone(), source })?;
            cluster.tls = Some(loaded);
        }
        Ok(cluster)
    }

    fn start_nodes(spec: &ClusterSpec) -> Result<LocalCluster, HarnessError> {
        let spec = spec.clone();
        let base = BaseDir::create(spec.base_dir.as_deref())?;
        let keep_dir = spec.keep_dir || std::env::var(KEEP_CLUSTER_ENV).is_ok_and(|value| value == "1");
        if let Some(config) = &spec.config {
            if spec.fixed_config.is_some() {
                return Err(HarnessError::Config("both `config` and `fixed_config` are set".to_string()));
            }
            let mut cluster = LocalCluster::write(base, config.clone(), &spec, keep_dir)?;
            cluster.spawn_all()?;
            return Ok(cluster);
        }
        if let Some(path) = &spec.fixed_config {
            let config = ClusterConfig::load(path).map_err(|error| HarnessError::Config(error.to_string()))?;
            let mut cluster = LocalCluster::new(base, path.clone(), config, &spec, keep_dir);
            cluster.spawn_all()?;
            return Ok(cluster);
        }
        let mut attempt = 1;
        let mut cluster = LocalCluster::generate(base, &spec, keep_dir)?;
        loop {
            match cluster.spawn_all() {
                Ok(()) => return Ok(cluster),
                Err(error) if attempt < START_ATTEMPTS_MAX && is_port_conflict(&error) => {
                    eprintln!("dancu-jepsen: a port was taken ({error}); starting again on new ports");
                    cluster.kill_all();
                    cluster.remove_node_dirs()?;
                    let base = std::mem::replace(&mut cluster.base, BaseDir::Temporary(None));
                    cluster = LocalCluster::generate(base, &spec, keep_dir)?;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A cluster on fresh ports with its configuration written to `base/config.toml`; nothing started yet.
    fn generate(base: BaseDir, spec: &ClusterSpec, keep_dir: bool) -> Result<LocalCluster, HarnessError> {
        let ports = free_loopback_ports(spec.n_nodes)?;
        let config = loopback_config(&ports, spec.replicas, spec.raft.clone().unwrap_or_default());
        LocalCluster::write(base, config, spec, keep_dir)
    }

    /// A cluster running `config` (made mutual by [`ClusterSpec::mutual_tls`], with its certificates issued),
    /// written to `base/config.toml`; nothing started yet.
    fn write(
        base: BaseDir,
        mut config: ClusterConfig,
        spec: &ClusterSpec,
        keep_dir: bool,
    ) -> Result<LocalCluster, HarnessError> {
        if let Some(mutual_tls) = &spec.mutual_tls {
            mutual_tls.apply(&mut config);
        }
        config.validate().map_err(|errors| HarnessError::Config(errors.to_string()))?;
        if spec.mutual_tls.is_some() {
            // The addresses are final here (a retry on new ports writes again): every node's certificate names
            // the host of its address, which is what a client dialing it checks.
            let dir = base.path().join(CERTS_DIR);
            issue_for_config(&config, &dir, CERT_DAYS, CERT_DAYS)
                .map_err(|source| HarnessError::Tls { dir: dir.clone(), source })?;
        }
        let config_path = base.path().join("config.toml");
        std::fs::write(&config_path, config.to_toml_string())
            .map_err(|source| HarnessError::io(format!("writing {}", config_path.display()), source))?;
        Ok(LocalCluster::new(base, config_path, config, spec, keep_dir))
    }

    fn new(
        base: BaseDir,
        config_path: PathBuf,
        config: ClusterConfig,
        spec: &ClusterSpec,
        keep_dir: bool,
    ) -> LocalCluster {
        let mut nodes: Vec<NodeProcess> = config
            .nodes
            .iter()
            .map(|node| {
                let data_dir = base.path().join(format!("node-{}", node.id));
                let log_path = base.path().join(format!("node-{}.log", node.id));
                NodeProcess::new(node.id, node.addr.clone(), data_dir, log_path)
            })
            .collect();
        nodes.sort_by_key(|node| node.id);
        let tls_dir = match &spec.mutual_tls {
            Some(mutual_tls) => {
                Some(TlsDir::new(base.path().join(CERTS_DIR), PeerIdentity::Caller(mutual_tls.harness_caller.clone())))
            }
            None => spec.tls.clone(),
        };
        let mut extra_args = spec.extra_node_args.clone();
        if let Some(tls) = &tls_dir {
            extra_args.extend(["--tls-dir".to_string(), tls.dir.display().to_string()]);
        }
        let launch = Launch {
            node_bin: spec.node_bin.clone(),
            config_path: config_path.clone(),
            extra_args,
            command_prefix: spec.node_command_prefix.clone(),
            cpu_cap: spec.cpu_cap.clone(),
        };
        let initially_down = spec.initially_down.clone();
        let lazy = spec.lazyfs_bin.clone().map(LazyMounts::new);
        LocalCluster { lazy, base, config_path, config, launch, nodes, keep_dir, initially_down, tls_dir, tls: None }
    }

    fn spawn_all(&mut self) -> Result<(), HarnessError> {
        if let Some(lazy) = &mut self.lazy {
            for node in &self.nodes {
                lazy.mount(node.id, &node.data_dir)?;
            }
        }
        let mut started = Vec::new();
        for node in &mut self.nodes {
            if !self.initially_down.contains(&node.id) {
                node.spawn(&self.launch)?;
                started.push(node.id);
            }
        }
        self.await_listening(&started)
    }

    /// Blocks until each of `nodes` accepts TCP connections; fails as soon as one exits.
    fn await_listening(&self, nodes: &[u64]) -> Result<(), HarnessError> {
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        let mut waiting: Vec<&NodeProcess> = self.nodes.iter().filter(|node| nodes.contains(&node.id)).collect();
        while !waiting.is_empty() {
            for node in &waiting {
                if let Some(status) = node.exit_status() {
                    return Err(self.exited(node, status.to_string()));
                }
            }
            waiting.retain(|node| !accepts_tcp(&node.addr));
            if Instant::now() >= deadline {
                let waiting: Vec<String> =
                    waiting.iter().map(|node| format!("node {} at {}", node.id, node.addr)).collect();
                let last = format!("not listening: {}; logs in {}", waiting.join(", "), self.base_dir().display());
                return Err(HarnessError::Timeout {
                    what: "nodes to listen".to_string(),
                    timeout: LISTEN_TIMEOUT,
                    last,
                });
            }
            std::thread::sleep(LISTEN_CHECK_INTERVAL);
        }
        Ok(())
    }

    fn exited(&self, node: &NodeProcess, status: String) -> HarnessError {
        HarnessError::NodeExited {
            node: node.id,
            status,
            log: node.log_path.clone(),
            log_tail: tail_lines(&node.log_path, LOG_LINES_QUOTED),
        }
    }

    fn remove_node_dirs(&self) -> Result<(), HarnessError> {
        for node in &self.nodes {
            if node.data_dir.exists() {
                std::fs::remove_dir_all(&node.data_dir)
                    .map_err(|source| HarnessError::io(format!("removing {}", node.data_dir.display()), source))?;
            }
        }
        Ok(())
    }

    fn kill_all(&mut self) {
        for node in &mut self.nodes {
            if node.state() != NodeState::Down {
                if let Err(error) = node.kill() {
                    eprintln!("dancu-jepsen: {error}");
                }
            }
        }
    }
}

/// Whether a node failed to start because its address was in use (another process took the port we picked).
fn is_port_conflict(error: &HarnessError) -> bool {
    let HarnessError::NodeExited { log_tail, .. } = error else {
        return false;
    };
    let log_tail = log_tail.to_lowercase();
    log_tail.contains("address already in use") || log_tail.contains("addrinuse")
}

/// Whether something accepts TCP connections at `addr` (`host:port`; a name is resolved).
fn accepts_tcp(addr: &str) -> bool {
    let Ok(resolved) = addr.to_socket_addrs() else {
        return false;
    };
    resolved.into_iter().any(|socket_addr| TcpStream::connect_timeout(&socket_addr, LISTEN_CONNECT_TIMEOUT).is_ok())
}

/// Where things are.
impl LocalCluster {
    /// The configuration file every node runs with.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The configuration every node runs with, as parsed.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Holds `config.toml` (when generated), the data directories `node-N/` and the logs `node-N.log`.
    pub fn base_dir(&self) -> &Path {
        self.base.path()
    }

    /// Every node id, ascending.
    pub fn node_ids(&self) -> Vec<u64> {
        self.nodes.iter().map(|node| node.id).collect()
    }

    /// The gRPC address (`host:port`) of a node of this cluster. Panics on an unknown id (a test bug).
    pub fn addr(&self, node: u64) -> String {
        self.node(node).unwrap_or_else(|error| panic!("{error}")).addr.clone()
    }

    /// Every node's gRPC address, by node id.
    pub fn endpoints(&self) -> Vec<String> {
        self.nodes.iter().map(|node| node.addr.clone()).collect()
    }

    /// The directory of the cluster's certificates (`ca.crt`, `node-N.*`, `CALLER.*`) when it runs mutual TLS.
    pub fn tls_dir(&self) -> Option<&Path> {
        self.tls_dir.as_ref().map(|tls| tls.dir.as_path())
    }

    /// A client's TLS identity as `caller` (one of the configuration's callers) when the cluster runs mutual TLS;
    /// `None` on a plaintext cluster, where a client speaks plaintext.
    pub fn caller_tls(&self, caller: &str) -> Option<TlsIdentity> {
        let dir = self.tls_dir()?;
        Some(TlsIdentity { dir: dir.to_path_buf(), name: caller.to_string() })
    }

    /// The node's log file.
    pub fn log_path(&self, node: u64) -> PathBuf {
        self.base.path().join(format!("node-{node}.log"))
    }

    /// The last `n_lines` lines of the node's log.
    pub fn log_tail(&self, node: u64, n_lines: usize) -> String {
        tail_lines(&self.log_path(node), n_lines)
    }

    fn node(&self, id: u64) -> Result<&NodeProcess, HarnessError> {
        self.nodes.iter().find(|node| node.id == id).ok_or_else(|| self.unknown(id))
    }

    fn node_mut(&mut self, id: u64) -> Result<&mut NodeProcess, HarnessError> {
        let error = self.unknown(id);
        self.nodes.iter_mut().find(|node| node.id == id).ok_or(error)
    }

    fn unknown(&self, node: u64) -> HarnessError {
        HarnessError::UnknownNode { node, known: self.node_ids() }
    }
}

/// Faults and restarts. Each acts on one node and returns once the process is in the new state.
impl LocalCluster {
    /// SIGKILL and reap.
    pub fn kill(&mut self, node: u64) -> Result<(), HarnessError> {
        self.node_mut(node)?.kill()
    }

    /// SIGTERM, wait up to 10 s for a clean exit, then SIGKILL.
    pub fn stop(&mut self, node: u64) -> Result<(), HarnessError> {
        self.node_mut(node)?.stop(STOP_GRACE)
    }

    /// SIGSTOP: the process stays alive but does nothing (its peers see a silent node).
    pub fn pause(&mut self, node: u64) -> Result<(), HarnessError> {
        self.node_mut(node)?.pause()
    }

    /// SIGCONT a paused node.
    pub fn resume(&mut self, node: u64) -> Result<(), HarnessError> {
        self.node_mut(node)?.resume()
    }

    /// Starts a down node again with the same data directory; returns once it accepts TCP connections (use
    /// [`LocalCluster::wait_healthy`] to wait until its partitions have leaders again).
    pub fn restart(&mut self, node: u64) -> Result<(), HarnessError> {
        let launch = self.launch.clone();
        self.node_mut(node)?.spawn(&launch)?;
        self.await_listening(&[node])
    }

    /// [`LocalCluster::restart`] with more arguments for this start only (e.g. `--join` after a wiped disk).
    pub fn restart_with_args(&mut self, node: u64, extra_args: &[String]) -> Result<(), HarnessError> {
        let mut launch = self.launch.clone();
        launch.extra_args.extend(extra_args.iter().cloned());
        self.node_mut(node)?.spawn(&launch)?;
        self.await_listening(&[node])
    }

    /// A power loss: SIGKILLs `nodes` and drops what each of them wrote but did not fsync (their data dirs are on
    /// `dancu-lazyfs`, see [`ClusterSpec::lazyfs_bin`]). Returns each file system's record of the crash — the
    /// evidence that unsynced data was dropped. Start the nodes again with [`LocalCluster::restart`].
    pub fn power_loss(&mut self, nodes: &[u64]) -> Result<Vec<(u64, CrashRecord)>, HarnessError> {
        if self.lazy.is_none() {
            return Err(HarnessError::Config("a power loss needs the data dirs on dancu-lazyfs".to_string()));
        }
        for &node in nodes {
            if self.node(node)?.state() != NodeState::Down {
                self.kill(node)?;
            }
        }
        let lazy = self.lazy.as_ref().ok_or_else(|| HarnessError::Config("no lazyfs mounts".to_string()))?;
        nodes.iter().map(|&node| Ok((node, lazy.crash(node)?))).collect()
    }

    /// Erases a down node's data dir (a lost disk). The harness otherwise never touches a node's data.
    pub fn wipe(&mut self, node: u64) -> Result<(), HarnessError> {
        let process = self.node(node)?;
        if process.state() != NodeState::Down {
            return Err(HarnessError::WrongState { node, state: process.state().name(), action: "wipe" });
        }
        let dir = process.data_dir.clone();
        let entries =
            std::fs::read_dir(&dir).map_err(|source| HarnessError::io(format!("listing {}", dir.display()), source))?;
        for entry in entries {
            let path = entry.map_err(|source| HarnessError::io(format!("listing {}", dir.display()), source))?.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.map_err(|source| HarnessError::io(format!("removing {}", path.display()), source))?;
        }
        Ok(())
    }

    /// The operating-system process id of a node the harness started and has not killed or stopped.
    pub fn pid(&self, node: u64) -> Option<u32> {
        self.node(node).ok()?.pid()
    }

    /// Whether the node's process is alive and not paused (an exited process is reaped here).
    pub fn is_running(&mut self, node: u64) -> bool {
        let Ok(process) = self.node(node) else {
            return false;
        };
        if let Some(status) = process.exit_status() {
            tracing::info!(node, %status, "node process has exited");
        }
        process.state() == NodeState::Running
    }

    /// Nodes the harness started and has not killed, stopped or paused.
    pub fn running_nodes(&self) -> Vec<u64> {
        self.nodes.iter().filter(|node| node.state() == NodeState::Running).map(|node| node.id).collect()
    }
}

/// Observing the cluster through the nodes' Status.
impl LocalCluster {
    /// A connection to one node as the harness (over mutual TLS with the harness's certificate when the cluster
    /// runs it), each call bounded by `rpc_timeout`: for Status and the Admin service.
    pub async fn channel(&self, node: u64, rpc_timeout: Duration) -> Result<Channel, HarnessError> {
        let addr = self.node(node)?.addr.clone();
        let failed = |message: String| HarnessError::Connect { node, addr: addr.clone(), message };
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|error| failed(error.to_string()))?
            .connect_timeout(STATUS_CONNECT_TIMEOUT)
            .timeout(rpc_timeout);
        let connected = match &self.tls {
            Some(tls) => endpoint.connect_with_connector(dancu_tls::connector::connector(tls.clone())).await,
            None => endpoint.connect().await,
        };
        connected.map_err(|error| failed(dancu_client::error_chain(&error)))
    }

    /// One node's Status answer.
    pub async fn status(&self, node: u64) -> Result<StatusResponse, HarnessError> {
        let addr = self.node(node)?.addr.clone();
        let failed = |message: String| HarnessError::Status { node, addr: addr.clone(), message };
        let channel = self.channel(node, STATUS_RPC_TIMEOUT).await?;
        let response = RegistryClient::new(channel)
            .status(StatusRequest {})
            .await
            .map_err(|status| failed(format!("{:?}: {}", status.code(), status.message())))?;
        Ok(response.into_inner())
    }

    /// Status of every running node, concurrently, as `(node, answer or error)`.
    async fn observe(&self) -> Vec<health::Observation> {
        let running = self.running_nodes();
        let answers = futures::future::join_all(running.iter().map(|&node| self.status(node))).await;
        running
            .into_iter()
            .zip(answers)
            .map(|(node, answer)| (node, answer.map_err(|error| error.to_string())))
            .collect()
    }

    /// The node that says it leads `partition` (the highest term wins if two do), asking every running node.
    pub async fn leader_of(&self, partition: u32) -> Option<u64> {
        let observations = self.observe().await;
        observations
            .iter()
            .filter_map(|(node, answer)| {
                let status = answer.as_ref().ok()?;
                let own = status.partitions.iter().find(|p| p.id == partition && p.local_role == "leader")?;
                Some((own.term, *node))
            })
            .max()
            .map(|(_, node)| node)
    }

    /// Polls (every 100 ms) until every running node answers Status, knows a leader for each partition it hosts,
    /// all running nodes agree on it, and that leader is running and says it leads. Fails at once if a node that
    /// should run has exited.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<(), HarnessError> {
        let what = "every partition to have one agreed, running leader";
        let verdict = poll_until(timeout, what, || async {
            if let Some(exited) = self.exited_node() {
                return Ok(Err(exited));
            }
            let observations = self.observe().await;
            let problems = health::problems(&self.running_nodes(), &observations);
            if problems.is_empty() {
                return Ok(Ok(()));
            }
            let logs = self.base_dir().join("node-*.log");
            Err(format!("{}\n(logs: {})", health::summarize(&problems), logs.display()))
        })
        .await?;
        verdict
    }

    /// Waits until every running replica has applied what its partition's leader had applied when the wait
    /// began (after [`LocalCluster::wait_healthy`]): a restarted node has caught up, not only learnt the leaders.
    pub async fn wait_caught_up(&self, timeout: Duration) -> Result<(), HarnessError> {
        let targets = health::leader_applied(&self.observe().await);
        poll_until(timeout, "every replica to apply what its leader had applied", || async {
            let problems = health::catch_up_problems(&targets, &self.observe().await);
            if problems.is_empty() {
                return Ok(());
            }
            Err(health::summarize(&problems))
        })
        .await
    }

    /// A node the harness believes running whose process has exited, as an error quoting its log.
    fn exited_node(&self) -> Option<HarnessError> {
        self.nodes.iter().filter(|node| node.state() == NodeState::Running).find_map(|node| {
            let status = node.exit_status()?;
            Some(self.exited(node, status.to_string()))
        })
    }

    /// Polls `condition` every 100 ms until it is true; see [`crate::poll_until`] for a version that explains.
    pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, condition: F) -> Result<(), HarnessError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        crate::poll::wait_until(timeout, what, condition).await
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.kill_all();
        let keep = self.keep_dir || std::thread::panicking();
        // Dropping a `TempDir` removes it; keeping it turns it into a plain path.
        if let BaseDir::Temporary(Some(dir)) = std::mem::replace(&mut self.base, BaseDir::Temporary(None)) {
            if keep {
                eprintln!("dancu-jepsen: kept the cluster's data and logs in {}", dir.keep().display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::process::tests::FAKE_NODE_LOCK;
    use crate::SUITE_OPERATOR_CALLER;

    /// A stand-in node binary running `script`.
    fn fake_node(dir: &Path, script: &str) -> PathBuf {
        let path = dir.join("fake-node");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_node_that_dies_at_start_is_reported_with_its_log() {
        let _serial = FAKE_NODE_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bin_dir = tempfile::tempdir().unwrap();
        let base_dir = bin_dir.path().join("cluster");
        let spec = ClusterSpec {
            base_dir: Some(base_dir.clone()),
            // Only node 1 dies, so which dead node is seen first does not depend on scheduling.
            ..ClusterSpec::new(fake_node(
                bin_dir.path(),
                "case \"$*\" in *'--node-id 1 '*) echo 'fatal: no storage' >&2; exit 3;; *) exec sleep 30;; esac",
            ))
        };
        let error = LocalCluster::start(spec).err().expect("a cluster of dying nodes cannot start");
        let HarnessError::NodeExited { node, status, log, log_tail } = &error else {
            panic!("expected NodeExited, got {error}");
        };
        assert_eq!(*node, 1);
        assert!(status.contains('3'), "{status}");
        assert_eq!(*log, base_dir.join("node-1.log"));
        assert!(log_tail.contains("fatal: no storage"), "{log_tail}");
        assert!(base_dir.join("config.toml").is_file(), "the generated configuration is written");
    }

    #[test]
    fn mutual_tls_writes_a_mutual_config_and_certificates_before_any_node_starts() {
        let _serial = FAKE_NODE_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bin_dir = tempfile::tempdir().unwrap();
        let base_dir = bin_dir.path().join("cluster");
        let suite = MutualTls::consistency_suite();
        let spec = ClusterSpec {
            base_dir: Some(base_dir.clone()),
            mutual_tls: Some(suite.clone()),
            // Node 1 prints its command line and the certificate files it would read, then dies.
            ..ClusterSpec::new(fake_node(
                bin_dir.path(),
                "case \"$*\" in *'--node-id 1 '*) echo \"args: $*\" >&2; ls \"$(dirname \"$2\")/certs\" >&2; exit 3;; \
                 *) exec sleep 30;; esac",
            ))
        };
        let error = LocalCluster::start(spec).err().expect("node 1 dies");
        let HarnessError::NodeExited { log_tail, .. } = &error else {
            panic!("expected NodeExited, got {error}");
        };
        let certs = base_dir.join(CERTS_DIR);
        assert!(log_tail.contains(&format!("--tls-dir {}", certs.display())), "{log_tail}");
        for file in ["ca.crt", "node-1.crt", "node-1.key", "node-3.crt", "jepsen-workload.crt", "jepsen-operator.key"] {
            assert!(log_tail.lines().any(|line| line == file), "{file} not there when node 1 started:\n{log_tail}");
        }
        let written = ClusterConfig::load(&base_dir.join("config.toml")).unwrap();
        assert!(written.requires_tls());
        assert_eq!(written.callers, suite.callers);
        assert_eq!(written.roles, suite.roles);

        let both = ClusterSpec {
            tls: Some(TlsDir::new(&certs, PeerIdentity::Caller(SUITE_OPERATOR_CALLER.to_string()))),
            mutual_tls: Some(suite),
            ..ClusterSpec::new("/nonexistent/dancu-node")
        };
        let error = LocalCluster::start(both).err().expect("`mutual_tls` makes its own certificates");
        assert!(matches!(error, HarnessError::Config(_)), "{error}");
    }

    #[test]
    fn only_an_address_in_use_is_a_port_conflict() {
        let exited = |log_tail: &str| HarnessError::NodeExited {
            node: 1,
            status: "exit status: 1".to_string(),
            log: PathBuf::from("node-1.log"),
            log_tail: log_tail.to_string(),
        };
        assert!(is_port_conflict(&exited("error: binding 127.0.0.1:7101: Address already in use (os error 98)")));
        assert!(!is_port_conflict(&exited("error: corrupt data directory")));
        assert!(!is_port_conflict(&HarnessError::Config("Address already in use".to_string())));
    }
}
