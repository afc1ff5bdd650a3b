//! The configuration of a generated local cluster: like `cluster-config/examples/local-3.toml` (one central
//! datacenter, 63 province partitions) with the nodes on the given loopback ports.

use dancu_cluster_config::{ClusterConfig, DatacenterConfig, DatacenterKind, NodeConfig, PartitionsConfig, RaftConfig};

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
}
