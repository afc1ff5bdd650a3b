//! `dancu.v1.Registry`: decode, admit the caller, validate, route to the partition's group, execute.
//!
//! This file holds the service and the point reads; writes, verification, index lookups and scans
//! live in their own modules as further `impl RegistryService` blocks.

use std::collections::BTreeMap;
use std::sync::Arc;

use dancu_cluster_config::{PartitionId, PartitionSpec};
use dancu_proto::v1 as pb;
use dancu_proto::v1::Consistency;
use dancu_proto::Message;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::ServerState;
use tonic::{Request, Response, Status};

use crate::audit::Auditor;
use crate::raft::groups::{Group, Groups};
use crate::service::access::AccessPolicy;
use crate::service::admission::Admission;
use crate::service::audit;
use crate::service::caller::{self, Access, Caller};
use crate::service::errors::ApiError;
use crate::service::linearizer::{linearize, ReadMode, ReadPoint};
use crate::service::request::{Checks, Today, ValidBatchGet, ValidGet, Validate};
use crate::service::scan::ScanStream;
use crate::storage::invalid_data;

pub struct RegistryService {
    pub groups: Arc<Groups>,
    pub read_mode: ReadMode,
    pub admission: Arc<Admission>,
    pub access: Arc<AccessPolicy>,
    pub auditor: Arc<Auditor>,
}

/// An encoded twin read back as its public message (same wire format).
fn decoded_as<T: Message + Default>(encoded: &impl Message) -> Result<T, Status> {
    T::decode(encoded.encode_to_vec().as_slice()).map_err(|e| Status::internal(format!("stored record: {e}")))
}

impl RegistryService {
    /// The step every local read takes first: the partition must be hosted here, and the read
    /// consistency level decides what has to happen before local RocksDB may be read.
    pub(super) async fn read_point(&self, pid: PartitionId, consistency: Consistency) -> Result<ReadPoint, ApiError> {
        let group = self.groups.hosted(pid.0)?;
        linearize(&self.groups, group, consistency, self.read_mode).await
    }

    /// The record of a current personal ID (after `read_point`): a cancelled ID answers "replaced by".
    pub(super) fn current_citizen(&self, pid: PartitionId, id: &str) -> Result<pb::Citizen, ApiError> {
        let citizen = self.groups.store.get_citizen(pid, id)?.ok_or(ApiError::NotFound)?;
        if !citizen.replaced_by.is_empty() {
            return Err(ApiError::IdReplaced { id: id.to_string(), replaced_by: citizen.replaced_by });
        }
        Ok(citizen)
    }

    /// The pipeline every Registry RPC takes: admit the caller (identity, role, operation, purpose, quota), validate
    /// the request into its checked form (`service::request`: fields, IDs, the caller's scope and hidden fields),
    /// run the handler (which masks what it returns through the `Caller`), then record the access
    /// (`service::audit`), durably, before the reply leaves: an access that cannot be recorded is refused.
    pub(super) async fn serve<Q, R, F, Fut>(&self, request: Request<Q>, handler: F) -> Result<Response<R>, Status>
    where
        Q: Validate + audit::Touches,
        R: audit::Touches,
        F: FnOnce(Caller, Q::Valid) -> Fut,
        Fut: std::future::Future<Output = Result<R, ApiError>>,
    {
        let audited = matches!(Q::ACCESS, Access::Operation(_));
        let mut touched = audit::Touched::default();
        request.get_ref().touches(&mut touched);
        let caller = match caller::admit(&self.access, &request) {
            Ok(caller) => caller,
            Err(error) => {
                if audited {
                    let record = audit::refused(&self.access, &request, touched, &error);
                    if let Err(audit_error) = self.auditor.record(record).await {
                        tracing::warn!(error = %audit_error, "a refusal could not be recorded");
                    }
                }
                return Err(error.into());
            }
        };
        let checks = Checks { partition_map: &self.groups.partition_map, today: Today::Now };
        let outcome = match request.into_inner().validate(&caller, &checks) {
            Ok(valid) => handler(caller.clone(), valid).await,
            Err(error) => Err(error),
        };
        if audited {
            if let Ok(reply) = &outcome {
                reply.touches(&mut touched);
            }
            self.auditor.record(audit::served(&caller, Q::ACCESS, touched, outcome.as_ref().err())).await?;
        }
        Ok(Response::new(outcome?))
    }

