//! `dancu.v1.Audit`: who accessed a citizen's record, what a caller did, what happened in a time range (all read
//! from the audit group's anchored records), and the raw chains `dancuctl audit verify` recomputes. Role `audit`
//! only; every call passes the same pipeline as a Registry RPC, so it is itself audited.

use std::sync::Arc;

use dancu_cluster_config::AUDIT_GROUP;
use dancu_proto::audit_chain;
use dancu_proto::v1 as pb;
use dancu_proto::v1::Consistency;
use tonic::{Request, Response, Status};

use crate::limits::{AUDIT_FLUSH_WAIT, RAFT_RPC_TIMEOUT};
use crate::personal_id::PersonalId;
use crate::raft::network::ConnectionClass;
use crate::service::audit::{Touched, Touches};
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::linearizer::linearize;
use crate::service::registry::RegistryService;
use crate::service::request::{Checks, Validate};
use crate::storage::{AuditQuery, AUDIT_PAGE_MAX};

/// Most chain items one `ReadChain` answer carries.
const CHAIN_ITEMS_MAX: usize = 10_000;
const PAGE_SIZE_DEFAULT: usize = 100;

pub struct AuditService {
    pub registry: Arc<RegistryService>,
}

pub struct ValidAuditQuery(AuditQuery);

pub struct ValidReadChain {
    node_id: u64,
    source: pb::ChainSource,
    from_seq: u64,
    limit: usize,
    since_unix_us: i64,
}

impl Validate for pb::QueryAccessesRequest {
    type Valid = ValidAuditQuery;

    fn validate(self, _caller: &Caller, checks: &Checks<'_>) -> Result<ValidAuditQuery, ApiError> {
        let mut query = AuditQuery {
            since_unix_us: self.since_unix_ms.max(0).saturating_mul(1000),
            until_unix_us: self.until_unix_ms.max(0).saturating_mul(1000),
            page_size: if self.page_size == 0 { PAGE_SIZE_DEFAULT } else { self.page_size as usize },
            page_token: self.page_token,
            ..Default::default()
        };
        if query.page_size > AUDIT_PAGE_MAX {
            return Err(ApiError::invalid("page_size", format!("at most {AUDIT_PAGE_MAX}")));
        }
        if !self.citizen_id.is_empty() {
            PersonalId::parse(&self.citizen_id).map_err(|e| ApiError::invalid("citizen_id", e.to_string()))?;
            query.citizen = self.citizen_id.parse().ok();
            query.citizen_partition = checks.partition_map.partition_for(&self.citizen_id).map(|spec| spec.id.0);
        }
        if !self.caller.is_empty() {
            query.caller = Some(self.caller);
        }
        if query.citizen.is_none() && query.caller.is_none() && query.since_unix_us == 0 && query.until_unix_us == 0 {
            return Err(ApiError::invalid("citizen_id", "name a citizen, a caller or a time range"));
        }
        Ok(ValidAuditQuery(query))
    }
}

impl Validate for pb::ReadChainRequest {
    type Valid = ValidReadChain;

    fn validate(self, _caller: &Caller, _checks: &Checks<'_>) -> Result<ValidReadChain, ApiError> {
        let source = pb::ChainSource::try_from(self.source)
            .ok()
            .filter(|source| *source != pb::ChainSource::Unspecified)
            .ok_or_else(|| ApiError::invalid("source", "LOCAL or ANCHORED"))?;
        let limit = if self.limit == 0 { CHAIN_ITEMS_MAX } else { (self.limit as usize).min(CHAIN_ITEMS_MAX) };
        Ok(ValidReadChain {
            node_id: self.node_id,
            source,
            from_seq: self.from_seq,
            limit,
            since_unix_us: self.since_unix_ms.max(0).saturating_mul(1000),
        })
    }
}

impl Touches for pb::QueryAccessesRequest {
    fn touches(&self, touched: &mut Touched) {
        if self.citizen_id.len() == 12 {
            touched.citizens.extend(self.citizen_id.parse::<u64>().ok());
        }
        touched.fields = Some("access records".into());
    }
}

impl Touches for pb::ReadChainRequest {
    fn touches(&self, touched: &mut Touched) {
        touched.fields = Some("access chain".into());
    }
}

impl Touches for pb::QueryAccessesResponse {}
impl Touches for pb::ReadChainResponse {}

