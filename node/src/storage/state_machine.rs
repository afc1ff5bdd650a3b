//! openraft's state machine for one partition: applies commands into the partition's state range.
//!
//! Apply writes the records, the request-id table and `last_applied` + membership in one
//! WriteBatch, so after a crash the state is exactly "everything up to last_applied".

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use dancu_cluster_config::{PartitionId, PartitionSpec};
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use rocksdb::WriteBatch;

use crate::limits::REQUEST_ID_WINDOW_ENTRIES;
use crate::raft::codec::{snapshot_meta_from_pb, snapshot_meta_to_pb, stored_membership_to_pb};
use crate::raft::types::{ApplyOutcome, LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};
use crate::storage::keys::{self, CF_STATE, STATE_APPLIED};
use crate::storage::snapshot::{self, SnapshotFile};
use crate::storage::Store;

/// Most entries applied in one WriteBatch.
const APPLY_BATCH_ENTRIES_MAX: usize = 1024;

pub struct StateMachine {
    pid: PartitionId,
    /// Inclusive first and last personal ID of the partition.
    range: (String, String),
    store: Arc<Store>,
}

/// What one apply batch has written so far: later entries of the batch must see earlier ones.
#[derive(Default)]
struct Pending {
    revisions: HashMap<String, u64>,
    requests: HashMap<String, pb::RequestOutcome>,
}

impl StateMachine {
    pub fn new(spec: &PartitionSpec, store: Arc<Store>) -> StateMachine {
        StateMachine { pid: spec.id, range: (spec.range_start.clone(), spec.range_end.clone()), store }
    }

    fn read_applied(&self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let applied: Option<pb::SnapshotMeta> =
            self.store.get_message(CF_STATE, &keys::tagged_key(self.pid, STATE_APPLIED, &[]))?;
        let meta = snapshot_meta_from_pb(Some(&applied.unwrap_or_default()))?;
        Ok((meta.last_log_id, meta.last_membership))
    }

    fn current_revision(&self, pending: &Pending, personal_id: &str) -> io::Result<u64> {
        if let Some(revision) = pending.revisions.get(personal_id) {
            return Ok(*revision);
        }
        Ok(self.store.get_citizen(self.pid, personal_id)?.map_or(0, |c| c.revision))
    }

    fn remembered(&self, pending: &Pending, request_id: &str) -> io::Result<Option<pb::RequestOutcome>> {
        if let Some(outcome) = pending.requests.get(request_id) {
            return Ok(Some(*outcome));
        }
        self.store.get_message(CF_STATE, &keys::request_key(self.pid, request_id))
    }

    fn apply_put(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        log_id: &LogId,
        put: pb::PutCitizenCommand,
    ) -> io::Result<ApplyOutcome> {
        let cf = self.store.cf(CF_STATE)?;
        if !put.request_id.is_empty() {
            if let Some(outcome) = self.remembered(pending, &put.request_id)? {
                return Ok(ApplyOutcome::Written {
                    revision: outcome.revision,
                    log_index: outcome.log_index,
                    deduplicated: true,
                });
            }
        }
        let Some(mut citizen) = put.citizen else {
            return Ok(ApplyOutcome::Refused { reason: "command without a record".into() });
        };
        let current_revision = self.current_revision(pending, &citizen.id)?;
        if let Some(expected) = put.expected_revision {
            if expected != current_revision {
                return Ok(ApplyOutcome::RevisionMismatch { current_revision });
            }
        }
        citizen.revision = current_revision + 1;
        citizen.updated_at_unix_ms = put.proposed_at_unix_ms;
        batch.put_cf(cf, keys::citizen_key(self.pid, citizen.id.as_bytes()), citizen.encode_to_vec());
        pending.revisions.insert(citizen.id.clone(), citizen.revision);
        let outcome = pb::RequestOutcome { revision: citizen.revision, log_index: log_id.index };
        if !put.request_id.is_empty() {
            batch.put_cf(cf, keys::request_key(self.pid, &put.request_id), outcome.encode_to_vec());
            batch.put_cf(cf, keys::request_by_index_key(self.pid, log_id.index), put.request_id.as_bytes());
            pending.requests.insert(put.request_id, outcome);
        }
        self.expire_request(batch, log_id.index)?;
        Ok(ApplyOutcome::Written { revision: outcome.revision, log_index: outcome.log_index, deduplicated: false })
    }

