//! Writes: one record, a batch of one partition, a life event. Each becomes one Raft log entry.
//!
//! Everything that can be checked without the stored record is checked here, before proposing;
//! what depends on the stored record (revision, deceased, cancelled) is decided at apply time on
//! every replica (`storage::state_machine`, `life_events`).

use std::collections::HashSet;

use dancu_proto::v1 as pb;
use dancu_proto::Message;

use crate::citizen::{self, CalendarDate, FieldError};
use crate::life_events;
use crate::limits::{PUT_BATCH_BYTES_MAX, PUT_BATCH_RECORDS_MAX, REQUEST_ID_BYTES_MAX, WRITE_WAIT_DEFAULT};
use crate::raft::groups::Group;
use crate::raft::types::{ApplyOutcome, Request as RaftRequest};
use crate::service::admission::WriteClass;
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::RegistryService;

fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn check_request_id(request_id: &str) -> Result<(), ApiError> {
    if request_id.len() > REQUEST_ID_BYTES_MAX {
        return Err(ApiError::invalid("request_id", format!("longer than {REQUEST_ID_BYTES_MAX} bytes")));
    }
    Ok(())
}

/// Renames a record validation error's `citizen.` path to where the record sits in the request.
fn at(path: &str, error: FieldError) -> ApiError {
    ApiError::InvalidField { field: error.field.replacen("citizen", path, 1), message: error.message }
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

    pub(super) async fn put_one(
        &self,
        caller: Caller,
        request: pb::PutCitizenRequest,
    ) -> Result<pb::PutCitizenResponse, ApiError> {
        let citizen = request.citizen.ok_or_else(|| ApiError::invalid("citizen", "required"))?;
        citizen::validate(&citizen, CalendarDate::today_utc())?;
        check_request_id(&request.request_id)?;
        let spec = self.partition_of(&caller, "citizen.id", &citizen.id)?;
        let group = self.groups.hosted(spec.id.0)?;
        let request_id = if request.request_id.is_empty() { caller.request_id } else { request.request_id };
        let n_bytes = citizen.encoded_len();
        let command = pb::command::Op::PutCitizen(pb::PutCitizenCommand {
            citizen: Some(citizen),
            request_id,
            expected_revision: request.expected_revision,
            proposed_at_unix_ms: now_unix_ms(),
        });
        match self.propose(group, command, n_bytes).await? {
            ApplyOutcome::Written { revision, log_index, deduplicated } => {
                Ok(pb::PutCitizenResponse { revision, log_index, partition_id: spec.id.0, deduplicated })
            }
            other => Err(ApiError::Refused(format!("unexpected outcome {other:?}"))),
        }
    }

    pub(super) async fn put_batch(
        &self,
        caller: Caller,
        request: pb::PutCitizensRequest,
    ) -> Result<pb::PutCitizensResponse, ApiError> {
        check_request_id(&request.request_id)?;
        let n_records = request.citizens.len();
        if n_records == 0 || n_records > PUT_BATCH_RECORDS_MAX {
            return Err(ApiError::invalid(
                "citizens",
                format!("{n_records} records; 1 to {PUT_BATCH_RECORDS_MAX} allowed"),
            ));
        }
        let today = CalendarDate::today_utc();
        let mut seen = HashSet::with_capacity(n_records);
        let mut pid = None;
        let mut n_bytes = 0;
        for (idx, citizen) in request.citizens.iter().enumerate() {
            let path = format!("citizens[{idx}]");
            citizen::validate(citizen, today).map_err(|error| at(&path, error))?;
            if !seen.insert(citizen.id.as_str()) {
                return Err(ApiError::invalid(&format!("{path}.id"), "appears twice in the batch"));
            }
            let spec = self.partition_of(&caller, format_args!("{path}.id"), &citizen.id)?;
            if *pid.get_or_insert(spec.id) != spec.id {
                return Err(ApiError::invalid(
                    "citizens",
                    "records of several partitions; send one batch per partition",
                ));
            }
            n_bytes += citizen.encoded_len();
        }
        if n_bytes > PUT_BATCH_BYTES_MAX {
            return Err(ApiError::invalid("citizens", format!("{n_bytes} bytes; at most {PUT_BATCH_BYTES_MAX}")));
        }
        let Some(pid) = pid else {
            return Err(ApiError::invalid("citizens", "empty"));
        };
        let group = self.groups.hosted(pid.0)?;
        let ids: Vec<String> = request.citizens.iter().map(|c| c.id.clone()).collect();
        let request_id = if request.request_id.is_empty() { caller.request_id } else { request.request_id };
        let command = pb::command::Op::PutCitizens(pb::PutCitizensCommand {
            citizens: request.citizens,
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
        caller: Caller,
        request: pb::RecordLifeEventRequest,
    ) -> Result<pb::RecordLifeEventResponse, ApiError> {
        check_request_id(&request.request_id)?;
        let event = request.event.ok_or_else(|| ApiError::invalid("event", "required"))?;
        life_events::validate(&event, CalendarDate::today_utc())?;
        let spec = self.partition_of(&caller, "event.id", &event.id)?;
        let group = self.groups.hosted(spec.id.0)?;
        let request_id = if request.request_id.is_empty() { caller.request_id } else { request.request_id };
        let n_bytes = event.encoded_len();
        let command = pb::command::Op::LifeEvent(pb::LifeEventCommand {
            event: Some(event),
            request_id,
            proposed_at_unix_ms: now_unix_ms(),
        });
        match self.propose(group, command, n_bytes).await? {
            ApplyOutcome::Written { revision, log_index, deduplicated } => {
                Ok(pb::RecordLifeEventResponse { revision, log_index, partition_id: spec.id.0, deduplicated })
            }
            other => Err(ApiError::Refused(format!("unexpected outcome {other:?}"))),
        }
    }
}
