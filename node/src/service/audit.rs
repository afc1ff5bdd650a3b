//! The audit step of the request pipeline (`RegistryService::serve`): one record per admitted or refused request
//! that touches citizen data, written durably (`audit::Auditor::record`) before the reply goes out. Status and
//! WhoAmI touch none and are not recorded.
//!
//! A record names who (identity, role), why (purpose, request id), what (operation, the citizens the request named
//! or its answer returned, partitions read whole, the fields the caller got to see) and the outcome — never a
//! field's value.

use std::time::SystemTime;

use dancu_proto::v1 as pb;
use tonic::Code;

use crate::service::access::AccessPolicy;
use crate::service::caller::{Access, Caller, Rpc};
use crate::service::errors::ApiError;

/// Longest denial reason kept in a record.
const REASON_CHARS_MAX: usize = 200;

/// What a request or its answer touched.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    pub citizens: Vec<u64>,
    pub partitions: Vec<u32>,
    /// Set by requests that see named fields only (`verify: full_name, date_of_birth`); otherwise the role's mask
    /// decides.
    pub fields: Option<String>,
}

impl Touched {
    fn id(&mut self, id: &str) {
        if id.len() == 12 {
            if let Ok(number) = id.parse::<u64>() {
                self.citizens.push(number);
            }
        }
    }
}

/// What a request message or reply names of citizens.
pub trait Touches {
    fn touches(&self, _touched: &mut Touched) {}
}

impl Touches for pb::GetCitizenRequest {
    fn touches(&self, touched: &mut Touched) {
        touched.id(&self.id);
    }
}

impl Touches for pb::BatchGetCitizensRequest {
    fn touches(&self, touched: &mut Touched) {
        self.ids.iter().for_each(|id| touched.id(id));
    }
}

fn verify_fields(queries: &[&pb::VerifyQuery]) -> String {
    let mut fields = vec!["id"];
    if queries.iter().any(|query| query.full_name.is_some()) {
        fields.push("full_name");
    }
    if queries.iter().any(|query| query.date_of_birth.is_some()) {
        fields.push("date_of_birth");
    }
    if queries.iter().any(|query| query.sex != 0) {
        fields.push("sex");
    }
    format!("verify: {}", fields.join(", "))
}

impl Touches for pb::VerifyCitizenRequest {
    fn touches(&self, touched: &mut Touched) {
        if let Some(query) = &self.query {
            touched.id(&query.id);
            touched.fields = Some(verify_fields(&[query]));
        }
    }
}

impl Touches for pb::BatchVerifyCitizensRequest {
    fn touches(&self, touched: &mut Touched) {
        self.queries.iter().for_each(|query| touched.id(&query.id));
        touched.fields = Some(verify_fields(&self.queries.iter().collect::<Vec<_>>()));
    }
}

impl Touches for pb::ListHouseholdRequest {
    fn touches(&self, touched: &mut Touched) {
        touched.id(&self.id);
    }
}

impl Touches for pb::ScanPartitionRequest {
    fn touches(&self, touched: &mut Touched) {
        touched.partitions.push(self.partition_id);
    }
}

impl Touches for pb::PutCitizenRequest {
    fn touches(&self, touched: &mut Touched) {
        if let Some(citizen) = &self.citizen {
            touched.id(&citizen.id);
        }
        touched.fields = Some("written".into());
    }
}

impl Touches for pb::PutCitizensRequest {
    fn touches(&self, touched: &mut Touched) {
        self.citizens.iter().for_each(|citizen| touched.id(&citizen.id));
        touched.fields = Some("written".into());
    }
}

impl Touches for pb::RecordLifeEventRequest {
    fn touches(&self, touched: &mut Touched) {
        if let Some(event) = &self.event {
            touched.id(&event.id);
        }
        touched.fields = Some("written".into());
    }
}

impl Touches for pb::LookupLegacyNumberResponse {
    fn touches(&self, touched: &mut Touched) {
        touched.id(&self.id);
    }
}

impl Touches for pb::ListHouseholdResponse {
    fn touches(&self, touched: &mut Touched) {
        self.members.iter().for_each(|member| touched.id(&member.id));
    }
}

