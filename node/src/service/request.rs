//! The validation step of the Registry pipeline: every request type becomes its validated form before a handler
//! sees it, so a handler cannot run on a request nobody checked.
//!
//! Validation needs the caller (a province scope, hidden fields) and the partition map, nothing that moves:
//! no storage, no Raft, no network. So it answers the same on every node, and the fuzz target `request` runs it
//! exactly as a node does. What depends on the stored record (revision, deceased, cancelled) is decided at apply
//! time, and which replica serves a part is the handler's business.

use std::collections::HashSet;

use dancu_cluster_config::{provinces, PartitionId, PartitionMap, PartitionSpec};
use dancu_proto::v1 as pb;
use dancu_proto::v1::{Consistency, Sex};
use dancu_proto::Message;

use crate::citizen::{self, check_short_text, CalendarDate, FieldError};
use crate::life_events;
use crate::limits::{
    BATCH_IDS_MAX, BATCH_VERIFY_MAX, NAME_CHARS_MAX, PUT_BATCH_BYTES_MAX, PUT_BATCH_RECORDS_MAX, REQUEST_ID_BYTES_MAX,
    SCAN_PAGE_DEFAULT, SCAN_PAGE_MAX, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX,
};
use crate::name_key::search_key;
use crate::personal_id::PersonalId;
use crate::service::caller::{Caller, Rpc};
use crate::service::errors::{ApiError, Denial};

/// `dancu.v1.Citizen` field numbers that queries match on.
pub const FULL_NAME_FIELD: u32 = 2;
pub const DATE_OF_BIRTH_FIELD: u32 = 4;
pub const SEX_FIELD: u32 = 5;

/// The day writes are validated against.
#[derive(Debug, Clone, Copy)]
pub enum Today {
    /// The UTC date when the request is validated.
    Now,
    /// A fixed date (reproducible validation: tests, fuzzing).
    Fixed(CalendarDate),
}

impl Today {
    fn date(self) -> CalendarDate {
        match self {
            Today::Now => CalendarDate::today_utc(),
            Today::Fixed(date) => date,
        }
    }
}

/// What validation consults besides the request and its caller.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    pub partition_map: &'a PartitionMap,
    pub today: Today,
}

/// A Registry request that can be checked into its validated form.
pub trait Validate: Rpc + Sized {
    type Valid;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<Self::Valid, ApiError>;
}

pub fn consistency_of(value: i32) -> Result<Consistency, ApiError> {
    Consistency::try_from(value).map_err(|_| ApiError::invalid("consistency", format!("unknown level {value}")))
}

/// The partition of a personal ID the caller names, if the ID is valid and its province in the caller's scope.
/// `field` names the ID in an error; it is formatted only then (batches pass `format_args!`).
pub fn partition_of<'m>(
    map: &'m PartitionMap,
    caller: &Caller,
    field: impl std::fmt::Display,
    id: &str,
) -> Result<&'m PartitionSpec, ApiError> {
    PersonalId::parse(id).map_err(|e| ApiError::invalid(&field.to_string(), e.to_string()))?;
    let spec =
        map.partition_for(id).ok_or_else(|| ApiError::invalid(&field.to_string(), "no partition holds this id"))?;
    caller.check_scope(&spec.province_code)?;
    Ok(spec)
}

fn check_request_id(request_id: &str) -> Result<(), ApiError> {
    if request_id.len() > REQUEST_ID_BYTES_MAX {
        return Err(ApiError::invalid("request_id", format!("longer than {REQUEST_ID_BYTES_MAX} bytes")));
    }
    Ok(())
}

/// The request's own idempotency key, else the one of its caller context.
fn request_id_of(caller: &Caller, request_id: String) -> String {
    if request_id.is_empty() {
        caller.request_id.clone()
    } else {
        request_id
    }
}

/// Renames a record validation error's `citizen.` path to where the record sits in the request.
fn at(path: &str, error: FieldError) -> ApiError {
    ApiError::InvalidField { field: error.field.replacen("citizen", path, 1), message: error.message }
}

