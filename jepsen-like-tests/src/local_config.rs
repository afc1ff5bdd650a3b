//! The configuration of a generated local cluster: like `cluster-config/examples/local-3.toml` (one central
//! datacenter, 63 province partitions) with the nodes on the given loopback ports; and [`MutualTls`], what turns
//! such a configuration into a mutual-TLS one (the consistency suite's default).

use dancu_cluster_config::{
    CallerConfig, ClusterConfig, DatacenterConfig, DatacenterKind, NodeConfig, Operation, PartitionsConfig, RaftConfig,
    RoleConfig, TlsMode,
};

/// Name of the one datacenter of a generated cluster.
pub const LOCAL_DATACENTER: &str = "local";

/// Cluster name written into generated configurations, so their logs are told apart from a real cluster's.
pub const LOCAL_CLUSTER_NAME: &str = "dancu-local-harness";

/// A cluster of `ports.len()` nodes, ids 1, 2, … in port order, every partition with `replicas` replicas.
pub fn loopback_config(ports: &[u16], replicas: u8, raft: RaftConfig) -> ClusterConfig {
    let nodes = ports
        .iter()
        .zip(1u64..)
        .map(|(port, id)| NodeConfig {
            id,
            addr: format!("127.0.0.1:{port}"),
            dc: LOCAL_DATACENTER.to_string(),
            metrics_addr: None,
        })
        .collect();
    ClusterConfig {
        cluster_name: LOCAL_CLUSTER_NAME.to_string(),
        nodes,
        datacenters: vec![DatacenterConfig {
            name: LOCAL_DATACENTER.to_string(),
            kind: DatacenterKind::Central,
            provinces: Vec::new(),
        }],
        partitions: PartitionsConfig { replicas, ..PartitionsConfig::default() },
        raft,
        tls: Default::default(),
        roles: Vec::new(),
        callers: Vec::new(),
        audit: Default::default(),
    }
}

/// The purpose the consistency suite's clients name in every request; their role allows no other.
pub const SUITE_PURPOSE: &str = "consistency-audit";

/// The caller the suite's workload clients present (certificate `jepsen-workload.crt`): they read, write and
/// compare-and-set registers and read every key at the end, nothing else.
pub const SUITE_WORKLOAD_CALLER: &str = "jepsen-workload";

/// The caller the harness presents for its own calls: Status (any identified caller may) and the nemesis's Admin
/// calls (snapshots, leader transfers, voter changes, re-adds, failpoints).
pub const SUITE_OPERATOR_CALLER: &str = "jepsen-operator";

/// The operations the workload and the checker's final reads use: `get` (reads at every level), `batch-get` (the
/// client merges concurrent gets bound for one node into one `BatchGetCitizens`), `put` (writes, and
/// compare-and-set as a put with an expected revision).
const SUITE_WORKLOAD_OPERATIONS: [Operation; 3] = [Operation::Get, Operation::BatchGet, Operation::Put];

/// Mutual TLS for a cluster whose configuration the harness writes: `tls.mode = "mutual"`, these roles and callers
/// added, and the caller whose certificate the harness itself presents. See [`crate::ClusterSpec::mutual_tls`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutualTls {
    /// Added to the configuration's `[[roles]]`.
    pub roles: Vec<RoleConfig>,
    /// Added to the configuration's `[[callers]]`; each gets a certificate.
    pub callers: Vec<CallerConfig>,
    /// One of `callers`: the identity of the harness's Status calls (and of Admin calls made through
    /// [`crate::LocalCluster::channel`]).
    pub harness_caller: String,
}

