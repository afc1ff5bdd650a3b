//! Writes beyond a single put: batch puts, life events, and the two-step marriage and ID correction.

use std::collections::HashSet;

use dancu_proto::v1::life_event::Kind;
use dancu_proto::v1::{
    Citizen, Consistency, Date, IdCancellation, IdCorrection, LifeEvent, Marriage, PersonRef, PutCitizensRequest,
    PutCitizensResponse, RecordLifeEventRequest, RecordLifeEventResponse,
};
use tonic::{Code, Request, Response};

use super::{new_request_id, Client};
use crate::routing::Target;
use crate::ClientError;

/// Most records in one `put_citizens` (the server enforces the same limit).
pub const PUT_CITIZENS_MAX: usize = 1000;

/// The two writes of [`Client::marry`], in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarriageOutcome {
    /// The lower personal ID's side (written first).
    pub first_id: String,
    pub first: RecordLifeEventResponse,
    /// The higher personal ID's side.
    pub second_id: String,
    pub second: RecordLifeEventResponse,
}

/// The two writes of [`Client::correct_id`]: the corrected record at the new ID, then the cancellation of the old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCorrectionOutcome {
    pub corrected: RecordLifeEventResponse,
    pub cancelled: RecordLifeEventResponse,
}

fn date_text(date: &Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

impl Client {
    /// Writes up to [`PUT_CITIZENS_MAX`] records of ONE partition as one Raft entry: all applied or none. A record
    /// whose stored content is identical is left as it is (`written: false`, revision unchanged). A random request
    /// id makes retries exactly-once. Checked here before sending: the count, one partition
    /// (`InvalidArgument` field `citizens`), well-formed IDs and no ID twice (`citizens[K].id`). The server then
    /// validates every record; the first invalid one fails the call with field `citizens[K].<field>`.
    pub async fn put_citizens(&self, citizens: &[Citizen]) -> Result<PutCitizensResponse, ClientError> {
        self.put_citizens_with_request_id(citizens, new_request_id()).await
    }

    /// [`Client::put_citizens`] with the caller's request id: a repeat with the same id returns the first result
    /// (`deduplicated: true`, current revisions) instead of writing again.
    pub async fn put_citizens_with_request_id(
        &self,
        citizens: &[Citizen],
        request_id: String,
    ) -> Result<PutCitizensResponse, ClientError> {
        if request_id.is_empty() {
            return Err(ClientError::invalid("request_id", "must not be empty"));
        }
        self.check_one_partition(citizens)?;
        let routing_id = citizens[0].id.clone();
        let n_citizens = citizens.len();
        let response = self
            .execute(&routing_id, "citizens[0].id", Target::Leader, &request_id, |mut registry, context, timeout| {
                let message = PutCitizensRequest {
                    citizens: citizens.to_vec(),
                    request_id: request_id.clone(),
                    context: Some(context),
                };
                let mut request = Request::new(message);
                request.set_timeout(timeout);
                async move { registry.put_citizens(request).await.map(Response::into_inner) }
            })
            .await?;
        if response.results.len() != n_citizens {
            let message = format!("a batch of {n_citizens} records got {} results", response.results.len());
            return Err(ClientError::Server { code: Code::Internal, message });
        }
        Ok(response)
    }

    fn check_one_partition(&self, citizens: &[Citizen]) -> Result<(), ClientError> {
        if citizens.is_empty() || citizens.len() > PUT_CITIZENS_MAX {
            let message = format!("{} records; a batch holds 1 to {PUT_CITIZENS_MAX}", citizens.len());
            return Err(ClientError::invalid("citizens", message));
        }
        let table = self.read_table();
        let first_partition = table.lookup(&citizens[0].id, "citizens[0].id")?.id;
        let mut seen: HashSet<&str> = HashSet::with_capacity(citizens.len());
        for (idx, citizen) in citizens.iter().enumerate() {
            let partition = table.lookup(&citizen.id, &format!("citizens[{idx}].id"))?.id;
            if partition != first_partition {
                let message = format!("records of partitions {first_partition} and {partition}; a batch holds one");
                return Err(ClientError::invalid("citizens", message));
            }
            if !seen.insert(&citizen.id) {
                return Err(ClientError::invalid(format!("citizens[{idx}].id"), "the same ID twice in one batch"));
            }
        }
        Ok(())
    }

    /// Records a life event at the leader of `event.id`'s partition; the server validates it against the stored
    /// record when it is applied (a refusal is [`ClientError::Refused`]). A random request id makes retries
    /// exactly-once.
    pub async fn record_event(&self, event: LifeEvent) -> Result<RecordLifeEventResponse, ClientError> {
        self.record_event_with_request_id(event, new_request_id()).await
    }

    /// [`Client::record_event`] with the caller's request id: a repeat with the same id returns the first result
    /// (`deduplicated: true`) without applying the event again.
    pub async fn record_event_with_request_id(
        &self,
        event: LifeEvent,
        request_id: String,
    ) -> Result<RecordLifeEventResponse, ClientError> {
        if request_id.is_empty() {
            return Err(ClientError::invalid("request_id", "must not be empty"));
        }
        if event.kind.is_none() {
            return Err(ClientError::invalid("event.kind", "required"));
        }
        let id = event.id.clone();
        self.execute(&id, "event.id", Target::Leader, &request_id, |mut registry, context, timeout| {
            let message = RecordLifeEventRequest {
                event: Some(event.clone()),
                request_id: request_id.clone(),
                context: Some(context),
            };
            let mut request = Request::new(message);
            request.set_timeout(timeout);
            async move { registry.record_life_event(request).await.map(Response::into_inner) }
        })
        .await
        .map_err(|error| error.with_replaced_id(&id))
    }

    /// Records the marriage of `a_id` and `b_id` on `date`, one side per write:
    ///
    /// 1. reads both records (linearizable) to fill each side's spouse reference (name, ID, nationality);
    /// 2. writes the LOWER ID's side, then 3. the HIGHER ID's side.
    ///
    /// Each write has a deterministic request id, `marriage:{lower}:{higher}:{date}:{side}`, so when a call fails
    /// between the two writes, calling `marry` again with the same arguments re-runs both idempotently: the
    /// first is answered from the server's exactly-once table (`deduplicated`), the second is applied once.
    /// Between a failure and that retry, the lower ID's record says "married" and the higher one does not yet.
    /// The argument order does not matter.
    pub async fn marry(&self, a_id: &str, b_id: &str, date: Date) -> Result<MarriageOutcome, ClientError> {
        if a_id == b_id {
            return Err(ClientError::invalid("b_id", "a person cannot marry themselves"));
        }
        let ((lower, lower_field), (higher, higher_field)) =
            if a_id < b_id { ((a_id, "a_id"), (b_id, "b_id")) } else { ((b_id, "b_id"), (a_id, "a_id")) };
        let lower_record = self.read_for_event(lower, lower_field).await?;
        let higher_record = self.read_for_event(higher, higher_field).await?;
        let date_label = date_text(&date);
        let side = |id: &str, spouse: &Citizen| {
            let event = LifeEvent {
                id: id.to_string(),
                date: Some(date),
                kind: Some(Kind::Marriage(Marriage { spouse: Some(person_ref(spouse)) })),
            };
            (event, format!("marriage:{lower}:{higher}:{date_label}:{id}"))
        };
        let (event, request_id) = side(lower, &higher_record);
        let first = self.record_event_with_request_id(event, request_id).await?;
        let (event, request_id) = side(higher, &lower_record);
        let second = self.record_event_with_request_id(event, request_id).await?;
        Ok(MarriageOutcome { first_id: lower.to_string(), first, second_id: higher.to_string(), second })
    }

    /// Corrects a personal ID, in two writes:
    ///
    /// 1. `IdCorrection { old_id, corrected }` at `corrected.id`: creates the corrected record (the server adds
    ///    `old_id` to its `earlier_ids`);
    /// 2. `IdCancellation { replaced_by: corrected.id }` at `old_id`: the old record becomes history, and reads of
    ///    the old ID answer [`ClientError::IdReplaced`].
    ///
    /// Each write has a deterministic request id, `id-correction:{old}:{new}:{step}`, so when a call fails between
    /// the two, calling `correct_id` again re-runs both idempotently (step 1 is answered from the exactly-once
    /// table, step 2 applied once). Until then both IDs resolve. A retry must pass the same corrected record: a
    /// step already applied is not re-applied with different content.
    pub async fn correct_id(&self, old_id: &str, corrected: Citizen) -> Result<IdCorrectionOutcome, ClientError> {
        let new_id = corrected.id.clone();
        if new_id == old_id {
            return Err(ClientError::invalid("corrected.id", "the corrected ID equals the old one"));
        }
        self.partition_of(old_id).map_err(|_| ClientError::invalid("old_id", "not a personal ID of any partition"))?;
        let step1 = LifeEvent {
            id: new_id.clone(),
            date: None,
            kind: Some(Kind::IdCorrection(IdCorrection { old_id: old_id.to_string(), corrected: Some(corrected) })),
        };
        let corrected = self.record_event_with_request_id(step1, format!("id-correction:{old_id}:{new_id}:1")).await?;
        let step2 = LifeEvent {
            id: old_id.to_string(),
            date: None,
            kind: Some(Kind::IdCancellation(IdCancellation { replaced_by: new_id.clone() })),
        };
        let cancelled = self.record_event_with_request_id(step2, format!("id-correction:{old_id}:{new_id}:2")).await?;
        Ok(IdCorrectionOutcome { corrected, cancelled })
    }

    /// A linearizable read of a record an event needs; absent records are an invalid argument named `field`.
    async fn read_for_event(&self, id: &str, field: &str) -> Result<Citizen, ClientError> {
        let found = self.get(id, Consistency::Linearizable).await.map_err(|error| match error {
            ClientError::InvalidArgument { message, .. } => ClientError::invalid(field, message),
            other => other,
        })?;
        let citizen = found.and_then(|response| response.citizen);
        citizen.ok_or_else(|| ClientError::invalid(field, format!("no citizen with ID {id}")))
    }
}

/// How one side of a marriage names the other.
fn person_ref(citizen: &Citizen) -> PersonRef {
    PersonRef { full_name: citizen.full_name.clone(), id: citizen.id.clone(), nationality: citizen.nationality.clone() }
}