impl RegistryService {
    /// Asks every node to anchor what it recorded; the nodes that could not be asked or did not make it in time.
    async fn flush_everywhere(&self) -> Vec<u64> {
        let flushes = self.groups.config.nodes.iter().map(|node| async move {
            let flushed = if node.id == self.groups.node_id {
                self.auditor.flush(AUDIT_FLUSH_WAIT).await.is_ok()
            } else {
                let Ok(mut client) = self.groups.peers.raft_client(&node.addr, ConnectionClass::Control) else {
                    return Some(node.id);
                };
                let mut request = Request::new(pb::FlushAuditRequest {});
                request.set_timeout(AUDIT_FLUSH_WAIT + RAFT_RPC_TIMEOUT);
                self.groups.identity.stamp(request.metadata_mut(), Some(node.id));
                client.flush_audit(request).await.is_ok()
            };
            (!flushed).then_some(node.id)
        });
        futures::future::join_all(flushes).await.into_iter().flatten().collect()
    }

    async fn query_accesses(
        &self,
        _caller: Caller,
        request: ValidAuditQuery,
    ) -> Result<pb::QueryAccessesResponse, ApiError> {
        let group = self.groups.hosted(AUDIT_GROUP.0)?;
        // Only the leader answers (the client follows its hint): the barrier below then covers every record the
        // flushes anchored.
        let unflushed_nodes = self.flush_everywhere().await;
        linearize(&self.groups, group, Consistency::Linearizable, self.read_mode).await?;
        let page = self.groups.store.audit_query(&request.0)?;
        Ok(pb::QueryAccessesResponse { records: page.records, next_page_token: page.next_page_token, unflushed_nodes })
    }

    async fn read_chain(&self, _caller: Caller, request: ValidReadChain) -> Result<pb::ReadChainResponse, ApiError> {
        let ValidReadChain { node_id, source, from_seq, limit, since_unix_us } = request;
        let genesis = || pb::AuditHead { seq: 0, hash: audit_chain::GENESIS.to_vec() };
        let items = |items: Vec<(u64, Vec<u8>)>| -> Vec<pb::ChainItem> {
            items.into_iter().map(|(key_seq, record)| pb::ChainItem { key_seq, record }).collect()
        };
        match source {
            pb::ChainSource::Local => {
                if node_id != self.groups.node_id {
                    return Err(ApiError::invalid("node_id", format!("this is node {}", self.groups.node_id)));
                }
                let log = self.auditor.log().ok_or_else(|| ApiError::Refused("the audit is off".into()))?;
                let chain = log.chain().unwrap_or_default();
                let base = chain.base.unwrap_or_else(genesis);
                let read = log.read(from_seq.max(base.seq + 1), limit)?;
                let next_seq = if read.len() >= limit { read.last().map_or(0, |(seq, _)| seq + 1) } else { 0 };
                Ok(pb::ReadChainResponse {
                    items: items(read),
                    base: Some(base),
                    head: chain.head,
                    shipped_seq: chain.shipped_seq,
                    next_seq,
                    ..Default::default()
                })
            }
            _ => {
                self.groups.hosted(AUDIT_GROUP.0)?;
                let chain = self.groups.store.anchored_chain(node_id)?.unwrap_or_default();
                let mut base_checkpoint = chain.base.clone();
                if from_seq == 0 && since_unix_us > 0 {
                    let older = self.groups.store.last_checkpoint_before(node_id, since_unix_us)?;
                    if older.as_ref().map(|cp| cp.seq) > base_checkpoint.as_ref().map(|cp| cp.seq) {
                        base_checkpoint = older;
                    }
                }
                let base = base_checkpoint.as_ref().map_or_else(genesis, |checkpoint| pb::AuditHead {
                    seq: checkpoint.seq,
                    hash: checkpoint.head_hash.clone(),
                });
                let (read, checkpoints) =
                    self.groups.store.anchored_read(node_id, from_seq.max(base.seq + 1), limit)?;
                let next_seq = if read.len() >= limit { read.last().map_or(0, |(seq, _)| seq + 1) } else { 0 };
                Ok(pb::ReadChainResponse {
                    items: items(read),
                    checkpoints,
                    base: Some(base),
                    head: chain.head,
                    public_key: chain.public_key,
                    next_seq,
                    base_checkpoint,
                    shipped_seq: 0,
                })
            }
        }
    }
}

#[tonic::async_trait]
impl pb::audit_server::Audit for AuditService {
    async fn query_accesses(
        &self,
        request: Request<pb::QueryAccessesRequest>,
    ) -> Result<Response<pb::QueryAccessesResponse>, Status> {
        let registry = &self.registry;
        registry.serve(request, |caller, valid| registry.query_accesses(caller, valid)).await
    }

    async fn read_chain(
        &self,
        request: Request<pb::ReadChainRequest>,
    ) -> Result<Response<pb::ReadChainResponse>, Status> {
        let registry = &self.registry;
        registry.serve(request, |caller, valid| registry.read_chain(caller, valid)).await
    }
}
