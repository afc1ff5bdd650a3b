//! Conversions between openraft's types and their protobuf encodings (dancu.v1 raft.proto).
//!
//! The same messages are the on-disk format of the log, the vote and the applied state, and the
//! wire format between nodes. Decoding never panics: malformed input is an `io::Error`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use dancu_proto::v1 as pb;
use dancu_proto::Message;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use openraft::vote::RaftLeaderId;
use openraft::{BasicNode, EntryPayload};

use crate::raft::types::{Entry, LeaderId, LogId, Membership, Request, StoredMembership, TypeConfig, Vote};

pub fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed {what}"))
}

pub fn log_id_to_pb(log_id: &LogId) -> pb::LogId {
    pb::LogId { term: log_id.leader_id.term, node_id: log_id.leader_id.node_id, index: log_id.index }
}

pub fn log_id_from_pb(log_id: &pb::LogId) -> LogId {
    LogId::new(LeaderId::new(log_id.term, log_id.node_id), log_id.index)
}

pub fn opt_log_id_to_pb(log_id: Option<&LogId>) -> Option<pb::LogId> {
    log_id.map(log_id_to_pb)
}

pub fn opt_log_id_from_pb(log_id: Option<&pb::LogId>) -> Option<LogId> {
    log_id.map(log_id_from_pb)
}

pub fn vote_to_pb(vote: &Vote) -> pb::Vote {
    pb::Vote { term: vote.leader_id.term, node_id: vote.leader_id.node_id, committed: vote.committed }
}

pub fn vote_from_pb(vote: Option<&pb::Vote>) -> io::Result<Vote> {
    let vote = vote.ok_or_else(|| invalid("vote"))?;
    Ok(if vote.committed { Vote::new_committed(vote.term, vote.node_id) } else { Vote::new(vote.term, vote.node_id) })
}

pub fn membership_to_pb(membership: &Membership) -> pb::Membership {
    pb::Membership {
        configs: membership
            .get_joint_config()
            .iter()
            .map(|set| pb::VoterSet { ids: set.iter().copied().collect() })
            .collect(),
        nodes: membership.nodes().map(|(id, node)| (*id, node.addr.clone())).collect(),
    }
}

