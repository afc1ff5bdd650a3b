//! The node's one RocksDB: raft log, raft metadata and partition state for every Raft group, and the node's own
//! audit chain.
//!
//! Architecture Invariant: nothing outside `storage` opens or writes RocksDB. Readers on the hot
//! path call [`Store::get_citizen`] / [`Store::multi_get_citizens`] directly (after the linearizer),
//! never through the state-machine task.

mod audit_log;
mod audit_state;
pub mod entry_cache;
pub mod indexes;
pub mod keys;
mod log_store;
mod lookups;
mod node_meta;
pub mod snapshot;
mod state_machine;
mod wal_sync;
mod write_pressure;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dancu_cluster_config::{PartitionId, PartitionSpec};
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DataBlockIndexType, Options, WriteBatch, WriteOptions, DB,
};

pub use audit_log::{tamper as audit_tamper, AuditLog};
pub use audit_state::{AuditPage, AuditQuery, AUDIT_PAGE_MAX};
pub use log_store::LogStore;
pub use snapshot::SnapshotFile;
pub use state_machine::{SnapshotBuilder, StateMachine};
pub use wal_sync::Durability;
use wal_sync::WalSyncer;
pub use write_pressure::WritePressure;

use keys::{CF_AUDIT, CF_RAFT_LOG, CF_RAFT_META, CF_STATE};

/// The block cache shared by every column family.
const BLOCK_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// RocksDB's default data block size, the cache's typical entry.
const BLOCK_BYTES: usize = 4 * 1024;
/// Memtable size of the state column family (RocksDB's default is 64 MiB).
const STATE_MEMTABLE_BYTES: usize = 16 * 1024 * 1024;

/// Records as stored (in the order asked), and each touched partition's applied index, from one RocksDB snapshot.
pub type RecordsAt = (Vec<Option<Vec<u8>>>, BTreeMap<PartitionId, u64>);

/// The partition's applied log index as a RocksDB snapshot holds it (0: nothing applied).
fn applied_index_in(snapshot: &rocksdb::Snapshot<'_>, cf: &rocksdb::ColumnFamily, pid: PartitionId) -> io::Result<u64> {
    let Some(bytes) = snapshot.get_cf(cf, keys::tagged_key(pid, keys::STATE_APPLIED, &[])).map_err(storage_error)?
    else {
        return Ok(0);
    };
    let applied = pb::SnapshotMeta::decode(bytes.as_slice()).map_err(invalid_data)?;
    Ok(applied.last_log_id.map_or(0, |id| id.index))
}

pub fn storage_error(error: rocksdb::Error) -> io::Error {
    io::Error::other(error.into_string())
}

