//! The access audit (the `dancu.v1.Audit` service): who accessed a citizen's record, and the raw chains an auditor
//! recomputes.

use std::time::Duration;

use dancu_proto::v1::audit_client::AuditClient;
use dancu_proto::v1::{QueryAccessesRequest, QueryAccessesResponse, ReadChainRequest, ReadChainResponse};
use tonic::Request;

use super::{describe, Client};
use crate::error::{classify, Disposition};
use crate::ClientError;

impl Client {
    /// One page of accesses, newest first (see `QueryAccessesRequest`). Answered by the audit group's leader, which
    /// first has every node anchor what it recorded; this follows leader hints and tries the group's replicas.
    pub async fn query_accesses(&self, mut query: QueryAccessesRequest) -> Result<QueryAccessesResponse, ClientError> {
        query.context = Some(self.context(""));
        let status = self.status().await?;
        let group = status.audit.and_then(|audit| audit.group).ok_or_else(|| ClientError::Server {
            code: tonic::Code::FailedPrecondition,
            message: "this cluster keeps no access audit (audit.enabled = false)".into(),
        })?;
        let addr_of = |id: u64| status.nodes.iter().find(|node| node.id == id).map(|node| node.addr.clone());
        let mut candidates: Vec<String> =
            group.leader.into_iter().chain(group.replicas.iter().copied()).filter_map(addr_of).collect();
        candidates.dedup();
        let deadline = tokio::time::Instant::now() + self.options.deadline;
        let mut last_error = ClientError::Unavailable { message: "no audit group replica answered".into() };
        let mut tried = 0;
        while tried < candidates.len() * 3 && tokio::time::Instant::now() < deadline {
            let endpoint = candidates[tried % candidates.len()].clone();
            tried += 1;
            let mut audit = AuditClient::new(self.inner.channels.get(&endpoint)?);
            let mut request = Request::new(query.clone());
            request.set_timeout(deadline.saturating_duration_since(tokio::time::Instant::now()));
            match audit.query_accesses(request).await {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(status) => match classify(&status) {
                    Disposition::Fail(error) => return Err(error),
                    Disposition::Redirect { leader_addr, message, .. } if !leader_addr.is_empty() => {
                        candidates.insert(tried % (candidates.len() + 1), leader_addr);
                        last_error = ClientError::Unavailable { message };
                    }
                    Disposition::Unreachable { .. } => {
                        last_error = ClientError::Connect { endpoint, message: describe(&status) };
                    }
                    Disposition::Redirect { message, .. } | Disposition::Backoff { message, .. } => {
                        last_error = ClientError::Unavailable { message };
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        Err(last_error)
    }

    /// One page of a chain as the node at `endpoint` stores it (`ReadChainRequest.source`); one attempt.
    pub async fn read_chain(
        &self,
        endpoint: &str,
        mut read: ReadChainRequest,
    ) -> Result<ReadChainResponse, ClientError> {
        read.context = Some(self.context(""));
        let mut audit = AuditClient::new(self.inner.channels.get(endpoint)?);
        let mut request = Request::new(read);
        request.set_timeout(self.options.deadline);
        audit.read_chain(request).await.map(tonic::Response::into_inner).map_err(|status| match classify(&status) {
            Disposition::Fail(error) => error,
            Disposition::Unreachable { .. } => {
                ClientError::Connect { endpoint: endpoint.to_string(), message: describe(&status) }
            }
            Disposition::Redirect { message, .. } | Disposition::Backoff { message, .. } => {
                ClientError::Unavailable { message }
            }
        })
    }
}
