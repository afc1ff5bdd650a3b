//! Reads through the secondary indexes, and the partition scan. Callers linearize first.

use std::io;

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use rocksdb::{Direction, IteratorMode, ReadOptions, Snapshot};

use crate::storage::indexes::{self, id_of_index_key};
use crate::storage::keys::{self, CF_STATE, STATE_CITIZEN};
use crate::storage::{invalid_data, storage_error, Store};

impl Store {
    /// The personal IDs of the index entries under `prefix` as of `snapshot`, at most `limit` (plus whether more
    /// exist).
    fn ids_under(&self, snapshot: &Snapshot<'_>, prefix: &[u8], limit: usize) -> io::Result<(Vec<String>, bool)> {
        let cf = self.cf(CF_STATE)?;
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(keys::prefix_end(prefix));
        let mut ids = Vec::new();
        for item in snapshot.iterator_cf_opt(cf, options, IteratorMode::From(prefix, Direction::Forward)) {
            let (key, _) = item.map_err(storage_error)?;
            if ids.len() == limit {
                return Ok((ids, true));
            }
            let id = id_of_index_key(&key).ok_or_else(|| invalid_data("index key without a personal id"))?;
            ids.push(id.to_string());
        }
        Ok((ids, false))
    }

    /// The records an index names, read from one RocksDB snapshot for both the index and the records. Read at two
    /// moments, an answer could show a state that never existed: a member whose record (moved meanwhile) names
    /// another household, or a cancelled ID.
    fn indexed_records(&self, pid: PartitionId, prefix: &[u8], limit: usize) -> io::Result<(Vec<pb::Citizen>, bool)> {
        let snapshot = self.db.snapshot();
        let (ids, truncated) = self.ids_under(&snapshot, prefix, limit)?;
        let cf = self.cf(CF_STATE)?;
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::citizen_key(pid, id.as_bytes())).collect();
        let mut options = ReadOptions::default();
        options.set_snapshot(&snapshot);
        let mut records = Vec::with_capacity(keys.len());
        for found in self.db.batched_multi_get_cf_opt(cf, &keys, true, &options) {
            // In one snapshot an index entry always has its record; a missing one would be a broken invariant.
            if let Some(bytes) = found.map_err(storage_error)? {
                records.push(pb::Citizen::decode(bytes.as_ref()).map_err(invalid_data)?);
            }
        }
        Ok((records, truncated))
    }

    /// The members of `household_id` whose records live in this partition, in ID order.
    pub fn household_members(
        &self,
        pid: PartitionId,
        household_id: &str,
        limit: usize,
    ) -> io::Result<(Vec<pb::Citizen>, bool)> {
        self.indexed_records(pid, &indexes::household_prefix(pid, household_id), limit)
    }

    /// Citizens of this partition with search key `name_key` born on `dob`, in ID order.
    pub fn search_name_dob(
        &self,
        pid: PartitionId,
        name_key: &str,
        dob: &pb::Date,
        limit: usize,
    ) -> io::Result<(Vec<pb::Citizen>, bool)> {
        self.indexed_records(pid, &indexes::name_dob_prefix(pid, name_key, Some(dob)), limit)
    }

    /// The lowest personal ID holding legacy number `legacy_number` in this partition.
    pub fn legacy_lookup(&self, pid: PartitionId, legacy_number: &str) -> io::Result<Option<String>> {
        let (ids, _) = self.ids_under(&self.db.snapshot(), &indexes::legacy_prefix(pid, legacy_number), 1)?;
        Ok(ids.into_iter().next())
    }

    /// Streams the partition's records after `start_after` in ID order, `page_size` at a time, from one
    /// RocksDB snapshot (taken now). Blocking: run it on a blocking thread. Stops when `send` returns false.
    /// Sends at least one page (possibly empty), so the caller always learns the read point.
    pub fn scan_citizens(
        &self,
        pid: PartitionId,
        start_after: &str,
        page_size: usize,
        mut send: impl FnMut(Vec<pb::Citizen>) -> bool,
    ) -> io::Result<()> {
        let snapshot = self.db.snapshot();
        let cf = self.cf(CF_STATE)?;
        let prefix = keys::tagged_key(pid, STATE_CITIZEN, &[]);
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(keys::prefix_end(&prefix));
        let start = if start_after.is_empty() {
            prefix.clone()
        } else {
            // The first key after start_after's: its key with a 0x00 appended.
            let mut key = keys::citizen_key(pid, start_after.as_bytes());
            key.push(0);
            key
        };
        let mut page = Vec::with_capacity(page_size);
        let mut sent_any = false;
        for item in snapshot.iterator_cf_opt(cf, options, IteratorMode::From(&start, Direction::Forward)) {
            let (_, value) = item.map_err(storage_error)?;
            page.push(pb::Citizen::decode(value.as_ref()).map_err(invalid_data)?);
            if page.len() == page_size {
                sent_any = true;
                if !send(std::mem::replace(&mut page, Vec::with_capacity(page_size))) {
                    return Ok(());
                }
            }
        }
        if !page.is_empty() || !sent_any {
            send(page);
        }
        Ok(())
    }

    /// Every key and value of the partition's indexes, in key order (for checks and tests).
    pub fn index_entries(&self, pid: PartitionId) -> io::Result<Vec<indexes::IndexEntry>> {
        let cf = self.cf(CF_STATE)?;
        let first = keys::tagged_key(pid, *keys::INDEX_TAGS.start(), &[]);
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(keys::tagged_key(pid, keys::INDEX_TAGS.end() + 1, &[]));
        let mut entries = Vec::new();
        for item in self.db.iterator_cf_opt(cf, options, IteratorMode::From(&first, Direction::Forward)) {
            let (key, value) = item.map_err(storage_error)?;
            entries.push((key.to_vec(), value.to_vec()));
        }
        Ok(entries)
    }

    /// Every record of the partition, in ID order (for checks and tests; unbounded).
    pub fn all_citizens(&self, pid: PartitionId) -> io::Result<Vec<pb::Citizen>> {
        let mut all = Vec::new();
        self.scan_citizens(pid, "", 1024, |page| {
            all.extend(page);
            true
        })?;
        Ok(all)
    }
}