impl MutualTls {
    /// The consistency suite's access rules: the workload's caller ([`SUITE_WORKLOAD_CALLER`]) may get,
    /// batch-get and put, for [`SUITE_PURPOSE`] only; the harness ([`SUITE_OPERATOR_CALLER`]) may use the Admin
    /// service and no data operation. No quotas: a quota refusal would be a failed operation the run did not cause.
    pub fn consistency_suite() -> MutualTls {
        let role = |name: &str, operations: &[Operation]| RoleConfig {
            name: name.to_string(),
            operations: operations.iter().map(|operation| operation.as_str().to_string()).collect(),
            hidden_fields: Vec::new(),
            provinces: Vec::new(),
            purposes: vec![SUITE_PURPOSE.to_string()],
            requests_per_s: None,
            burst: None,
        };
        let caller = |name: &str, role: &str| CallerConfig { name: name.to_string(), role: role.to_string() };
        MutualTls {
            roles: vec![
                role("consistency-workload", &SUITE_WORKLOAD_OPERATIONS),
                role("consistency-operator", &[Operation::Admin]),
            ],
            callers: vec![
                caller(SUITE_WORKLOAD_CALLER, "consistency-workload"),
                caller(SUITE_OPERATOR_CALLER, "consistency-operator"),
            ],
            harness_caller: SUITE_OPERATOR_CALLER.to_string(),
        }
    }

    /// `config` with `tls.mode = "mutual"` and these roles and callers added.
    pub fn apply(&self, config: &mut ClusterConfig) {
        config.tls.mode = TlsMode::Mutual;
        config.roles.extend(self.roles.iter().cloned());
        config.callers.extend(self.callers.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generates a config for `ports`, checks it validates, survives TOML and has the expected shape.
    fn check(ports: &[u16], replicas: u8, raft: RaftConfig) {
        let config = loopback_config(ports, replicas, raft.clone());
        config.validate().unwrap_or_else(|errors| panic!("generated config is invalid:\n{errors}"));
        let reparsed = ClusterConfig::from_toml_str(&config.to_toml_string()).unwrap();
        assert_eq!(reparsed, config);
        let addrs: Vec<_> = config.nodes.iter().map(|node| (node.id, node.addr.as_str())).collect();
        let expected: Vec<_> = ports.iter().zip(1u64..).map(|(port, id)| (id, format!("127.0.0.1:{port}"))).collect();
        let expected: Vec<_> = expected.iter().map(|(id, addr)| (*id, addr.as_str())).collect();
        assert_eq!(addrs, expected);
        assert_eq!(config.raft, raft);
        let map = config.partition_map().unwrap();
        assert_eq!(map.partitions.len(), 63);
        assert!(map.partitions.iter().all(|spec| spec.replicas.len() == usize::from(replicas)));
    }

    #[test]
    fn three_nodes_with_default_raft() {
        check(&[7101, 7102, 7103], 3, RaftConfig::default());
    }

    #[test]
    fn five_nodes_five_replicas_with_eager_snapshots() {
        let raft = RaftConfig { snapshot_logs_since_last: 20, max_in_snapshot_log_to_keep: 0, ..RaftConfig::default() };
        check(&[40001, 40002, 40003, 40004, 40005], 5, raft);
    }

    #[test]
    fn five_nodes_three_replicas_spread_leadership() {
        check(&[40001, 40002, 40003, 40004, 40005], 3, RaftConfig::default());
        let map = loopback_config(&[1, 2, 3, 4, 5], 3, RaftConfig::default()).partition_map().unwrap();
        for node in 1..=5 {
            assert!(map.partitions.iter().any(|spec| spec.preferred_leader == node), "node {node} leads nothing");
        }
    }

    #[test]
    fn the_suite_config_is_mutual_and_its_workload_may_only_get_and_put() {
        let mut config = loopback_config(&[7101, 7102, 7103], 3, RaftConfig::default());
        let suite = MutualTls::consistency_suite();
        suite.apply(&mut config);
        config.validate().unwrap_or_else(|errors| panic!("the suite's secure config is invalid:\n{errors}"));
        assert_eq!(ClusterConfig::from_toml_str(&config.to_toml_string()).unwrap(), config);
        assert!(config.requires_tls());
        let workload = config.role_of_caller(SUITE_WORKLOAD_CALLER).expect("the workload's role");
        assert_eq!(workload.operations(), SUITE_WORKLOAD_OPERATIONS.to_vec());
        assert!(workload.allows_purpose(SUITE_PURPOSE));
        assert!(!workload.allows_purpose("operator"));
        assert_eq!(workload.requests_per_s, None);
        let operator = config.role_of_caller(&suite.harness_caller).expect("the harness's role");
        assert_eq!(operator.operations(), vec![Operation::Admin]);
        assert!(config.caller(&suite.harness_caller).is_some());
    }
}
