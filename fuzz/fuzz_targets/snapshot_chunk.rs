//! A snapshot as a follower receives it: the first chunk's vote and meta, then the file's bytes as the installer
//! reads them. Never a panic; every entry installed lies inside the partition's range.
#![no_main]

use dancu_cluster_config::PartitionId;
use dancu_fuzz::PARTITION_MAP;
use dancu_node::raft::codec;
use dancu_node::storage::keys;
use dancu_node::storage::snapshot::read_state_entries;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(chunk) = pb::SnapshotChunk::decode(data) else {
        return;
    };
    let _ = codec::vote_from_pb(chunk.vote.as_ref());
    let _ = codec::snapshot_meta_from_pb(chunk.meta.as_ref());
    let Some(spec) = PARTITION_MAP.get(PartitionId(chunk.partition_id)) else {
        return;
    };
    let prefix = keys::partition_prefix(spec.id);
    let _ = read_state_entries(spec.id, &chunk.data, |key, _value| {
        assert!(key.starts_with(&prefix), "an installed key outside partition {}", spec.id.0);
    });
});