/// Bytes on disk that do not decode: corruption or a format this build does not know.
pub fn invalid_data(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// The options of a node's RocksDB and of its column families (raft log, raft metadata, state). The bench's
/// import write ceiling opens its databases with them, so the ceiling writes with the node's settings.
pub fn db_options() -> (Options, [ColumnFamilyDescriptor; 4]) {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_max_background_jobs(2);
    // Compaction is elastic work: it runs niced, so on a saturated box the Raft path (heartbeats, log appends,
    // the WAL fsync) gets the CPU first and compaction takes what is left. Flushes keep normal priority: a
    // memtable that cannot flush stalls every write.
    if let Ok(mut env) = rocksdb::Env::new() {
        env.lower_thread_pool_cpu_priority();
        options.set_env(&env);
    }
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // Write back flush and compaction output (and the WAL) as it is written, so a WAL fsync — every
    // acknowledged write and every Raft vote waits for one — does not stall behind a large backlog of dirty
    // pages; a vote slower than the election round costs a failover one more election timeout.
    options.set_bytes_per_sync(1024 * 1024);
    options.set_wal_bytes_per_sync(512 * 1024);
    // Hyper clock: lookups without the LRU's per-shard mutex, which point reads from every core contend on.
    let cache = Cache::new_hyper_clock_cache(BLOCK_CACHE_BYTES, BLOCK_BYTES);
    let cfs = [CF_RAFT_LOG, CF_RAFT_META, CF_STATE, CF_AUDIT].map(|name| {
        let mut cf_options = Options::default();
        // Log entries live until the next snapshot purges them: compressing them on every flush and
        // compaction costs CPU on the write path and saves little disk for long.
        let compression =
            if name == CF_RAFT_LOG { rocksdb::DBCompressionType::None } else { rocksdb::DBCompressionType::Lz4 };
        cf_options.set_compression_type(compression);
        if name == CF_STATE {
            // Recent data is rewritten by compaction soon: compress only from level 2 down, where it stays.
            use rocksdb::DBCompressionType::{Lz4, None as Plain};
            cf_options.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
        }
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        if name == CF_STATE {
            // Point lookups by personal id dominate: a bloom filter saves a block read per miss, and a hash
            // index inside each data block finds the key without scanning the block from a restart point.
            table.set_bloom_filter(10.0, false);
            table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
            table.set_data_block_hash_ratio(0.75);
            // The hash index finds a key's restart point; the entries after it are parsed one by one up to the
            // key. Records are large, so a restart at every other entry costs little space.
            table.set_block_restart_interval(2);
            // Most reads miss the memtable (records live in SSTs): a whole-key bloom skips the skiplist search.
            cf_options.set_memtable_prefix_bloom_ratio(0.1);
            // A point read that hits the memtable walks a skiplist (cache misses at every level), slower than
            // an SST's hashed block: a small memtable keeps most records in SSTs (recent writes stay hot).
            cf_options.set_write_buffer_size(STATE_MEMTABLE_BYTES);
            cf_options.set_memtable_whole_key_filtering(true);
        }
        cf_options.set_block_based_table_factory(&table);
        ColumnFamilyDescriptor::new(name, cf_options)
    });
    (options, cfs)
}

/// The node's RocksDB with its WAL syncer. Shared by every group on the node.
pub struct Store {
    db: Arc<DB>,
    syncer: WalSyncer,
    snapshot_dir: PathBuf,
    /// Serializes moves of a partition's current-snapshot pointer and the cleanup of its files, and names the
    /// files still being written (which cleanup must leave alone): a build and an install may run at once.
    snapshot_files: std::sync::Mutex<snapshot::FilesInProgress>,
}

impl Store {
    pub fn open(data_dir: &Path) -> io::Result<Arc<Store>> {
        Store::open_with(data_dir, Durability::Fsync)
    }

    pub fn open_with(data_dir: &Path, durability: Durability) -> io::Result<Arc<Store>> {
        let db_dir = data_dir.join("db");
        let snapshot_dir = data_dir.join("snapshots");
        std::fs::create_dir_all(&db_dir)?;
        std::fs::create_dir_all(&snapshot_dir)?;
        let (options, cfs) = db_options();
        let db = DB::open_cf_descriptors(&options, &db_dir, cfs).map_err(storage_error)?;
        let db = Arc::new(db);
        let syncer = WalSyncer::start(db.clone(), durability)?;
        Ok(Arc::new(Store { db, syncer, snapshot_dir, snapshot_files: Default::default() }))
    }

    pub fn log_store(self: &Arc<Self>, pid: PartitionId, cache: Arc<entry_cache::EntryCache>) -> LogStore {
        LogStore::new(pid, self.clone(), cache)
    }

    pub fn state_machine(self: &Arc<Self>, spec: &PartitionSpec, cache: Arc<entry_cache::EntryCache>) -> StateMachine {
        StateMachine::new(spec, self.clone(), cache)
    }

    /// A fresh path for a snapshot being received from the leader.
    pub fn incoming_snapshot_path(&self, pid: PartitionId) -> io::Result<PathBuf> {
        snapshot::new_snapshot_path(self, pid, "incoming")
    }

    fn cf(&self, name: &str) -> io::Result<&rocksdb::ColumnFamily> {
        self.db.cf_handle(name).ok_or_else(|| io::Error::other(format!("column family {name} missing")))
    }

    /// Writes without waiting for the WAL fsync; callers that need durability use [`Store::write_durable`]
    /// or register a waiter on the syncer.
    fn write(&self, batch: WriteBatch) -> io::Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(false);
        self.db.write_opt(batch, &options).map_err(storage_error)
    }

    /// Writes and returns once the batch is in the fsync'd WAL (group commit with other writers).
    async fn write_durable(&self, batch: WriteBatch) -> io::Result<()> {
        self.write(batch)?;
        self.syncer.sync().await
    }

    fn get(&self, cf: &str, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(cf)?, key).map_err(storage_error)
    }

    /// The keys and values in `[from, to)` of one column family, in key order. For small ranges only.
    fn range(&self, cf: &str, from: &[u8], to: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(to.to_vec());
        let mode = rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward);
        self.db
            .iterator_cf_opt(self.cf(cf)?, options, mode)
            .map(|item| item.map(|(key, value)| (key.to_vec(), value.to_vec())).map_err(storage_error))
            .collect()
    }

    fn get_message<M: Message + Default>(&self, cf: &str, key: &[u8]) -> io::Result<Option<M>> {
        match self.get(cf, key)? {
            None => Ok(None),
            Some(bytes) => M::decode(bytes.as_slice()).map(Some).map_err(invalid_data),
        }
    }

    /// Reads one record straight from RocksDB. Callers linearize first when they need to.
    pub fn get_citizen(&self, pid: PartitionId, personal_id: &str) -> io::Result<Option<pb::Citizen>> {
        self.get_message(CF_STATE, &keys::citizen_key(pid, personal_id.as_bytes()))
    }

    /// One record as stored (an encoded `Citizen`), for replies that pass it on without decoding it, and the
    /// partition's applied index in the same RocksDB snapshot: the index of exactly the state the record shows.
    pub fn get_citizen_encoded(&self, pid: PartitionId, personal_id: &str) -> io::Result<(Option<Vec<u8>>, u64)> {
        let snapshot = self.db.snapshot();
        let cf = self.cf(CF_STATE)?;
        let record = snapshot.get_cf(cf, keys::citizen_key(pid, personal_id.as_bytes())).map_err(storage_error)?;
        Ok((record, applied_index_in(&snapshot, cf, pid)?))
    }

    /// Reads many records of one partition in one RocksDB `multi_get`.
    pub fn multi_get_citizens(&self, pid: PartitionId, personal_ids: &[&str]) -> io::Result<Vec<Option<pb::Citizen>>> {
        let keys: Vec<(PartitionId, &str)> = personal_ids.iter().map(|&id| (pid, id)).collect();
        self.multi_get_citizens_encoded(&keys)?
            .into_iter()
            .map(|found| found.map(|bytes| pb::Citizen::decode(bytes.as_slice()).map_err(invalid_data)).transpose())
            .collect()
    }

    /// The records as stored (encoded `Citizen`s) of (partition, personal id) pairs, in their order; the pairs
    /// may span partitions.
    pub fn multi_get_citizens_encoded(&self, citizens: &[(PartitionId, &str)]) -> io::Result<Vec<Option<Vec<u8>>>> {
        Ok(self.multi_get_citizens_encoded_at(citizens)?.0)
    }

    /// [`Store::multi_get_citizens_encoded`] from one RocksDB snapshot, with each touched partition's applied index
    /// in that snapshot (the index of exactly the state the records show).
    pub fn multi_get_citizens_encoded_at(&self, citizens: &[(PartitionId, &str)]) -> io::Result<RecordsAt> {
        let cf = self.cf(CF_STATE)?;
        let snapshot = self.db.snapshot();
        let mut options = rocksdb::ReadOptions::default();
        options.set_snapshot(&snapshot);
        let keys: Vec<Vec<u8>> = citizens.iter().map(|(pid, id)| keys::citizen_key(*pid, id.as_bytes())).collect();
        // The batched form looks keys up together (one pass per SST, values pinned, no copy): measured ~4× the
        // per-key rate of `multi_get_cf`, which loops over single gets.
        let records = self
            .db
            .batched_multi_get_cf_opt(cf, &keys, false, &options)
            .into_iter()
            .map(|result| Ok(result.map_err(storage_error)?.map(|bytes| bytes.to_vec())))
            .collect::<io::Result<Vec<_>>>()?;
        let mut applied = BTreeMap::new();
        for (pid, _) in citizens {
            if !applied.contains_key(pid) {
                applied.insert(*pid, applied_index_in(&snapshot, cf, *pid)?);
            }
        }
        Ok((records, applied))
    }
}
