//! Key layout of the one RocksDB of a node.
//!
//! Every key starts with the partition id (u32, big-endian), so a partition is one contiguous range
//! in each column family, and ID order inside a partition is byte order.
//!
//! | column family | key                                   | value (protobuf)            |
//! |---------------|---------------------------------------|-----------------------------|
//! | `raft_log`    | pid · index(u64 BE)                   | `Entry`                     |
//! | `raft_meta`   | pid · 0x01                            | `Vote`                      |
//! | `raft_meta`   | pid · 0x02                            | `LogId` (committed)         |
//! | `raft_meta`   | pid · 0x03                            | `LogId` (last purged)       |
//! | `raft_meta`   | pid · 0x04                            | `SnapshotMeta` + file name  |
//! | `raft_meta`   | ff ff ff ff · 0x01                    | `NodeIdentity` (this node)  |
//! | `raft_meta`   | ff ff ff ff · 0x02                    | `KnownMembers`              |
//! | `state`       | pid · 0x01                            | `SnapshotMeta` (applied)    |
//! | `state`       | pid · 0x10 · personal id (12 digits)  | `Citizen`                   |
//! | `state`       | pid · 0x20 · request id               | `RequestOutcome`            |
//! | `state`       | pid · 0x21 · index(u64 BE)            | request id bytes            |
//! | `state`       | pid · 0x30 · household id · 0x00 · id | empty (household index)     |
//! | `state`       | pid · 0x31 · name key · 0x00 · YYYYMMDD · id | empty (name + DOB index) |
//! | `state`       | pid · 0x32 · legacy number · id       | empty (legacy index)        |
//! | `raft_meta`   | ff ff ff ff · 0x03 / 0x04             | local audit chain, audit key (`audit_log`) |
//! | `audit`       | seq (u64 BE)                          | this node's `AuditRecord`s  |
//! | `state`       | 0 · 0x40 · node · seq                 | anchored `AuditRecord` (audit group) |
//! | `state`       | 0 · 0x41 · node · seq                 | `AuditCheckpoint`           |
//! | `state`       | 0 · 0x42 · node                       | `AnchoredChain`             |
//! | `state`       | 0 · 0x43 · citizen (u64) · inverted time · node · seq | empty (who looked a citizen up) |
//! | `state`       | 0 · 0x44 · caller · 0x00 · inverted time · node · seq | empty (what a caller did) |
//! | `state`       | 0 · 0x45 · inverted time · node · seq | empty (accesses by time)    |
//! | `state`       | 0 · 0x46 · partition (u32) · inverted time · node · seq | empty (whole-partition reads) |
//!
//! The audit group's keys (tags 0x40..) are its state proper: shipped in its snapshots like records.
//!
//! Index keys (tags 0x30..=0x3f) are derived from the records: written in the same WriteBatch as the
//! record, never shipped in snapshots, rebuilt when a snapshot is installed. Validated text holds no
//! control characters, so 0x00 cannot occur inside a household id or name key.

use dancu_cluster_config::PartitionId;

pub const CF_RAFT_LOG: &str = "raft_log";
pub const CF_RAFT_META: &str = "raft_meta";
pub const CF_STATE: &str = "state";
pub const CF_AUDIT: &str = "audit";

pub const META_VOTE: u8 = 0x01;
pub const META_COMMITTED: u8 = 0x02;
pub const META_PURGED: u8 = 0x03;
pub const META_SNAPSHOT: u8 = 0x04;

/// Node-wide records live under a prefix no partition id reaches (ids are province code × 100 + split).
pub const NODE_PREFIX: [u8; 4] = [0xff; 4];
pub const NODE_IDENTITY: u8 = 0x01;
pub const NODE_KNOWN_MEMBERS: u8 = 0x02;
pub const NODE_AUDIT_CHAIN: u8 = 0x03;
pub const NODE_AUDIT_KEY: u8 = 0x04;

