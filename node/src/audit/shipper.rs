//! Ships a node's local chain to the audit group in sealed, signed segments; the audit group's side of it (a
//! proposal, a node's anchored head) on its leader; retention pruning.

use std::sync::Arc;
use std::time::Duration;

use dancu_cluster_config::AUDIT_GROUP;
use dancu_proto::audit_chain;
use dancu_proto::v1 as pb;
use dancu_proto::v1::Consistency;
use dancu_proto::Message;
use openraft::async_runtime::watch::WatchReceiver;

use crate::audit::Auditor;
use crate::limits::{
    AUDIT_SEGMENT_BYTES_MAX, AUDIT_SEGMENT_RECORDS_MAX, AUDIT_SHIP_INTERVAL, RAFT_RPC_TIMEOUT, WRITE_WAIT_DEFAULT,
};
use crate::raft::groups::{Group, Groups};
use crate::raft::network::ConnectionClass;
use crate::raft::types::{ApplyOutcome, Request as RaftRequest};
use crate::service::audit::now_unix_us;
use crate::service::errors::ApiError;
use crate::service::linearizer::{linearize, ReadMode};
use crate::storage::AuditLog;

/// Records kept per local prune round (the rest go with the next round).
const PRUNE_BATCH_RECORDS: usize = 100_000;

/// Why a ship did not anchor.
enum ShipError {
    /// The node's chain and the anchored one disagree: retrying cannot help.
    Conflict(String),
    /// The audit group could not be reached or has no leader: retry.
    Failed(String),
}

/// Starts the node's shipper and pruner.
pub fn spawn(auditor: Arc<Auditor>, groups: Arc<Groups>, retention: Duration) {
    let Some(log) = auditor.log().cloned() else {
        return;
    };
    tokio::spawn(async move {
        let mut shipper = Shipper { auditor, groups, log, anchored: None, leader_hint: None };
        let prune_every = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut last_prune = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(AUDIT_SHIP_INTERVAL) => {}
                () = shipper.auditor.flush.notified() => {}
            }
            if shipper.auditor.lock().conflict.is_some() {
                continue;
            }
            loop {
                match shipper.ship_once().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(ShipError::Conflict(reason)) => shipper.auditor.conflict(reason),
                    Err(ShipError::Failed(error)) => {
                        shipper.anchored = None;
                        shipper.auditor.ship_failed(error);
                    }
                }
                break;
            }
            if last_prune.elapsed() >= prune_every {
                last_prune = tokio::time::Instant::now();
                shipper.prune(retention).await;
            }
        }
    });
}

struct Shipper {
    auditor: Arc<Auditor>,
    groups: Arc<Groups>,
    log: Arc<AuditLog>,
    /// This node's anchored head as the audit group last said (`None`: ask again).
    anchored: Option<pb::AuditHead>,
    leader_hint: Option<u64>,
}

impl Shipper {
    /// Ships one segment; `true` when more records wait.
    async fn ship_once(&mut self) -> Result<bool, ShipError> {
        let node = self.groups.node_id;
        let anchored = match &self.anchored {
            Some(anchored) => anchored.clone(),
            None => {
                let anchored = self.ask(Ask::Head(node)).await?.anchored.unwrap_or_default();
                let anchored = if anchored.hash.is_empty() {
                    pb::AuditHead { seq: 0, hash: audit_chain::GENESIS.to_vec() }
                } else {
                    anchored
                };
                self.log.adopt(anchored.clone()).map_err(|e| ShipError::Failed(e.to_string()))?;
                self.anchored = Some(anchored.clone());
                anchored
            }
        };
        let Some(chain) = self.log.chain() else {
            return Err(ShipError::Failed("the local chain is not based yet".into()));
        };
        let local_head = chain.head.unwrap_or_default();
        if local_head.seq < anchored.seq {
            return Err(ShipError::Conflict(format!(
                "the local audit store ends at seq {} but the audit group anchored node {node}'s chain through {} \
                 (restored from an old copy?)",
                local_head.seq, anchored.seq
            )));
        }
        if local_head.seq == anchored.seq {
            let _ = self.log.mark_shipped(anchored.seq);
            self.auditor.shipped(anchored.seq, local_head.seq);
            return Ok(false);
        }
        let items = self
            .log
            .read(anchored.seq + 1, AUDIT_SEGMENT_RECORDS_MAX)
            .map_err(|e| ShipError::Failed(format!("reading the local audit store: {e}")))?;
        let mut records = Vec::with_capacity(items.len());
        let mut hash = anchored.hash.clone();
        let mut bytes = 0;
        for (expected, (seq, record)) in (anchored.seq + 1..).zip(items) {
            if seq != expected {
                return Err(ShipError::Conflict(format!("the local audit store lacks record {expected}")));
            }
            if bytes + record.len() > AUDIT_SEGMENT_BYTES_MAX && !records.is_empty() {
                break;
            }
            bytes += record.len();
            hash = audit_chain::next_hash(&hash, &record).to_vec();
            records.push(record);
        }
        let Some(last) = records.last() else {
            return Ok(false);
        };
        let last_seq = anchored.seq + records.len() as u64;
        let time = pb::AuditRecord::decode(last.as_slice()).map_or(now_unix_us(), |record| record.time_unix_us);
        let checkpoint = self.log.signing_key().checkpoint(node, last_seq, &hash, time);
        let segment = pb::AuditSegment {
            node_id: node,
            first_seq: anchored.seq + 1,
            prev_hash: anchored.hash.clone(),
            records,
            checkpoint: Some(checkpoint),
            incarnation: self.groups.identity.incarnation.0.to_vec(),
        };
        let reply = self.ask(Ask::Propose(segment)).await?;
        if !reply.refused.is_empty() {
            return Err(ShipError::Conflict(reply.refused));
        }
        let now_anchored = reply.anchored.unwrap_or_default();
        let _ = self.log.mark_shipped(now_anchored.seq);
        self.auditor.shipped(now_anchored.seq, local_head.seq);
        let more = now_anchored.seq < local_head.seq;
        self.anchored = Some(now_anchored);
        Ok(more)
    }

