//! openraft's state machine for one partition: applies commands into the partition's state range.
//!
//! Apply writes the records, the request-id table and `last_applied` + membership in one
//! WriteBatch, so after a crash the state is exactly "everything up to last_applied".

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;

use dancu_cluster_config::{PartitionId, PartitionSpec, AUDIT_GROUP};
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use rocksdb::WriteBatch;

use crate::life_events::{self, Transition};
use crate::limits::REQUEST_ID_WINDOW_ENTRIES;
use crate::raft::codec::{snapshot_meta_from_pb, stored_membership_to_pb};
use crate::raft::types::{ApplyOutcome, BatchItemOutcome, LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};
use crate::storage::entry_cache::EntryCache;
use crate::storage::keys::{self, CF_STATE, STATE_APPLIED};
use crate::storage::snapshot::{self, SnapshotFile};
use crate::storage::Store;
use crate::storage::{audit_state, indexes};

/// `Citizen.revision` and `Citizen.updated_at_unix_ms` (citizen.proto), set by the server on every write.
const CITIZEN_REVISION_FIELD: u32 = 26;
const CITIZEN_UPDATED_AT_FIELD: u32 = 27;

/// Most entries applied in one WriteBatch.
const APPLY_BATCH_ENTRIES_MAX: usize = 1024;

/// Cheap to clone (two short strings and two `Arc`s): a batch is applied by a clone on a blocking thread, which then
/// replaces the original.
#[derive(Clone)]
pub struct StateMachine {
    pid: PartitionId,
    /// Applied entries a request id stays remembered for.
    request_window_entries: u64,
    /// Every request remembered below this index has been forgotten (0 after a start: the first sweep looks from
    /// the beginning of the table once).
    requests_expired_below: u64,
    /// Inclusive first and last personal ID of the partition.
    range: (String, String),
    store: Arc<Store>,
    /// The partition's recent log entries: applied ones are dropped (a follower still behind reads them
    /// from RocksDB), so an idle partition holds no batch in memory.
    cache: Arc<EntryCache>,
}

/// What one apply batch has written so far: later entries of the batch must see earlier ones.
#[derive(Default)]
struct Pending {
    /// As stored (encoded): a later entry of the same batch touching the record again is rare.
    records: HashMap<String, Vec<u8>>,
    requests: HashMap<String, pb::RequestOutcome>,
    /// The audit group: each node's anchored chain as this batch leaves it.
    audit_chains: HashMap<u64, pb::AnchoredChain>,
}

impl StateMachine {
    pub fn new(spec: &PartitionSpec, store: Arc<Store>, cache: Arc<EntryCache>) -> StateMachine {
        StateMachine {
            pid: spec.id,
            request_window_entries: REQUEST_ID_WINDOW_ENTRIES,
            requests_expired_below: 0,
            range: (spec.range_start.clone(), spec.range_end.clone()),
            store,
            cache,
        }
    }

    fn read_applied(&self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let applied: Option<pb::SnapshotMeta> =
            self.store.get_message(CF_STATE, &keys::tagged_key(self.pid, STATE_APPLIED, &[]))?;
        let meta = snapshot_meta_from_pb(Some(&applied.unwrap_or_default()))?;
        Ok((meta.last_log_id, meta.last_membership))
    }

    /// The record as this batch leaves it so far.
    fn current(&self, pending: &Pending, personal_id: &str) -> io::Result<Option<pb::Citizen>> {
        if let Some(encoded) = pending.records.get(personal_id) {
            return pb::Citizen::decode(encoded.as_slice()).map(Some).map_err(crate::storage::invalid_data);
        }
        self.store.get_citizen(self.pid, personal_id)
    }

    fn remembered(&self, pending: &Pending, request_id: &str) -> io::Result<Option<pb::RequestOutcome>> {
        if request_id.is_empty() {
            return Ok(None);
        }
        if let Some(outcome) = pending.requests.get(request_id) {
            return Ok(Some(outcome.clone()));
        }
        self.store.get_message(CF_STATE, &keys::request_key(self.pid, request_id))
    }

