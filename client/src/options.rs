//! Per-client settings.

use std::path::PathBuf;
use std::time::Duration;

/// Which certificate a client presents: the directory `dancuctl certs` wrote and the caller's name in it
/// (`DIR/ca.crt`, `DIR/NAME.crt`, `DIR/NAME.key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    pub dir: PathBuf,
    pub name: String,
}

/// How a [`Client`](crate::Client) times and labels its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Total time one call may take, retries and backoff included (default 10 s).
    pub deadline: Duration,
    /// Time one attempt may take before it is abandoned and retried elsewhere (default 3 s); it is also sent to
    /// the node as the gRPC timeout. Capped by what is left of `deadline`.
    pub rpc_timeout: Duration,
    /// Why the caller processes the data; sent with every request (default `"operator"`).
    pub purpose: String,
    /// Time to establish a TCP connection to a node (default 1 s).
    pub connect_timeout: Duration,
    /// Concurrent [`get`](crate::Client::get)s and batch gets' parts bound for one node are sent together as one
    /// `BatchGetCitizens` (up to 1,000 IDs) while this many such requests to that node are in flight (default 2);
    /// 0 sends every get and every batch part alone. Like
    /// `connect_timeout`, the number is fixed when the client connects; a handle from
    /// [`with_options`](crate::Client::with_options) can only switch coalescing off (0).
    pub get_batches_in_flight: usize,
    /// The cluster this client talks to (32 hex digits, as `Status` and `dancuctl status` show it). `None` (the
    /// default) pins the id of the first node that answers. Every request carries the pinned id, and a node of
    /// another cluster at a configured address refuses it, so the client never reads another cluster's data.
    pub cluster_id: Option<String>,
    /// Whether a call a node refuses as overloaded (`RESOURCE_EXHAUSTED` with a retry hint) is retried after the
    /// hint within the deadline (default true). Off, such a call fails at once with
    /// [`ClientError::Overloaded`](crate::ClientError::Overloaded): for a caller that sheds load itself.
    pub retry_overloaded: bool,
    /// Mutual TLS as this caller (required by clusters with `tls.mode = "mutual"`); `None` (the default) speaks
    /// plaintext, which such a cluster refuses. The files are reloaded when they change.
    pub tls: Option<TlsIdentity>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            deadline: Duration::from_secs(10),
            rpc_timeout: Duration::from_secs(3),
            purpose: "operator".to_string(),
            connect_timeout: Duration::from_secs(1),
            get_batches_in_flight: 2,
            cluster_id: None,
            retry_overloaded: true,
            tls: None,
        }
    }
}
