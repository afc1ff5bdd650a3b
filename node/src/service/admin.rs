//! `dancu.v1.Admin`: operator actions on one partition's group (snapshot + purge, leader transfer, voter
//! changes, failpoints). The consistency suite drives its admin faults through it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dancu_proto::v1 as pb;
use openraft::async_runtime::watch::WatchReceiver;
use tonic::{Request, Response, Status};

use crate::raft::groups::Groups;
use crate::service::errors::ApiError;

/// Longest an admin action waits for its effect (a snapshot built, a membership committed).
pub(super) const ADMIN_WAIT_MAX: Duration = Duration::from_secs(30);

pub struct AdminService {
    pub groups: Arc<Groups>,
}

fn stopped(error: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("raft group stopped: {error}"))
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminService {
    async fn trigger_snapshot(
        &self,
        request: Request<pb::TriggerSnapshotRequest>,
    ) -> Result<Response<pb::TriggerSnapshotResponse>, Status> {
        let group = self.groups.hosted(request.get_ref().partition_id)?;
        let applied = group.raft.metrics().borrow_watched().last_applied.map_or(0, |id| id.index);
        group.raft.trigger().snapshot().await.map_err(stopped)?;
        let metrics = group
            .raft
            .wait(Some(ADMIN_WAIT_MAX))
            .metrics(|m| m.snapshot.is_some_and(|id| id.index >= applied), "snapshot built")
            .await
            .map_err(|e| Status::deadline_exceeded(e.to_string()))?;
        let snapshot_index = metrics.snapshot.map_or(0, |id| id.index);
        group.raft.trigger().purge_log(snapshot_index).await.map_err(stopped)?;
        let purged_index = group.raft.metrics().borrow_watched().purged.map_or(0, |id| id.index);
        Ok(Response::new(pb::TriggerSnapshotResponse { snapshot_index, purged_index }))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::AdminResponse>, Status> {
        let request = request.into_inner();
        let group = self.groups.hosted(request.partition_id)?;
        if !group.spec.replicas.contains(&request.to_node) {
            return Err(ApiError::invalid("to_node", "not a replica of this partition").into());
        }
        let leader = group.raft.metrics().borrow_watched().current_leader;
        if leader != Some(self.groups.node_id) {
            return Err(ApiError::not_leader_of(&self.groups, group, leader).into());
        }
        group.raft.trigger().transfer_leader(request.to_node).await.map_err(stopped)?;
        Ok(Response::new(pb::AdminResponse { log_index: 0 }))
    }

    async fn change_voters(
        &self,
        request: Request<pb::ChangeVotersRequest>,
    ) -> Result<Response<pb::AdminResponse>, Status> {
        let request = request.into_inner();
        let group = self.groups.hosted(request.partition_id)?;
        let voters: BTreeSet<u64> = request.voters.iter().copied().collect();
        if voters.is_empty() || !voters.iter().all(|id| group.spec.replicas.contains(id)) {
            return Err(ApiError::invalid("voters", "must be a non-empty subset of the partition's replicas").into());
        }
        let change = tokio::time::timeout(ADMIN_WAIT_MAX, group.raft.change_membership(voters, true))
            .await
            .map_err(|_| Status::deadline_exceeded("membership change not committed in time"))?
            .map_err(|e| ApiError::from_write_error(&self.groups, group, e))?;
        Ok(Response::new(pb::AdminResponse { log_index: change.log_id.index }))
    }

    async fn readd_node(
        &self,
        request: Request<pb::ReaddNodeRequest>,
    ) -> Result<Response<pb::ReaddNodeResponse>, Status> {
        Ok(Response::new(self.readd(request.into_inner()).await?))
    }

    async fn failpoint_counts(
        &self,
        _request: Request<pb::FailpointCountsRequest>,
    ) -> Result<Response<pb::FailpointCountsResponse>, Status> {
        let fired = crate::failpoints::fired().into_iter().map(|(name, count)| (name.to_string(), count)).collect();
        Ok(Response::new(pb::FailpointCountsResponse { fired }))
    }

    async fn set_failpoint(
        &self,
        request: Request<pb::SetFailpointRequest>,
    ) -> Result<Response<pb::AdminResponse>, Status> {
        crate::failpoints::configure(&request.get_ref().name, &request.get_ref().actions)
            .map_err(Status::failed_precondition)?;
        Ok(Response::new(pb::AdminResponse { log_index: 0 }))
    }
}
