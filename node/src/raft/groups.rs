//! The Raft groups this node hosts, keyed by partition id, and their safe bootstrap.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dancu_cluster_config::{ClusterConfig, NodeId, PartitionId, PartitionMap, PartitionSpec};
use openraft::BasicNode;

use crate::raft::group_config;
use crate::raft::network::{NetworkFactory, Peers};
use crate::raft::types::TypeConfig;
use crate::service::errors::ApiError;
use crate::storage::entry_cache::EntryCache;
use crate::storage::{StateMachine, Store};

pub type RaftHandle = openraft::Raft<TypeConfig, StateMachine>;

/// Longest a group may take to re-apply its committed log after a restart before serving.
const RECOVERY_WAIT_MAX: Duration = Duration::from_secs(30);

pub struct Group {
    pub spec: PartitionSpec,
    pub raft: RaftHandle,
    /// Set once the group has re-applied what it had committed before a restart (or the wait gave
    /// up). Until then local (stale) reads are refused, so a restart never serves an older state.
    pub recovered: Arc<AtomicBool>,
}

pub struct Groups {
    pub node_id: NodeId,
    pub config: ClusterConfig,
    pub partition_map: PartitionMap,
    pub store: Arc<Store>,
    pub peers: Arc<Peers>,
    groups: HashMap<PartitionId, Group>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("partition {0}: invalid raft configuration: {1}")]
    Config(u32, openraft::ConfigError),
    #[error("partition {0}: raft failed to start: {1}")]
    Raft(u32, String),
}

impl Groups {
    /// Creates (without bootstrapping) a Raft group for every partition placed on `node_id`.
    pub async fn start(
        node_id: NodeId,
        config: ClusterConfig,
        partition_map: PartitionMap,
        store: Arc<Store>,
    ) -> Result<Groups, StartError> {
        let peers = Arc::new(Peers::default());
        let mut groups = HashMap::new();
        for spec in partition_map.hosted_by(node_id) {
            let pid = spec.id;
            let raft_config =
                group_config(&config.cluster_name, pid, &config.raft).map_err(|e| StartError::Config(pid.0, e))?;
            let cache = Arc::new(EntryCache::default());
            let network = NetworkFactory { pid, peers: peers.clone(), cache: cache.clone() };
            let log_store = store.log_store(pid, cache.clone());
            let raft = RaftHandle::new(node_id, raft_config, network, log_store, store.state_machine(spec, cache))
                .await
                .map_err(|e| StartError::Raft(pid.0, e.to_string()))?;
            groups.insert(pid, Group { spec: spec.clone(), raft, recovered: Arc::new(AtomicBool::new(false)) });
        }
        Ok(Groups { node_id, config, partition_map, store, peers, groups })
    }

    pub fn get(&self, pid: PartitionId) -> Option<&Group> {
        self.groups.get(&pid)
    }

    /// The group for `partition_id`, or the error a caller can route on.
    pub fn hosted(&self, partition_id: u32) -> Result<&Group, ApiError> {
        self.get(PartitionId(partition_id)).ok_or_else(|| {
            let hint = self.partition_map.get(PartitionId(partition_id)).map(|spec| spec.preferred_leader);
            ApiError::PartitionNotHosted {
                partition_id,
                leader_id: hint,
                leader_addr: hint.and_then(|id| self.node_addr(id)).unwrap_or_default(),
            }
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn node_addr(&self, id: NodeId) -> Option<String> {
        self.config.node(id).map(|node| node.addr.clone())
    }

    /// Initializes the groups this node must bootstrap. Exactly one replica of a partition — its
    /// preferred leader, derived from the shared config — initializes it, and only while its log is
    /// empty, so two nodes can never each found a cluster. The founder campaigns first, so initial
    /// leadership follows the placement and spreads over the nodes.
    pub async fn bootstrap(&self) {
        for group in self.groups.values() {
            if group.spec.preferred_leader != self.node_id {
                continue;
            }
            match group.raft.is_initialized().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(partition = group.spec.id.0, %error, "cannot read initialization state");
                    continue;
                }
            }
            let members: BTreeMap<NodeId, BasicNode> = group
                .spec
                .replicas
                .iter()
                .filter_map(|id| self.node_addr(*id).map(|addr| (*id, BasicNode { addr })))
                .collect();
            if let Err(error) = group.raft.initialize(members).await {
                tracing::warn!(partition = group.spec.id.0, %error, "initialize refused");
            }
        }
    }

    /// Marks each group recovered once it has re-applied what it had committed before a restart.
    /// Runs in the background: recovery needs a leader, which may need this node's vote.
    pub fn watch_recovery(&self) {
        for group in self.groups.values() {
            let raft = group.raft.clone();
            let recovered = group.recovered.clone();
            let pid = group.spec.id.0;
            tokio::spawn(async move {
                if let Err(error) = raft.wait_for_recovery(Some(RECOVERY_WAIT_MAX)).await {
                    tracing::warn!(partition = pid, %error, "recovery wait ended early; serving local reads anyway");
                }
                recovered.store(true, Ordering::Release);
            });
        }
    }

    pub async fn shutdown(&self) {
        let stops = self.groups.values().map(|group| async move {
            if let Err(error) = group.raft.shutdown().await {
                tracing::warn!(partition = group.spec.id.0, %error, "raft shutdown failed");
            }
        });
        futures::future::join_all(stops).await;
    }
}
