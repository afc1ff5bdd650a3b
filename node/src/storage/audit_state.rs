//! The audit group's state: every node's chain as anchored by Raft. A segment is applied only if it continues the
//! node's anchored chain, its records hash to its signed checkpoint and the signature is by the key the node
//! registered with its first segment. Records are indexed by citizen, caller, time and whole-partition reads for
//! the queries; retention drops whole segments, so the kept chain always starts at a signed checkpoint.

use std::collections::HashMap;
use std::io;

use dancu_cluster_config::AUDIT_GROUP;
use dancu_proto::audit_chain;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use rocksdb::WriteBatch;

use crate::raft::types::ApplyOutcome;
use crate::storage::keys::{
    self, AUDIT_BY_CALLER, AUDIT_BY_CITIZEN, AUDIT_BY_PARTITION, AUDIT_BY_TIME, AUDIT_CHAIN, AUDIT_CHECKPOINT,
    AUDIT_RECORD, CF_STATE,
};
use crate::storage::{invalid_data, storage_error, Store};

/// Most records one query page returns.
pub const AUDIT_PAGE_MAX: usize = 1_000;
/// Most records one prune command drops (the rest go with the next one).
const PRUNE_RECORDS_MAX: usize = 100_000;

/// Stored records with the seq each key names, and the checkpoints in their range.
pub type AnchoredRead = (Vec<(u64, Vec<u8>)>, Vec<pb::AuditCheckpoint>);

/// One page of accesses wanted, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub citizen: Option<u64>,
    /// With `citizen`: its partition, whose whole-partition reads (scans) reached the citizen too.
    pub citizen_partition: Option<u32>,
    /// A caller's identity as recorded (`bank`, `node-2`).
    pub caller: Option<String>,
    pub since_unix_us: i64,
    /// Exclusive.
    pub until_unix_us: i64,
    pub page_size: usize,
    pub page_token: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditPage {
    pub records: Vec<pb::AuditRecord>,
    pub next_page_token: Vec<u8>,
}

fn node_seq(node: u64, seq: u64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&node.to_be_bytes());
    bytes[8..].copy_from_slice(&seq.to_be_bytes());
    bytes
}

fn record_key(node: u64, seq: u64) -> Vec<u8> {
    keys::tagged_key(AUDIT_GROUP, AUDIT_RECORD, &node_seq(node, seq))
}

fn checkpoint_key(node: u64, seq: u64) -> Vec<u8> {
    keys::tagged_key(AUDIT_GROUP, AUDIT_CHECKPOINT, &node_seq(node, seq))
}

fn chain_key(node: u64) -> Vec<u8> {
    keys::tagged_key(AUDIT_GROUP, AUDIT_CHAIN, &node.to_be_bytes())
}

/// Newer sorts first.
fn inverted(time_unix_us: i64) -> u64 {
    u64::MAX - time_unix_us.max(0) as u64
}

/// The position of a record in every index: inverted time, node, seq (24 bytes).
fn position(record: &pb::AuditRecord) -> Vec<u8> {
    let mut suffix = Vec::with_capacity(24);
    suffix.extend_from_slice(&inverted(record.time_unix_us).to_be_bytes());
    suffix.extend_from_slice(&node_seq(record.node_id, record.seq));
    suffix
}

const POSITION_BYTES: usize = 24;

fn citizen_prefix(citizen: u64) -> Vec<u8> {
    keys::tagged_key(AUDIT_GROUP, AUDIT_BY_CITIZEN, &citizen.to_be_bytes())
}

fn caller_prefix(caller: &str) -> Vec<u8> {
    let mut suffix = caller.as_bytes().to_vec();
    suffix.push(0);
    keys::tagged_key(AUDIT_GROUP, AUDIT_BY_CALLER, &suffix)
}

fn partition_prefix(partition: u32) -> Vec<u8> {
    keys::tagged_key(AUDIT_GROUP, AUDIT_BY_PARTITION, &partition.to_be_bytes())
}

fn time_prefix() -> Vec<u8> {
    keys::tagged_key(AUDIT_GROUP, AUDIT_BY_TIME, &[])
}

/// Every index key of a record.
fn index_keys(record: &pb::AuditRecord) -> Vec<Vec<u8>> {
    let at = position(record);
    let with = |mut prefix: Vec<u8>| {
        prefix.extend_from_slice(&at);
        prefix
    };
    let mut keys = vec![with(time_prefix()), with(caller_prefix(&record.identity))];
    let mut citizens = record.citizen_ids.clone();
    citizens.sort_unstable();
    citizens.dedup();
    keys.extend(citizens.into_iter().map(|citizen| with(citizen_prefix(citizen))));
    keys.extend(record.partitions.iter().map(|&partition| with(partition_prefix(partition))));
    keys
}

