//! The command line every member runs with, and the one-line summary of it the report quotes.
//!
//! Heartbeat, election timeout and snapshot count are etcd 3.4's defaults, passed explicitly so the summary
//! is what actually ran. The quota and `--max-txn-ops` are raised: the default 2 GiB quota is too small for a
//! million records with their history, and a batch get of 1,000 keys is one Txn of 1,000 ranges (default 128).

use std::path::PathBuf;

pub const HEARTBEAT_INTERVAL_MS: u64 = 100;
pub const ELECTION_TIMEOUT_MS: u64 = 1_000;
pub const SNAPSHOT_COUNT: u64 = 100_000;
pub const QUOTA_BACKEND_BYTES: u64 = 8 << 30;
/// The most operations one Txn may hold.
pub const MAX_TXN_OPS: usize = 1_024;

/// One member's identity, addresses and files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// `m1`, `m2`, `m3`.
    pub name: String,
    pub client_url: String,
    pub peer_url: String,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
}

/// Whether a member forms the cluster with the others or rejoins it on its existing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    New,
    Existing,
}

impl ClusterState {
    fn flag(self) -> &'static str {
        match self {
            ClusterState::New => "new",
            ClusterState::Existing => "existing",
        }
    }
}

/// `m1=http://127.0.0.1:P1,m2=...`: every member's peer URL.
pub fn initial_cluster(members: &[MemberSpec]) -> String {
    members.iter().map(|member| format!("{}={}", member.name, member.peer_url)).collect::<Vec<_>>().join(",")
}

/// The arguments of `etcd` for `member` of the cluster `initial_cluster` named by `token`.
pub fn member_args(member: &MemberSpec, initial_cluster: &str, token: &str, state: ClusterState) -> Vec<String> {
    let pairs = [
        ("--name", member.name.clone()),
        ("--data-dir", member.data_dir.display().to_string()),
        ("--listen-client-urls", member.client_url.clone()),
        ("--advertise-client-urls", member.client_url.clone()),
        ("--listen-peer-urls", member.peer_url.clone()),
        ("--initial-advertise-peer-urls", member.peer_url.clone()),
        ("--initial-cluster", initial_cluster.to_string()),
        ("--initial-cluster-state", state.flag().to_string()),
        ("--initial-cluster-token", token.to_string()),
        ("--heartbeat-interval", HEARTBEAT_INTERVAL_MS.to_string()),
        ("--election-timeout", ELECTION_TIMEOUT_MS.to_string()),
        ("--snapshot-count", SNAPSHOT_COUNT.to_string()),
        ("--quota-backend-bytes", QUOTA_BACKEND_BYTES.to_string()),
        ("--max-txn-ops", MAX_TXN_OPS.to_string()),
        // etcd 3.4 logs with capnslog unless asked for zap; stderr goes to the member's log file.
        ("--logger", "zap".to_string()),
        ("--log-outputs", "stderr".to_string()),
    ];
    pairs.into_iter().flat_map(|(flag, value)| [flag.to_string(), value]).collect()
}

/// What the report says about how etcd was configured.
pub fn settings() -> String {
    format!(
        "3 members on loopback; --heartbeat-interval {HEARTBEAT_INTERVAL_MS} ms and --election-timeout \
         {ELECTION_TIMEOUT_MS} ms (defaults), WAL fsync'd before every reply (3.4 cannot turn it off), \
         --snapshot-count {SNAPSHOT_COUNT} (default), --quota-backend-bytes {QUOTA_BACKEND_BYTES} (8 GiB), \
         --max-txn-ops {MAX_TXN_OPS}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(idx: usize) -> MemberSpec {
        MemberSpec {
            name: format!("m{idx}"),
            client_url: format!("http://127.0.0.1:{}", 2_000 + idx),
            peer_url: format!("http://127.0.0.1:{}", 3_000 + idx),
            data_dir: PathBuf::from(format!("/d/m{idx}")),
            log_path: PathBuf::from(format!("/d/m{idx}.log")),
        }
    }

    #[test]
    fn initial_cluster_names_every_peer() {
        assert_eq!(
            initial_cluster(&[spec(1), spec(2)]),
            "m1=http://127.0.0.1:3001,m2=http://127.0.0.1:3002".to_string()
        );
    }

    #[test]
    fn args_are_flag_value_pairs() {
        let args = member_args(&spec(1), "m1=x", "token", ClusterState::Existing);
        let value_of = |flag: &str| args.iter().position(|arg| arg == flag).map(|idx| args[idx + 1].as_str());
        assert_eq!(value_of("--initial-cluster-state"), Some("existing"));
        assert_eq!(value_of("--data-dir"), Some("/d/m1"));
        assert_eq!(value_of("--max-txn-ops"), Some("1024"));
        assert_eq!(value_of("--quota-backend-bytes"), Some("8589934592"));
        assert_eq!(args.len() % 2, 0);
    }
}
