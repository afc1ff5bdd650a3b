//! openraft's type configuration for dancu and the application data it replicates.

use std::fmt;

use dancu_proto::v1::Command;

/// A replicated command: the payload of a normal log entry.
///
/// `Display` never prints record contents: logs must not carry personal data. The command is shared:
/// the entry cache, replication and apply hold the same allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Request(pub std::sync::Arc<Command>);

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.op {
            Some(dancu_proto::v1::command::Op::PutCitizen(_)) => f.write_str("put_citizen"),
            Some(dancu_proto::v1::command::Op::PutCitizens(batch)) => {
                write!(f, "put_citizens({} records)", batch.citizens.len())
            }
            Some(dancu_proto::v1::command::Op::LifeEvent(_)) => f.write_str("life_event"),
            Some(dancu_proto::v1::command::Op::AuditSegment(segment)) => {
                write!(f, "audit_segment(node {}, {} records)", segment.node_id, segment.records.len())
            }
            Some(dancu_proto::v1::command::Op::AuditPrune(_)) => f.write_str("audit_prune"),
            None => f.write_str("empty_command"),
        }
    }
}

/// What applying one log entry produced, returned to the proposer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// A blank or membership entry.
    Nothing,
    /// The record was written (or, when `deduplicated`, had been written by an earlier attempt).
    Written { revision: u64, log_index: u64, deduplicated: bool },
    /// A `PutCitizens` batch: one result per record, in command order.
    BatchWritten { log_index: u64, results: Vec<BatchItemOutcome>, deduplicated: bool },
    /// `expected_revision` did not match; nothing was written.
    RevisionMismatch { current_revision: u64 },
    /// An audit segment is anchored: the node's anchored chain now ends at `seq` with `hash`.
    AuditAnchored { seq: u64, hash: Vec<u8> },
    /// The command was refused at apply time (e.g. the key is outside the partition).
    Refused { reason: String },
}

/// One record of a `PutCitizens` batch after apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchItemOutcome {
    pub revision: u64,
    /// False when the stored record already had this content.
    pub written: bool,
}

impl ApplyOutcome {
    /// The remembered result of an earlier attempt with the same request id.
    pub fn deduplicated(outcome: dancu_proto::v1::RequestOutcome) -> ApplyOutcome {
        ApplyOutcome::Written { revision: outcome.revision, log_index: outcome.log_index, deduplicated: true }
    }

    pub fn outside_partition() -> ApplyOutcome {
        ApplyOutcome::Refused { reason: "record key outside this partition".into() }
    }
}

openraft::declare_raft_types!(
    /// dancu's Raft types: u64 node ids, gRPC addresses as nodes, protobuf commands.
    pub TypeConfig:
        D = Request,
        R = ApplyOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
);

pub type NodeId = u64;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type LeaderId = openraft::type_config::alias::LeaderIdOf<TypeConfig>;
pub type Membership = openraft::Membership<NodeId, openraft::BasicNode>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, crate::storage::SnapshotFile>;