impl Touches for pb::SearchCitizensResponse {
    fn touches(&self, touched: &mut Touched) {
        self.hits.iter().for_each(|hit| touched.id(&hit.id));
    }
}

impl Touches for pb::LookupLegacyNumberRequest {}
impl Touches for pb::SearchCitizensRequest {}
impl Touches for pb::StatusRequest {}
impl Touches for pb::WhoAmIRequest {}
impl Touches for pb::GetCitizenResponseEncoded {}
impl Touches for pb::BatchGetCitizensResponseEncoded {}
impl Touches for pb::GetCitizenResponse {}
impl Touches for pb::BatchGetCitizensResponse {}
impl Touches for pb::VerifyCitizenResponse {}
impl Touches for pb::BatchVerifyCitizensResponse {}
impl Touches for pb::PutCitizenResponse {}
impl Touches for pb::PutCitizensResponse {}
impl Touches for pb::RecordLifeEventResponse {}
impl Touches for pb::StatusResponse {}
impl Touches for pb::WhoAmIResponse {}
impl Touches for crate::service::scan::ScanStream {}

pub fn now_unix_us() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_micros() as i64)
}

/// Why a request failed, as a record keeps it: an invalid field by name only (its value could be personal data).
fn reason(error: &ApiError) -> String {
    let text = match error {
        ApiError::InvalidField { field, .. } => format!("invalid {field}"),
        ApiError::IdReplaced { .. } => "personal ID cancelled and replaced".to_string(),
        other => other.to_string(),
    };
    text.chars().take(REASON_CHARS_MAX).collect()
}

fn operation(access: Access) -> String {
    match access {
        Access::Operation(operation) => operation.to_string(),
        Access::AnyCaller => "status".to_string(),
    }
}

/// The record of a request that passed admission, and how it ended.
pub fn served(caller: &Caller, access: Access, touched: Touched, error: Option<&ApiError>) -> pb::AuditRecord {
    let code = error.map_or(Code::Ok, ApiError::code);
    let hidden: Vec<&str> = caller.mask().names().collect();
    let fields = match (error, touched.fields) {
        (Some(_), _) => "none".to_string(),
        (None, Some(fields)) => fields,
        (None, None) if hidden.is_empty() => "all".to_string(),
        (None, None) => format!("all except {}", hidden.join(", ")),
    };
    pb::AuditRecord {
        seq: 0,
        node_id: 0,
        time_unix_us: now_unix_us(),
        identity: caller.identity.as_ref().map(|identity| identity.file_stem()).unwrap_or_default(),
        role: caller.role().name.clone(),
        purpose: caller.purpose.clone(),
        operation: operation(access),
        request_id: caller.request_id.clone(),
        citizen_ids: touched.citizens,
        partitions: touched.partitions,
        fields,
        code: code as u32,
        reason: error.map(reason).unwrap_or_default(),
        forwarded_by: caller.forwarded_by.unwrap_or(0),
    }
}

/// The record of a request admission refused: the identity its certificate proved, the role configured for it, and
/// the purpose and request id it claimed.
pub fn refused<Q: Rpc>(
    policy: &AccessPolicy,
    request: &tonic::Request<Q>,
    touched: Touched,
    error: &ApiError,
) -> pb::AuditRecord {
    let identity = request.extensions().get::<dancu_tls::PeerInfo>().map(|peer| peer.identity.file_stem());
    let role = identity.as_deref().and_then(|name| policy.caller(name)).map(|entry| entry.role.name.clone());
    let context = request.get_ref().context().cloned().unwrap_or_default();
    pb::AuditRecord {
        time_unix_us: now_unix_us(),
        identity: identity.unwrap_or_default(),
        role: role.unwrap_or_default(),
        purpose: context.purpose.chars().take(REASON_CHARS_MAX).collect(),
        request_id: context.request_id.chars().take(REASON_CHARS_MAX).collect(),
        operation: operation(Q::ACCESS),
        citizen_ids: touched.citizens,
        partitions: touched.partitions,
        fields: "none".into(),
        code: error.code() as u32,
        reason: reason(error),
        ..Default::default()
    }
}
