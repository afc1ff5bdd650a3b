//! The openraft glue: one Raft group per partition, all sharing the node's RocksDB and peer channels.
//!
//! Architecture Invariant: only this module and `storage` know openraft's types; the gRPC service
//! talks to groups through [`groups::Groups`].

pub mod codec;
pub mod groups;
pub mod network;
pub mod service;
pub mod types;

use std::sync::Arc;

use dancu_cluster_config::{PartitionId, RaftConfig};
use openraft::{Config, SnapshotPolicy};

use crate::limits::APPEND_ENTRIES_MAX;

/// openraft's configuration for one group, from the cluster's `[raft]` section.
///
/// Timeouts come from the configuration (defaults: heartbeat 100 ms, election 200–400 ms, see
/// `RaftConfig`). The leader lease openraft derives from them (`election_timeout_max`) bounds
/// how long a lease read may trust a quorum acknowledgement.
pub fn group_config(
    cluster_name: &str,
    pid: PartitionId,
    raft: &RaftConfig,
) -> Result<Arc<Config>, openraft::ConfigError> {
    let config = Config {
        cluster_name: format!("{cluster_name}-p{}", pid.0),
        heartbeat_interval: raft.heartbeat_interval_ms,
        election_timeout_min: raft.election_timeout_ms_min,
        election_timeout_max: raft.election_timeout_ms_max,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(raft.snapshot_logs_since_last),
        max_in_snapshot_log_to_keep: raft.max_in_snapshot_log_to_keep,
        max_payload_entries: APPEND_ENTRIES_MAX,
        install_snapshot_timeout: 10_000,
        // A node cut off by a partition must not come back with an inflated term and depose a healthy
        // leader: it first asks whether it could win (pre-vote) before bumping its term.
        enable_pre_vote: Some(true),
        ..Default::default()
    };
    Ok(Arc::new(config.validate()?))
}
