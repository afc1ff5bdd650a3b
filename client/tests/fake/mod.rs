//! A fake three-node dancu cluster on loopback for the client's tests. The fake nodes follow the server error
//! contract (NOT_LEADER hints, NO_QUORUM, INVALID_FIELD, REVISION_MISMATCH, NOT_FOUND, ID_REPLACED, REFUSED,
//! request-id dedup) but hold no Raft: a shared table says who leads each partition.
//!
//! Minimal semantics of the newer calls, as far as the tests need them: PutCitizens (one partition, a fake
//! validation rule: no full name or a birth year before 1900 is an invalid `citizens[K].<field>`, unchanged
//! records are not rewritten, request-id dedup), verify (per-field answers), scatter-gather calls answered by
//! any node from the shared table, scans in pages (optionally broken mid-stream), and life events (marriage,
//! ID correction and cancellation, death; a move of a deceased person is refused).

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dancu_client::proto::life_event::Kind;
use dancu_client::proto::registry_server::{Registry, RegistryServer};
use dancu_client::proto::{
    BatchGetCitizensRequest, BatchGetCitizensResponse, BatchGetResult, BatchVerifyCitizensRequest,
    BatchVerifyCitizensResponse, Citizen, CitizenSummary, Consistency, ErrorDetail, ErrorReason, FieldMatch,
    GetCitizenRequest, GetCitizenResponse, IdStatus, LifeStatus, ListHouseholdRequest, ListHouseholdResponse,
    LookupLegacyNumberRequest, LookupLegacyNumberResponse, MaritalStatus, NodeStatus, PartitionStatus,
    PutCitizenRequest, PutCitizenResponse, PutCitizensRequest, PutCitizensResponse, PutCitizensResult, ReadMeta,
    RecordLifeEventRequest, RecordLifeEventResponse, ScanPartitionRequest, ScanPartitionResponse,
    SearchCitizensRequest, SearchCitizensResponse, Sex, StatusRequest, StatusResponse, VerifyCitizenRequest,
    VerifyCitizenResponse, VerifyQuery, VerifyResult, WhoAmIRequest, WhoAmIResponse,
};
use prost::Message;
use tokio::sync::oneshot;
use tonic::codegen::Bytes;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// (partition id, range start, range end).
const PARTITIONS: [(u32, &str, &str); 2] =
    [(100, "001000000000", "001999999999"), (7900, "079000000000", "079999999999")];
const NODE_IDS: [u64; 3] = [1, 2, 3];

#[derive(Default)]
pub struct Shared {
    /// Who really leads each partition.
    pub leaders: Mutex<HashMap<u32, u64>>,
    /// What `Status` reports as leaders (may be stale, to exercise redirects).
    pub reported_leaders: Mutex<HashMap<u32, u64>>,
    pub records: Mutex<HashMap<String, Citizen>>,
    pub dedup: Mutex<HashMap<String, PutCitizenResponse>>,
    pub log_index: AtomicU64,
    /// Puts to fail with UNAVAILABLE + NO_QUORUM before one succeeds.
    pub puts_to_fail: Mutex<u32>,
    /// (node, request id, purpose) of every put attempt.
    pub put_attempts: Mutex<Vec<(u64, String, String)>>,
    /// (node, number of IDs) of every batch call.
    pub batch_calls: Mutex<Vec<(u64, usize)>>,
    pub nodes: Mutex<Vec<NodeStatus>>,
    /// (node, number of records, request id) of every PutCitizens that reached validation.
    pub put_batches: Mutex<Vec<(u64, usize, String)>>,
    pub batch_dedup: Mutex<HashMap<String, PutCitizensResponse>>,
    /// How long the first PutCitizens waits before applying (to overtake it with later batches).
    pub first_batch_delay: Mutex<Option<Duration>>,
    /// (node, number of queries) of every BatchVerifyCitizens call.
    pub verify_batches: Mutex<Vec<(u64, usize)>>,
    /// (node, call name) of every scatter-gather call.
    pub scatter_calls: Mutex<Vec<(u64, &'static str)>>,
    /// Scans to break with UNAVAILABLE (no quorum) right after their first page.
    pub scans_to_break: Mutex<u32>,
    /// (node, start_after) of every scan opened.
    pub scans: Mutex<Vec<(u64, String)>>,
    /// (node, event id, request id) of every life event applied (not deduplicated).
    pub events: Mutex<Vec<(u64, String, String)>>,
    pub event_dedup: Mutex<HashMap<String, RecordLifeEventResponse>>,
}

struct FakeNode {
    id: u64,
    shared: Arc<Shared>,
}

fn partition_of(id: &str) -> Option<u32> {
    PARTITIONS.iter().find(|(_, start, end)| *start <= id && id <= *end).map(|(partition, _, _)| *partition)
}

fn status_with(code: Code, message: &str, detail: ErrorDetail) -> Status {
    Status::with_details(code, message.to_string(), Bytes::from(detail.encode_to_vec()))
}

impl FakeNode {
    /// NOT_LEADER with a hint unless this node leads `partition`.
    fn check_leader(&self, partition: u32) -> Result<(), Status> {
        let leader = self.shared.leaders.lock().unwrap()[&partition];
        if leader == self.id {
            return Ok(());
        }
        let leader_addr =
            self.shared.nodes.lock().unwrap().iter().find(|node| node.id == leader).map(|node| node.addr.clone());
        let detail = ErrorDetail {
            reason: ErrorReason::NotLeader.into(),
            partition_id: partition,
            leader_id: Some(leader),
            leader_addr: leader_addr.unwrap_or_default(),
            ..Default::default()
        };
        Err(status_with(Code::FailedPrecondition, "not leader", detail))
    }