fn refused(reason: impl Into<String>) -> io::Result<ApplyOutcome> {
    Ok(ApplyOutcome::Refused { reason: reason.into() })
}

fn empty_chain(node_id: u64) -> pb::AnchoredChain {
    pb::AnchoredChain {
        node_id,
        base: None,
        head: Some(pb::AuditHead { seq: 0, hash: audit_chain::GENESIS.to_vec() }),
        public_key: Vec::new(),
        incarnation: Vec::new(),
    }
}

/// Apply of the audit group's commands. `chains` holds what earlier entries of the same apply batch made of each
/// node's anchored chain.
pub(super) fn apply_segment(
    store: &Store,
    batch: &mut WriteBatch,
    chains: &mut HashMap<u64, pb::AnchoredChain>,
    segment: &pb::AuditSegment,
) -> io::Result<ApplyOutcome> {
    let node = segment.node_id;
    let Some(checkpoint) = &segment.checkpoint else {
        return refused("an audit segment without its checkpoint");
    };
    if checkpoint.node_id != node {
        return refused(format!("node {node}'s segment carries node {}'s checkpoint", checkpoint.node_id));
    }
    let mut chain = match chains.get(&node) {
        Some(chain) => chain.clone(),
        None => store.anchored_chain(node)?.unwrap_or_else(|| empty_chain(node)),
    };
    if chain.public_key.is_empty() || chain.incarnation != segment.incarnation {
        // A node's first segment, or its first from a new data dir (wiped and re-added): it registers its key.
        chain.public_key = checkpoint.public_key.clone();
        chain.incarnation = segment.incarnation.clone();
    } else if chain.public_key != checkpoint.public_key {
        return refused(format!("node {node}'s checkpoint is signed by a key other than the one it registered"));
    }
    if !audit_chain::signature_valid(checkpoint, &chain.public_key) {
        return refused(format!("node {node}'s checkpoint at seq {}: bad signature", checkpoint.seq));
    }
    let head = chain.head.clone().unwrap_or_default();
    if segment.first_seq == 0 || segment.first_seq > head.seq + 1 {
        return refused(format!(
            "node {node}'s segment starts at seq {} but its anchored chain ends at {}: records are missing",
            segment.first_seq, head.seq
        ));
    }
    if segment.first_seq == head.seq + 1 && segment.prev_hash != head.hash {
        return refused(format!(
            "node {node}'s segment does not continue its anchored chain at seq {} (restored from an old copy?)",
            head.seq
        ));
    }
    let cf = store.cf(CF_STATE)?;
    let mut hash = segment.prev_hash.clone();
    let mut seq = segment.first_seq - 1;
    let mut added = Vec::new();
    for bytes in &segment.records {
        seq += 1;
        hash = audit_chain::next_hash(&hash, bytes).to_vec();
        if seq < head.seq {
            continue;
        }
        if seq == head.seq {
            if hash != head.hash {
                return refused(format!(
                    "node {node}'s record {seq} differs from the anchored one (restored from an old copy?)"
                ));
            }
            continue;
        }
        let record = pb::AuditRecord::decode(bytes.as_slice()).map_err(invalid_data);
        let Ok(record) = record else {
            return refused(format!("node {node}'s record {seq} does not decode"));
        };
        if record.seq != seq || record.node_id != node {
            return refused(format!(
                "node {node}'s segment holds record {}/{} at seq {seq}",
                record.node_id, record.seq
            ));
        }
        added.push((seq, bytes, record));
    }
    if seq != checkpoint.seq || hash != checkpoint.head_hash {
        return refused(format!("node {node}'s checkpoint at seq {} does not match its records", checkpoint.seq));
    }
    if added.is_empty() {
        return Ok(ApplyOutcome::AuditAnchored { seq: head.seq, hash: head.hash });
    }
    for (seq, bytes, record) in &added {
        batch.put_cf(cf, record_key(node, *seq), bytes);
        for key in index_keys(record) {
            batch.put_cf(cf, key, []);
        }
    }
    batch.put_cf(cf, checkpoint_key(node, checkpoint.seq), checkpoint.encode_to_vec());
    let head = pb::AuditHead { seq, hash };
    chain.head = Some(head.clone());
    batch.put_cf(cf, chain_key(node), chain.encode_to_vec());
    chains.insert(node, chain);
    Ok(ApplyOutcome::AuditAnchored { seq: head.seq, hash: head.hash })
}

