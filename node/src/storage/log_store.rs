//! openraft's log storage for one partition, over the shared RocksDB.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use bytes::Bytes;

use crate::raft::codec::{encode_entry, entry_from_pb, log_id_from_pb, log_id_to_pb, vote_from_pb, vote_to_pb};
use crate::raft::types::{Entry, LogId, TypeConfig, Vote};
use crate::storage::entry_cache::EntryCache;
use crate::storage::keys::{self, CF_RAFT_LOG, CF_RAFT_META, META_COMMITTED, META_PURGED, META_VOTE};
use crate::storage::{invalid_data, storage_error, Store};

#[derive(Clone)]
pub struct LogStore {
    pid: PartitionId,
    store: Arc<Store>,
    /// Shared with the partition's replication (`raft::network`).
    cache: Arc<EntryCache>,
}

impl LogStore {
    pub fn new(pid: PartitionId, store: Arc<Store>, cache: Arc<EntryCache>) -> LogStore {
        LogStore { pid, store, cache }
    }

    fn meta_key(&self, tag: u8) -> Vec<u8> {
        keys::tagged_key(self.pid, tag, &[])
    }

    fn read_log_id(&self, tag: u8) -> io::Result<Option<LogId>> {
        let id: Option<pb::LogId> = self.store.get_message(CF_RAFT_META, &self.meta_key(tag))?;
        Ok(id.as_ref().map(log_id_from_pb))
    }

    fn last_entry_log_id(&self) -> io::Result<Option<LogId>> {
        let cf = self.store.cf(CF_RAFT_LOG)?;
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(keys::partition_prefix(self.pid).to_vec());
        options.set_iterate_upper_bound(keys::partition_end(self.pid));
        let mut iter = self.store.db.iterator_cf_opt(cf, options, IteratorMode::End);
        match iter.next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) = item.map_err(storage_error)?;
                let entry = pb::Entry::decode(value.as_ref()).map_err(invalid_data)?;
                Ok(Some(entry_from_pb(entry)?.log_id))
            }
        }
    }

    fn read_entries(&self, start: u64, end: Option<u64>) -> io::Result<Vec<Entry>> {
        let cf = self.store.cf(CF_RAFT_LOG)?;
        let upper = match end {
            Some(end) => keys::log_key(self.pid, end).to_vec(),
            None => keys::partition_end(self.pid),
        };
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(upper);
        let start_key = keys::log_key(self.pid, start);
        let iter = self.store.db.iterator_cf_opt(cf, options, IteratorMode::From(&start_key, Direction::Forward));
        let mut entries = Vec::new();
        let mut expected_index = start;
        for item in iter {
            let (key, value) = item.map_err(storage_error)?;
            let entry = entry_from_pb(pb::Entry::decode(value.as_ref()).map_err(invalid_data)?)?;
            // The log is contiguous: a gap would mean lost entries, which openraft must never see.
            assert_eq!(keys::log_index_of(&key), Some(entry.log_id.index), "log key and entry disagree");
            assert!(entry.log_id.index == expected_index || entries.is_empty(), "log has a gap");
            expected_index = entry.log_id.index + 1;
            entries.push(entry);
        }
        Ok(entries)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(x) => Some(x.saturating_add(1)),
            Bound::Excluded(x) => Some(*x),
            Bound::Unbounded => None,
        };
        if let Some(entries) = end.and_then(|end| self.cache.range(start, end)) {
            return Ok(entries);
        }
        self.read_entries(start, end)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        let vote: Option<pb::Vote> = self.store.get_message(CF_RAFT_META, &self.meta_key(META_VOTE))?;
        vote.map(|v| vote_from_pb(Some(&v))).transpose()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id = self.read_log_id(META_PURGED)?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_RAFT_META)?, self.meta_key(META_VOTE), vote_to_pb(vote).encode_to_vec());
        // A vote must survive a crash before anyone learns of it.
        self.store.write_durable(batch).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        let Some(committed) = committed else {
            return Ok(());
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.store.cf(CF_RAFT_META)?,
            self.meta_key(META_COMMITTED),
            log_id_to_pb(&committed).encode_to_vec(),
        );
        // Not synced: a committed index that lags after a crash is still a safe lower bound.
        self.store.write(batch)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        self.read_log_id(META_COMMITTED)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        #[cfg(feature = "failpoints")]
        {
            crate::failpoints::note_reached("log_append_before_write");
            fail::fail_point!("log_append_before_write", |_| Err(io::Error::other(
                "failpoint log_append_before_write"
            )));
        }
        let cf = self.store.cf(CF_RAFT_LOG)?;
        let mut batch = WriteBatch::default();
        for entry in entries {
            let encoded = Bytes::from(encode_entry(&entry));
            batch.put_cf(cf, keys::log_key(self.pid, entry.log_id.index), &encoded);
            self.cache.insert(entry, encoded);
        }
        // An unsynced write into the memtable (the WAL fsync is the syncer's): short, so it stays on the runtime.
        self.store.write(batch)?;
        // openraft learns of the append only once the WAL holding it is fsync'd (group commit).
        self.store.syncer.on_durable(move |result| callback.io_completed(result));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index + 1);
        self.cache.remove_from(from);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.store.cf(CF_RAFT_LOG)?,
            keys::log_key(self.pid, from).to_vec(),
            keys::partition_end(self.pid),
        );
        self.store.write_durable(batch).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.cache.remove_upto(log_id.index);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_RAFT_META)?, self.meta_key(META_PURGED), log_id_to_pb(&log_id).encode_to_vec());
        batch.delete_range_cf(
            self.store.cf(CF_RAFT_LOG)?,
            keys::log_key(self.pid, 0),
            keys::log_key(self.pid, log_id.index + 1),
        );
        self.store.write(batch)
    }
}
