//! Writes: one record, a batch of one partition, a life event. Each becomes one Raft log entry.
//!
//! Everything that can be checked without the stored record was checked before (`service::request`);
//! what depends on the stored record (revision, deceased, cancelled) is decided at apply time on
//! every replica (`storage::state_machine`, `life_events`).

use dancu_proto::v1 as pb;
use dancu_proto::Message;

use crate::limits::WRITE_WAIT_DEFAULT;
use crate::raft::groups::Group;
use crate::raft::types::{ApplyOutcome, Request as RaftRequest};
use crate::service::admission::WriteClass;
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::RegistryService;
use crate::service::request::{ValidEvent, ValidPut, ValidPutBatch};

fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl RegistryService {
    /// Proposes `command` (about `n_bytes` of records or event, as validation measured them) to `group` and waits
    /// for it to be applied, if admission lets it in.
    async fn propose(&self, group: &Group, command: pb::command::Op, n_bytes: usize) -> Result<ApplyOutcome, ApiError> {
        let class = match command {
            pb::command::Op::PutCitizens(_) => WriteClass::Bulk,
            _ => WriteClass::Interactive,
        };
        let command = pb::Command { op: Some(command) };
        // Held until applied (or failed). On a follower openraft refuses at once (NOT_LEADER): held for an instant.
        let _ticket = self.admission.admit_when_cpu_free(group.spec.id, n_bytes, class).await?;
        let request = RaftRequest(std::sync::Arc::new(command));
        let written = tokio::time::timeout(WRITE_WAIT_DEFAULT, group.raft.client_write(request))
            .await
            .map_err(|_| ApiError::Deadline("write not committed in time; retry with the same request_id".into()))?
            .map_err(|e| ApiError::from_write_error(&self.groups, group, e))?;
        match written.data {
            ApplyOutcome::RevisionMismatch { current_revision } => {
                Err(ApiError::RevisionMismatch { partition_id: group.spec.id.0, current_revision })
            }
            ApplyOutcome::Refused { reason } => Err(ApiError::Refused(reason)),
            ApplyOutcome::Nothing => Err(ApiError::Refused("nothing applied".into())),
            outcome => Ok(outcome),
        }
    }

    pub(super) async fn put_one(&self, _caller: Caller, request: ValidPut) -> Result<pb::PutCitizenResponse, ApiError> {
        let ValidPut { citizen, partition, request_id, expected_revision } = request;
        let group = self.groups.hosted(partition.0)?;
        let n_bytes = citizen.encoded_len();
        let command = pb::command::Op::PutCitizen(pb::PutCitizenCommand {
            citizen: Some(citizen),
            request_id,
            expected_revision,
            proposed_at_unix_ms: now_unix_ms(),
        });
        match self.propose(group, command, n_bytes).await? {
            ApplyOutcome::Written { revision, log_index, deduplicated } => {
                Ok(pb::PutCitizenResponse { revision, log_index, partition_id: partition.0, deduplicated })
            }
            other => Err(ApiError::Refused(format!("unexpected outcome {other:?}"))),
        }
    }

    pub(super) async fn put_batch(
        &self,
        _caller: Caller,
        request: ValidPutBatch,
    ) -> Result<pb::PutCitizensResponse, ApiError> {
        let ValidPutBatch { citizens, partition: pid, request_id, n_bytes } = request;
        let group = self.groups.hosted(pid.0)?;
        let ids: Vec<String> = citizens.iter().map(|c| c.id.clone()).collect();
        let command = pb::command::Op::PutCitizens(pb::PutCitizensCommand {
            citizens,
            request_id,
            proposed_at_unix_ms: now_unix_ms(),
        });
        match self.propose(group, command, n_bytes).await? {
            ApplyOutcome::BatchWritten { log_index, results, deduplicated } => Ok(pb::PutCitizensResponse {
                partition_id: pid.0,
                log_index,
                results: ids
                    .into_iter()
                    .zip(results)
                    .map(|(id, item)| pb::PutCitizensResult { id, revision: item.revision, written: item.written })
                    .collect(),
                deduplicated,
            }),
            other => Err(ApiError::Refused(format!("unexpected outcome {other:?}"))),
        }
    }

    pub(super) async fn record_event(
        &self,
        _caller: Caller,
        request: ValidEvent,
    ) -> Result<pb::RecordLifeEventResponse, ApiError> {
        let ValidEvent { event, partition, request_id } = request;
        let group = self.groups.hosted(partition.0)?;
        let n_bytes = event.encoded_len();
        let command = pb::command::Op::LifeEvent(pb::LifeEventCommand {
            event: Some(event),
            request_id,
            proposed_at_unix_ms: now_unix_ms(),
        });
        match self.propose(group, command, n_bytes).await? {
            ApplyOutcome::Written { revision, log_index, deduplicated } => {
                Ok(pb::RecordLifeEventResponse { revision, log_index, partition_id: partition.0, deduplicated })
            }
            other => Err(ApiError::Refused(format!("unexpected outcome {other:?}"))),
        }
    }
}
