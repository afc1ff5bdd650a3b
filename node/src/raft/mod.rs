//! The openraft glue: one Raft group per partition, all sharing the node's RocksDB and peer channels.
//!
//! Architecture Invariant: only this module and `storage` know openraft's types; the gRPC service
//! talks to groups through [`groups::Groups`].

pub mod codec;
pub mod groups;
pub mod late_heartbeats;
pub mod network;
pub mod rtt;
pub mod service;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

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
        // `committed` is saved without fsync and apply is not fsync'd: after a power loss a restored leader would
        // serve reads from a state below what it acknowledged. Without restore it learns the commit index from
        // the next election (openraft's config docs warn about exactly this combination).
        enable_leader_restore: Some(false),
        ..Default::default()
    };
    Ok(Arc::new(config.validate()?))
}

/// The clock-drift bound of `[raft]` as a rate.
fn drift(raft: &RaftConfig) -> f64 {
    f64::from(raft.max_clock_drift_ppm) / 1e6
}

/// The oldest quorum acknowledgement a lease read may trust. A follower refuses votes for the lease
/// (`election_timeout_max`) after a heartbeat, on its own clock, from when it received it; the leader counts from
/// when it sent it. With clock rates apart by at most `drift`, the follower's promise lasts at least
/// `lease / (1 + drift)` of real time and the leader's measure of `age` at most `age / (1 − drift)`, so the leader
/// may trust `lease · (1 − drift) / (1 + drift)`.
pub fn lease_read_age_max(raft: &RaftConfig) -> Duration {
    let rate = drift(raft);
    Duration::from_millis(raft.election_timeout_ms_max).mul_f64((1.0 - rate) / (1.0 + rate))
}

/// How long a restarted node refuses (pre-)votes: the lease it may have promised a leader just before it stopped
/// (openraft's lease is `election_timeout_max`, counted from the last heartbeat), plus one heartbeat interval for
/// the heartbeat that may have been in flight, stretched by the drift bound (this node's clock may run slow).
pub fn restart_vote_quarantine(raft: &RaftConfig) -> Duration {
    Duration::from_millis(raft.election_timeout_ms_max + raft.heartbeat_interval_ms).mul_f64(1.0 + drift(raft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_shrink_with_the_drift_bound_and_leader_restore_is_off() {
        let raft = RaftConfig { election_timeout_ms_max: 1_000, max_clock_drift_ppm: 50_000, ..RaftConfig::default() };
        let age = lease_read_age_max(&raft);
        assert!(age < Duration::from_millis(906) && age > Duration::from_millis(904), "{age:?}");
        let quarantine = restart_vote_quarantine(&raft);
        assert_eq!(quarantine, Duration::from_millis(1_100).mul_f64(1.05));
        let no_drift = RaftConfig { max_clock_drift_ppm: 0, ..raft.clone() };
        assert_eq!(lease_read_age_max(&no_drift), Duration::from_millis(1_000));
        let config = group_config("test", PartitionId(100), &raft).expect("valid");
        assert_eq!(config.enable_leader_restore, Some(false), "committed is not fsync'd: no leader restore");
    }
}
