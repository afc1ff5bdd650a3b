//! Re-adding a node that came back with an empty data dir (`Admin/ReaddNode`, `dancuctl node re-add N`).
//!
//! Such a node refuses to vote until this is done (see `identity`). In every partition it replicates, the leader
//! removes it from the membership and adds it back as a learner (a member remove + add, so the leader forgets what it
//! had acknowledged before), waits until its log has caught up with the leader's, and promotes it to voter; the
//! node then holds every acknowledged write again, so its votes are safe. Last, every node accepts its new
//! incarnation (the node itself last, which ends its wait). Each step is idempotent, so a failed re-add is re-run.

use std::collections::{BTreeMap, BTreeSet};

use dancu_cluster_config::{NodeId, PartitionId};
use dancu_proto::v1 as pb;
use dancu_proto::v1::admin_client::AdminClient;
use dancu_proto::v1::raft_client::RaftClient;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::{BasicNode, ChangeMembers};
use tonic::Status;

use crate::raft::network::ConnectionClass;
use crate::service::admin::{AdminService, ADMIN_WAIT_MAX};
use crate::service::errors::ApiError;

/// Attempts to reach a partition's leader (a leader change in between sends us on).
const LEADER_ATTEMPTS_MAX: usize = 5;

impl AdminService {
    pub(super) async fn readd(&self, request: pb::ReaddNodeRequest) -> Result<pb::ReaddNodeResponse, Status> {
        let node = request.node_id;
        if self.groups.config.node(node).is_none() {
            return Err(ApiError::invalid("node_id", format!("node {node} is not in the configuration")).into());
        }
        let mut partitions = Vec::new();
        if !request.partition_ids.is_empty() {
            for pid in request.partition_ids {
                if self.readd_in(PartitionId(pid), node).await? {
                    partitions.push(pid);
                }
            }
            return Ok(pb::ReaddNodeResponse { partitions });
        }
        let identity = self.identify(node).await?;
        if !identity.awaiting_readd {
            tracing::info!(node, "node does not await a re-add: nothing to do");
            return Ok(pb::ReaddNodeResponse { partitions });
        }
        let specs: Vec<PartitionId> =
            self.groups.all_specs().filter(|spec| spec.replicas.contains(&node)).map(|spec| spec.id).collect();
        for pid in specs {
            if self.readd_on_leader(pid, node).await? {
                partitions.push(pid.0);
            }
        }
        let mut others: Vec<NodeId> =
            self.groups.config.nodes.iter().map(|peer| peer.id).filter(|id| *id != node).collect();
        others.push(node);
        for peer in others {
            self.confirm(peer, node, &identity.incarnation).await?;
        }
        tracing::info!(node, n_partitions = partitions.len(), "node re-added");
        Ok(pb::ReaddNodeResponse { partitions })
    }

    /// The node's own answer to "who are you" (its incarnation); it must belong to this cluster.
    async fn identify(&self, node: NodeId) -> Result<pb::IdentifyResponse, Status> {
        let addr = self.node_addr(node)?;
        let mut client =
            RaftClient::new(self.groups.peers.channel(&addr, ConnectionClass::Control).map_err(unreachable(node))?);
        let mut request = tonic::Request::new(pb::IdentifyRequest {
            node_id: self.groups.node_id,
            incarnation: self.groups.identity.incarnation.0.to_vec(),
        });
        request.set_timeout(ADMIN_WAIT_MAX);
        let answer = client.identify(request).await?.into_inner();
        if answer.cluster_id != self.groups.identity.cluster_id.0 || answer.node_id != node {
            return Err(Status::failed_precondition(format!("the node at {addr} is not node {node} of this cluster")));
        }
        Ok(answer)
    }

    async fn confirm(&self, peer: NodeId, node: NodeId, incarnation: &[u8]) -> Result<(), Status> {
        if peer == self.groups.node_id {
            let incarnation = crate::identity::RandomId::from_bytes(incarnation)
                .ok_or_else(|| Status::internal("incarnation is not 16 bytes"))?;
            return self
                .groups
                .identity
                .confirm_member(node, incarnation)
                .await
                .map_err(|error| Status::internal(error.to_string()));
        }
        let addr = self.node_addr(peer)?;
        let mut client =
            RaftClient::new(self.groups.peers.channel(&addr, ConnectionClass::Control).map_err(unreachable(peer))?);
        let mut request =
            tonic::Request::new(pb::ConfirmMemberRequest { node_id: node, incarnation: incarnation.to_vec() });
        request.set_timeout(ADMIN_WAIT_MAX);
        self.groups.identity.stamp(request.metadata_mut(), Some(peer));
        client.confirm_member(request).await?;
        Ok(())
    }