    /// Remembers a request's outcome for the exactly-once window (see [`StateMachine::expire_requests`]).
    fn remember(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        request_id: String,
        outcome: pb::RequestOutcome,
    ) -> io::Result<()> {
        if request_id.is_empty() {
            return Ok(());
        }
        let cf = self.store.cf(CF_STATE)?;
        batch.put_cf(cf, keys::request_key(self.pid, &request_id), outcome.encode_to_vec());
        batch.put_cf(cf, keys::request_by_index_key(self.pid, outcome.log_index), request_id.as_bytes());
        pending.requests.insert(request_id, outcome);
        Ok(())
    }

    /// Writes `record` over `old` with the next revision, and moves its index entries, in `batch`.
    ///
    /// The record is encoded from the log entry's copy, with the server-set revision and timestamp
    /// appended as trailing fields: protobuf keeps the last value of a scalar field, so no copy of the
    /// record is made to set them (whatever the caller sent in those fields is overridden).
    fn write_record(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        old: Option<&pb::Citizen>,
        record: &pb::Citizen,
        proposed_at_unix_ms: i64,
    ) -> io::Result<u64> {
        let cf = self.store.cf(CF_STATE)?;
        let revision = old.map_or(0, |c| c.revision) + 1;
        let mut encoded = Vec::with_capacity(record.encoded_len() + 24);
        record.encode(&mut encoded).map_err(io::Error::other)?;
        prost::encoding::uint64::encode(CITIZEN_REVISION_FIELD, &revision, &mut encoded);
        prost::encoding::int64::encode(CITIZEN_UPDATED_AT_FIELD, &proposed_at_unix_ms, &mut encoded);
        batch.put_cf(cf, keys::citizen_key(self.pid, record.id.as_bytes()), &encoded);
        let (deletes, puts) = indexes::changes(self.pid, old, Some(record));
        for key in deletes {
            batch.delete_cf(cf, key);
        }
        for (key, value) in puts {
            batch.put_cf(cf, key, value);
        }
        pending.records.insert(record.id.clone(), encoded);
        Ok(revision)
    }

    fn apply_put(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        log_id: &LogId,
        put: &pb::PutCitizenCommand,
    ) -> io::Result<ApplyOutcome> {
        if let Some(outcome) = self.remembered(pending, &put.request_id)? {
            return Ok(ApplyOutcome::deduplicated(outcome));
        }
        let Some(citizen) = &put.citizen else {
            return Ok(ApplyOutcome::Refused { reason: "command without a record".into() });
        };
        if !self.owns(&citizen.id) {
            return Ok(ApplyOutcome::outside_partition());
        }
        let current = self.current(pending, &citizen.id)?;
        let current_revision = current.as_ref().map_or(0, |c| c.revision);
        if let Some(expected) = put.expected_revision {
            if expected != current_revision {
                return Ok(ApplyOutcome::RevisionMismatch { current_revision });
            }
        }
        if let Err(refusal) = life_events::check_put(current.as_ref(), citizen) {
            return Ok(ApplyOutcome::Refused { reason: refusal.to_string() });
        }
        let revision = self.write_record(batch, pending, current.as_ref(), citizen, put.proposed_at_unix_ms)?;
        let outcome = pb::RequestOutcome { revision, log_index: log_id.index, ..Default::default() };
        self.remember(batch, pending, put.request_id.clone(), outcome)?;
        Ok(ApplyOutcome::Written { revision, log_index: log_id.index, deduplicated: false })
    }

