//! dancu's cluster topology: the TOML schema operators write, its validation, and the partition map derived
//! from it.
//!
//! A configuration names the nodes, the datacenters they sit in and which provinces each provincial datacenter
//! serves. From it every node derives the same [`PartitionMap`]: one partition per province code (split into
//! several contiguous ranges where `[[partitions.splits]]` says so), each with its replica set and preferred
//! leader (see [`ClusterConfig::partition_map`] for the placement rule). It also says who may do what: whether
//! connections are mutual TLS (`[tls]`), the `[[roles]]` with their operations, hidden fields, provinces, purposes
//! and quotas, and the `[[callers]]` (certificate identities) each role is granted to.
//!
//! Architecture invariant: this crate does no I/O except reading the file in [`ClusterConfig::load`], and the
//! partition map is a pure function of the configuration, so every node computes the same map.
//!
//! ```
//! use dancu_cluster_config::ClusterConfig;
//!
//! let config = ClusterConfig::from_toml_str(r#"
//!     [[nodes]]
//!     id = 1
//!     addr = "127.0.0.1:7101"
//!     dc = "local"
//!
//!     [[datacenters]]
//!     name = "local"
//!     kind = "central"
//!
//!     [partitions]
//!     replicas = 3
//! "#).unwrap();
//! // One node cannot hold three replicas: validation says where the problem is.
//! let errors = config.validate().unwrap_err();
//! assert_eq!(errors.to_string(), "partitions.replicas: 3 replicas need at least 3 nodes, found 1");
//! ```

#![warn(missing_docs)]

mod access;
mod audit;
mod error;
pub mod limits;
mod operation;
mod partition_map;
mod personal_id;
mod placement;
pub mod provinces;
mod schema;
mod validate;

use std::fmt;

pub use access::{CallerConfig, RoleConfig, TlsConfig, TlsMode, ANY_PURPOSE, CITIZEN_FIELDS};
pub use audit::AuditConfig;
pub use error::{ConfigError, ValidationError, ValidationErrors};
pub use operation::{Operation, UnknownOperation};
pub use partition_map::{PartitionMap, PartitionSpec, AUDIT_GROUP};
pub use schema::{
    ClusterConfig, DatacenterConfig, DatacenterKind, NodeConfig, PartitionsConfig, PlacementConfig, RaftConfig,
    SplitConfig,
};

/// A node's Raft id: non-zero and never reused.
pub type NodeId = u64;

/// A partition (one Raft group): province code number × 100 + split index.
///
/// Province 001 unsplit is `100`; province 079 split into three ranges is `7900`, `7901`, `7902`. The id is
/// stable as long as the province's split points are, and ordering ids orders their ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct PartitionId(pub u32);

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