    /// Forgets the request id written exactly one window ago: the table stays bounded, and every
    /// replica forgets the same ids at the same log index.
    fn expire_request(&self, batch: &mut WriteBatch, index: u64) -> io::Result<()> {
        let Some(old_index) = index.checked_sub(REQUEST_ID_WINDOW_ENTRIES) else {
            return Ok(());
        };
        let cf = self.store.cf(CF_STATE)?;
        let by_index = keys::request_by_index_key(self.pid, old_index);
        if let Some(request_id) = self.store.get(CF_STATE, &by_index)? {
            batch.delete_cf(cf, keys::tagged_key(self.pid, keys::STATE_REQUEST, &request_id));
            batch.delete_cf(cf, by_index);
        }
        Ok(())
    }

    fn apply_command(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        log_id: &LogId,
        command: pb::Command,
    ) -> io::Result<ApplyOutcome> {
        match command.op {
            Some(pb::command::Op::PutCitizen(put)) => {
                let in_partition = put.citizen.as_ref().is_some_and(|c| c.id.len() == 12 && self.owns(&c.id));
                if !in_partition {
                    return Ok(ApplyOutcome::Refused { reason: "record key outside this partition".into() });
                }
                self.apply_put(batch, pending, log_id, put)
            }
            None => Ok(ApplyOutcome::Refused { reason: "empty command".into() }),
        }
    }

    /// Whether `personal_id` falls in this partition's ID range (checked again at apply time).
    fn owns(&self, personal_id: &str) -> bool {
        self.range.0.as_str() <= personal_id && personal_id <= self.range.1.as_str()
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        self.read_applied()
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let (_, mut membership) = self.read_applied()?;
        let mut done = false;
        while !done {
            let mut batch = WriteBatch::default();
            let mut pending = Pending::default();
            let mut responders = Vec::new();
            let mut last_log_id = None;
            while responders.len() < APPLY_BATCH_ENTRIES_MAX {
                let Some(item) = entries.next().await else {
                    done = true;
                    break;
                };
                let (entry, responder) = item?;
                let outcome = match entry.payload {
                    EntryPayload::Blank => ApplyOutcome::Nothing,
                    EntryPayload::Normal(request) => {
                        self.apply_command(&mut batch, &mut pending, &entry.log_id, request.0)?
                    }
                    EntryPayload::Membership(m) => {
                        membership = StoredMembership::new(Some(entry.log_id), m);
                        ApplyOutcome::Nothing
                    }
                };
                last_log_id = Some(entry.log_id);
                responders.push((responder, outcome));
            }
            if last_log_id.is_none() {
                break;
            }
            let applied = pb::SnapshotMeta {
                last_log_id: last_log_id.as_ref().map(crate::raft::codec::log_id_to_pb),
                last_membership: Some(stored_membership_to_pb(&membership)),
            };
            batch.put_cf(
                self.store.cf(CF_STATE)?,
                keys::tagged_key(self.pid, STATE_APPLIED, &[]),
                applied.encode_to_vec(),
            );
            self.store.write(batch)?;
            for (responder, outcome) in responders {
                if let Some(responder) = responder {
                    responder.send(outcome);
                }
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { pid: self.pid, store: self.store.clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotFile) -> Result<(), io::Error> {
        let store = self.store.clone();
        let (pid, meta) = (self.pid, meta.clone());
        tokio::task::spawn_blocking(move || {
            let installed = SnapshotFile { path: snapshot::new_snapshot_path(&store, pid, "installed")? };
            std::fs::rename(&snapshot.path, &installed.path)?;
            snapshot::install(&store, pid, &meta, &installed)?;
            snapshot::remove_others(&store, pid, &installed.path);
            Ok(())
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let Some((meta, file)) = snapshot::read_current(&self.store, self.pid)? else {
            return Ok(None);
        };
        if !file.path.exists() {
            return Ok(None);
        }
        Ok(Some(Snapshot { meta: snapshot_meta_from_pb(Some(&meta))?, snapshot: file }))
    }
}

pub struct SnapshotBuilder {
    pid: PartitionId,
    store: Arc<Store>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let store = self.store.clone();
        let pid = self.pid;
        tokio::task::spawn_blocking(move || {
            let (meta, file) = snapshot::build(&store, pid)?;
            let mut batch = WriteBatch::default();
            snapshot::put_current(&store, &mut batch, pid, &snapshot_meta_to_pb(&meta), &file.path)?;
            store.write(batch)?;
            snapshot::remove_others(&store, pid, &file.path);
            Ok(Snapshot { meta, snapshot: file })
        })
        .await
        .map_err(io::Error::other)?
    }
}
