//! Incoming Raft RPCs (the internal `dancu.v1.Raft` service): each names its partition and is
//! handed to that group's openraft instance.

use std::sync::Arc;

use dancu_proto::v1 as pb;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::ReadPolicy;
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::identity::RandomId;
use crate::raft::codec;
use crate::raft::groups::Groups;
use crate::raft::types::{Snapshot, TypeConfig};
use crate::service::errors::ApiError;
use crate::storage::SnapshotFile;

/// Largest snapshot a node accepts from a peer.
const SNAPSHOT_BYTES_MAX: u64 = 64 * 1024 * 1024 * 1024;

pub struct RaftService {
    pub groups: Arc<Groups>,
    pub auditor: Arc<crate::audit::Auditor>,
}

fn malformed(error: std::io::Error) -> Status {
    Status::invalid_argument(format!("malformed raft message: {error}"))
}

fn fatal(error: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("raft group stopped: {error}"))
}

#[tonic::async_trait]
impl pb::raft_server::Raft for RaftService {
    async fn propose_audit(&self, request: Request<pb::AuditSegment>) -> Result<Response<pb::AuditGroupReply>, Status> {
        let group = self.groups.hosted(dancu_cluster_config::AUDIT_GROUP.0)?;
        let reply = crate::audit::shipper::propose_here(&self.groups, group, request.into_inner()).await;
        Ok(Response::new(reply))
    }

    async fn anchored_head(
        &self,
        request: Request<pb::AnchoredHeadRequest>,
    ) -> Result<Response<pb::AuditGroupReply>, Status> {
        let group = self.groups.hosted(dancu_cluster_config::AUDIT_GROUP.0)?;
        let reply = crate::audit::shipper::anchored_head_here(&self.groups, group, request.get_ref().node_id).await;
        Ok(Response::new(reply))
    }

    async fn flush_audit(
        &self,
        _request: Request<pb::FlushAuditRequest>,
    ) -> Result<Response<pb::FlushAuditResponse>, Status> {
        let shipped_seq = self.auditor.flush(crate::limits::AUDIT_FLUSH_WAIT).await?;
        Ok(Response::new(pb::FlushAuditResponse { shipped_seq }))
    }

    async fn append_entries(
        &self,
        request: Request<pb::AppendEntriesRequest>,
    ) -> Result<Response<pb::AppendEntriesResponse>, Status> {
        let request = request.into_inner();
        let group = self.groups.hosted(request.partition_id)?;
        let rpc = codec::append_request_from_pb(request).map_err(malformed)?;
        let response = group.raft.append_entries(rpc).await.map_err(fatal)?;
        Ok(Response::new(codec::append_response_to_pb(&response)))
    }