    /// `GetCitizen`, answered with the record's stored bytes (see `service::encoded_reads`).
    pub(super) async fn get_encoded(
        &self,
        caller: Caller,
        request: ValidGet,
    ) -> Result<pb::GetCitizenResponseEncoded, ApiError> {
        let ValidGet { consistency, partition, id } = request;
        let point = self.read_point(partition, consistency).await?;
        let (citizen, applied_index) = self.groups.store.get_citizen_encoded(partition, &id)?;
        let citizen = citizen.ok_or(ApiError::NotFound)?;
        let header = pb::CitizenHeader::decode(citizen.as_slice()).map_err(|e| ApiError::Storage(invalid_data(e)))?;
        if !header.replaced_by.is_empty() {
            return Err(ApiError::IdReplaced { id, replaced_by: header.replaced_by });
        }
        let point = ReadPoint { applied_index, ..point };
        let citizen = masked(&caller, citizen)?;
        Ok(pb::GetCitizenResponseEncoded {
            citizen,
            revision: header.revision,
            log_index: applied_index,
            meta: Some(self.read_meta(partition, point)),
        })
    }

    fn read_meta(&self, pid: PartitionId, point: ReadPoint) -> pb::ReadMeta {
        debug_assert!(point.read_index <= point.applied_index, "a read is served only once its read index is applied");
        pb::ReadMeta {
            partition_id: pid.0,
            served_by: self.groups.node_id,
            applied_index: point.applied_index,
            read_index: point.read_index,
        }
    }

    /// `BatchGetCitizens`, answered with the records' stored bytes (see `service::encoded_reads`).
    pub(super) async fn batch_get_encoded(
        &self,
        caller: Caller,
        request: ValidBatchGet,
    ) -> Result<pb::BatchGetCitizensResponseEncoded, ApiError> {
        let ValidBatchGet { consistency, ids, partitions: pids } = request;
        // One linearizer round per partition, all in parallel; then one multi_get for the whole batch (RocksDB
        // looks the keys up together, one pass per SST, instead of one small pass per partition).
        let mut partitions = pids.clone();
        partitions.sort_unstable();
        partitions.dedup();
        let rounds = partitions.iter().map(|&pid| async move {
            let point = self.read_point(pid, consistency).await?;
            Ok::<_, ApiError>((pid, point))
        });
        let points: BTreeMap<PartitionId, ReadPoint> =
            futures::future::try_join_all(rounds).await?.into_iter().collect();
        let keys: Vec<(PartitionId, &str)> = pids.iter().copied().zip(ids.iter().map(String::as_str)).collect();
        // The records and each partition's applied index come from one RocksDB snapshot: the meta names exactly the
        // state the answer shows.
        let (found, applied) = self.groups.store.multi_get_citizens_encoded_at(&keys)?;
        let metas: BTreeMap<PartitionId, pb::ReadMeta> = points
            .into_iter()
            .map(|(pid, point)| {
                let applied_index = applied.get(&pid).copied().unwrap_or(point.applied_index);
                (pid, self.read_meta(pid, ReadPoint { applied_index, ..point }))
            })
            .collect();
        let mut results = Vec::with_capacity(found.len());
        for ((id, pid), citizen) in ids.into_iter().zip(pids).zip(found) {
            let citizen = citizen.map(|citizen| masked(&caller, citizen)).transpose()?;
            results.push(batch_result(id, citizen, metas.get(&pid).copied())?);
        }
        Ok(pb::BatchGetCitizensResponseEncoded { results })
    }