    fn partition(&self, id: &str) -> Result<u32, Status> {
        partition_of(id).ok_or_else(|| Status::invalid_argument("no partition"))
    }

    fn meta(&self, partition: u32) -> ReadMeta {
        ReadMeta {
            partition_id: partition,
            served_by: self.id,
            applied_index: self.shared.log_index.load(Ordering::SeqCst),
            read_index: 0,
        }
    }
}

fn leader_needed(consistency: i32) -> bool {
    !matches!(Consistency::try_from(consistency), Ok(Consistency::Follower | Consistency::Stale))
}

fn invalid(field: &str, message: &str) -> Status {
    let detail =
        ErrorDetail { reason: ErrorReason::InvalidField.into(), field: field.to_string(), ..Default::default() };
    status_with(Code::InvalidArgument, &format!("{field}: {message}"), detail)
}

/// The fake's validation of one record of a batch: a full name, and no birth before 1900.
fn validate(idx: usize, citizen: &Citizen) -> Result<(), Status> {
    if citizen.full_name.is_empty() {
        return Err(invalid(&format!("citizens[{idx}].full_name"), "required"));
    }
    if citizen.date_of_birth.is_some_and(|date| date.year < 1900) {
        return Err(invalid(&format!("citizens[{idx}].date_of_birth"), "before 1900-01-01"));
    }
    Ok(())
}

/// The record without the fields the server sets, for "unchanged" comparisons.
fn content(citizen: &Citizen) -> Citizen {
    Citizen { revision: 0, updated_at_unix_ms: 0, ..citizen.clone() }
}

/// Per-field answers, never stored values (the server's rule).
fn compare(stored: Option<&Citizen>, query: &VerifyQuery) -> VerifyResult {
    let mut result = VerifyResult { id: query.id.clone(), ..Default::default() };
    let Some(stored) = stored else {
        result.id_status = IdStatus::NotFound.into();
        return result;
    };
    if !stored.replaced_by.is_empty() {
        result.id_status = IdStatus::Replaced.into();
        return result;
    }
    result.id_status = IdStatus::Found.into();
    let field = |asked: bool, equal: bool| match (asked, equal) {
        (false, _) => FieldMatch::NotAsked,
        (true, true) => FieldMatch::Match,
        (true, false) => FieldMatch::Mismatch,
    };
    let fields = [
        field(query.full_name.is_some(), query.full_name.as_deref() == Some(stored.full_name.as_str())),
        field(query.date_of_birth.is_some(), query.date_of_birth == stored.date_of_birth),
        field(query.sex != Sex::Unspecified as i32, query.sex == stored.sex),
    ];
    result.full_name = fields[0].into();
    result.date_of_birth = fields[1].into();
    result.sex = fields[2].into();
    result.r#match = fields.iter().all(|f| *f != FieldMatch::Mismatch);
    result
}

fn summary(citizen: &Citizen) -> CitizenSummary {
    CitizenSummary {
        id: citizen.id.clone(),
        full_name: citizen.full_name.clone(),
        date_of_birth: citizen.date_of_birth,
        sex: citizen.sex,
        household_id: citizen.household_id.clone(),
        relationship_to_head: citizen.relationship_to_head.clone(),
        status: citizen.status,
    }
}

type ScanStream = Pin<Box<dyn futures::Stream<Item = Result<ScanPartitionResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Registry for FakeNode {
    async fn get_citizen(&self, request: Request<GetCitizenRequest>) -> Result<Response<GetCitizenResponse>, Status> {
        let request = request.into_inner();
        let partition = self.partition(&request.id)?;
        if leader_needed(request.consistency) {
            self.check_leader(partition)?;
        }
        let citizen = self.shared.records.lock().unwrap().get(&request.id).cloned();
        let Some(citizen) = citizen else {
            return Err(Status::not_found("no such citizen"));
        };
        if !citizen.replaced_by.is_empty() {
            let detail = ErrorDetail {
                reason: ErrorReason::IdReplaced.into(),
                replaced_by: citizen.replaced_by.clone(),
                ..Default::default()
            };
            let message = format!("personal ID {} was cancelled and replaced by {}", request.id, citizen.replaced_by);
            return Err(status_with(Code::NotFound, &message, detail));
        }
        Ok(Response::new(GetCitizenResponse {
            revision: citizen.revision,
            log_index: self.shared.log_index.load(Ordering::SeqCst),
            meta: Some(self.meta(partition)),
            citizen: Some(citizen),
        }))
    }

    async fn batch_get_citizens(
        &self,
        request: Request<BatchGetCitizensRequest>,
    ) -> Result<Response<BatchGetCitizensResponse>, Status> {
        let request = request.into_inner();
        // Like a node: a batch may span partitions; every one must be served here.
        for id in &request.ids {
            let partition = self.partition(id)?;
            if leader_needed(request.consistency) {
                self.check_leader(partition)?;
            }
        }
        self.shared.batch_calls.lock().unwrap().push((self.id, request.ids.len()));
        let records = self.shared.records.lock().unwrap();
        let results = request
            .ids
            .iter()
            .map(|id| BatchGetResult {
                id: id.clone(),
                found: records.contains_key(id),
                citizen: records.get(id).cloned(),
                meta: self.partition(id).ok().map(|partition| self.meta(partition)),
                replaced_by: String::new(),
            })
            .collect();
        Ok(Response::new(BatchGetCitizensResponse { results }))
    }

    async fn put_citizen(&self, request: Request<PutCitizenRequest>) -> Result<Response<PutCitizenResponse>, Status> {
        let request = request.into_inner();
        let mut citizen = request.citizen.unwrap_or_default();
        let partition = self.partition(&citizen.id)?;
        let purpose = request.context.map(|context| context.purpose).unwrap_or_default();
        self.shared.put_attempts.lock().unwrap().push((self.id, request.request_id.clone(), purpose));
        self.check_leader(partition)?;
        {
            let mut puts_to_fail = self.shared.puts_to_fail.lock().unwrap();
            if *puts_to_fail > 0 {
                *puts_to_fail -= 1;
                let detail =
                    ErrorDetail { reason: ErrorReason::NoQuorum.into(), partition_id: partition, ..Default::default() };
                return Err(status_with(Code::Unavailable, "no quorum", detail));
            }
        }
        if citizen.full_name.is_empty() {
            let detail = ErrorDetail {
                reason: ErrorReason::InvalidField.into(),
                field: "citizen.full_name".to_string(),
                ..Default::default()
            };
            return Err(status_with(Code::InvalidArgument, "full name is required", detail));
        }
        if let Some(earlier) = self.shared.dedup.lock().unwrap().get(&request.request_id) {
            return Ok(Response::new(PutCitizenResponse { deduplicated: true, ..*earlier }));
        }
        let mut records = self.shared.records.lock().unwrap();
        let current_revision = records.get(&citizen.id).map_or(0, |stored| stored.revision);
        if let Some(expected) = request.expected_revision {
            if expected != current_revision {
                let detail = ErrorDetail {
                    reason: ErrorReason::RevisionMismatch.into(),
                    current_revision,
                    ..Default::default()
                };
                return Err(status_with(Code::Aborted, "revision mismatch", detail));
            }
        }
        citizen.revision = current_revision + 1;
        let log_index = self.shared.log_index.fetch_add(1, Ordering::SeqCst) + 1;
        let response =
            PutCitizenResponse { revision: citizen.revision, log_index, partition_id: partition, deduplicated: false };
        records.insert(citizen.id.clone(), citizen);
        self.shared.dedup.lock().unwrap().insert(request.request_id, response);
        Ok(Response::new(response))
    }

    async fn put_citizens(
        &self,
        request: Request<PutCitizensRequest>,
    ) -> Result<Response<PutCitizensResponse>, Status> {
        let request = request.into_inner();
        let Some(first) = request.citizens.first() else { return Err(invalid("citizens", "empty")) };
        let partition = self.partition(&first.id)?;
        if request.citizens.iter().any(|citizen| partition_of(&citizen.id) != Some(partition)) {
            return Err(invalid("citizens", "records of several partitions"));
        }
        self.check_leader(partition)?;
        if let Some(earlier) = self.shared.batch_dedup.lock().unwrap().get(&request.request_id).cloned() {
            let records = self.shared.records.lock().unwrap();
            let mut response = PutCitizensResponse { deduplicated: true, ..earlier };
            for result in &mut response.results {
                result.revision = records.get(&result.id).map_or(0, |stored| stored.revision);
            }
            return Ok(Response::new(response));
        }
        let mut seen = HashSet::new();
        for (idx, citizen) in request.citizens.iter().enumerate() {
            if !seen.insert(citizen.id.clone()) {
                return Err(invalid(&format!("citizens[{idx}].id"), "the same ID twice in one batch"));
            }
            validate(idx, citizen)?;
        }
        self.shared.put_batches.lock().unwrap().push((self.id, request.citizens.len(), request.request_id.clone()));
        let delay = self.shared.first_batch_delay.lock().unwrap().take();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let log_index = self.shared.log_index.fetch_add(1, Ordering::SeqCst) + 1;
        let mut records = self.shared.records.lock().unwrap();
        let results = request
            .citizens
            .into_iter()
            .map(|citizen| {
                let stored = records.get(&citizen.id);
                if stored.is_some_and(|stored| content(stored) == content(&citizen)) {
                    let revision = stored.map_or(0, |stored| stored.revision);
                    return PutCitizensResult { id: citizen.id, revision, written: false };
                }
                let revision = stored.map_or(0, |stored| stored.revision) + 1;
                let id = citizen.id.clone();
                records.insert(id.clone(), Citizen { revision, ..citizen });
                PutCitizensResult { id, revision, written: true }
            })
            .collect();
        let response = PutCitizensResponse { partition_id: partition, log_index, results, deduplicated: false };
        self.shared.batch_dedup.lock().unwrap().insert(request.request_id, response.clone());
        Ok(Response::new(response))
    }

    async fn verify_citizen(
        &self,
        request: Request<VerifyCitizenRequest>,
    ) -> Result<Response<VerifyCitizenResponse>, Status> {
        let request = request.into_inner();
        let query = request.query.unwrap_or_default();
        let partition = self.partition(&query.id)?;
        if leader_needed(request.consistency) {
            self.check_leader(partition)?;
        }
        let records = self.shared.records.lock().unwrap();
        let result = compare(records.get(&query.id), &query);
        Ok(Response::new(VerifyCitizenResponse { result: Some(result), meta: Some(self.meta(partition)) }))
    }

    async fn batch_verify_citizens(
        &self,
        request: Request<BatchVerifyCitizensRequest>,
    ) -> Result<Response<BatchVerifyCitizensResponse>, Status> {
        let request = request.into_inner();
        for query in &request.queries {
            let partition = self.partition(&query.id)?;
            if leader_needed(request.consistency) {
                self.check_leader(partition)?;
            }
        }
        self.shared.verify_batches.lock().unwrap().push((self.id, request.queries.len()));
        let records = self.shared.records.lock().unwrap();
        let results = request.queries.iter().map(|query| compare(records.get(&query.id), query)).collect();
        Ok(Response::new(BatchVerifyCitizensResponse { results }))
    }

    async fn lookup_legacy_number(
        &self,
        request: Request<LookupLegacyNumberRequest>,
    ) -> Result<Response<LookupLegacyNumberResponse>, Status> {
        let request = request.into_inner();
        self.shared.scatter_calls.lock().unwrap().push((self.id, "legacy"));
        let records = self.shared.records.lock().unwrap();
        let found = records
            .values()
            .find(|citizen| citizen.legacy_id_number == request.legacy_id_number && citizen.replaced_by.is_empty());
        Ok(Response::new(LookupLegacyNumberResponse {
            found: found.is_some(),
            id: found.map(|citizen| citizen.id.clone()).unwrap_or_default(),
            out_of_scope_partitions: Vec::new(),
        }))
    }

    async fn list_household(
        &self,
        request: Request<ListHouseholdRequest>,
    ) -> Result<Response<ListHouseholdResponse>, Status> {
        let request = request.into_inner();
        let records = self.shared.records.lock().unwrap().clone();
        let household_id = if request.id.is_empty() {
            self.shared.scatter_calls.lock().unwrap().push((self.id, "household"));
            request.household_id
        } else {
            let partition = self.partition(&request.id)?;
            if leader_needed(request.consistency) {
                self.check_leader(partition)?;
            }
            let Some(citizen) = records.get(&request.id) else {
                return Err(Status::not_found("no such citizen"));
            };
            citizen.household_id.clone()
        };
        let mut members: Vec<CitizenSummary> =
            records.values().filter(|citizen| citizen.household_id == household_id).map(summary).collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Response::new(ListHouseholdResponse { household_id, members, out_of_scope_partitions: Vec::new() }))
    }