    /// Asks the audit group's leader, following its hints (three hops at most).
    async fn ask(&mut self, ask: Ask) -> Result<pb::AuditGroupReply, ShipError> {
        let spec = self.groups.audit_spec().ok_or_else(|| ShipError::Failed("no audit group configured".into()))?;
        let mut target = self
            .leader_hint
            .or_else(|| {
                self.groups.get(AUDIT_GROUP).and_then(|group| group.raft.metrics().borrow_watched().current_leader)
            })
            .unwrap_or(spec.preferred_leader);
        let mut last_error = String::from("no audit group leader");
        for _ in 0..3 {
            let reply = if target == self.groups.node_id {
                match self.groups.get(AUDIT_GROUP) {
                    Some(group) => Ok(ask.here(&self.groups, group).await),
                    None => Err("this node does not host the audit group".to_string()),
                }
            } else {
                ask.remote(&self.groups, target).await
            };
            match reply {
                Ok(reply) if reply.leader_id != 0 && reply.anchored.is_none() && reply.refused.is_empty() => {
                    target = reply.leader_id;
                    self.leader_hint = Some(target);
                }
                Ok(reply) if reply.anchored.is_none() && reply.refused.is_empty() => {
                    self.leader_hint = None;
                    return Err(ShipError::Failed(format!("audit group on node {target}: no leader known")));
                }
                Ok(reply) => {
                    self.leader_hint = Some(target);
                    return Ok(reply);
                }
                Err(error) => {
                    last_error = format!("node {target}: {error}");
                    self.leader_hint = None;
                    // Try the next replica.
                    let replicas = &spec.replicas;
                    let at = replicas.iter().position(|&id| id == target).map_or(0, |at| at + 1);
                    target = replicas[at % replicas.len()];
                }
            }
        }
        Err(ShipError::Failed(last_error))
    }

    /// Drops this node's local records older than the retention once they are anchored; on the audit group's
    /// leader, proposes the same cutoff for the anchored copy.
    async fn prune(&self, retention: Duration) {
        let cutoff = now_unix_us().saturating_sub(retention.as_micros().min(i64::MAX as u128) as i64);
        if let Some(group) = self.groups.get(AUDIT_GROUP) {
            if group.raft.metrics().borrow_watched().current_leader == Some(self.groups.node_id) {
                let command =
                    pb::Command { op: Some(pb::command::Op::AuditPrune(pb::AuditPrune { before_unix_us: cutoff })) };
                let proposal = group.raft.client_write(RaftRequest(Arc::new(command)));
                if let Err(error) = tokio::time::timeout(WRITE_WAIT_DEFAULT, proposal)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
                {
                    tracing::warn!(%error, "audit prune proposal failed");
                }
            }
        }
        let Some(chain) = self.log.chain() else {
            return;
        };
        let from = chain.base.map_or(0, |base| base.seq) + 1;
        let Ok(items) = self.log.read(from, PRUNE_BATCH_RECORDS) else {
            return;
        };
        let mut through = 0;
        for (seq, bytes) in items {
            let old = pb::AuditRecord::decode(bytes.as_slice()).is_ok_and(|record| record.time_unix_us < cutoff);
            if !old || seq > chain.shipped_seq {
                break;
            }
            through = seq;
        }
        if through > 0 {
            match self.log.prune(through) {
                Ok(n_pruned) => tracing::info!(n_pruned, through, "pruned local audit records past their retention"),
                Err(error) => tracing::warn!(%error, "local audit prune failed"),
            }
        }
    }
}