    fn partition_status(&self, spec: &PartitionSpec, group: Option<&Group>) -> pb::PartitionStatus {
        let mut status = pb::PartitionStatus {
            id: spec.id.0,
            province_code: spec.province_code.clone(),
            range_start: spec.range_start.clone(),
            range_end: spec.range_end.clone(),
            preferred_leader: spec.preferred_leader,
            replicas: spec.replicas.clone(),
            local_role: "absent".into(),
            availability: "not_hosted".into(),
            ..Default::default()
        };
        let Some(group) = group else {
            return status;
        };
        let metrics = group.raft.metrics().borrow_watched().clone();
        let membership = metrics.membership_config.membership();
        status.leader = metrics.current_leader;
        status.voters = membership.voter_ids().collect();
        status.learners = membership.learner_ids().collect();
        status.term = metrics.current_term;
        status.last_applied = metrics.last_applied.map_or(0, |id| id.index);
        status.snapshot_index = metrics.snapshot.map_or(0, |id| id.index);
        status.purged_index = metrics.purged.map_or(0, |id| id.index);
        status.leader_changes = group.leader_changes.load(std::sync::atomic::Ordering::Relaxed);
        status.local_role = match metrics.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        }
        .into();
        status.availability = if status.leader.is_some() {
            "led"
        } else if status.voters.is_empty() {
            // No membership yet: only the partition's founder (its preferred leader) creates one.
            "not_founded"
        } else {
            "no_leader"
        }
        .into();
        status
    }

    fn audit_status(&self) -> pb::AuditStatus {
        let mut status = self.auditor.status();
        status.group = self.groups.audit_spec().map(|spec| self.partition_status(spec, self.groups.get(spec.id)));
        status
    }

    /// How this node last found `node` (see `NodeStatus.health`).
    fn node_health(&self, node: u64) -> (String, String) {
        use crate::identity::peer_health::PeerState;
        if node == self.groups.node_id {
            return ("self".into(), String::new());
        }
        match self.groups.identity.peer_health.state(node) {
            None => ("unknown".into(), String::new()),
            Some(PeerState::Ok) => ("ok".into(), String::new()),
            Some(PeerState::Unreachable) => ("unreachable".into(), String::new()),
            Some(PeerState::Foreign(cluster_id)) => ("foreign".into(), cluster_id.to_string()),
        }
    }

    fn status(&self) -> pb::StatusResponse {
        let nodes = self
            .groups
            .config
            .nodes
            .iter()
            .map(|node| {
                let (health, foreign_cluster_id) = self.node_health(node.id);
                pb::NodeStatus {
                    id: node.id,
                    addr: node.addr.clone(),
                    dc: node.dc.clone(),
                    metrics_addr: node.metrics_addr.clone().unwrap_or_default(),
                    health,
                    foreign_cluster_id,
                }
            })
            .collect();
        let partitions = self
            .groups
            .partition_map
            .partitions
            .iter()
            .map(|spec| self.partition_status(spec, self.groups.get(spec.id)))
            .collect();
        pb::StatusResponse {
            node_id: self.groups.node_id,
            nodes,
            partitions,
            cluster_id: self.groups.identity.cluster_id.to_string(),
            awaiting_readd: self.groups.identity.awaiting_readd(),
            clock_unix_ms: chrono::Utc::now().timestamp_millis(),
            uptime_ms: self.groups.uptime().as_millis() as u64,
            votes_granted: self.groups.votes_granted(),
            leader_changes: self.groups.leader_changes(),
            writes_refused: self.admission.n_refused(),
            late_heartbeats: crate::raft::late_heartbeats::count(),
            audit: Some(self.audit_status()),
        }
    }
}

/// A stored record as the caller may see it: the stored bytes themselves for a role without hidden fields,
/// otherwise those bytes with the hidden fields left out (copied field by field, never decoded).
pub(super) fn masked(caller: &Caller, citizen: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    if caller.mask().is_empty() {
        return Ok(citizen);
    }
    crate::service::field_mask::stripped(&citizen, caller.mask())
        .map_err(|error| ApiError::Storage(invalid_data(error)))
}

/// One result of a batch get, as `GetCitizen` would answer the ID: a cancelled ID is not found and names its
/// replacement.
fn batch_result(
    id: String,
    citizen: Option<Vec<u8>>,
    meta: Option<pb::ReadMeta>,
) -> Result<pb::BatchGetResultEncoded, ApiError> {
    let Some(citizen) = citizen else {
        return Ok(pb::BatchGetResultEncoded { id, found: false, citizen: None, meta, replaced_by: String::new() });
    };
    let header = pb::CitizenHeader::decode(citizen.as_slice()).map_err(|e| ApiError::Storage(invalid_data(e)))?;
    if !header.replaced_by.is_empty() {
        return Ok(pb::BatchGetResultEncoded {
            id,
            found: false,
            citizen: None,
            meta,
            replaced_by: header.replaced_by,
        });
    }
    Ok(pb::BatchGetResultEncoded {
        id,
        found: true,
        citizen: Some(bytes::Bytes::from(citizen)),
        meta,
        replaced_by: String::new(),
    })
}