    /// A batch is checked whole before anything is written, so a refusal leaves no trace.
    fn apply_put_batch(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        log_id: &LogId,
        put: &pb::PutCitizensCommand,
    ) -> io::Result<ApplyOutcome> {
        if let Some(outcome) = self.remembered(pending, &put.request_id)? {
            // The first attempt's own results: the current revisions may be a later writer's.
            let results = outcome
                .batch_revisions
                .iter()
                .zip(&outcome.batch_written)
                .map(|(&revision, &written)| BatchItemOutcome { revision, written })
                .collect();
            return Ok(ApplyOutcome::BatchWritten { log_index: outcome.log_index, results, deduplicated: true });
        }
        let mut seen = HashSet::with_capacity(put.citizens.len());
        let mut currents = Vec::with_capacity(put.citizens.len());
        for (idx, citizen) in put.citizens.iter().enumerate() {
            if !self.owns(&citizen.id) {
                return Ok(ApplyOutcome::outside_partition());
            }
            if !seen.insert(citizen.id.as_str()) {
                return Ok(ApplyOutcome::Refused { reason: format!("citizens[{idx}]: duplicate id in one batch") });
            }
            let current = self.current(pending, &citizen.id)?;
            if let Err(refusal) = life_events::check_put(current.as_ref(), citizen) {
                return Ok(ApplyOutcome::Refused { reason: format!("citizens[{idx}]: {refusal}") });
            }
            currents.push(current.map(Box::new));
        }
        let mut results = Vec::with_capacity(put.citizens.len());
        for (citizen, mut current) in put.citizens.iter().zip(currents) {
            if let Some(stored) = current.as_deref_mut() {
                // Unchanged content keeps its revision: a re-run import writes nothing new. Compared with
                // the server-set fields taken from the incoming copy, then restored.
                let (revision, updated_at) = (stored.revision, stored.updated_at_unix_ms);
                stored.revision = citizen.revision;
                stored.updated_at_unix_ms = citizen.updated_at_unix_ms;
                let unchanged = *stored == *citizen;
                stored.revision = revision;
                stored.updated_at_unix_ms = updated_at;
                if unchanged {
                    results.push(BatchItemOutcome { revision, written: false });
                    continue;
                }
            }
            let revision = self.write_record(batch, pending, current.as_deref(), citizen, put.proposed_at_unix_ms)?;
            results.push(BatchItemOutcome { revision, written: true });
        }
        let outcome = pb::RequestOutcome {
            revision: 0,
            log_index: log_id.index,
            batch_revisions: results.iter().map(|item| item.revision).collect(),
            batch_written: results.iter().map(|item| item.written).collect(),
        };
        self.remember(batch, pending, put.request_id.clone(), outcome)?;
        Ok(ApplyOutcome::BatchWritten { log_index: log_id.index, results, deduplicated: false })
    }

    fn apply_event(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        log_id: &LogId,
        command: &pb::LifeEventCommand,
    ) -> io::Result<ApplyOutcome> {
        if let Some(outcome) = self.remembered(pending, &command.request_id)? {
            return Ok(ApplyOutcome::deduplicated(outcome));
        }
        let Some(event) = &command.event else {
            return Ok(ApplyOutcome::Refused { reason: "command without an event".into() });
        };
        if !self.owns(&event.id) {
            return Ok(ApplyOutcome::outside_partition());
        }
        let current = self.current(pending, &event.id)?;
        let revision = match life_events::apply(current.as_ref(), event) {
            Err(refusal) => return Ok(ApplyOutcome::Refused { reason: refusal.to_string() }),
            Ok(Transition::Unchanged) => current.as_ref().map_or(0, |c| c.revision),
            Ok(Transition::Write(record)) => {
                self.write_record(batch, pending, current.as_ref(), &record, command.proposed_at_unix_ms)?
            }
        };
        let outcome = pb::RequestOutcome { revision, log_index: log_id.index, ..Default::default() };
        self.remember(batch, pending, command.request_id.clone(), outcome)?;
        Ok(ApplyOutcome::Written { revision, log_index: log_id.index, deduplicated: false })
    }

