//! The read consistency levels: what must happen before a read may go to local RocksDB.

use dancu_proto::v1::{Consistency, ReadIndexRequest};
use openraft::async_runtime::watch::WatchReceiver;
use openraft::raft::linearizable_read::Linearizer;
use openraft::{LinearizerOption, ReadPolicy};

use crate::limits::{RAFT_RPC_TIMEOUT, READ_APPLY_WAIT_MAX};
use crate::raft::codec;
use crate::raft::groups::{Group, Groups};
use crate::raft::network::ConnectionClass;
use crate::raft::types::TypeConfig;
use crate::service::errors::ApiError;

/// The log position a read reflects.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadPoint {
    /// The index the linearizer required to be applied (0 for stale reads).
    pub read_index: u64,
    /// The index the local state machine had applied when the read was allowed.
    pub applied_index: u64,
}

/// Test-only switch for the consistency suite: when set, linearizable levels read locally on any
/// replica without the linearizer. The suite must catch the stale reads this produces.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadMode {
    pub skip_linearizer: bool,
}

pub async fn linearize(
    groups: &Groups,
    group: &Group,
    consistency: Consistency,
    mode: ReadMode,
) -> Result<ReadPoint, ApiError> {
    if mode.skip_linearizer {
        return Ok(stale(group));
    }
    let recovered = group.recovered.load(std::sync::atomic::Ordering::Acquire);
    if consistency == Consistency::Stale && !recovered {
        let founded = group.raft.metrics().borrow_watched().membership_config.membership().voter_ids().next().is_some();
        let message = if founded {
            "recovering after restart".to_string()
        } else {
            format!(
                "not founded yet: its founder, node {}, has not started in this cluster",
                group.spec.preferred_leader
            )
        };
        return Err(ApiError::NoQuorum { partition_id: group.spec.id.0, message });
    }
    match consistency {
        Consistency::Unspecified | Consistency::Linearizable => {
            // Lease first — shortened by the clock-drift bound — and when the lease is not fresh, one heartbeat round
            // shared by concurrent reads.
            let lease = groups.lease_read_age_max;
            on_leader(groups, group, LinearizerOption::new(Some(lease), true)).await
        }
        Consistency::ReadIndex => on_leader(groups, group, ReadPolicy::ReadIndex.into()).await,
        Consistency::Follower => follower(groups, group).await,
        Consistency::Stale => Ok(stale(group)),
    }
}

fn stale(group: &Group) -> ReadPoint {
    let applied_index = group.raft.metrics().borrow_watched().last_applied.map_or(0, |id| id.index);
    ReadPoint { read_index: 0, applied_index }
}

async fn on_leader(groups: &Groups, group: &Group, option: LinearizerOption) -> Result<ReadPoint, ApiError> {
    let linearizer =
        group.raft.get_read_linearizer(option).await.map_err(|e| ApiError::from_read_error(groups, group, e))?;
    await_applied(group, linearizer).await
}

async fn await_applied(group: &Group, linearizer: Linearizer<TypeConfig>) -> Result<ReadPoint, ApiError> {
    let read_index = linearizer.read_log_id().index();
    let ready = linearizer
        .try_await_ready(&group.raft, Some(READ_APPLY_WAIT_MAX))
        .await
        .map_err(|e| ApiError::NoQuorum { partition_id: group.spec.id.0, message: e.to_string() })?;
    match ready {
        Ok(state) => Ok(ReadPoint { read_index, applied_index: state.applied().map_or(read_index, |id| id.index) }),
        Err(_) => Err(ApiError::Deadline(format!("state machine did not reach read index {read_index}"))),
    }
}

/// Follower read: the leader names a read index, this replica waits until it has applied it.
async fn follower(groups: &Groups, group: &Group) -> Result<ReadPoint, ApiError> {
    let partition_id = group.spec.id.0;
    let leader = group.raft.metrics().borrow_watched().current_leader;
    let Some(leader) = leader else {
        return Err(ApiError::NoQuorum { partition_id, message: "no known leader".into() });
    };
    if leader == groups.node_id {
        return on_leader(groups, group, ReadPolicy::ReadIndex.into()).await;
    }
    let addr = groups
        .node_addr(leader)
        .ok_or_else(|| ApiError::NoQuorum { partition_id, message: format!("leader {leader} has no address") })?;
    let mut client = groups
        .peers
        .raft_client(&addr, ConnectionClass::Control)
        .map_err(|e| ApiError::NoQuorum { partition_id, message: e.to_string() })?;
    let mut request = tonic::Request::new(ReadIndexRequest { partition_id });
    request.set_timeout(RAFT_RPC_TIMEOUT);
    groups.identity.stamp(request.metadata_mut(), Some(leader));
    let reply = client.read_index(request).await.map_err(|status| ApiError::NoQuorum {
        partition_id,
        message: format!("leader {leader} could not give a read index: {}", status.message()),
    })?;
    let read_log_id = reply
        .into_inner()
        .read_log_id
        .ok_or_else(|| ApiError::NoQuorum { partition_id, message: "empty read index".into() })?;
    let read_log_id = openraft::raft::linearizable_read::ReadLogId::from_log_id(codec::log_id_from_pb(&read_log_id));
    let linearizer = Linearizer::new(groups.node_id, read_log_id, None);
    await_applied(group, linearizer).await
}