pub fn membership_from_pb(membership: Option<&pb::Membership>) -> io::Result<Membership> {
    let membership = membership.ok_or_else(|| invalid("membership"))?;
    let configs: Vec<BTreeSet<u64>> = membership.configs.iter().map(|set| set.ids.iter().copied().collect()).collect();
    let nodes: BTreeMap<u64, BasicNode> =
        membership.nodes.iter().map(|(id, addr)| (*id, BasicNode { addr: addr.clone() })).collect();
    Membership::new(configs, nodes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

pub fn stored_membership_to_pb(stored: &StoredMembership) -> pb::StoredMembership {
    pb::StoredMembership {
        log_id: opt_log_id_to_pb(stored.log_id().as_ref()),
        membership: Some(membership_to_pb(stored.membership())),
    }
}

pub fn stored_membership_from_pb(stored: Option<&pb::StoredMembership>) -> io::Result<StoredMembership> {
    let Some(stored) = stored else {
        return Ok(StoredMembership::default());
    };
    let membership = membership_from_pb(stored.membership.as_ref())?;
    Ok(StoredMembership::new(opt_log_id_from_pb(stored.log_id.as_ref()), membership))
}

pub fn entry_to_pb(entry: &Entry) -> pb::Entry {
    let payload = match &entry.payload {
        EntryPayload::Blank => pb::entry::Payload::Blank(pb::Blank {}),
        EntryPayload::Normal(request) => pb::entry::Payload::Command(pb::Command::clone(&request.0)),
        EntryPayload::Membership(membership) => pb::entry::Payload::Membership(membership_to_pb(membership)),
    };
    pb::Entry { log_id: Some(log_id_to_pb(&entry.log_id)), payload: Some(payload) }
}

/// The stored (and replicated) bytes of an entry: a `pb::Entry`, encoded without copying the command.
pub fn encode_entry(entry: &Entry) -> Vec<u8> {
    let head = pb::Entry {
        log_id: Some(log_id_to_pb(&entry.log_id)),
        payload: match &entry.payload {
            EntryPayload::Blank => Some(pb::entry::Payload::Blank(pb::Blank {})),
            EntryPayload::Normal(_) => None,
            EntryPayload::Membership(membership) => Some(pb::entry::Payload::Membership(membership_to_pb(membership))),
        },
    };
    let mut buf = Vec::with_capacity(head.encoded_len() + 16);
    head.encode_raw(&mut buf);
    if let EntryPayload::Normal(request) = &entry.payload {
        // Field 3 of `Entry` (the `command` arm of its oneof); protobuf fields may come in any order.
        buf.reserve(request.0.encoded_len() + 8);
        prost::encoding::message::encode(3, request.0.as_ref(), &mut buf);
    }
    buf
}

pub fn entry_from_pb(entry: pb::Entry) -> io::Result<Entry> {
    let log_id = log_id_from_pb(entry.log_id.as_ref().ok_or_else(|| invalid("entry log id"))?);
    let payload = match entry.payload.ok_or_else(|| invalid("entry payload"))? {
        pb::entry::Payload::Blank(_) => EntryPayload::Blank,
        pb::entry::Payload::Command(command) => EntryPayload::Normal(Request(std::sync::Arc::new(command))),
        pb::entry::Payload::Membership(membership) => EntryPayload::Membership(membership_from_pb(Some(&membership))?),
    };
    Ok(Entry { log_id, payload })
}

pub fn append_request_to_pb(partition_id: u32, rpc: &AppendEntriesRequest<TypeConfig>) -> pb::AppendEntriesRequest {
    pb::AppendEntriesRequest {
        partition_id,
        vote: Some(vote_to_pb(&rpc.vote)),
        prev_log_id: opt_log_id_to_pb(rpc.prev_log_id.as_ref()),
        entries: rpc.entries.iter().map(entry_to_pb).collect(),
        leader_commit: opt_log_id_to_pb(rpc.leader_commit.as_ref()),
    }
}

pub fn append_request_from_pb(rpc: pb::AppendEntriesRequest) -> io::Result<AppendEntriesRequest<TypeConfig>> {
    Ok(AppendEntriesRequest {
        vote: vote_from_pb(rpc.vote.as_ref())?,
        prev_log_id: opt_log_id_from_pb(rpc.prev_log_id.as_ref()),
        entries: rpc.entries.into_iter().map(entry_from_pb).collect::<io::Result<_>>()?,
        leader_commit: opt_log_id_from_pb(rpc.leader_commit.as_ref()),
    })
}

pub fn append_response_to_pb(resp: &AppendEntriesResponse<TypeConfig>) -> pb::AppendEntriesResponse {
    use pb::append_entries_response::Result as R;
    let result = match resp {
        AppendEntriesResponse::Success => R::Success(pb::Blank {}),
        AppendEntriesResponse::PartialSuccess(matching) => {
            R::PartialSuccess(pb::PartialSuccess { matching: opt_log_id_to_pb(matching.as_ref()) })
        }
        AppendEntriesResponse::Conflict => R::Conflict(pb::Blank {}),
        AppendEntriesResponse::HigherVote(vote) => R::HigherVote(vote_to_pb(vote)),
    };
    pb::AppendEntriesResponse { result: Some(result) }
}

pub fn append_response_from_pb(resp: pb::AppendEntriesResponse) -> io::Result<AppendEntriesResponse<TypeConfig>> {
    use pb::append_entries_response::Result as R;
    Ok(match resp.result.ok_or_else(|| invalid("append response"))? {
        R::Success(_) => AppendEntriesResponse::Success,
        R::PartialSuccess(p) => AppendEntriesResponse::PartialSuccess(opt_log_id_from_pb(p.matching.as_ref())),
        R::Conflict(_) => AppendEntriesResponse::Conflict,
        R::HigherVote(vote) => AppendEntriesResponse::HigherVote(vote_from_pb(Some(&vote))?),
    })
}

pub fn vote_request_to_pb(partition_id: u32, rpc: &VoteRequest<TypeConfig>, pre_vote: bool) -> pb::VoteRequest {
    pb::VoteRequest {
        partition_id,
        vote: Some(vote_to_pb(&rpc.vote)),
        last_log_id: opt_log_id_to_pb(rpc.last_log_id.as_ref()),
        leadership_transfer: rpc.leadership_transfer,
        pre_vote,
    }
}

pub fn vote_request_from_pb(rpc: &pb::VoteRequest) -> io::Result<VoteRequest<TypeConfig>> {
    let mut request = VoteRequest::new(vote_from_pb(rpc.vote.as_ref())?, opt_log_id_from_pb(rpc.last_log_id.as_ref()));
    request.leadership_transfer = rpc.leadership_transfer;
    Ok(request)
}

pub fn vote_response_to_pb(resp: &VoteResponse<TypeConfig>) -> pb::VoteResponse {
    pb::VoteResponse {
        vote: Some(vote_to_pb(&resp.vote)),
        vote_granted: resp.vote_granted,
        last_log_id: opt_log_id_to_pb(resp.last_log_id.as_ref()),
    }
}

pub fn vote_response_from_pb(resp: &pb::VoteResponse) -> io::Result<VoteResponse<TypeConfig>> {
    Ok(VoteResponse::new(
        vote_from_pb(resp.vote.as_ref())?,
        opt_log_id_from_pb(resp.last_log_id.as_ref()),
        resp.vote_granted,
    ))
}

pub fn snapshot_meta_to_pb(meta: &crate::raft::types::SnapshotMeta) -> pb::SnapshotMeta {
    pb::SnapshotMeta {
        last_log_id: opt_log_id_to_pb(meta.last_log_id.as_ref()),
        last_membership: Some(stored_membership_to_pb(&meta.last_membership)),
    }
}

pub fn snapshot_meta_from_pb(meta: Option<&pb::SnapshotMeta>) -> io::Result<crate::raft::types::SnapshotMeta> {
    let meta = meta.ok_or_else(|| invalid("snapshot meta"))?;
    Ok(crate::raft::types::SnapshotMeta {
        last_log_id: opt_log_id_from_pb(meta.last_log_id.as_ref()),
        last_membership: stored_membership_from_pb(meta.last_membership.as_ref())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let membership = Membership::new(
            vec![BTreeSet::from([1, 2, 3])],
            BTreeMap::from([
                (1, BasicNode { addr: "a:1".into() }),
                (2, BasicNode { addr: "b:2".into() }),
                (3, BasicNode { addr: "c:3".into() }),
            ]),
        )
        .unwrap();
        let log_id = LogId::new(LeaderId::new(7, 2), 42);
        let entries = [
            Entry { log_id, payload: EntryPayload::Blank },
            Entry { log_id, payload: EntryPayload::Membership(membership) },
            Entry { log_id, payload: EntryPayload::Normal(Request(std::sync::Arc::new(pb::Command::default()))) },
        ];
        for entry in entries {
            let decoded = entry_from_pb(entry_to_pb(&entry)).unwrap();
            assert_eq!(decoded, entry);
            // The stored form means what prost's form means. Not byte for byte: a membership's node map is encoded
            // in hash order (the fuzz target `log_entry` first asserted equal bytes and failed on exactly this).
            let stored = pb::Entry::decode(encode_entry(&entry).as_slice()).unwrap();
            assert_eq!(stored, entry_to_pb(&entry));
            assert_eq!(entry_from_pb(stored).unwrap(), entry);
        }
    }

    #[test]
    fn malformed_entry_is_an_error_not_a_panic() {
        assert!(entry_from_pb(pb::Entry::default()).is_err());
        assert!(vote_from_pb(None).is_err());
    }
}