pub const STATE_APPLIED: u8 = 0x01;
pub const STATE_CITIZEN: u8 = 0x10;
pub const STATE_REQUEST: u8 = 0x20;
pub const STATE_REQUEST_BY_INDEX: u8 = 0x21;
pub const INDEX_HOUSEHOLD: u8 = 0x30;
pub const INDEX_NAME_DOB: u8 = 0x31;
pub const INDEX_LEGACY: u8 = 0x32;
pub const AUDIT_RECORD: u8 = 0x40;
pub const AUDIT_CHECKPOINT: u8 = 0x41;
pub const AUDIT_CHAIN: u8 = 0x42;
pub const AUDIT_BY_CITIZEN: u8 = 0x43;
pub const AUDIT_BY_CALLER: u8 = 0x44;
pub const AUDIT_BY_TIME: u8 = 0x45;
pub const AUDIT_BY_PARTITION: u8 = 0x46;
/// Every index tag is in this range (snapshots skip it).
pub const INDEX_TAGS: std::ops::RangeInclusive<u8> = 0x30..=0x3f;

pub fn partition_prefix(pid: PartitionId) -> [u8; 4] {
    pid.0.to_be_bytes()
}

/// The first key after every key of `pid` (exclusive upper bound of its range).
pub fn partition_end(pid: PartitionId) -> Vec<u8> {
    match pid.0.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    }
}

pub fn log_key(pid: PartitionId, index: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&partition_prefix(pid));
    key[4..].copy_from_slice(&index.to_be_bytes());
    key
}

pub fn log_index_of(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(4..12)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn tagged_key(pid: PartitionId, tag: u8, suffix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(5 + suffix.len());
    key.extend_from_slice(&partition_prefix(pid));
    key.push(tag);
    key.extend_from_slice(suffix);
    key
}

pub fn node_key(tag: u8) -> [u8; 5] {
    let mut key = [0u8; 5];
    key[..4].copy_from_slice(&NODE_PREFIX);
    key[4] = tag;
    key
}

pub fn citizen_key(pid: PartitionId, personal_id: &[u8]) -> Vec<u8> {
    tagged_key(pid, STATE_CITIZEN, personal_id)
}

pub fn request_key(pid: PartitionId, request_id: &str) -> Vec<u8> {
    tagged_key(pid, STATE_REQUEST, request_id.as_bytes())
}

pub fn request_by_index_key(pid: PartitionId, index: u64) -> Vec<u8> {
    tagged_key(pid, STATE_REQUEST_BY_INDEX, &index.to_be_bytes())
}

/// The tag of a state key (the byte after the partition id).
pub fn tag_of(key: &[u8]) -> Option<u8> {
    key.get(4).copied()
}

/// The first key after every key starting with `prefix` (exclusive upper bound of a prefix scan).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Keys of a partition sort strictly inside [prefix, partition_end), and partitions sort by id.
        #[test]
        fn key_encoding_preserves_partition_ranges(
            a in 0u32..10_000, b in 0u32..10_000, id_a in 0u64..1_000_000_000_000, id_b in 0u64..1_000_000_000_000,
            index in any::<u64>(),
        ) {
            let (pa, pb) = (PartitionId(a), PartitionId(b));
            let ka = citizen_key(pa, format!("{id_a:012}").as_bytes());
            let kb = citizen_key(pb, format!("{id_b:012}").as_bytes());
            prop_assert!(ka.as_slice() >= partition_prefix(pa).as_slice() && ka < partition_end(pa));
            if a != b {
                prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
            } else {
                prop_assert_eq!(id_a.cmp(&id_b), ka.cmp(&kb));
            }
            let lk = log_key(pa, index);
            prop_assert!(lk.as_slice() < partition_end(pa).as_slice());
            prop_assert_eq!(log_index_of(&lk), Some(index));
        }

        #[test]
        fn log_keys_sort_by_index(pid in 0u32..10_000, i in any::<u64>(), j in any::<u64>()) {
            prop_assert_eq!(i.cmp(&j), log_key(PartitionId(pid), i).cmp(&log_key(PartitionId(pid), j)));
        }
    }
}