/// Refuses a question about a field the caller's role may not see: a yes/no about a field, or a search by it,
/// discloses the field a bit at a time.
fn check_may_ask(caller: &Caller, fields: &[(u32, bool)], what: &str) -> Result<(), ApiError> {
    for &(field, asked) in fields {
        if asked && caller.mask().hides(field) {
            return Err(ApiError::denied(
                Denial::FieldHidden,
                format!("role {} may not see the field it {what} (field {field})", caller.role().name),
            ));
        }
    }
    Ok(())
}

#[derive(Debug)]
pub struct ValidGet {
    pub consistency: Consistency,
    pub partition: PartitionId,
    pub id: String,
}

impl Validate for pb::GetCitizenRequest {
    type Valid = ValidGet;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidGet, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        let partition = partition_of(checks.partition_map, caller, "id", &self.id)?.id;
        Ok(ValidGet { consistency, partition, id: self.id })
    }
}

#[derive(Debug)]
pub struct ValidBatchGet {
    pub consistency: Consistency,
    pub ids: Vec<String>,
    /// The partition of each ID, in order.
    pub partitions: Vec<PartitionId>,
}

impl Validate for pb::BatchGetCitizensRequest {
    type Valid = ValidBatchGet;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidBatchGet, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        if self.ids.len() > BATCH_IDS_MAX {
            return Err(ApiError::invalid("ids", format!("{} ids, at most {BATCH_IDS_MAX} allowed", self.ids.len())));
        }
        let mut partitions = Vec::with_capacity(self.ids.len());
        for (idx, id) in self.ids.iter().enumerate() {
            partitions.push(partition_of(checks.partition_map, caller, format_args!("ids[{idx}]"), id)?.id);
        }
        Ok(ValidBatchGet { consistency, ids: self.ids, partitions })
    }
}

pub fn asked_anything(query: &pb::VerifyQuery) -> bool {
    query.full_name.is_some() || query.date_of_birth.is_some() || query.sex != Sex::Unspecified as i32
}

/// A verification query's partition, if the query asks something the caller may ask about a valid ID in scope.
fn check_query(
    caller: &Caller,
    checks: &Checks<'_>,
    path: &str,
    query: &pb::VerifyQuery,
) -> Result<PartitionId, ApiError> {
    if !asked_anything(query) {
        return Err(ApiError::invalid(path, "ask about at least one of full_name, date_of_birth, sex"));
    }
    if Sex::try_from(query.sex).is_err() {
        return Err(ApiError::invalid(&format!("{path}.sex"), "unknown sex"));
    }
    let asked = [
        (FULL_NAME_FIELD, query.full_name.is_some()),
        (DATE_OF_BIRTH_FIELD, query.date_of_birth.is_some()),
        (SEX_FIELD, query.sex != Sex::Unspecified as i32),
    ];
    check_may_ask(caller, &asked, "asks about")?;
    Ok(partition_of(checks.partition_map, caller, format_args!("{path}.id"), &query.id)?.id)
}

#[derive(Debug)]
pub struct ValidVerify {
    pub consistency: Consistency,
    pub query: pb::VerifyQuery,
    pub partition: PartitionId,
}

impl Validate for pb::VerifyCitizenRequest {
    type Valid = ValidVerify;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidVerify, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        let query = self.query.ok_or_else(|| ApiError::invalid("query", "required"))?;
        let partition = check_query(caller, checks, "query", &query)?;
        Ok(ValidVerify { consistency, query, partition })
    }
}

#[derive(Debug)]
pub struct ValidBatchVerify {
    pub consistency: Consistency,
    pub queries: Vec<pb::VerifyQuery>,
    /// The partition of each query, in order.
    pub partitions: Vec<PartitionId>,
}

impl Validate for pb::BatchVerifyCitizensRequest {
    type Valid = ValidBatchVerify;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidBatchVerify, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        if self.queries.len() > BATCH_VERIFY_MAX {
            let message = format!("{} queries, at most {BATCH_VERIFY_MAX} allowed", self.queries.len());
            return Err(ApiError::invalid("queries", message));
        }
        let mut partitions = Vec::with_capacity(self.queries.len());
        for (idx, query) in self.queries.iter().enumerate() {
            partitions.push(check_query(caller, checks, &format!("queries[{idx}]"), query)?);
        }
        Ok(ValidBatchVerify { consistency, queries: self.queries, partitions })
    }
}

