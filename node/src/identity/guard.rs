//! The server side of cluster identity: every request that names a cluster must name this node's, and every Raft
//! message must name one, before any service or Raft group sees it.
//!
//! Public services (Registry, Admin) accept requests without the header (grpcurl, Python and other plain gRPC
//! clients do not know it); `dancu-client` and forwarding nodes always send it. `Raft/Identify` is the one Raft
//! call without it: a joining node asks it to learn the id.

use std::sync::Arc;

use dancu_proto::v1::{ErrorDetail, ErrorReason};
use dancu_proto::Message;
use tonic::codegen::http;
use tonic::{Code, Status};

use super::peer_health::PeerState;
use super::TO_NODE_HEADER;
use super::{Identity, IncarnationCheck, RandomId, CLUSTER_ID_HEADER, FROM_NODE_HEADER, INCARNATION_HEADER};

const RAFT_PREFIX: &str = "/dancu.v1.Raft/";
pub const IDENTIFY_PATH: &str = "/dancu.v1.Raft/Identify";
const VOTE_PATH: &str = "/dancu.v1.Raft/Vote";

/// The cluster check in front of every service of the node (a [`crate::gate::Check`]).
#[derive(Clone)]
pub struct ClusterCheck(pub Arc<Identity>);

impl crate::gate::Check for ClusterCheck {
    fn check(&self, path: &str, _extensions: &http::Extensions, headers: &http::HeaderMap) -> Result<(), Status> {
        check(&self.0, path, headers).map_err(|refusal| refusal.status(&self.0))
    }
}

/// Why a request is refused before it reaches its service.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    ForeignCluster {
        from_node: Option<u64>,
        cluster: String,
    },
    MissingClusterId,
    WrongNode {
        to: String,
    },
    /// A vote from a peer that came back with a new data dir and has not been re-added.
    UnconfirmedVoter {
        from_node: u64,
    },
}

impl Refusal {
    fn status(&self, identity: &Identity) -> Status {
        let (code, message) = match self {
            Refusal::ForeignCluster { from_node, cluster } => (
                Code::FailedPrecondition,
                format!(
                    "cluster id mismatch: the request is for cluster {cluster} (from node {}), this is node {} of \
                     cluster {}",
                    from_node.map_or_else(|| "?".to_string(), |id| id.to_string()),
                    identity.node_id,
                    identity.cluster_id
                ),
            ),
            Refusal::MissingClusterId => {
                (Code::FailedPrecondition, format!("Raft messages must carry {CLUSTER_ID_HEADER}"))
            }
            Refusal::WrongNode { to } => (
                Code::FailedPrecondition,
                format!("message for node {to} reached node {} (address configured twice?)", identity.node_id),
            ),
            Refusal::UnconfirmedVoter { from_node } => (
                Code::FailedPrecondition,
                format!("node {from_node} came back with a new data dir: no votes until it is re-added"),
            ),
        };
        let detail = ErrorDetail {
            reason: ErrorReason::ClusterMismatch as i32,
            cluster_id: identity.cluster_id.to_string(),
            ..Default::default()
        };
        Status::with_details(code, message, detail.encode_to_vec().into())
    }
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The check itself, apart from the service plumbing.
pub fn check(identity: &Identity, path: &str, headers: &http::HeaderMap) -> Result<(), Refusal> {
    if path == IDENTIFY_PATH {
        return Ok(());
    }
    let is_raft = path.starts_with(RAFT_PREFIX);
    let from_node = header(headers, FROM_NODE_HEADER).and_then(|text| text.parse::<u64>().ok());
    match header(headers, CLUSTER_ID_HEADER) {
        None if is_raft => return Err(Refusal::MissingClusterId),
        None => return Ok(()),
        Some(claimed) if RandomId::parse_hex(claimed) != Some(identity.cluster_id) => {
            if let (Some(node), Some(foreign)) = (from_node, RandomId::parse_hex(claimed)) {
                if identity.peer_health.record_foreign(node, foreign) {
                    tracing::warn!(peer = node, foreign_cluster = %foreign, path, "refused a request of another cluster");
                }
            }
            return Err(Refusal::ForeignCluster { from_node, cluster: claimed.to_string() });
        }
        Some(_) => {}
    }
    if let Some(to) = header(headers, TO_NODE_HEADER) {
        if to.parse::<u64>().ok() != Some(identity.node_id) {
            return Err(Refusal::WrongNode { to: to.to_string() });
        }
    }
    let incarnation = header(headers, INCARNATION_HEADER).and_then(RandomId::parse_hex);
    if let (Some(node), Some(incarnation)) = (from_node, incarnation) {
        identity.peer_health.record(node, PeerState::Ok);
        let observed = identity.observe_incarnation(node, incarnation);
        if observed == IncarnationCheck::Changed && path == VOTE_PATH {
            return Err(Refusal::UnconfirmedVoter { from_node: node });
        }
    }
    Ok(())
}