/// What a node asks the audit group's leader.
enum Ask {
    Head(u64),
    Propose(pb::AuditSegment),
}

impl Ask {
    async fn here(&self, groups: &Groups, group: &Group) -> pb::AuditGroupReply {
        match self {
            Ask::Head(node) => anchored_head_here(groups, group, *node).await,
            Ask::Propose(segment) => propose_here(groups, group, segment.clone()).await,
        }
    }

    async fn remote(&self, groups: &Groups, target: u64) -> Result<pb::AuditGroupReply, String> {
        let addr = groups.node_addr(target).ok_or_else(|| format!("node {target} has no address"))?;
        let class = match self {
            Ask::Head(_) => ConnectionClass::Control,
            Ask::Propose(_) => ConnectionClass::Replication,
        };
        let mut client = groups.peers.raft_client(&addr, class).map_err(|e| e.to_string())?;
        let reply = match self {
            Ask::Head(node) => {
                let mut request = tonic::Request::new(pb::AnchoredHeadRequest { node_id: *node });
                request.set_timeout(RAFT_RPC_TIMEOUT);
                groups.identity.stamp(request.metadata_mut(), Some(target));
                client.anchored_head(request).await
            }
            Ask::Propose(segment) => {
                let mut request = tonic::Request::new(segment.clone());
                request.set_timeout(WRITE_WAIT_DEFAULT);
                groups.identity.stamp(request.metadata_mut(), Some(target));
                client.propose_audit(request).await
            }
        };
        reply.map(tonic::Response::into_inner).map_err(|status| status.message().to_string())
    }
}

fn not_leader(groups: &Groups, group: &Group, error: ApiError) -> pb::AuditGroupReply {
    let leader_id = match error {
        ApiError::NotLeader { leader_id, .. } => leader_id,
        _ => group.raft.metrics().borrow_watched().current_leader.filter(|&leader| leader != groups.node_id),
    };
    pb::AuditGroupReply { anchored: None, leader_id: leader_id.unwrap_or(0), refused: String::new() }
}

/// A node's anchored head, read on the audit group's leader after a linearizable barrier.
pub async fn anchored_head_here(groups: &Groups, group: &Group, node: u64) -> pb::AuditGroupReply {
    if let Err(error) = linearize(groups, group, Consistency::Linearizable, ReadMode::default()).await {
        return not_leader(groups, group, error);
    }
    match groups.store.anchored_chain(node) {
        Ok(chain) => pb::AuditGroupReply {
            anchored: Some(chain.and_then(|chain| chain.head).unwrap_or_default()),
            leader_id: 0,
            refused: String::new(),
        },
        Err(error) => {
            tracing::warn!(%error, node, "reading an anchored audit chain failed");
            pb::AuditGroupReply::default()
        }
    }
}

/// Proposes a segment on the audit group's leader.
pub async fn propose_here(groups: &Groups, group: &Group, segment: pb::AuditSegment) -> pb::AuditGroupReply {
    let command = pb::Command { op: Some(pb::command::Op::AuditSegment(segment)) };
    let written =
        tokio::time::timeout(WRITE_WAIT_DEFAULT, group.raft.client_write(RaftRequest(Arc::new(command)))).await;
    match written {
        Err(_) => pb::AuditGroupReply::default(),
        Ok(Err(error)) => not_leader(groups, group, ApiError::from_write_error(groups, group, error)),
        Ok(Ok(written)) => match written.data {
            ApplyOutcome::AuditAnchored { seq, hash } => pb::AuditGroupReply {
                anchored: Some(pb::AuditHead { seq, hash }),
                leader_id: 0,
                refused: String::new(),
            },
            ApplyOutcome::Refused { reason } => pb::AuditGroupReply { anchored: None, leader_id: 0, refused: reason },
            other => pb::AuditGroupReply { refused: format!("unexpected outcome {other:?}"), ..Default::default() },
        },
    }
}
