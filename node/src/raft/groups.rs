//! The Raft groups this node hosts, keyed by partition id, and their safe bootstrap.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_cluster_config::{ClusterConfig, NodeId, PartitionId, PartitionMap, PartitionSpec};
use openraft::async_runtime::watch::WatchReceiver;
use openraft::BasicNode;

use crate::identity::Identity;
use crate::raft::network::{NetworkFactory, Peers};
use crate::raft::types::TypeConfig;
use crate::raft::{group_config, lease_read_age_max, restart_vote_quarantine};
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
    /// Leader changes this node saw since its start (`PartitionStatus.leader_changes`).
    pub leader_changes: Arc<AtomicU64>,
}

pub struct Groups {
    pub node_id: NodeId,
    pub config: ClusterConfig,
    pub partition_map: PartitionMap,
    pub store: Arc<Store>,
    pub peers: Arc<Peers>,
    pub identity: Arc<Identity>,
    groups: HashMap<PartitionId, Group>,
    /// The access audit's Raft group (`None` when the audit is off).
    audit_spec: Option<PartitionSpec>,
    /// When this process started its groups: votes are refused for a lease after it (see `vote_refusal`).
    started_at: Instant,
    /// How long after the start votes are refused; zero only with the test-only `--unsafe-early-votes`.
    vote_quarantine: Duration,
    /// The oldest quorum acknowledgement a lease read trusts (the lease shortened by the clock-drift bound).
    pub lease_read_age_max: Duration,
    /// (Pre-)votes granted since the start (`Status.votes_granted`).
    votes_granted: std::sync::atomic::AtomicU64,
}

/// How the groups of a node behave where tests need a switch.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupOptions {
    /// TEST ONLY: grant votes right after a restart (breaks the lease promise; the suite must catch it).
    pub unsafe_early_votes: bool,
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
        config: ClusterConfig,
        partition_map: PartitionMap,
        store: Arc<Store>,
        identity: Arc<Identity>,
        peers: Arc<Peers>,
        options: GroupOptions,
    ) -> Result<Groups, StartError> {
        let node_id = identity.node_id;
        let started_at = Instant::now();
        let mut groups = HashMap::new();
        let audit_spec = config.audit.enabled.then(|| config.audit_group());
        let hosted_audit = audit_spec.iter().filter(|spec| spec.replicas.contains(&node_id));
        for spec in partition_map.hosted_by(node_id).chain(hosted_audit) {
            let pid = spec.id;
            let raft_config =
                group_config(&config.cluster_name, pid, &config.raft).map_err(|e| StartError::Config(pid.0, e))?;
            let cache = Arc::new(EntryCache::default());
            let network =
                NetworkFactory { pid, peers: peers.clone(), identity: identity.clone(), cache: cache.clone() };
            let log_store = store.log_store(pid, cache.clone());
            let raft = RaftHandle::new(node_id, raft_config, network, log_store, store.state_machine(spec, cache))
                .await
                .map_err(|e| StartError::Raft(pid.0, e.to_string()))?;
            groups.insert(
                pid,
                Group {
                    spec: spec.clone(),
                    raft,
                    recovered: Arc::new(AtomicBool::new(false)),
                    leader_changes: Default::default(),
                },
            );
        }
        let vote_quarantine =
            if options.unsafe_early_votes { Duration::ZERO } else { restart_vote_quarantine(&config.raft) };
        let lease_read_age_max = lease_read_age_max(&config.raft);
        Ok(Groups {
            node_id,
            config,
            partition_map,
            store,
            peers,
            identity,
            groups,
            audit_spec,
            started_at,
            vote_quarantine,
            lease_read_age_max,
            votes_granted: Default::default(),
        })
    }

    pub fn count_vote_granted(&self) {
        self.votes_granted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn votes_granted(&self) -> u64 {
        self.votes_granted.load(Ordering::Relaxed)
    }

    /// Time since the groups started, by this process's monotonic clock.
    pub fn uptime(&self) -> Duration {
        self.started_at.elapsed()
    }

    /// Why this node must not grant a vote now, if it must not. A follower promised the leader it would not
    /// vote for a lease after each heartbeat (the leader's lease reads rely on it); a restart forgets when the
    /// last heartbeat came, so the promise is kept by refusing every vote for a lease after the start. A node
    /// that came back with an empty data dir votes for nobody until it is re-added. A leadership transfer is
    /// the leader's own request, so the lease does not stand in its way.
    pub fn vote_refusal(&self, leadership_transfer: bool) -> Option<String> {
        if self.identity.awaiting_readd() {
            return Some(format!("node {} awaits its re-add: it grants no votes", self.node_id));
        }
        let since_start = self.started_at.elapsed();
        if !leadership_transfer && since_start < self.vote_quarantine {
            return Some(format!(
                "node {} restarted {} ms ago: no votes within {} ms of a start (the lease it may have promised)",
                self.node_id,
                since_start.as_millis(),
                self.vote_quarantine.as_millis()
            ));
        }
        None
    }

    /// The access audit's Raft group as configured (`None` when the audit is off).
    pub fn audit_spec(&self) -> Option<&PartitionSpec> {
        self.audit_spec.as_ref()
    }

    /// A partition's or the audit group's spec.
    pub fn spec(&self, pid: PartitionId) -> Option<&PartitionSpec> {
        self.partition_map.get(pid).or_else(|| self.audit_spec.as_ref().filter(|spec| spec.id == pid))
    }

    /// Every group of the cluster: the partitions, then the audit group.
    pub fn all_specs(&self) -> impl Iterator<Item = &PartitionSpec> {
        self.partition_map.partitions.iter().chain(self.audit_spec.iter())
    }

    pub fn get(&self, pid: PartitionId) -> Option<&Group> {
        self.groups.get(&pid)
    }

    /// The group for `partition_id`, or the error a caller can route on.
    pub fn hosted(&self, partition_id: u32) -> Result<&Group, ApiError> {
        self.get(PartitionId(partition_id)).ok_or_else(|| {
            let hint = self.spec(PartitionId(partition_id)).map(|spec| spec.preferred_leader);
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
        if self.identity.awaiting_readd() {
            tracing::warn!(node = self.node_id, "awaiting re-add: founding no group");
            return;
        }
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

    /// Counts each group's leader changes (a different leader, or a new term with a leader) and logs them: under
    /// load in a healthy cluster there should be none, so each one is worth an operator's look.
    pub fn watch_leaders(&self) {
        for group in self.groups.values() {
            let mut metrics = group.raft.metrics();
            let changes = group.leader_changes.clone();
            let pid = group.spec.id.0;
            tokio::spawn(async move {
                let mut known: Option<(u64, NodeId)> = None;
                loop {
                    let (term, leader) = {
                        let now = metrics.borrow_watched();
                        (now.current_term, now.current_leader)
                    };
                    if let Some(leader) = leader {
                        if let Some((was_term, was_leader)) = known.filter(|&known| known != (term, leader)) {
                            changes.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(partition = pid, was_leader, was_term, leader, term, "leader changed");
                        }
                        known = Some((term, leader));
                    }
                    if metrics.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    /// Sum of the groups' leader changes.
    pub fn leader_changes(&self) -> u64 {
        self.groups.values().map(|group| group.leader_changes.load(Ordering::Relaxed)).sum()
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