    /// Forgets every request remembered at an index a window or more below `applied_index`, whatever happened at
    /// the indexes in between (blanks, membership changes, refusals, duplicates): the table stays bounded, and
    /// every replica forgets the same ids at the same point. Requests remembered by this same WriteBatch are at
    /// most a batch old, far inside the window.
    fn expire_requests(&mut self, batch: &mut WriteBatch, applied_index: u64) -> io::Result<()> {
        let Some(cutoff) = applied_index.checked_sub(self.request_window_entries) else {
            return Ok(());
        };
        if cutoff < self.requests_expired_below {
            return Ok(());
        }
        let cf = self.store.cf(CF_STATE)?;
        let from = keys::request_by_index_key(self.pid, self.requests_expired_below);
        let to = keys::request_by_index_key(self.pid, cutoff.saturating_add(1));
        for (by_index, request_id) in self.store.range(CF_STATE, &from, &to)? {
            batch.delete_cf(cf, keys::tagged_key(self.pid, keys::STATE_REQUEST, &request_id));
            batch.delete_cf(cf, by_index);
        }
        self.requests_expired_below = cutoff.saturating_add(1);
        Ok(())
    }

    fn apply_command(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Pending,
        log_id: &LogId,
        command: &pb::Command,
    ) -> io::Result<ApplyOutcome> {
        match &command.op {
            Some(pb::command::Op::PutCitizen(put)) => self.apply_put(batch, pending, log_id, put),
            Some(pb::command::Op::PutCitizens(put)) => self.apply_put_batch(batch, pending, log_id, put),
            Some(pb::command::Op::LifeEvent(event)) => self.apply_event(batch, pending, log_id, event),
            Some(pb::command::Op::AuditSegment(segment)) if self.pid == AUDIT_GROUP => {
                audit_state::apply_segment(&self.store, batch, &mut pending.audit_chains, segment)
            }
            Some(pb::command::Op::AuditPrune(prune)) if self.pid == AUDIT_GROUP => {
                audit_state::apply_prune(&self.store, batch, &mut pending.audit_chains, prune)
            }
            Some(pb::command::Op::AuditSegment(_) | pb::command::Op::AuditPrune(_)) => {
                Ok(ApplyOutcome::Refused { reason: "an audit command outside the audit group".into() })
            }
            None => Ok(ApplyOutcome::Refused { reason: "empty command".into() }),
        }
    }

    /// Whether `personal_id` falls in this partition's ID range (checked again at apply time).
    fn owns(&self, personal_id: &str) -> bool {
        personal_id.len() == 12 && self.range.0.as_str() <= personal_id && personal_id <= self.range.1.as_str()
    }
}

/// An entry to apply and whom to answer.
type ApplyItem = EntryResponder<TypeConfig>;

