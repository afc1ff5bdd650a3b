//! What the fuzz targets share: the secure example cluster (its partition map and access policy), built once.

use std::sync::LazyLock;

use dancu_cluster_config::{ClusterConfig, PartitionMap};
use dancu_node::citizen::CalendarDate;
use dancu_node::service::access::AccessPolicy;

/// `cluster-config/examples/local-3-secure.toml`: its roles are the ones a deployment starts from.
pub const SECURE_EXAMPLE: &str = include_str!("../../cluster-config/examples/local-3-secure.toml");

pub static SECURE_CONFIG: LazyLock<ClusterConfig> =
    LazyLock::new(|| ClusterConfig::from_toml_str(SECURE_EXAMPLE).expect("the secure example parses"));

pub static PARTITION_MAP: LazyLock<PartitionMap> =
    LazyLock::new(|| SECURE_CONFIG.partition_map().expect("the secure example has a partition map"));

/// The example's access policy without its quotas: at a fuzzer's rate every quota-bound caller would be refused
/// for its quota nearly always, and the checks behind admission would go unexercised for those roles.
pub static POLICY: LazyLock<AccessPolicy> = LazyLock::new(|| {
    let mut config = SECURE_CONFIG.clone();
    for role in &mut config.roles {
        role.requests_per_s = None;
        role.burst = None;
    }
    AccessPolicy::from_config(&config).expect("the secure example's roles compile")
});

/// A fixed "today", so a run is reproducible from its input alone.
pub const TODAY: CalendarDate = CalendarDate { year: 2026, month: 12, day: 7 };