    async fn vote(&self, request: Request<pb::VoteRequest>) -> Result<Response<pb::VoteResponse>, Status> {
        let request = request.into_inner();
        let group = self.groups.hosted(request.partition_id)?;
        if let Some(reason) = self.groups.vote_refusal(request.leadership_transfer) {
            // An ordinary rejection (with this node's current vote), so the candidate simply counts one vote less.
            tracing::debug!(partition = request.partition_id, reason, "vote refused");
            let vote = group.raft.metrics().borrow_watched().vote;
            let refused = openraft::raft::VoteResponse::<TypeConfig>::new(vote, None, false);
            return Ok(Response::new(codec::vote_response_to_pb(&refused)));
        }
        let rpc = codec::vote_request_from_pb(&request).map_err(malformed)?;
        let response = if request.pre_vote { group.raft.pre_vote(rpc).await } else { group.raft.vote(rpc).await };
        let response = response.map_err(fatal)?;
        if response.vote_granted {
            self.groups.count_vote_granted();
        }
        Ok(Response::new(codec::vote_response_to_pb(&response)))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::SnapshotResponse>, Status> {
        let mut chunks = request.into_inner();
        let first = chunks.next().await.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))??;
        let group = self.groups.hosted(first.partition_id)?;
        let vote = codec::vote_from_pb(first.vote.as_ref()).map_err(malformed)?;
        let meta = codec::snapshot_meta_from_pb(first.meta.as_ref()).map_err(malformed)?;
        let path =
            self.groups.store.incoming_snapshot_path(group.spec.id).map_err(|e| Status::internal(e.to_string()))?;
        let received = receive_into(&path, first.data, &mut chunks).await;
        if let Err(status) = received {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(status);
        }
        let snapshot = Snapshot { meta, snapshot: SnapshotFile { path } };
        let response = group.raft.install_full_snapshot(vote, snapshot).await.map_err(fatal)?;
        Ok(Response::new(pb::SnapshotResponse { vote: Some(codec::vote_to_pb(&response.vote)) }))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderMessage>,
    ) -> Result<Response<pb::TransferLeaderReply>, Status> {
        let request = request.into_inner();
        let group = self.groups.hosted(request.partition_id)?;
        let from_leader = codec::vote_from_pb(request.from_leader.as_ref()).map_err(malformed)?;
        let last_log_id = codec::opt_log_id_from_pb(request.last_log_id.as_ref());
        let message = openraft::raft::TransferLeaderRequest::new(from_leader, request.to_node_id, last_log_id);
        let rejected = match group.raft.handle_transfer_leader(message).await.map_err(fatal)? {
            Ok(()) => String::new(),
            Err(refused) => refused.to_string(),
        };
        Ok(Response::new(pb::TransferLeaderReply { rejected }))
    }

    async fn read_index(
        &self,
        request: Request<pb::ReadIndexRequest>,
    ) -> Result<Response<pb::ReadIndexResponse>, Status> {
        let group = self.groups.hosted(request.get_ref().partition_id)?;
        let linearizer = group
            .raft
            .get_read_linearizer(ReadPolicy::ReadIndex)
            .await
            .map_err(|e| ApiError::from_read_error(&self.groups, group, e))?;
        let read_log_id = codec::log_id_to_pb(linearizer.read_log_id().log_id());
        Ok(Response::new(pb::ReadIndexResponse { read_log_id: Some(read_log_id) }))
    }

    async fn identify(&self, request: Request<pb::IdentifyRequest>) -> Result<Response<pb::IdentifyResponse>, Status> {
        let answer =
            self.groups.identity.answer_identify(request.get_ref()).await.map_err(|error| match error.kind() {
                std::io::ErrorKind::InvalidInput => Status::invalid_argument(error.to_string()),
                _ => Status::internal(error.to_string()),
            })?;
        Ok(Response::new(answer))
    }

    async fn confirm_member(
        &self,
        request: Request<pb::ConfirmMemberRequest>,
    ) -> Result<Response<pb::ConfirmMemberResponse>, Status> {
        let request = request.into_inner();
        let incarnation = RandomId::from_bytes(&request.incarnation)
            .ok_or_else(|| Status::invalid_argument("incarnation is not 16 bytes"))?;
        self.groups
            .identity
            .confirm_member(request.node_id, incarnation)
            .await
            .map_err(|error| Status::failed_precondition(error.to_string()))?;
        Ok(Response::new(pb::ConfirmMemberResponse {}))
    }
}

async fn receive_into(
    path: &std::path::Path,
    first_data: Vec<u8>,
    chunks: &mut Streaming<pb::SnapshotChunk>,
) -> Result<(), Status> {
    let io_error = |e: std::io::Error| Status::internal(format!("writing snapshot: {e}"));
    let mut file = tokio::fs::File::create(path).await.map_err(io_error)?;
    file.write_all(&first_data).await.map_err(io_error)?;
    let mut n_bytes = first_data.len() as u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        n_bytes += chunk.data.len() as u64;
        if n_bytes > SNAPSHOT_BYTES_MAX {
            return Err(Status::resource_exhausted("snapshot larger than the limit"));
        }
        file.write_all(&chunk.data).await.map_err(io_error)?;
    }
    file.sync_all().await.map_err(io_error)?;
    Ok(())
}