    async fn search_citizens(
        &self,
        request: Request<SearchCitizensRequest>,
    ) -> Result<Response<SearchCitizensResponse>, Status> {
        let request = request.into_inner();
        self.shared.scatter_calls.lock().unwrap().push((self.id, "search"));
        let limit = if request.limit == 0 { 20 } else { request.limit as usize };
        let records = self.shared.records.lock().unwrap();
        let mut hits: Vec<CitizenSummary> = records
            .values()
            .filter(|citizen| {
                citizen.full_name.to_lowercase() == request.full_name.to_lowercase()
                    && citizen.date_of_birth == request.date_of_birth
                    && (request.province_code.is_empty() || citizen.id.starts_with(&request.province_code))
            })
            .map(summary)
            .collect();
        hits.sort_by(|a, b| a.id.cmp(&b.id));
        let truncated = hits.len() > limit;
        hits.truncate(limit);
        Ok(Response::new(SearchCitizensResponse { hits, truncated, out_of_scope_partitions: Vec::new() }))
    }

    type ScanPartitionStream = ScanStream;

    async fn scan_partition(
        &self,
        request: Request<ScanPartitionRequest>,
    ) -> Result<Response<Self::ScanPartitionStream>, Status> {
        let request = request.into_inner();
        if leader_needed(request.consistency) {
            self.check_leader(request.partition_id)?;
        }
        self.shared.scans.lock().unwrap().push((self.id, request.start_after.clone()));
        let page_size = if request.page_size == 0 { 500 } else { request.page_size as usize };
        let mut citizens: Vec<Citizen> = self
            .shared
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|citizen| {
                partition_of(&citizen.id) == Some(request.partition_id) && citizen.id > request.start_after
            })
            .cloned()
            .collect();
        citizens.sort_by(|a, b| a.id.cmp(&b.id));
        let meta = self.meta(request.partition_id);
        let mut pages: Vec<Result<ScanPartitionResponse, Status>> = citizens
            .chunks(page_size)
            .map(|page| Ok(ScanPartitionResponse { citizens: page.to_vec(), meta: Some(meta) }))
            .collect();
        let mut to_break = self.shared.scans_to_break.lock().unwrap();
        if *to_break > 0 && pages.len() > 1 {
            *to_break -= 1;
            pages.truncate(1);
            let detail = ErrorDetail {
                reason: ErrorReason::NoQuorum.into(),
                partition_id: request.partition_id,
                ..Default::default()
            };
            pages.push(Err(status_with(Code::Unavailable, "no quorum", detail)));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(pages))))
    }

    async fn record_life_event(
        &self,
        request: Request<RecordLifeEventRequest>,
    ) -> Result<Response<RecordLifeEventResponse>, Status> {
        let request = request.into_inner();
        let event = request.event.unwrap_or_default();
        let partition = self.partition(&event.id)?;
        self.check_leader(partition)?;
        if let Some(earlier) = self.shared.event_dedup.lock().unwrap().get(&request.request_id) {
            return Ok(Response::new(RecordLifeEventResponse { deduplicated: true, ..*earlier }));
        }
        let mut records = self.shared.records.lock().unwrap();
        let mut citizen = match (&event.kind, records.get(&event.id)) {
            (Some(Kind::IdCorrection(correction)), _) => {
                let mut corrected = correction.corrected.clone().unwrap_or_default();
                corrected.earlier_ids.push(correction.old_id.clone());
                corrected
            }
            (_, Some(stored)) => stored.clone(),
            (_, None) => return Err(Status::not_found("no such citizen")),
        };
        match event.kind {
            Some(Kind::Marriage(marriage)) => {
                citizen.spouse = marriage.spouse;
                citizen.marital_status = MaritalStatus::Married.into();
            }
            Some(Kind::IdCancellation(cancellation)) => citizen.replaced_by = cancellation.replaced_by,
            Some(Kind::Death(_)) => {
                citizen.status = LifeStatus::Deceased.into();
                citizen.status_date = event.date;
            }
            Some(Kind::Move(_)) if citizen.status == LifeStatus::Deceased as i32 => {
                let detail = ErrorDetail { reason: ErrorReason::Refused.into(), ..Default::default() };
                return Err(status_with(Code::FailedPrecondition, "refused: the person is deceased", detail));
            }
            Some(Kind::IdCorrection(_)) => {}
            _ => return Err(Status::unimplemented("the fake records marriages, ID corrections and deaths only")),
        }
        citizen.revision += 1;
        let log_index = self.shared.log_index.fetch_add(1, Ordering::SeqCst) + 1;
        let response = RecordLifeEventResponse {
            revision: citizen.revision,
            log_index,
            partition_id: partition,
            deduplicated: false,
        };
        records.insert(event.id.clone(), citizen);
        self.shared.events.lock().unwrap().push((self.id, event.id, request.request_id.clone()));
        self.shared.event_dedup.lock().unwrap().insert(request.request_id, response);
        Ok(Response::new(response))
    }

    async fn who_am_i(&self, _request: Request<WhoAmIRequest>) -> Result<Response<WhoAmIResponse>, Status> {
        Ok(Response::new(WhoAmIResponse { identity: "insecure-plaintext".into(), ..Default::default() }))
    }

    async fn status(&self, _request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let reported = self.shared.reported_leaders.lock().unwrap().clone();
        let partitions = PARTITIONS
            .iter()
            .map(|(id, start, end)| PartitionStatus {
                id: *id,
                province_code: start[..3].to_string(),
                range_start: start.to_string(),
                range_end: end.to_string(),
                leader: reported.get(id).copied(),
                voters: NODE_IDS.to_vec(),
                replicas: NODE_IDS.to_vec(),
                preferred_leader: 1,
                local_role: "follower".to_string(),
                ..Default::default()
            })
            .collect();
        let nodes = self.shared.nodes.lock().unwrap().clone();
        Ok(Response::new(StatusResponse { node_id: self.id, nodes, partitions, ..Default::default() }))
    }
}

