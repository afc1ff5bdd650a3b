//! Snapshot files: a partition's state range, read from a RocksDB snapshot, as length-delimited
//! `SnapshotItem` messages. Built here, streamed to peers in bounded chunks, installed atomically.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use crate::raft::codec::{snapshot_meta_from_pb, snapshot_meta_to_pb};
use crate::raft::types::SnapshotMeta;
use crate::storage::indexes;
use crate::storage::keys::{self, CF_RAFT_META, CF_STATE, META_SNAPSHOT, STATE_APPLIED};
use crate::storage::{invalid_data, storage_error, Store};

/// A snapshot's data on local disk.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

static FILE_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Snapshot files being written (built or received); cleanup never removes them.
#[derive(Debug, Default)]
pub struct FilesInProgress(HashSet<PathBuf>);

/// Marks a file as being written until dropped.
pub struct InProgress<'a> {
    store: &'a Store,
    path: PathBuf,
}

impl<'a> InProgress<'a> {
    pub fn new(store: &'a Store, path: PathBuf) -> InProgress<'a> {
        store.lock_snapshot_files().0.insert(path.clone());
        InProgress { store, path }
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.store.lock_snapshot_files().0.remove(&self.path);
    }
}

impl Store {
    fn lock_snapshot_files(&self) -> std::sync::MutexGuard<'_, FilesInProgress> {
        self.snapshot_files.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A fresh, unique path in the partition's snapshot directory.
pub fn new_snapshot_path(store: &Store, pid: PartitionId, what: &str) -> io::Result<PathBuf> {
    let dir = store.snapshot_dir.join(pid.0.to_string());
    std::fs::create_dir_all(&dir)?;
    let sequence = FILE_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Ok(dir.join(format!("{what}-{nanos}-{sequence}.snap")))
}

/// Builds a snapshot file and makes it the partition's current snapshot, unless a newer one was installed while it
/// was being built: then the newer one stays current (the pointer never moves back), the built file is removed and
/// the current snapshot is returned.
pub fn build(store: &Store, pid: PartitionId) -> io::Result<(SnapshotMeta, SnapshotFile)> {
    let path = new_snapshot_path(store, pid, "built")?;
    let _in_progress = InProgress::new(store, path.clone());
    let (meta, file) = build_file(store, pid, path)?;
    publish_built(store, pid, meta, file)
}

/// Makes a built file current if it is at least as new as the current snapshot (see [`build`]).
fn publish_built(
    store: &Store,
    pid: PartitionId,
    meta: SnapshotMeta,
    file: SnapshotFile,
) -> io::Result<(SnapshotMeta, SnapshotFile)> {
    let files = store.lock_snapshot_files();
    if let Some((current_pb, current_file)) = read_current(store, pid)? {
        let current = snapshot_meta_from_pb(Some(&current_pb))?;
        if current.last_log_id > meta.last_log_id && current_file.path.exists() {
            let _ = std::fs::remove_file(&file.path);
            return Ok((current, current_file));
        }
    }
    let mut batch = WriteBatch::default();
    put_current(store, &mut batch, pid, &snapshot_meta_to_pb(&meta), &file.path)?;
    store.write(batch)?;
    remove_others(store, &files, pid, &file.path);
    Ok((meta, file))
}

/// Writes the partition's state (except the applied marker, which travels as `SnapshotMeta`) from a
/// consistent RocksDB snapshot to `path`. Returns the meta that the data reflects.
fn build_file(store: &Store, pid: PartitionId, path: PathBuf) -> io::Result<(SnapshotMeta, SnapshotFile)> {
    let snapshot = store.db.snapshot();
    let cf = store.cf(CF_STATE)?;
    let applied_key = keys::tagged_key(pid, STATE_APPLIED, &[]);
    let applied = snapshot.get_cf(cf, &applied_key).map_err(storage_error)?;
    let meta_pb = match applied {
        None => pb::SnapshotMeta::default(),
        Some(bytes) => pb::SnapshotMeta::decode(bytes.as_slice()).map_err(invalid_data)?,
    };
    let meta = snapshot_meta_from_pb(Some(&meta_pb))?;
    let mut out = BufWriter::new(File::create(&path)?);
    let mut options = ReadOptions::default();
    options.set_iterate_upper_bound(keys::partition_end(pid));
    let start = keys::partition_prefix(pid);
    for item in snapshot.iterator_cf_opt(cf, options, IteratorMode::From(&start, Direction::Forward)) {
        let (key, value) = item.map_err(storage_error)?;
        // Indexes are derived data: the installer rebuilds them from the records.
        if key.as_ref() == applied_key.as_slice()
            || keys::tag_of(&key).is_some_and(|tag| keys::INDEX_TAGS.contains(&tag))
        {
            continue;
        }
        let item = pb::SnapshotItem { key: key.to_vec(), value: value.to_vec() };
        out.write_all(&item.encode_length_delimited_to_vec())?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((meta, SnapshotFile { path }))
}

/// Replaces the partition's whole state range with the snapshot's, in one atomic WriteBatch, and
/// records the snapshot as the partition's current one. Index entries are rebuilt from the records
/// (any the file carries are ignored), so an installed partition's indexes always match its records.
pub fn install(store: &Store, pid: PartitionId, meta: &SnapshotMeta, file: &SnapshotFile) -> io::Result<()> {
    let mut bytes = Vec::new();
    File::open(&file.path)?.read_to_end(&mut bytes)?;
    let cf = store.cf(CF_STATE)?;
    let mut batch = WriteBatch::default();
    batch.delete_range_cf(cf, keys::partition_prefix(pid).to_vec(), keys::partition_end(pid));
    read_state_entries(pid, &bytes, |key, value| batch.put_cf(cf, key, value))?;
    let meta_pb = snapshot_meta_to_pb(meta);
    batch.put_cf(cf, keys::tagged_key(pid, STATE_APPLIED, &[]), meta_pb.encode_to_vec());
    let files = store.lock_snapshot_files();
    put_current(store, &mut batch, pid, &meta_pb, &file.path)?;
    let mut options = rocksdb::WriteOptions::default();
    options.set_sync(true);
    store.db.write_opt(batch, &options).map_err(storage_error)?;
    remove_others(store, &files, pid, &file.path);
    Ok(())
}

/// Hands `put` the state entries a snapshot file installs: its items, each checked to lie in `pid`'s range, less any
/// index entries it carries, plus the index entries rebuilt from its records. Malformed input is an error, never a
/// panic: the file came from another node. An error may come after some entries were handed over (the installer
/// drops its batch then).
pub fn read_state_entries(pid: PartitionId, mut bytes: &[u8], mut put: impl FnMut(Vec<u8>, Vec<u8>)) -> io::Result<()> {
    let prefix = keys::partition_prefix(pid);
    while !bytes.is_empty() {
        let item = pb::SnapshotItem::decode_length_delimited(&mut bytes).map_err(invalid_data)?;
        // A snapshot may only touch its own partition's range.
        if !item.key.starts_with(&prefix) {
            return Err(invalid_data("snapshot item outside its partition"));
        }
        match keys::tag_of(&item.key) {
            Some(tag) if keys::INDEX_TAGS.contains(&tag) => continue,
            Some(keys::STATE_CITIZEN) => {
                let citizen = pb::Citizen::decode(item.value.as_slice()).map_err(invalid_data)?;
                for (key, value) in indexes::entries(pid, &citizen) {
                    put(key, value);
                }
            }
            _ => {}
        }
        put(item.key, item.value);
    }
    Ok(())
}

/// Records `path` as the partition's current snapshot (in the same batch as the caller's writes).
pub fn put_current(
    store: &Store,
    batch: &mut WriteBatch,
    pid: PartitionId,
    meta: &pb::SnapshotMeta,
    path: &Path,
) -> io::Result<()> {
    let record = pb::SnapshotChunk {
        partition_id: pid.0,
        vote: None,
        meta: Some(meta.clone()),
        data: path.as_os_str().as_encoded_bytes().to_vec(),
    };
    batch.put_cf(store.cf(CF_RAFT_META)?, keys::tagged_key(pid, META_SNAPSHOT, &[]), record.encode_to_vec());
    Ok(())
}

/// The partition's current snapshot meta and file, if any.
pub fn read_current(store: &Store, pid: PartitionId) -> io::Result<Option<(pb::SnapshotMeta, SnapshotFile)>> {
    let record: Option<pb::SnapshotChunk> =
        store.get_message(CF_RAFT_META, &keys::tagged_key(pid, META_SNAPSHOT, &[]))?;
    let Some(record) = record else {
        return Ok(None);
    };
    let path = PathBuf::from(String::from_utf8(record.data).map_err(invalid_data)?);
    Ok(Some((record.meta.unwrap_or_default(), SnapshotFile { path })))
}

/// Deletes the partition's snapshot files other than `keep` (the current one) and those still being written.
/// Called with the files lock held, right after the pointer moved to `keep`.
fn remove_others(store: &Store, files: &FilesInProgress, pid: PartitionId, keep: &Path) {
    let dir = store.snapshot_dir.join(pid.0.to_string());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // A file still arriving from the leader is its receiver's to keep or remove.
        let incoming = path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("incoming-"));
        if path != keep && !files.0.contains(&path) && !incoming {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied_at(store: &Store, pid: PartitionId, index: u64) {
        let meta =
            pb::SnapshotMeta { last_log_id: Some(pb::LogId { term: 1, node_id: 1, index }), last_membership: None };
        let mut batch = WriteBatch::default();
        batch.put_cf(store.cf(CF_STATE).unwrap(), keys::tagged_key(pid, STATE_APPLIED, &[]), meta.encode_to_vec());
        store.write(batch).unwrap();
    }

    /// A build that finishes after a newer snapshot was installed (openraft may run both at once) leaves the newer
    /// one current and its file in place; the late build's file is dropped.
    #[test]
    fn a_late_build_never_moves_the_pointer_back_nor_removes_the_installed_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let pid = PartitionId(100);
        applied_at(&store, pid, 1);
        let built_path = new_snapshot_path(&store, pid, "built").unwrap();
        let in_progress = InProgress::new(&store, built_path.clone());
        let (old_meta, old_file) = build_file(&store, pid, built_path.clone()).unwrap();

        // Meanwhile the leader's newer snapshot is installed; its cleanup must spare the file still being built.
        let mut newer = old_meta.clone();
        newer.last_log_id = Some(crate::raft::codec::log_id_from_pb(&pb::LogId { term: 2, node_id: 2, index: 5 }));
        let installed = SnapshotFile { path: new_snapshot_path(&store, pid, "installed").unwrap() };
        std::fs::copy(&old_file.path, &installed.path).unwrap();
        install(&store, pid, &newer, &installed).unwrap();
        assert!(built_path.exists(), "an install removed a snapshot file still being built");

        let (meta, file) = publish_built(&store, pid, old_meta, old_file).unwrap();
        drop(in_progress);
        assert_eq!(meta.last_log_id, newer.last_log_id, "the pointer moved back to an older snapshot");
        assert_eq!(file.path, installed.path);
        assert!(installed.path.exists(), "the current snapshot's file was removed");
        let (current, current_file) = read_current(&store, pid).unwrap().unwrap();
        assert_eq!(current.last_log_id.map(|id| id.index), Some(5));
        assert_eq!(current_file.path, installed.path);
        assert!(!built_path.exists(), "the superseded build is removed");
    }
}
