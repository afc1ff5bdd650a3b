//! Operator actions on the cluster as a whole (the `dancu.v1.Admin` service).

use dancu_proto::v1::admin_client::AdminClient;
use dancu_proto::v1::{ReaddNodeRequest, ReaddNodeResponse};
use tonic::Request;

use super::{describe, Client};
use crate::error::{classify, Disposition};
use crate::ClientError;

impl Client {
    /// Re-adds `node_id` after it came back with an empty data dir (it refuses to vote until then): every
    /// partition it replicates removes it and adds it back as a learner, lets it catch up and promotes it, then every node
    /// accepts its new data dir. Sent to the first endpoint that answers; idempotent, so a failure is re-run.
    /// Returns the partitions whose membership changed.
    pub async fn readd_node(&self, node_id: u64) -> Result<ReaddNodeResponse, ClientError> {
        let mut last_error = None;
        for endpoint in &self.inner.endpoints {
            let mut admin = AdminClient::new(self.inner.channels.get(endpoint)?);
            let mut request = Request::new(ReaddNodeRequest { node_id, partition_ids: Vec::new() });
            request.set_timeout(self.options.deadline);
            match admin.readd_node(request).await {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(status) => match classify(&status) {
                    Disposition::Fail(error) => return Err(error),
                    Disposition::Unreachable { .. } => {
                        last_error =
                            Some(ClientError::Connect { endpoint: endpoint.clone(), message: describe(&status) });
                    }
                    Disposition::Redirect { message, .. } | Disposition::Backoff { message, .. } => {
                        return Err(ClientError::Unavailable { message });
                    }
                },
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::Config("no endpoints given".to_string())))
    }
}
