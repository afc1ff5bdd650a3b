//! The import write ceiling: raw RocksDB writing exactly what three replicas store for an import of the same
//! records, all three at once on this machine, with nothing else in the way (no Raft, no RPC, no JSON parsing,
//! no validation, no reads of old records).
//!
//! Each replica gets its own RocksDB opened with the node's own options (`dancu_node::storage::db_options`) and
//! writes, per import batch of one partition, what a node writes: the batch as one `raft_log` entry, then the records
//! with the server-set revision and timestamp, their index entries (the node's own key functions), the request-id
//! pair and `last_applied`, in one WriteBatch. Batches are cut the way `dancuctl import` cuts them (records grouped
//! per partition in input order, sent at [`BATCH_RECORDS`]). The clock runs from the first write until every replica
//! has flushed what it wrote to SST files (work a load owes, whether or not its own clock waits for it); compactions
//! are not waited for. The WAL is fsync'd once per [`GROUP_COMMIT_BATCHES`] log writes — fewer fsyncs than a node
//! makes — so the figure errs high: dancu's load rate over it is what consensus, RPC, parsing and checks cost on top
//! of the engine, and no import that stores the same bytes on this machine can beat it by much.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dancu_cluster_config::PartitionId;
use dancu_node::storage::{indexes, keys};
use dancu_proto::v1 as pb;
use dancu_synthetic::Population;
use prost::Message;
use rocksdb::{WriteBatch, WriteOptions, DB};

use crate::CompareError;

/// Replicas of every partition in the compared cluster.
pub const REPLICAS: usize = 3;
/// Records per batch: `dancuctl import`'s default batch size (one Raft entry).
const BATCH_RECORDS: usize = 1_000;
/// Log writes per WAL fsync (a node syncs once per group commit of however many appends are waiting).
const GROUP_COMMIT_BATCHES: usize = 8;
/// Records the ceiling writes at most: its batches are encoded in memory before the clock starts (~1.5 KB a
/// record), and the rate is what matters, not the size.
pub const RECORDS_MAX: u64 = 1_000_000;
/// The server's clock at apply (`proposed_at_unix_ms`); any fixed value encodes to the same length.
const PROPOSED_AT_UNIX_MS: i64 = 1_764_000_000_000;

/// What raw RocksDB reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportWriteCeiling {
    pub records: u64,
    pub replicas: usize,
    /// Records per second, each written by every replica, from the first write until the last replica's flush.
    pub records_per_s: f64,
}

