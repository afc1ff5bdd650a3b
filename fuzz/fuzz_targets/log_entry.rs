//! Raft log entries and the messages that carry them, from bytes (the on-disk log and the wire): decoding never
//! panics, and an entry that decodes is stored again with the same meaning (decode ∘ encode = identity).
#![no_main]

use dancu_node::raft::codec;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 5 {
        0 => {
            let Ok(entry) = pb::Entry::decode(bytes) else {
                return;
            };
            let Ok(entry) = codec::entry_from_pb(entry) else {
                return;
            };
            // The stored form (encoded without copying the command) says what prost's encoding of the entry says.
            let stored = codec::encode_entry(&entry);
            let decoded = pb::Entry::decode(stored.as_slice()).expect("an encoded entry decodes");
            assert_eq!(decoded, codec::entry_to_pb(&entry));
            let again = codec::entry_from_pb(decoded).expect("an encoded entry converts");
            assert_eq!(again, entry);
        }
        1 => {
            if let Ok(request) = pb::AppendEntriesRequest::decode(bytes) {
                let partition_id = request.partition_id;
                if let Ok(request) = codec::append_request_from_pb(request) {
                    let again = codec::append_request_to_pb(partition_id, &request);
                    let again = codec::append_request_from_pb(again).expect("an encoded request converts");
                    assert_eq!(again.vote, request.vote);
                    assert_eq!(again.prev_log_id, request.prev_log_id);
                    assert_eq!(again.entries, request.entries);
                    assert_eq!(again.leader_commit, request.leader_commit);
                }
            }
        }
        2 => {
            if let Ok(response) = pb::AppendEntriesResponse::decode(bytes) {
                let _ = codec::append_response_from_pb(response);
            }
        }
        3 => {
            if let Ok(request) = pb::VoteRequest::decode(bytes) {
                let _ = codec::vote_request_from_pb(&request);
            }
        }
        _ => {
            if let Ok(response) = pb::VoteResponse::decode(bytes) {
                let _ = codec::vote_response_from_pb(&response);
            }
        }
    }
});