/// Drops, per node, the records of every segment whose last record is older than the cutoff (at most
/// `PRUNE_RECORDS_MAX` records per command); the newest dropped segment's checkpoint becomes the chain's base.
pub(super) fn apply_prune(
    store: &Store,
    batch: &mut WriteBatch,
    chains: &mut HashMap<u64, pb::AnchoredChain>,
    prune: &pb::AuditPrune,
) -> io::Result<ApplyOutcome> {
    let cf = store.cf(CF_STATE)?;
    let mut budget = PRUNE_RECORDS_MAX;
    for stored in store.anchored_chains()? {
        let node = stored.node_id;
        let mut chain = chains.get(&node).cloned().unwrap_or(stored);
        let base_seq = chain.base.as_ref().map_or(0, |base| base.seq);
        let prefix = keys::tagged_key(AUDIT_GROUP, AUDIT_CHECKPOINT, &node.to_be_bytes());
        let mut new_base = None;
        for (key, value) in store.range(CF_STATE, &prefix, &keys::prefix_end(&prefix))? {
            let checkpoint = pb::AuditCheckpoint::decode(value.as_slice()).map_err(invalid_data)?;
            if checkpoint.time_unix_us >= prune.before_unix_us || checkpoint.seq <= base_seq {
                if checkpoint.seq > base_seq {
                    break;
                }
                continue;
            }
            if (checkpoint.seq - base_seq) as usize > budget {
                break;
            }
            batch.delete_cf(cf, key);
            new_base = Some(checkpoint);
        }
        let Some(new_base) = new_base else {
            continue;
        };
        for (_, bytes) in store.anchored_records(node, base_seq + 1, new_base.seq)? {
            let record = pb::AuditRecord::decode(bytes.as_slice()).map_err(invalid_data)?;
            batch.delete_cf(cf, record_key(node, record.seq));
            for key in index_keys(&record) {
                batch.delete_cf(cf, key);
            }
        }
        budget = budget.saturating_sub((new_base.seq - base_seq) as usize);
        chain.base = Some(new_base);
        batch.put_cf(cf, chain_key(node), chain.encode_to_vec());
        chains.insert(node, chain);
    }
    Ok(ApplyOutcome::Nothing)
}

impl Store {
    /// The audit group's anchored chain of `node`, as this replica holds it.
    pub fn anchored_chain(&self, node: u64) -> io::Result<Option<pb::AnchoredChain>> {
        self.get_message(CF_STATE, &chain_key(node))
    }

    /// Every node's anchored chain this replica holds.
    pub fn anchored_chains(&self) -> io::Result<Vec<pb::AnchoredChain>> {
        let prefix = keys::tagged_key(AUDIT_GROUP, AUDIT_CHAIN, &[]);
        self.range(CF_STATE, &prefix, &keys::prefix_end(&prefix))?
            .into_iter()
            .map(|(_, value)| pb::AnchoredChain::decode(value.as_slice()).map_err(invalid_data))
            .collect()
    }

    /// Anchored records of `node` with seq in `[from, through]`, with the seq each key names.
    fn anchored_records(&self, node: u64, from: u64, through: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        self.anchored_read(node, from, usize::MAX)
            .map(|(items, _)| items.into_iter().take_while(|(seq, _)| *seq <= through).collect())
    }

    /// Up to `limit` anchored records of `node` from `from_seq` on (with the seq each key names), and the
    /// checkpoints within their range.
    pub fn anchored_read(&self, node: u64, from_seq: u64, limit: usize) -> io::Result<AnchoredRead> {
        let prefix = keys::tagged_key(AUDIT_GROUP, AUDIT_RECORD, &node.to_be_bytes());
        let mut items = Vec::new();
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(keys::prefix_end(&prefix));
        let start = record_key(node, from_seq);
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
        for item in self.db.iterator_cf_opt(self.cf(CF_STATE)?, options, mode) {
            if items.len() >= limit {
                break;
            }
            let (key, value) = item.map_err(storage_error)?;
            let seq = key.get(key.len() - 8..).and_then(|bytes| bytes.try_into().ok()).map(u64::from_be_bytes);
            items.push((seq.ok_or_else(|| invalid_data("short audit key"))?, value.to_vec()));
        }
        let last = items.last().map_or(from_seq, |(seq, _)| *seq);
        let from = checkpoint_key(node, from_seq);
        let to = checkpoint_key(node, last.saturating_add(1));
        let checkpoints = self
            .range(CF_STATE, &from, &to)?
            .into_iter()
            .map(|(_, value)| pb::AuditCheckpoint::decode(value.as_slice()).map_err(invalid_data))
            .collect::<io::Result<_>>()?;
        Ok((items, checkpoints))
    }