/// A scatter-gather query: its parts are planned by the handler (which replica leads each partition moves).
#[derive(Debug)]
pub struct ValidLegacy {
    pub consistency: Consistency,
    /// Kept whole: forwarded parts are copies of it.
    pub request: pb::LookupLegacyNumberRequest,
}

impl Validate for pb::LookupLegacyNumberRequest {
    type Valid = ValidLegacy;
    fn validate(self, _caller: &Caller, _checks: &Checks<'_>) -> Result<ValidLegacy, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        let number = self.legacy_id_number.as_str();
        if number.len() != 9 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid("legacy_id_number", "must be exactly 9 ASCII digits"));
        }
        Ok(ValidLegacy { consistency, request: self })
    }
}

/// Whose household to list.
#[derive(Debug)]
pub enum HouseholdOf {
    /// The household of this person (looked up first).
    Member {
        partition: PartitionId,
        id: String,
    },
    Household(String),
}

#[derive(Debug)]
pub struct ValidHousehold {
    pub consistency: Consistency,
    pub of: HouseholdOf,
    pub request: pb::ListHouseholdRequest,
}

impl Validate for pb::ListHouseholdRequest {
    type Valid = ValidHousehold;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidHousehold, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        let of = match (self.id.is_empty(), self.household_id.is_empty()) {
            (false, true) => HouseholdOf::Member {
                partition: partition_of(checks.partition_map, caller, "id", &self.id)?.id,
                id: self.id.clone(),
            },
            (true, false) => {
                check_short_text("household_id", &self.household_id, true)?;
                HouseholdOf::Household(self.household_id.clone())
            }
            _ => return Err(ApiError::invalid("id", "give exactly one of id and household_id")),
        };
        Ok(ValidHousehold { consistency, of, request: self })
    }
}

#[derive(Debug)]
pub struct ValidSearch {
    pub consistency: Consistency,
    /// The name as the index spells it.
    pub key: String,
    pub date_of_birth: pb::Date,
    pub limit: usize,
    pub request: pb::SearchCitizensRequest,
}

impl Validate for pb::SearchCitizensRequest {
    type Valid = ValidSearch;
    fn validate(self, caller: &Caller, _checks: &Checks<'_>) -> Result<ValidSearch, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        let name_chars = self.full_name.chars().count();
        if name_chars > NAME_CHARS_MAX {
            return Err(ApiError::invalid("full_name", format!("{name_chars} characters, at most {NAME_CHARS_MAX}")));
        }
        // Finding people by name and birth date says what their name and birth date are.
        if caller.mask().hides(FULL_NAME_FIELD) || caller.mask().hides(DATE_OF_BIRTH_FIELD) {
            return Err(ApiError::denied(
                Denial::FieldHidden,
                format!("role {} may not see names or birth dates, so it may not search by them", caller.role().name),
            ));
        }
        let key = search_key(&self.full_name);
        if key.is_empty() {
            return Err(ApiError::invalid("full_name", "required"));
        }
        let date_of_birth = self.date_of_birth.ok_or_else(|| ApiError::invalid("date_of_birth", "required"))?;
        citizen::calendar_date("date_of_birth", &date_of_birth)?;
        let province = self.province_code.as_str();
        if !province.is_empty() && provinces::province(province).is_none() {
            return Err(ApiError::invalid("province_code", format!("province code {province:?} does not exist")));
        }
        let limit = match self.limit {
            0 => SEARCH_LIMIT_DEFAULT,
            n if n <= SEARCH_LIMIT_MAX => n,
            n => return Err(ApiError::invalid("limit", format!("{n}; at most {SEARCH_LIMIT_MAX}"))),
        } as usize;
        Ok(ValidSearch { consistency, key, date_of_birth, limit, request: self })
    }
}

#[derive(Debug)]
pub struct ValidScan {
    pub consistency: Consistency,
    pub partition: PartitionId,
    pub page_size: usize,
    /// Empty: from the partition's first record.
    pub start_after: String,
}