pub struct FakeCluster {
    pub shared: Arc<Shared>,
    /// Node id → address.
    pub addrs: HashMap<u64, String>,
    stops: HashMap<u64, oneshot::Sender<()>>,
}

impl FakeCluster {
    pub async fn start() -> FakeCluster {
        let shared = Arc::new(Shared::default());
        let leaders: HashMap<u32, u64> = [(100, 1), (7900, 2)].into_iter().collect();
        *shared.leaders.lock().unwrap() = leaders.clone();
        *shared.reported_leaders.lock().unwrap() = leaders;
        let mut addrs = HashMap::new();
        let mut stops = HashMap::new();
        for id in NODE_IDS {
            let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).expect("bind loopback");
            let addr = incoming.local_addr().expect("bound").to_string();
            let (stop, stopped) = oneshot::channel::<()>();
            let node = FakeNode { id, shared: shared.clone() };
            tokio::spawn(async move {
                let server = tonic::transport::Server::builder().add_service(RegistryServer::new(node));
                let _ = server
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = stopped.await;
                    })
                    .await;
            });
            shared.nodes.lock().unwrap().push(NodeStatus {
                id,
                addr: addr.clone(),
                dc: "local".to_string(),
                ..Default::default()
            });
            addrs.insert(id, addr);
            stops.insert(id, stop);
        }
        FakeCluster { shared, addrs, stops }
    }

    pub fn endpoints(&self, ids: &[u64]) -> Vec<String> {
        ids.iter().map(|id| self.addrs[id].clone()).collect()
    }

    pub fn set_leader(&self, partition: u32, node: u64) {
        self.shared.leaders.lock().unwrap().insert(partition, node);
    }

    pub fn stop(&mut self, node: u64) {
        if let Some(stop) = self.stops.remove(&node) {
            let _ = stop.send(());
        }
    }
}
