//! The recent log entries of one partition, in memory, decoded and encoded.
//!
//! Every entry is read back right after it is appended: by the state machine (apply) and, on the
//! leader, by each follower's replication stream. Reading them from RocksDB would decode each one
//! once per reader, and replication would encode it again per follower; this cache hands out the
//! decoded entry (its command is reference-counted, so a clone is cheap) and the stored bytes.
//! Bounded by bytes; RocksDB stays the source of truth for anything evicted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::raft::types::{Entry, LogId};

/// Bytes of encoded entries kept per partition (the decoded copies take about as much again). The newest
/// entry is always kept, so one full `PutCitizens` batch (≤ 4 MiB) still fits; 63 partitions idle at a
/// few MiB each.
pub const ENTRY_CACHE_BYTES_MAX: usize = 2 * 1024 * 1024;

#[derive(Default)]
pub struct EntryCache {
    inner: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    entries: BTreeMap<u64, (Entry, Bytes)>,
    bytes: usize,
}

impl EntryCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a just-appended entry, evicting the oldest beyond the byte bound.
    pub fn insert(&self, entry: Entry, encoded: Bytes) {
        let mut cached = self.lock();
        cached.bytes += encoded.len();
        if let Some((_, old)) = cached.entries.insert(entry.log_id.index, (entry, encoded)) {
            cached.bytes -= old.len();
        }
        while cached.bytes > ENTRY_CACHE_BYTES_MAX && cached.entries.len() > 1 {
            if let Some((_, (_, evicted))) = cached.entries.pop_first() {
                cached.bytes -= evicted.len();
            }
        }
    }

    /// Entries `start..end` if every one of them is cached.
    pub fn range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let cached = self.lock();
        let entries: Vec<Entry> = cached.entries.range(start..end).map(|(_, (entry, _))| entry.clone()).collect();
        (entries.len() as u64 == end.saturating_sub(start)).then_some(entries)
    }

    /// The stored bytes of the entry `log_id`, if cached. Matched by the whole log id, not the index alone: after
    /// a step-down truncates the log, a replication task of the old term may still ask for an index that now holds
    /// another term's entry, and must not ship those bytes under its own `prev_log_id`.
    pub fn encoded(&self, log_id: &LogId) -> Option<Bytes> {
        let cached = self.lock();
        let (entry, bytes) = cached.entries.get(&log_id.index)?;
        (entry.log_id == *log_id).then(|| bytes.clone())
    }

    /// Forgets entries with index ≥ `from` (a truncated log suffix).
    pub fn remove_from(&self, from: u64) {
        let mut cached = self.lock();
        let removed = cached.entries.split_off(&from);
        cached.bytes -= removed.values().map(|(_, bytes)| bytes.len()).sum::<usize>();
    }

    /// Forgets entries with index ≤ `upto` (a purged log prefix).
    pub fn remove_upto(&self, upto: u64) {
        let mut cached = self.lock();
        let kept = cached.entries.split_off(&upto.saturating_add(1));
        let removed = std::mem::replace(&mut cached.entries, kept);
        cached.bytes -= removed.values().map(|(_, bytes)| bytes.len()).sum::<usize>();
    }
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;

    use super::*;
    use openraft::vote::RaftLeaderId;

    use crate::raft::types::LeaderId;

    fn entry(term: u64, index: u64) -> Entry {
        Entry { log_id: LogId::new(LeaderId::new(term, 1), index), payload: EntryPayload::Blank }
    }

    #[test]
    fn bytes_of_a_truncated_entry_are_not_handed_out_for_its_replacement() {
        let cache = EntryCache::default();
        let old = entry(1, 5);
        cache.insert(old.clone(), Bytes::from_static(b"term 1"));
        assert_eq!(cache.encoded(&old.log_id), Some(Bytes::from_static(b"term 1")));
        cache.remove_from(5);
        let new = entry(2, 5);
        cache.insert(new.clone(), Bytes::from_static(b"term 2"));
        assert_eq!(cache.encoded(&old.log_id), None, "the old term's replication must encode its own entry");
        assert_eq!(cache.encoded(&new.log_id), Some(Bytes::from_static(b"term 2")));
    }
}
