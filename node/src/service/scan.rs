//! `ScanPartition`: a whole partition in ID order, as a server stream of bounded pages.
//!
//! The read is linearized once, then every page comes from one RocksDB snapshot taken right after,
//! so the export is a consistent cut of the partition at (at least) the linearized point. Memory is
//! bounded by the page size times the pages in flight: the reader thread blocks while the client is slow.

use dancu_proto::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::limits::SCAN_PAGES_IN_FLIGHT;
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::RegistryService;
use crate::service::request::ValidScan;

pub type ScanStream = ReceiverStream<Result<pb::ScanPartitionResponse, Status>>;

impl RegistryService {
    pub(super) async fn scan(&self, caller: Caller, request: ValidScan) -> Result<ScanStream, ApiError> {
        let ValidScan { consistency, partition: pid, page_size, start_after } = request;
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
            let scanned = store.scan_citizens(pid, &start_after, page_size, |mut citizens| {
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
