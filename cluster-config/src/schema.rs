//! The TOML schema: what an operator writes. Unknown fields are errors, so a typo never silently becomes a default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{AuditConfig, CallerConfig, ConfigError, NodeId, RoleConfig, TlsConfig};

/// Path reported for configurations parsed from a string rather than a file.
const STRING_SOURCE_PATH: &str = "<string>";

/// A whole cluster: nodes, datacenters, partitioning, Raft tuning and access control.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Shown in logs and metrics; defaults to `"dancu"`.
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// `[[nodes]]`: every node of the cluster.
    pub nodes: Vec<NodeConfig>,
    /// `[[datacenters]]`: every datacenter a node may sit in.
    pub datacenters: Vec<DatacenterConfig>,
    /// `[partitions]`: replica count, splits and placement overrides.
    #[serde(default)]
    pub partitions: PartitionsConfig,
    /// `[raft]`: timing and log compaction.
    #[serde(default)]
    pub raft: RaftConfig,
    /// `[tls]`: plaintext or mutual TLS; plaintext when absent.
    #[serde(default, skip_serializing_if = "TlsConfig::is_default")]
    pub tls: TlsConfig,
    /// `[[roles]]`: what callers may do (mutual TLS only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleConfig>,
    /// `[[callers]]`: certificate identities and their roles (mutual TLS only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callers: Vec<CallerConfig>,
    /// `[audit]`: the access audit (off while being finished, ten years' retention).
    #[serde(default, skip_serializing_if = "AuditConfig::is_default")]
    pub audit: AuditConfig,
}

/// One node (`[[nodes]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Raft node id: non-zero, unique, never reused.
    pub id: NodeId,
    /// `host:port` of the node's gRPC server (public services and Raft).
    pub addr: String,
    /// Name of the datacenter the node sits in.
    pub dc: String,
    /// `host:port` of the node's metrics endpoint, if it serves one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<String>,
}

/// One datacenter (`[[datacenters]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatacenterConfig {
    /// Unique name that nodes refer to.
    pub name: String,
    /// Central (holds a replica of everything it can) or provincial (home of the provinces it serves).
    pub kind: DatacenterKind,
    /// Three-digit province codes whose partitions this datacenter is home to (provincial datacenters only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provinces: Vec<String>,
}

/// The role of a datacenter in placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatacenterKind {
    /// The national datacenter: gets the second replica of partitions with a home, the first of the others.
    Central,
    /// A datacenter that is home to the partitions of the provinces it lists.
    Provincial,
}

/// `[partitions]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartitionsConfig {
    /// Replicas per partition: 3 or 5.
    pub replicas: u8,
    /// `[[partitions.splits]]`: provinces cut into several ranges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<SplitConfig>,
    /// `[[partitions.placement]]`: partitions whose replicas are chosen by hand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<PlacementConfig>,
}

impl Default for PartitionsConfig {
    fn default() -> Self {
        PartitionsConfig { replicas: 3, splits: Vec::new(), placement: Vec::new() }
    }
}

/// One province cut into several ranges (`[[partitions.splits]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Three-digit province code.
    pub province: String,
    /// Split points: full 12-digit IDs inside the province's range, strictly increasing. Each starts a new range,
    /// so `k` points make `k + 1` partitions.
    pub at: Vec<String>,
}

/// A hand-chosen replica set for one partition (`[[partitions.placement]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementConfig {
    /// The partition id (e.g. `7901`).
    pub partition: u32,
    /// Exactly `partitions.replicas` distinct node ids.
    pub nodes: Vec<NodeId>,
    /// The node that should lead; the first of `nodes` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_leader: Option<NodeId>,
}

/// `[raft]`: defaults are tuned for one datacenter on a loaded 2-core machine. A follower campaigns once the dead
/// leader's lease (`election_timeout_ms_max`) and then its own randomized election timeout have passed without a
/// heartbeat (openraft: 600–800 ms with the defaults), so both bounds set failover time; openraft's own 150–300 ms
/// causes needless elections on a busy box. A (pre-)vote request times out after `election_timeout_ms_min`.
/// Across datacenters use longer values (examples/national.toml).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    /// Leader heartbeat period.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_ms_min: u64,
    /// Upper bound of the randomized election timeout (also bounds the leader lease).
    pub election_timeout_ms_max: u64,
    /// Build a snapshot after this many logs applied since the last one.
    pub snapshot_logs_since_last: u64,
    /// Logs kept behind the last snapshot, so lagging followers catch up without a snapshot.
    pub max_in_snapshot_log_to_keep: u64,
    /// The most any two nodes' clocks may differ in *rate*, in parts per million (default 20,000 = 2 %): the
    /// assumption lease reads rest on. A follower promises not to vote for `election_timeout_ms_max` after a
    /// heartbeat, counted on its own clock; the leader trusts its lease only for that time shortened by
    /// `(1 − drift) / (1 + drift)`, so a follower whose clock runs fast (within the bound) cannot vote early.
    pub max_clock_drift_ppm: u32,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            heartbeat_interval_ms: 100,
            election_timeout_ms_min: 200,
            election_timeout_ms_max: 400,
            snapshot_logs_since_last: 5000,
            max_in_snapshot_log_to_keep: 1000,
            max_clock_drift_ppm: 20_000,
        }
    }
}

fn default_cluster_name() -> String {
    "dancu".to_string()
}

impl ClusterConfig {
    /// Parses TOML without validating it; errors name the path `<string>`.
    pub fn from_toml_str(text: &str) -> Result<ClusterConfig, ConfigError> {
        parse(text, STRING_SOURCE_PATH)
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<ClusterConfig, ConfigError> {
        let path_text = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path_text.clone(), source })?;
        let config = parse(&text, &path_text)?;
        config.validate().map_err(|errors| ConfigError::Invalid { path: path_text, errors })?;
        Ok(config)
    }

    /// The node with this id, if any.
    pub fn node(&self, id: NodeId) -> Option<&NodeConfig> {
        self.nodes.iter().find(|node| node.id == id)
    }

    /// The configuration as TOML (for `config show`); parsing it back gives an equal configuration.
    pub fn to_toml_string(&self) -> String {
        // Every field is a string, integer, enum, table or array of tables, all of which TOML can express,
        // so failure here would be a bug in this schema, not bad input.
        toml::to_string(self).expect("the cluster configuration schema always serializes to TOML")
    }
}

fn parse(text: &str, path: &str) -> Result<ClusterConfig, ConfigError> {
    toml::from_str(text).map_err(|error| ConfigError::Parse {
        path: path.to_string(),
        message: error.to_string().trim_end().to_string(),
    })
}