#[tonic::async_trait]
impl pb::registry_server::Registry for RegistryService {
    /// Served by `encoded_reads` on a node; this decoded form is for callers of the trait itself.
    async fn get_citizen(
        &self,
        request: Request<pb::GetCitizenRequest>,
    ) -> Result<Response<pb::GetCitizenResponse>, Status> {
        let encoded = self.serve(request, |caller, message| self.get_encoded(caller, message)).await?;
        Ok(Response::new(decoded_as(encoded.get_ref())?))
    }

    /// Served by `encoded_reads` on a node; this decoded form is for callers of the trait itself.
    async fn batch_get_citizens(
        &self,
        request: Request<pb::BatchGetCitizensRequest>,
    ) -> Result<Response<pb::BatchGetCitizensResponse>, Status> {
        let encoded = self.serve(request, |caller, message| self.batch_get_encoded(caller, message)).await?;
        Ok(Response::new(decoded_as(encoded.get_ref())?))
    }

    async fn put_citizen(
        &self,
        request: Request<pb::PutCitizenRequest>,
    ) -> Result<Response<pb::PutCitizenResponse>, Status> {
        self.serve(request, |caller, message| self.put_one(caller, message)).await
    }

    async fn status(&self, request: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        self.serve(request, |_caller, _message| async { Ok(RegistryService::status(self)) }).await
    }

    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> Result<Response<pb::WhoAmIResponse>, Status> {
        self.serve(request, |caller, _message| async move { Ok(who_am_i(&caller)) }).await
    }

    async fn put_citizens(
        &self,
        request: Request<pb::PutCitizensRequest>,
    ) -> Result<Response<pb::PutCitizensResponse>, Status> {
        self.serve(request, |caller, message| self.put_batch(caller, message)).await
    }

    async fn verify_citizen(
        &self,
        request: Request<pb::VerifyCitizenRequest>,
    ) -> Result<Response<pb::VerifyCitizenResponse>, Status> {
        self.serve(request, |caller, message| self.verify(caller, message)).await
    }

    async fn batch_verify_citizens(
        &self,
        request: Request<pb::BatchVerifyCitizensRequest>,
    ) -> Result<Response<pb::BatchVerifyCitizensResponse>, Status> {
        self.serve(request, |caller, message| self.batch_verify(caller, message)).await
    }

    async fn lookup_legacy_number(
        &self,
        request: Request<pb::LookupLegacyNumberRequest>,
    ) -> Result<Response<pb::LookupLegacyNumberResponse>, Status> {
        self.serve(request, |caller, message| self.legacy(caller, message)).await
    }

    async fn list_household(
        &self,
        request: Request<pb::ListHouseholdRequest>,
    ) -> Result<Response<pb::ListHouseholdResponse>, Status> {
        self.serve(request, |caller, message| self.household(caller, message)).await
    }

    async fn search_citizens(
        &self,
        request: Request<pb::SearchCitizensRequest>,
    ) -> Result<Response<pb::SearchCitizensResponse>, Status> {
        self.serve(request, |caller, message| self.search(caller, message)).await
    }

    type ScanPartitionStream = ScanStream;

    async fn scan_partition(
        &self,
        request: Request<pb::ScanPartitionRequest>,
    ) -> Result<Response<Self::ScanPartitionStream>, Status> {
        self.serve(request, |caller, message| self.scan(caller, message)).await
    }

    async fn record_life_event(
        &self,
        request: Request<pb::RecordLifeEventRequest>,
    ) -> Result<Response<pb::RecordLifeEventResponse>, Status> {
        self.serve(request, |caller, message| self.record_event(caller, message)).await
    }
}

/// What `WhoAmI` answers: the caller's identity and what its role allows.
fn who_am_i(caller: &Caller) -> pb::WhoAmIResponse {
    let role = caller.role();
    pb::WhoAmIResponse {
        identity: caller
            .identity
            .as_ref()
            .map_or_else(|| crate::service::access::INSECURE_ROLE.to_string(), ToString::to_string),
        role: role.name.clone(),
        operations: role.operations().map(|operation| operation.to_string()).collect(),
        hidden_fields: role.mask.names().map(str::to_string).collect(),
        provinces: role.provinces().to_vec(),
        purposes: role.purposes(),
        requests_per_s: role.requests_per_s.unwrap_or(0),
        burst: role.burst.unwrap_or(0),
    }
}