impl Validate for pb::ScanPartitionRequest {
    type Valid = ValidScan;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidScan, ApiError> {
        let consistency = consistency_of(self.consistency)?;
        let partition = PartitionId(self.partition_id);
        let Some(spec) = checks.partition_map.get(partition) else {
            return Err(ApiError::invalid("partition_id", format!("no partition {}", partition.0)));
        };
        caller.check_scope(&spec.province_code)?;
        let page_size = match self.page_size {
            0 => SCAN_PAGE_DEFAULT,
            n if n <= SCAN_PAGE_MAX => n,
            n => return Err(ApiError::invalid("page_size", format!("{n}; at most {SCAN_PAGE_MAX}"))),
        } as usize;
        if !self.start_after.is_empty() {
            PersonalId::parse(&self.start_after).map_err(|e| ApiError::invalid("start_after", e.to_string()))?;
        }
        Ok(ValidScan { consistency, partition, page_size, start_after: self.start_after })
    }
}

#[derive(Debug)]
pub struct ValidPut {
    pub citizen: pb::Citizen,
    pub partition: PartitionId,
    pub request_id: String,
    pub expected_revision: Option<u64>,
}

impl Validate for pb::PutCitizenRequest {
    type Valid = ValidPut;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidPut, ApiError> {
        let citizen = self.citizen.ok_or_else(|| ApiError::invalid("citizen", "required"))?;
        citizen::validate(&citizen, checks.today.date())?;
        check_request_id(&self.request_id)?;
        let partition = partition_of(checks.partition_map, caller, "citizen.id", &citizen.id)?.id;
        Ok(ValidPut {
            citizen,
            partition,
            request_id: request_id_of(caller, self.request_id),
            expected_revision: self.expected_revision,
        })
    }
}

#[derive(Debug)]
pub struct ValidPutBatch {
    pub citizens: Vec<pb::Citizen>,
    /// The one partition every record belongs to.
    pub partition: PartitionId,
    pub request_id: String,
    /// The records' encoded size, for write admission.
    pub n_bytes: usize,
}

impl Validate for pb::PutCitizensRequest {
    type Valid = ValidPutBatch;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidPutBatch, ApiError> {
        check_request_id(&self.request_id)?;
        let n_records = self.citizens.len();
        if n_records == 0 || n_records > PUT_BATCH_RECORDS_MAX {
            return Err(ApiError::invalid(
                "citizens",
                format!("{n_records} records; 1 to {PUT_BATCH_RECORDS_MAX} allowed"),
            ));
        }
        let today = checks.today.date();
        let mut seen = HashSet::with_capacity(n_records);
        let mut partition = None;
        let mut n_bytes = 0;
        for (idx, citizen) in self.citizens.iter().enumerate() {
            let path = format!("citizens[{idx}]");
            citizen::validate(citizen, today).map_err(|error| at(&path, error))?;
            if !seen.insert(citizen.id.as_str()) {
                return Err(ApiError::invalid(&format!("{path}.id"), "appears twice in the batch"));
            }
            let spec = partition_of(checks.partition_map, caller, format_args!("{path}.id"), &citizen.id)?;
            if *partition.get_or_insert(spec.id) != spec.id {
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
        let Some(partition) = partition else {
            return Err(ApiError::invalid("citizens", "empty"));
        };
        Ok(ValidPutBatch {
            citizens: self.citizens,
            partition,
            request_id: request_id_of(caller, self.request_id),
            n_bytes,
        })
    }
}

#[derive(Debug)]
pub struct ValidEvent {
    pub event: pb::LifeEvent,
    pub partition: PartitionId,
    pub request_id: String,
}

impl Validate for pb::RecordLifeEventRequest {
    type Valid = ValidEvent;
    fn validate(self, caller: &Caller, checks: &Checks<'_>) -> Result<ValidEvent, ApiError> {
        check_request_id(&self.request_id)?;
        let event = self.event.ok_or_else(|| ApiError::invalid("event", "required"))?;
        life_events::validate(&event, checks.today.date())?;
        let partition = partition_of(checks.partition_map, caller, "event.id", &event.id)?.id;
        Ok(ValidEvent { event, partition, request_id: request_id_of(caller, self.request_id) })
    }
}

/// Requests without fields to check.
macro_rules! nothing_to_validate {
    ($($message:ty),*) => {$(
        impl Validate for $message {
            type Valid = ();
            fn validate(self, _caller: &Caller, _checks: &Checks<'_>) -> Result<(), ApiError> {
                Ok(())
            }
        }
    )*};
}

nothing_to_validate!(pb::StatusRequest, pb::WhoAmIRequest);
