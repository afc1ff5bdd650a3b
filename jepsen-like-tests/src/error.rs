//! What can go wrong while running a local cluster. Every variant names the node and, where a node's own output
//! explains the failure, the log file to read.

use std::path::PathBuf;
use std::time::Duration;

/// A harness operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The `dancu-node` executable could not be located.
    #[error(
        "dancu-node binary not found ({reason}); build it with `cargo build --release -p dancu-node` \
         or point DANCU_NODE_BIN at it"
    )]
    NodeBinaryNotFound {
        /// Where it was looked for.
        reason: String,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The cluster configuration could not be read, or the generated one is invalid.
    #[error("cluster configuration: {0}")]
    Config(String),
    /// The cluster's certificates could not be issued, or the harness's own could not be loaded.
    #[error("TLS material in {dir}: {source}")]
    Tls {
        /// The directory of the certificates.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: dancu_tls::TlsError,
    },
    /// The node id is not part of this cluster.
    #[error("node {node} is not part of this cluster (nodes: {known:?})")]
    UnknownNode {
        /// The id asked for.
        node: u64,
        /// The ids the cluster has.
        known: Vec<u64>,
    },
    /// The operation does not apply to the node in its current state (e.g. resuming a running node).
    #[error("node {node} is {state}: cannot {action} it")]
    WrongState {
        /// The node.
        node: u64,
        /// Its state as the harness knows it.
        state: &'static str,
        /// The operation refused.
        action: &'static str,
    },
    /// A node process exited although the harness expected it to run.
    #[error("node {node} exited unexpectedly ({status}); its log {log} ends with:\n{log_tail}")]
    NodeExited {
        /// The node.
        node: u64,
        /// Its exit status as the OS reported it.
        status: String,
        /// The node's log file.
        log: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },
    /// Sending a signal to a node process failed.
    #[error("sending {signal} to node {node} (pid {pid}): {source}")]
    Signal {
        /// The node.
        node: u64,
        /// Its process id.
        pid: u32,
        /// The signal's name.
        signal: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A condition did not become true before its deadline.
    #[error("timed out after {timeout:?} waiting for {what}: {last}")]
    Timeout {
        /// The condition.
        what: String,
        /// How long the harness waited.
        timeout: Duration,
        /// The last observation, saying why the condition was still false (and which logs to read).
        last: String,
    },
    /// The harness could not connect to a node (for Status or an Admin call).
    #[error("connecting to node {node} at {addr}: {message}")]
    Connect {
        /// The node.
        node: u64,
        /// Its gRPC address.
        addr: String,
        /// The transport error (a TLS handshake's included).
        message: String,
    },
    /// A Status call to a node failed.
    #[error("Status of node {node} at {addr}: {message}")]
    Status {
        /// The node.
        node: u64,
        /// Its gRPC address.
        addr: String,
        /// The transport or gRPC error.
        message: String,
    },
}

impl HarnessError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> HarnessError {
        HarnessError::Io { context: context.into(), source }
    }
}
