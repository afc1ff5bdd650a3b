//! Scatter-gather: run a query's per-partition parts where they may run, and gather the answers.
//!
//! A part runs locally when this node may serve its partition at the requested consistency (it
//! leads it, or the level allows any replica); otherwise it is forwarded to the partition's leader
//! as one sub-request per node naming its partitions explicitly (`partition_ids`). A node never
//! forwards an explicit sub-request again, so forwarding is one hop. The gathered answer is not a
//! cross-partition snapshot: each part is linearizable on its own (DESIGN.md).

use std::collections::BTreeMap;
use std::future::Future;

use dancu_cluster_config::PartitionId;
use dancu_proto::v1::Consistency;
use openraft::async_runtime::watch::WatchReceiver;
use tonic::Status;

use crate::raft::network::ConnectionClass;
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::RegistryService;

/// Where the parts of one query run.
#[derive(Debug, Default)]
pub struct Plan {
    pub local: Vec<PartitionId>,
    /// Leader address → the partitions it is asked to serve.
    pub forwarded: BTreeMap<String, Vec<u32>>,
    /// Partitions left out because their province is outside the caller's scope (the reply lists them).
    pub out_of_scope: Vec<u32>,
}

impl RegistryService {
    /// Plans a query over `candidates`. `requested` (the request's `partition_ids`) non-empty means the
    /// caller already routed: those partitions run here or fail with NOT_LEADER.
    pub(super) fn plan(
        &self,
        caller: &Caller,
        requested: &[u32],
        candidates: impl Iterator<Item = PartitionId>,
        consistency: Consistency,
    ) -> Result<Plan, ApiError> {
        let mut plan = Plan::default();
        if !requested.is_empty() {
            for &pid in requested {
                let Some(spec) = self.groups.partition_map.get(PartitionId(pid)) else {
                    return Err(ApiError::invalid("partition_ids", format!("no partition {pid}")));
                };
                if caller.role().in_scope(&spec.province_code) {
                    plan.local.push(PartitionId(pid));
                } else {
                    plan.out_of_scope.push(pid);
                }
            }
            return Ok(plan);
        }
        let any_replica = matches!(consistency, Consistency::Follower | Consistency::Stale);
        for pid in candidates {
            let in_scope =
                self.groups.partition_map.get(pid).is_some_and(|spec| caller.role().in_scope(&spec.province_code));
            if !in_scope {
                plan.out_of_scope.push(pid.0);
                continue;
            }
            let leader = match self.groups.get(pid) {
                Some(_) if any_replica => {
                    plan.local.push(pid);
                    continue;
                }
                Some(group) => group.raft.metrics().borrow_watched().current_leader,
                None => self.groups.partition_map.get(pid).map(|spec| spec.preferred_leader),
            };
            match leader {
                Some(leader) if leader == self.groups.node_id => plan.local.push(pid),
                Some(leader) => {
                    let addr = self.groups.node_addr(leader).ok_or_else(|| ApiError::NoQuorum {
                        partition_id: pid.0,
                        message: format!("leader {leader} has no known address"),
                    })?;
                    plan.forwarded.entry(addr).or_default().push(pid.0);
                }
                None => {
                    return Err(ApiError::NoQuorum { partition_id: pid.0, message: "no known leader".into() });
                }
            }
        }
        Ok(plan)
    }

    /// Runs `local` for every local partition and `forward` once per other node, concurrently.
    pub(super) async fn scatter<T, L, LF, F, FF>(&self, plan: Plan, local: L, forward: F) -> Result<Vec<T>, ApiError>
    where
        L: Fn(PartitionId) -> LF,
        LF: Future<Output = Result<T, ApiError>>,
        F: Fn(tonic::transport::Channel, Vec<u32>) -> FF,
        FF: Future<Output = Result<T, Status>>,
    {
        let locals = futures::future::try_join_all(plan.local.into_iter().map(local));
        let forwards = plan.forwarded.into_iter().map(|(addr, pids)| {
            let channel = self.groups.peers.channel(&addr, ConnectionClass::Forward);
            let forward = &forward;
            async move {
                let channel = channel.map_err(|error| ApiError::NoQuorum {
                    partition_id: pids.first().copied().unwrap_or_default(),
                    message: format!("no channel to {addr}: {error}"),
                })?;
                forward(channel, pids).await.map_err(ApiError::Forwarded)
            }
        });
        let (mut parts, forwarded) = futures::future::try_join(locals, futures::future::try_join_all(forwards)).await?;
        parts.extend(forwarded);
        Ok(parts)
    }
}
