//! `ScanPartition`: a whole partition in ID order, as a server stream of bounded pages.
//!
//! The read is linearized once, then every page comes from one RocksDB snapshot taken right after,
//! so the export is a consistent cut of the partition at (at least) the linearized point. Memory is
//! bounded by the page size times the pages in flight: the reader thread blocks while the client is slow.

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::limits::{SCAN_PAGES_IN_FLIGHT, SCAN_PAGE_DEFAULT, SCAN_PAGE_MAX};
use crate::personal_id::PersonalId;
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::{consistency_of, RegistryService};

pub type ScanStream = ReceiverStream<Result<pb::ScanPartitionResponse, Status>>;

impl RegistryService {
    pub(super) async fn scan(&self, caller: Caller, request: pb::ScanPartitionRequest) -> Result<ScanStream, ApiError> {
        let consistency = consistency_of(request.consistency)?;
        let pid = PartitionId(request.partition_id);
        let Some(spec) = self.groups.partition_map.get(pid) else {
            return Err(ApiError::invalid("partition_id", format!("no partition {}", pid.0)));
        };
        caller.check_scope(&spec.province_code)?;
        let page_size = match request.page_size {
            0 => SCAN_PAGE_DEFAULT,
            n if n <= SCAN_PAGE_MAX => n,
            n => return Err(ApiError::invalid("page_size", format!("{n}; at most {SCAN_PAGE_MAX}"))),
        } as usize;
        if !request.start_after.is_empty() {
            PersonalId::parse(&request.start_after).map_err(|e| ApiError::invalid("start_after", e.to_string()))?;
        }
        let point = self.read_point(pid, consistency).await?;
        let meta = pb::ReadMeta {
            partition_id: pid.0,
            served_by: self.groups.node_id,
            applied_index: point.applied_index,
            read_index: point.read_index,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(SCAN_PAGES_IN_FLIGHT);
        let store = self.groups.store.clone();
        let mask = caller.mask().clone();
        tokio::task::spawn_blocking(move || {
            let scanned = store.scan_citizens(pid, &request.start_after, page_size, |mut citizens| {
                for citizen in &mut citizens {
                    mask.clear(citizen);
                }
                let page = pb::ScanPartitionResponse { citizens, meta: Some(meta) };
                // A closed receiver means the client went away: stop reading.
                tx.blocking_send(Ok(page)).is_ok()
            });
            if let Err(error) = scanned {
                let _ = tx.blocking_send(Err(Status::from(ApiError::Storage(error))));
            }
        });
        Ok(ReceiverStream::new(rx))
    }
}