impl StateMachine {
    /// Applies `items` in one WriteBatch (with `last_applied` and the membership), then returns each responder
    /// with its outcome. Synchronous RocksDB work: run it off the async runtime.
    fn apply_batch(
        &mut self,
        membership: &mut StoredMembership,
        items: Vec<ApplyItem>,
    ) -> io::Result<Vec<(Option<openraft::storage::ApplyResponder<TypeConfig>>, ApplyOutcome)>> {
        let mut batch = WriteBatch::default();
        let mut pending = Pending::default();
        let mut responders = Vec::with_capacity(items.len());
        let mut last_log_id = None;
        for (entry, responder) in items {
            let outcome = match entry.payload {
                EntryPayload::Blank => ApplyOutcome::Nothing,
                EntryPayload::Normal(request) => {
                    // Applied from the shared command: no copy of the batch is made.
                    self.apply_command(&mut batch, &mut pending, &entry.log_id, &request.0)?
                }
                EntryPayload::Membership(m) => {
                    *membership = StoredMembership::new(Some(entry.log_id), m);
                    ApplyOutcome::Nothing
                }
            };
            last_log_id = Some(entry.log_id);
            responders.push((responder, outcome));
        }
        let Some(applied_index) = last_log_id.as_ref().map(|id| id.index) else {
            return Ok(responders);
        };
        self.expire_requests(&mut batch, applied_index)?;
        #[cfg(feature = "failpoints")]
        {
            crate::failpoints::note_reached("apply_before_write");
            // `return`: a crash after the entries were appended (and maybe acknowledged) but before apply.
            fail::fail_point!("apply_before_write", |_| {
                tracing::error!(partition = self.pid.0, "failpoint apply_before_write: aborting");
                std::process::abort()
            });
        }
        let applied = pb::SnapshotMeta {
            last_log_id: last_log_id.as_ref().map(crate::raft::codec::log_id_to_pb),
            last_membership: Some(stored_membership_to_pb(membership)),
        };
        batch.put_cf(self.store.cf(CF_STATE)?, keys::tagged_key(self.pid, STATE_APPLIED, &[]), applied.encode_to_vec());
        self.store.write(batch)?;
        self.cache.remove_upto(applied_index);
        Ok(responders)
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
        loop {
            let mut items = Vec::new();
            while items.len() < APPLY_BATCH_ENTRIES_MAX {
                match entries.next().await {
                    Some(item) => items.push(item?),
                    None => break,
                }
            }
            if items.is_empty() {
                return Ok(());
            }
            let n_items = items.len();
            // Reading current records and writing a batch of up to a thousand records each takes milliseconds of
            // CPU and may meet a RocksDB write stall: done on the runtime's thread, it would hold up every Raft
            // heartbeat and read that thread serves. So a clone applies it on a blocking thread.
            let mut machine = self.clone();
            let (machine, applied_membership, responders) = tokio::task::spawn_blocking(move || {
                let responders = machine.apply_batch(&mut membership, items);
                (machine, membership, responders)
            })
            .await
            .map_err(io::Error::other)?;
            *self = machine;
            membership = applied_membership;
            let responders = responders?;
            for (responder, outcome) in responders {
                if let Some(responder) = responder {
                    responder.send(outcome);
                }
            }
            if n_items < APPLY_BATCH_ENTRIES_MAX {
                return Ok(());
            }
        }
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { pid: self.pid, store: self.store.clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotFile) -> Result<(), io::Error> {
        let store = self.store.clone();
        let (pid, meta) = (self.pid, meta.clone());
        tokio::task::spawn_blocking(move || {
            let installed = SnapshotFile { path: snapshot::new_snapshot_path(&store, pid, "installed")? };
            let _in_progress = snapshot::InProgress::new(&store, installed.path.clone());
            std::fs::rename(&snapshot.path, &installed.path)?;
            snapshot::install(&store, pid, &meta, &installed)
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
            Ok(Snapshot { meta, snapshot: file })
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use dancu_proto::v1::{Date, LifeStatus, PersonRef, Place, Sex};
    use openraft::vote::RaftLeaderId;
    use proptest::prelude::*;

    use super::*;
    use crate::storage::snapshot;

    const IDS: [&str; 6] =
        ["001085000001", "001185000002", "001090000003", "001190000004", "001300000005", "001201000006"];
    const NAMES: [&str; 3] = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường"];
    const HOUSEHOLDS: [&str; 3] = ["", "HK0000000001", "HK0000000002"];
    const LEGACY: [&str; 3] = ["", "012345678", "087654321"];

    /// One step of a random history.
    #[derive(Debug, Clone)]
    enum Op {
        Put { who: usize, name: usize, household: usize, legacy: usize },
        Batch(Vec<(usize, usize, usize, usize)>),
        Death { who: usize },
        Move { who: usize },
        Household { who: usize, household: usize },
        Marry { who: usize, spouse: usize },
        Cancel { who: usize, by: usize },
        InstallSnapshot,
    }

    fn record(who: usize, name: usize, household: usize, legacy: usize) -> pb::Citizen {
        let id = IDS[who];
        let digit = id.as_bytes()[3] - b'0';
        let year = 1900 + u32::from(digit / 2) * 100 + id[4..6].parse::<u32>().unwrap();
        pb::Citizen {
            id: id.into(),
            full_name: NAMES[name].into(),
            date_of_birth: Some(Date { year, month: 1, day: 2 }),
            sex: if digit.is_multiple_of(2) { Sex::Male as i32 } else { Sex::Female as i32 },
            household_id: HOUSEHOLDS[household].into(),
            legacy_id_number: LEGACY[legacy].into(),
            status: LifeStatus::Alive as i32,
            ..Default::default()
        }
    }

    fn event(who: usize, kind: pb::life_event::Kind) -> pb::Command {
        let event =
            pb::LifeEvent { id: IDS[who].into(), date: Some(Date { year: 2024, month: 5, day: 6 }), kind: Some(kind) };
        pb::Command {
            op: Some(pb::command::Op::LifeEvent(pb::LifeEventCommand { event: Some(event), ..Default::default() })),
        }
    }

    fn command(op: &Op) -> Option<pb::Command> {
        let put = |c: pb::Citizen| {
            pb::command::Op::PutCitizen(pb::PutCitizenCommand { citizen: Some(c), ..Default::default() })
        };
        Some(match op.clone() {
            Op::Put { who, name, household, legacy } => {
                pb::Command { op: Some(put(record(who, name, household, legacy))) }
            }
            Op::Batch(items) => pb::Command {
                op: Some(pb::command::Op::PutCitizens(pb::PutCitizensCommand {
                    citizens: items.into_iter().map(|(w, n, h, l)| record(w, n, h, l)).collect(),
                    ..Default::default()
                })),
            },
            Op::Death { who } => event(who, pb::life_event::Kind::Death(pb::Death {})),
            Op::Move { who } => event(
                who,
                pb::life_event::Kind::Move(pb::Move {
                    current_residence: Some(Place { province_code: "079".into(), ..Default::default() }),
                    ..Default::default()
                }),
            ),
            Op::Household { who, household } => event(
                who,
                pb::life_event::Kind::HouseholdChange(pb::HouseholdChange {
                    household_id: HOUSEHOLDS[household].into(),
                    ..Default::default()
                }),
            ),
            Op::Marry { who, spouse } => event(
                who,
                pb::life_event::Kind::Marriage(pb::Marriage {
                    spouse: Some(PersonRef { id: IDS[spouse].into(), ..Default::default() }),
                }),
            ),
            Op::Cancel { who, by } => {
                event(who, pb::life_event::Kind::IdCancellation(pb::IdCancellation { replaced_by: IDS[by].into() }))
            }
            Op::InstallSnapshot => return None,
        })
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        let item = (0..IDS.len(), 0..NAMES.len(), 0..HOUSEHOLDS.len(), 0..LEGACY.len());
        prop_oneof![
            4 => item.clone().prop_map(|(who, name, household, legacy)| Op::Put { who, name, household, legacy }),
            2 => prop::collection::vec(item, 1..5).prop_map(Op::Batch),
            1 => (0..IDS.len()).prop_map(|who| Op::Death { who }),
            1 => (0..IDS.len()).prop_map(|who| Op::Move { who }),
            2 => (0..IDS.len(), 0..HOUSEHOLDS.len()).prop_map(|(who, household)| Op::Household { who, household }),
            1 => (0..IDS.len(), 0..IDS.len()).prop_map(|(who, spouse)| Op::Marry { who, spouse }),
            1 => (0..IDS.len(), 0..IDS.len()).prop_map(|(who, by)| Op::Cancel { who, by }),
            1 => Just(Op::InstallSnapshot),
        ]
    }

    fn spec() -> PartitionSpec {
        PartitionSpec {
            id: PartitionId(100),
            province_code: "001".into(),
            range_start: "001000000000".into(),
            range_end: "001999999999".into(),
            replicas: vec![1],
            preferred_leader: 1,
        }
    }

    /// The index a partition's records imply, rebuilt from scratch.
    fn rebuilt(store: &Store, pid: PartitionId) -> Vec<indexes::IndexEntry> {
        let mut expected: Vec<_> =
            store.all_citizens(pid).unwrap().iter().flat_map(|c| indexes::entries(pid, c)).collect();
        expected.sort();
        expected
    }

    /// The server sets revision and timestamp whatever the writer sent in those fields.
    #[test]
    fn revision_and_timestamp_are_the_servers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let machine = StateMachine::new(&spec(), store.clone(), Default::default());
        for (index, sent_revision) in [(1u64, 99u64), (2, 0)] {
            let citizen = pb::Citizen { revision: sent_revision, updated_at_unix_ms: 5, ..record(0, 0, 1, 1) };
            let command = pb::Command {
                op: Some(pb::command::Op::PutCitizen(pb::PutCitizenCommand {
                    citizen: Some(citizen),
                    proposed_at_unix_ms: 1_700_000_000_000 + index as i64,
                    ..Default::default()
                })),
            };
            let mut batch = WriteBatch::default();
            let log_id = LogId::new(crate::raft::types::LeaderId::new(1, 1), index);
            machine.apply_command(&mut batch, &mut Pending::default(), &log_id, &command).unwrap();
            store.write(batch).unwrap();
            let stored = store.get_citizen(spec().id, IDS[0]).unwrap().unwrap();
            assert_eq!((stored.revision, stored.updated_at_unix_ms), (index, 1_700_000_000_000 + index as i64));
        }
    }

    fn put_entry(index: u64, command: pb::Command) -> crate::raft::types::Entry {
        let log_id = LogId::new(crate::raft::types::LeaderId::new(1, 1), index);
        crate::raft::types::Entry {
            log_id,
            payload: EntryPayload::Normal(crate::raft::types::Request(Arc::new(command))),
        }
    }

    fn batch_command(request_id: &str, citizens: Vec<pb::Citizen>) -> pb::Command {
        pb::Command {
            op: Some(pb::command::Op::PutCitizens(pb::PutCitizensCommand {
                citizens,
                request_id: request_id.into(),
                ..Default::default()
            })),
        }
    }

    async fn apply_all(machine: &mut StateMachine, entries: Vec<crate::raft::types::Entry>) {
        let stream = futures::stream::iter(entries.into_iter().map(|entry| Ok((entry, None))));
        machine.apply(stream).await.unwrap();
    }

    fn n_remembered(store: &Store, pid: PartitionId) -> usize {
        let from = keys::tagged_key(pid, keys::STATE_REQUEST, &[]);
        let to = keys::tagged_key(pid, keys::STATE_REQUEST_BY_INDEX + 1, &[]);
        store.range(CF_STATE, &from, &to).unwrap().len()
    }

    /// A retried batch answers what its first attempt did: the current revisions may be a later writer's.
    #[test]
    fn a_retried_batch_answers_its_first_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let machine = StateMachine::new(&spec(), store.clone(), Default::default());
        let apply = |index: u64, command: &pb::Command| {
            let mut batch = WriteBatch::default();
            let log_id = LogId::new(crate::raft::types::LeaderId::new(1, 1), index);
            let outcome = machine.apply_command(&mut batch, &mut Pending::default(), &log_id, command).unwrap();
            store.write(batch).unwrap();
            outcome
        };
        let first = batch_command("import-1", vec![record(0, 0, 1, 0), record(1, 0, 1, 0)]);
        let written = apply(1, &first);
        let later = pb::Command {
            op: Some(pb::command::Op::PutCitizen(pb::PutCitizenCommand {
                citizen: Some(record(0, 1, 2, 0)),
                ..Default::default()
            })),
        };
        apply(2, &later);
        let retried = apply(3, &first);
        let ApplyOutcome::BatchWritten { results, deduplicated: false, log_index: 1 } = written else {
            panic!("first attempt: {written:?}");
        };
        assert_eq!(retried, ApplyOutcome::BatchWritten { log_index: 1, results, deduplicated: true });
    }

    /// Request ids are forgotten a window after they were remembered, whatever the entries in between did
    /// (here: refused ones), and a retry after the window is applied as new.
    #[tokio::test]
    async fn request_ids_expire_by_index_whatever_the_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut machine = StateMachine::new(&spec(), store.clone(), Default::default());
        machine.request_window_entries = 3;
        let pid = spec().id;
        apply_all(&mut machine, vec![put_entry(1, batch_command("import-1", vec![record(0, 0, 1, 0)]))]).await;
        assert_eq!(n_remembered(&store, pid), 2, "the outcome and its index entry");
        let outside = pb::Citizen { id: "002085000001".into(), ..record(0, 0, 1, 0) };
        let refused: Vec<_> = (2..=6).map(|index| put_entry(index, batch_command("", vec![outside.clone()]))).collect();
        apply_all(&mut machine, refused).await;
        assert_eq!(n_remembered(&store, pid), 0, "forgotten a window after index 1 although nothing was written");
    }

    /// A household listing reads the index and the records from one RocksDB snapshot: while a writer moves a
    /// person between two households, every member listed under a household names that household in its record
    /// (read at two moments, the record could already name the other one, a state that never existed).
    #[test]
    fn a_household_listing_never_shows_a_member_of_another_household() {
        const N_MOVES: u64 = 3_000;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let pid = spec().id;
        let writer_store = store.clone();
        let writer = std::thread::spawn(move || {
            let machine = StateMachine::new(&spec(), writer_store.clone(), Default::default());
            for index in 1..=N_MOVES {
                let household = 1 + (index % 2) as usize;
                let put = pb::PutCitizenCommand { citizen: Some(record(0, 0, household, 0)), ..Default::default() };
                let command = pb::Command { op: Some(pb::command::Op::PutCitizen(put)) };
                let mut batch = WriteBatch::default();
                let log_id = LogId::new(crate::raft::types::LeaderId::new(1, 1), index);
                machine.apply_command(&mut batch, &mut Pending::default(), &log_id, &command).unwrap();
                writer_store.write(batch).unwrap();
            }
        });
        let mut n_listed = 0;
        while !writer.is_finished() {
            for household in [HOUSEHOLDS[1], HOUSEHOLDS[2]] {
                let (members, _) = store.household_members(pid, household, 10).unwrap();
                for member in members {
                    assert_eq!(member.household_id, household, "listed under {household}, record says otherwise");
                    n_listed += 1;
                }
            }
        }
        writer.join().unwrap();
        assert!(n_listed > 0, "the listing never saw the member");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Puts, batches, events (some refused) and snapshot installs, applied several entries per
        /// WriteBatch: afterwards every index equals the one rebuilt from the records.
        #[test]
        fn indexes_always_equal_a_rebuild_from_records(ops in prop::collection::vec(op_strategy(), 1..40), per_batch in 1usize..4) {
            let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
            let mut stores = vec![Store::open(dirs[0].path()).unwrap()];
            let pid = spec().id;
            let mut index = 0u64;
            for chunk in ops.chunks(per_batch) {
                let machine = StateMachine::new(&spec(), stores.last().unwrap().clone(), Default::default());
                let mut batch = WriteBatch::default();
                let mut pending = Pending::default();
                for op in chunk {
                    let Some(command) = command(op) else {
                        continue;
                    };
                    index += 1;
                    let log_id = LogId::new(crate::raft::types::LeaderId::new(1, 1), index);
                    machine.apply_command(&mut batch, &mut pending, &log_id, &command).unwrap();
                }
                machine.store.write(batch).unwrap();
                if chunk.iter().any(|op| matches!(op, Op::InstallSnapshot)) && stores.len() == 1 {
                    let source = stores.last().unwrap().clone();
                    let (meta, file) = snapshot::build(&source, pid).unwrap();
                    let target = Store::open(dirs[1].path()).unwrap();
                    snapshot::install(&target, pid, &meta, &file).unwrap();
                    prop_assert_eq!(target.all_citizens(pid).unwrap(), source.all_citizens(pid).unwrap());
                    stores.push(target);
                }
                let store = stores.last().unwrap();
                prop_assert_eq!(store.index_entries(pid).unwrap(), rebuilt(store, pid));
            }
        }
    }
}
