//! A fake three-node dancu cluster on loopback for the client's tests. The fake nodes follow the server error
//! contract (NOT_LEADER hints, NO_QUORUM, INVALID_FIELD, REVISION_MISMATCH, NOT_FOUND, request-id dedup) but hold
//! no Raft: a shared table says who leads each partition.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dancu_client::proto::registry_server::{Registry, RegistryServer};
use dancu_client::proto::{
    BatchGetCitizensRequest, BatchGetCitizensResponse, BatchGetResult, Citizen, Consistency, ErrorDetail, ErrorReason,
    GetCitizenRequest, GetCitizenResponse, NodeStatus, PartitionStatus, PutCitizenRequest, PutCitizenResponse,
    ReadMeta, StatusRequest, StatusResponse,
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
        let partition = self.partition(&request.ids[0])?;
        assert!(request.ids.iter().all(|id| partition_of(id) == Some(partition)), "a batch spans partitions");
        if leader_needed(request.consistency) {
            self.check_leader(partition)?;
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
        Ok(Response::new(StatusResponse { node_id: self.id, nodes, partitions }))
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