    /// `node`'s last anchored checkpoint whose records are all older than `before_unix_us`.
    pub fn last_checkpoint_before(&self, node: u64, before_unix_us: i64) -> io::Result<Option<pb::AuditCheckpoint>> {
        let prefix = keys::tagged_key(AUDIT_GROUP, AUDIT_CHECKPOINT, &node.to_be_bytes());
        let mut last = None;
        for (_, value) in self.range(CF_STATE, &prefix, &keys::prefix_end(&prefix))? {
            let checkpoint = pb::AuditCheckpoint::decode(value.as_slice()).map_err(invalid_data)?;
            if checkpoint.time_unix_us >= before_unix_us {
                break;
            }
            last = Some(checkpoint);
        }
        Ok(last)
    }

    /// One page of accesses, newest first.
    pub fn audit_query(&self, query: &AuditQuery) -> io::Result<AuditPage> {
        let mut prefixes = Vec::new();
        match (query.citizen, &query.caller) {
            (Some(citizen), _) => {
                prefixes.push(citizen_prefix(citizen));
                prefixes.extend(query.citizen_partition.map(partition_prefix));
            }
            (None, Some(caller)) => prefixes.push(caller_prefix(caller)),
            (None, None) => prefixes.push(time_prefix()),
        }
        let until = if query.until_unix_us > 0 { query.until_unix_us } else { i64::MAX };
        // Positions strictly after `after` (the page token, or just before `until`).
        let after: Vec<u8> = if query.page_token.len() == POSITION_BYTES {
            query.page_token.clone()
        } else {
            let mut position = inverted(until).to_be_bytes().to_vec();
            position.extend_from_slice(&[0xff; 16]);
            position
        };
        let oldest = inverted(query.since_unix_us);
        let page_size = query.page_size.clamp(1, AUDIT_PAGE_MAX);
        // Each index yields positions in order; merge them, keeping the newest `page_size`. An index read stops
        // early leaves a cutoff: nothing after it is certain to be complete, so the page ends there.
        let per_index = page_size * if query.citizen.is_some() && query.caller.is_some() { 8 } else { 1 };
        let mut positions: Vec<Vec<u8>> = Vec::new();
        let mut cutoff: Option<Vec<u8>> = None;
        for prefix in &prefixes {
            let mut start = prefix.clone();
            start.extend_from_slice(&after);
            let mut options = rocksdb::ReadOptions::default();
            options.set_iterate_upper_bound(keys::prefix_end(prefix));
            let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
            let mut taken = 0;
            for item in self.db.iterator_cf_opt(self.cf(CF_STATE)?, options, mode) {
                let (key, _) = item.map_err(storage_error)?;
                let Some(position) = key.get(prefix.len()..).filter(|position| position.len() == POSITION_BYTES) else {
                    continue;
                };
                if position <= after.as_slice() {
                    continue;
                }
                let inverted_time = u64::from_be_bytes(position[..8].try_into().map_err(invalid_data)?);
                if inverted_time > oldest {
                    break;
                }
                positions.push(position.to_vec());
                taken += 1;
                if taken >= per_index {
                    if cutoff.as_deref().is_none_or(|cut| position < cut) {
                        cutoff = Some(position.to_vec());
                    }
                    break;
                }
            }
        }
        positions.sort_unstable();
        positions.dedup();
        if let Some(cut) = &cutoff {
            positions.retain(|position| position <= cut);
        }
        let mut page = AuditPage::default();
        for position in positions {
            let node = u64::from_be_bytes(position[8..16].try_into().map_err(invalid_data)?);
            let seq = u64::from_be_bytes(position[16..24].try_into().map_err(invalid_data)?);
            let Some(mut record) = self.get_message::<pb::AuditRecord>(CF_STATE, &record_key(node, seq))? else {
                continue;
            };
            if let (Some(citizen), Some(caller)) = (query.citizen, &query.caller) {
                if &record.identity != caller {
                    continue;
                }
                record.citizen_ids = vec![citizen];
            } else if let Some(citizen) = query.citizen {
                // A citizen's view names no other citizen.
                record.citizen_ids.retain(|&id| id == citizen);
            }
            page.records.push(record);
            if page.records.len() >= page_size {
                page.next_page_token = position;
                return Ok(page);
            }
        }
        page.next_page_token = cutoff.unwrap_or_default();
        Ok(page)
    }
}