/// One import batch as a replica writes it.
struct ReplicaBatch {
    log_key: [u8; 12],
    log_entry: Vec<u8>,
    state: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Writes the first [`RECORDS_MAX`] records of `population` as [`REPLICAS`] replicas would, into fresh RocksDBs
/// under `dir`, one thread per replica.
pub fn measure(dir: &Path, population: &Population) -> Result<ImportWriteCeiling, CompareError> {
    let records = population.count().min(RECORDS_MAX);
    let batches = Arc::new(replica_batches(population.citizens_in(0..records)));
    let started = Instant::now();
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..REPLICAS)
            .map(|replica| {
                let path = dir.join(format!("replica-{replica}"));
                let batches = batches.clone();
                scope.spawn(move || write_replica(&path, &batches))
            })
            .collect();
        writers
            .into_iter()
            .map(|writer| writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect::<Result<Vec<()>, CompareError>>()
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let records_per_s = if records == 0 { 0.0 } else { records as f64 / seconds };
    Ok(ImportWriteCeiling { records, replicas: REPLICAS, records_per_s })
}

/// The batches of an import of `citizens`, cut per partition in input order, each encoded as a replica stores it.
fn replica_batches(citizens: impl Iterator<Item = pb::Citizen>) -> Vec<ReplicaBatch> {
    let mut open: BTreeMap<u32, Vec<pb::Citizen>> = BTreeMap::new();
    let mut next_index: BTreeMap<u32, u64> = BTreeMap::new();
    let mut batches = Vec::new();
    for citizen in citizens {
        let pid = partition_of(&citizen.id);
        let batch = open.entry(pid).or_default();
        batch.push(citizen);
        if batch.len() == BATCH_RECORDS {
            let full = std::mem::take(batch);
            batches.push(encode_batch(PartitionId(pid), &mut next_index, full));
        }
    }
    for (pid, rest) in open {
        if !rest.is_empty() {
            batches.push(encode_batch(PartitionId(pid), &mut next_index, rest));
        }
    }
    batches
}

/// The unsplit partition of an ID: its province code × 100 (the default partition map).
fn partition_of(personal_id: &str) -> u32 {
    personal_id.get(..3).and_then(|code| code.parse::<u32>().ok()).map_or(0, |code| code * 100)
}

fn encode_batch(pid: PartitionId, next_index: &mut BTreeMap<u32, u64>, citizens: Vec<pb::Citizen>) -> ReplicaBatch {
    let index = next_index.entry(pid.0).or_insert(1);
    let log_index = *index;
    *index += 1;
    let request_id = format!("import-{:064x}", u128::from(pid.0) << 64 | u128::from(log_index));
    let mut state = Vec::with_capacity(citizens.len() * 4 + 3);
    for citizen in &citizens {
        let mut record = citizen.clone();
        record.revision = 1;
        record.updated_at_unix_ms = PROPOSED_AT_UNIX_MS;
        state.push((keys::citizen_key(pid, citizen.id.as_bytes()), record.encode_to_vec()));
        state.extend(indexes::entries(pid, citizen));
    }
    // As the node remembers a batch: each record's revision and whether it was written.
    let outcome = pb::RequestOutcome {
        revision: 0,
        log_index,
        batch_revisions: vec![1; citizens.len()],
        batch_written: vec![true; citizens.len()],
    };
    state.push((keys::request_key(pid, &request_id), outcome.encode_to_vec()));
    state.push((keys::request_by_index_key(pid, log_index), request_id.clone().into_bytes()));
    let applied = pb::SnapshotMeta {
        last_log_id: Some(pb::LogId { term: 1, node_id: 1, index: log_index }),
        last_membership: None,
    };
    state.push((keys::tagged_key(pid, keys::STATE_APPLIED, &[]), applied.encode_to_vec()));
    let command = pb::Command {
        op: Some(pb::command::Op::PutCitizens(pb::PutCitizensCommand {
            citizens,
            request_id,
            proposed_at_unix_ms: PROPOSED_AT_UNIX_MS,
        })),
    };
    let entry = pb::Entry {
        log_id: Some(pb::LogId { term: 1, node_id: 1, index: log_index }),
        payload: Some(pb::entry::Payload::Command(command)),
    };
    ReplicaBatch { log_key: keys::log_key(pid, log_index), log_entry: entry.encode_to_vec(), state }
}

/// One replica: every batch's log entry, then its state, as a node appends and applies it.
fn write_replica(path: &Path, batches: &[ReplicaBatch]) -> Result<(), CompareError> {
    let rocksdb_error = |source| CompareError::Rocksdb { path: path.to_path_buf(), source };
    let db = open(path).map_err(rocksdb_error)?;
    let column = |name: &str| {
        db.cf_handle(name).ok_or_else(|| {
            CompareError::io(format!("rocksdb at {}", path.display()), std::io::Error::other(format!("no {name}")))
        })
    };
    let (log_cf, state_cf) = (column(keys::CF_RAFT_LOG)?, column(keys::CF_STATE)?);
    let mut unsynced = WriteOptions::default();
    unsynced.set_sync(false);
    for (batch_idx, batch) in batches.iter().enumerate() {
        let mut log = WriteBatch::default();
        log.put_cf(log_cf, batch.log_key, &batch.log_entry);
        db.write_opt(log, &unsynced).map_err(rocksdb_error)?;
        if (batch_idx + 1) % GROUP_COMMIT_BATCHES == 0 {
            db.flush_wal(true).map_err(rocksdb_error)?;
        }
        let mut state = WriteBatch::default();
        for (key, value) in &batch.state {
            state.put_cf(state_cf, key, value);
        }
        db.write_opt(state, &unsynced).map_err(rocksdb_error)?;
    }
    db.flush_wal(true).map_err(rocksdb_error)?;
    // Memtables still waiting to be flushed are work the write owes: a load that ends before its flushes would be
    // measured faster the bigger the memtables, not the faster the machine.
    db.flush_cfs_opt(&[log_cf, state_cf], &rocksdb::FlushOptions::default()).map_err(rocksdb_error)
}

/// A replica's database, with the node's own options.
fn open(path: &Path) -> Result<DB, rocksdb::Error> {
    let (options, column_families) = dancu_node::storage::db_options();
    DB::open_cf_descriptors(&options, path, column_families)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_replica_holds_every_record_and_its_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let population = Population::new(11, 2_500).expect("population");
        let ceiling = measure(dir.path(), &population).expect("measure");
        assert_eq!((ceiling.records, ceiling.replicas), (2_500, REPLICAS));
        assert!(ceiling.records_per_s > 0.0, "{ceiling:?}");
        let expected: Vec<pb::Citizen> = population.citizens().collect();
        for replica in 0..REPLICAS {
            let db = open(&dir.path().join(format!("replica-{replica}"))).expect("reopen");
            let state = db.cf_handle(keys::CF_STATE).expect("state");
            for citizen in &expected {
                let pid = PartitionId(partition_of(&citizen.id));
                let stored = db.get_cf(state, keys::citizen_key(pid, citizen.id.as_bytes())).expect("get");
                let stored = pb::Citizen::decode(stored.expect("record written").as_slice()).expect("decodes");
                assert_eq!((stored.revision, &stored.full_name), (1, &citizen.full_name));
                for (key, _) in indexes::entries(pid, citizen) {
                    assert!(db.get_cf(state, key).expect("get").is_some(), "index entry of {}", citizen.id);
                }
            }
        }
    }

    #[test]
    fn batches_are_cut_per_partition_at_the_import_batch_size() {
        let population = Population::new(3, 5_000).expect("population");
        let batches = replica_batches(population.citizens());
        let records: usize = batches
            .iter()
            .map(|batch| pb::Entry::decode(batch.log_entry.as_slice()).expect("entry"))
            .map(|entry| match entry.payload {
                Some(pb::entry::Payload::Command(pb::Command { op: Some(pb::command::Op::PutCitizens(put)) })) => {
                    let pid = partition_of(&put.citizens[0].id);
                    assert!(put.citizens.iter().all(|c| partition_of(&c.id) == pid), "one partition per batch");
                    assert!(put.citizens.len() <= BATCH_RECORDS);
                    put.citizens.len()
                }
                other => panic!("not a PutCitizens entry: {other:?}"),
            })
            .sum();
        assert_eq!(records, 5_000);
    }
}