    /// Re-adds `node` in `pid` on the partition's leader: here, or forwarded there.
    async fn readd_on_leader(&self, pid: PartitionId, node: NodeId) -> Result<bool, Status> {
        let mut leader = self.leader_of(pid);
        for _ in 0..LEADER_ATTEMPTS_MAX {
            let Some(target) = leader else {
                return Err(ApiError::NoQuorum { partition_id: pid.0, message: "no known leader".into() }.into());
            };
            if target == self.groups.node_id {
                return self.readd_in(pid, node).await;
            }
            let addr = self.node_addr(target)?;
            let mut client = AdminClient::new(
                self.groups.peers.channel(&addr, ConnectionClass::Control).map_err(unreachable(target))?,
            );
            let mut request = tonic::Request::new(pb::ReaddNodeRequest { node_id: node, partition_ids: vec![pid.0] });
            request.set_timeout(ADMIN_WAIT_MAX);
            self.groups.identity.stamp(request.metadata_mut(), Some(target));
            match client.readd_node(request).await {
                Ok(reply) => return Ok(!reply.into_inner().partitions.is_empty()),
                Err(status) => match leader_hint(&status) {
                    Some(hint) if hint != target => leader = Some(hint),
                    _ => return Err(status),
                },
            }
        }
        Err(ApiError::NoQuorum { partition_id: pid.0, message: "leadership kept moving".into() }.into())
    }

    /// On the leader of `pid`: take `node` out of the membership, add it back as a learner, wait until it has
    /// caught up, promote it to voter. Removing it entirely, not only demoting it, drops the leader's record of
    /// what it had acknowledged before its disk was lost, so replication starts over from the beginning (or a
    /// snapshot) instead of probing for entries the node no longer has.
    async fn readd_in(&self, pid: PartitionId, node: NodeId) -> Result<bool, Status> {
        let group = self.groups.hosted(pid.0)?;
        let metrics = group.raft.metrics().borrow_watched().clone();
        if metrics.current_leader != Some(self.groups.node_id) {
            return Err(ApiError::not_leader_of(&self.groups, group, metrics.current_leader).into());
        }
        if node == self.groups.node_id {
            // A node that leads has been voted for with its log as it is: nothing to re-add.
            return Ok(false);
        }
        let write_error = |error| Status::from(ApiError::from_write_error(&self.groups, group, error));
        let membership = metrics.membership_config.membership().clone();
        if membership.voter_ids().any(|id| id == node) {
            let remove = group.raft.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([node])), false);
            bounded(remove).await?.map_err(write_error)?;
        } else if membership.learner_ids().any(|id| id == node) {
            let remove = group.raft.change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([node])), false);
            bounded(remove).await?.map_err(write_error)?;
        }
        let addr = self.node_addr(node)?;
        let add =
            group.raft.change_membership(ChangeMembers::AddNodes(BTreeMap::from([(node, BasicNode { addr })])), false);
        bounded(add).await?.map_err(write_error)?;
        let target = group.raft.metrics().borrow_watched().last_log_index.unwrap_or(0);
        group
            .raft
            .wait(Some(ADMIN_WAIT_MAX))
            .metrics(
                |m| {
                    let matched = m.replication.as_ref().and_then(|r| r.get(&node).cloned().flatten());
                    matched.is_some_and(|id| id.index >= target)
                },
                "re-added node caught up",
            )
            .await
            .map_err(|error| Status::deadline_exceeded(format!("node {node} did not catch up: {error}")))?;
        let promote = group.raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node])), false);
        bounded(promote).await?.map_err(write_error)?;
        tracing::info!(partition = pid.0, node, "re-added as voter");
        Ok(true)
    }

    fn leader_of(&self, pid: PartitionId) -> Option<NodeId> {
        let local = self.groups.get(pid).and_then(|group| group.raft.metrics().borrow_watched().current_leader);
        local.or_else(|| self.groups.spec(pid).map(|spec| spec.preferred_leader))
    }

    fn node_addr(&self, node: NodeId) -> Result<String, Status> {
        self.groups.node_addr(node).ok_or_else(|| Status::invalid_argument(format!("node {node} has no address")))
    }
}

async fn bounded<T>(future: impl std::future::Future<Output = T>) -> Result<T, Status> {
    tokio::time::timeout(ADMIN_WAIT_MAX, future)
        .await
        .map_err(|_| Status::deadline_exceeded("membership change not committed in time"))
}

fn unreachable(node: NodeId) -> impl FnOnce(tonic::transport::Error) -> Status {
    move |error| Status::unavailable(format!("no channel to node {node}: {error}"))
}

/// The leader a NOT_LEADER refusal names.
fn leader_hint(status: &Status) -> Option<NodeId> {
    let detail = <pb::ErrorDetail as prost::Message>::decode(status.details()).ok()?;
    (detail.reason == pb::ErrorReason::NotLeader as i32).then_some(detail.leader_id).flatten()
}
