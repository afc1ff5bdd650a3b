//! Partition scans: a server stream of pages, resumed after retryable errors, with bounded buffering.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use dancu_proto::v1::{Citizen, Consistency, ReadMeta, ScanPartitionRequest, ScanPartitionResponse};
use tokio::sync::mpsc;
use tonic::{Code, Request, Response, Streaming};

use super::{new_request_id, target_for, Client};
use crate::error::{classify, Disposition};
use crate::retry::backoff_delay;
use crate::ClientError;

/// Pages fetched ahead of the consumer; the scan waits (and the server's stream with it) when they are unread.
const SCAN_PAGES_BUFFERED: usize = 2;
const _: () = assert!(SCAN_PAGES_BUFFERED == 2, "the PartitionScan docs say two pages");
/// Largest page the server serves.
const SCAN_PAGE_SIZE_MAX: u32 = 5000;

/// What to scan and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// LINEARIZABLE / READ_INDEX scan at the leader; FOLLOWER / STALE at a replica (the first endpoint preferred).
    pub consistency: Consistency,
    /// Records per page, 1 to 5,000; 0 means the server's default (500).
    pub page_size: u32,
    /// Start after this personal ID (exclusive); `None`: from the start of the partition.
    pub start_after: Option<String>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { consistency: Consistency::Linearizable, page_size: 0, start_after: None }
    }
}

/// One page of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPage {
    /// Records in ID order, after every record of the pages before.
    pub citizens: Vec<Citizen>,
    /// The read point the page reflects.
    pub meta: Option<ReadMeta>,
    /// True on the first page after the scan was resumed: from this page on, pages reflect a new read point.
    pub resumed: bool,
}

/// A running scan: pages in ID order, fetched by a background task at most two pages ahead of the
/// consumer. Read it with [`PartitionScan::next_page`] or as a [`futures::Stream`]. Dropping it stops the scan.
#[derive(Debug)]
pub struct PartitionScan {
    pages: mpsc::Receiver<Result<ScanPage, ClientError>>,
    task: tokio::task::JoinHandle<()>,
}

impl PartitionScan {
    /// The next page; `None` after the last page or after an error.
    pub async fn next_page(&mut self) -> Option<Result<ScanPage, ClientError>> {
        self.pages.recv().await
    }
}

impl futures::Stream for PartitionScan {
    type Item = Result<ScanPage, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.pages.poll_recv(cx)
    }
}

impl Drop for PartitionScan {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How one open stream ended.
enum StreamEnd {
    /// Every page was delivered (or the consumer went away).
    Done,
    /// A retryable error or a stall: reopen after the last ID received.
    Resume,
}

impl Client {
    /// Scans partition `partition_id` in ID order, in pages, from one consistent read point (the server's first
    /// read). The stream goes to the partition's leader (or, for FOLLOWER / STALE, a replica), routed by the
    /// partition's first ID. When a retryable error (leader change, unreachable node, no quorum) or a stall of
    /// more than `rpc_timeout` breaks the stream, the scan is resumed after the last ID received; **a resumed
    /// scan is a new read point**, so records written in between may show up in the later pages in their newer
    /// form ([`ScanPage::resumed`] marks the first such page). The scan fails when `deadline` passes without a
    /// page, or on a final error; the error is the last item.
    pub async fn scan_partition(&self, partition_id: u32, options: ScanOptions) -> Result<PartitionScan, ClientError> {
        let Some(range_start) = self.read_table().partition(partition_id).map(|route| route.range_start.clone()) else {
            return Err(ClientError::invalid("partition_id", format!("no partition {partition_id}")));
        };
        if options.page_size > SCAN_PAGE_SIZE_MAX {
            let message = format!("{}, at most {SCAN_PAGE_SIZE_MAX}", options.page_size);
            return Err(ClientError::invalid("page_size", message));
        }
        let (sender, pages) = mpsc::channel(SCAN_PAGES_BUFFERED);
        let client = self.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = client.scan_loop(partition_id, &range_start, options, &sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        Ok(PartitionScan { pages, task })
    }

    async fn scan_loop(
        &self,
        partition_id: u32,
        range_start: &str,
        options: ScanOptions,
        sender: &mpsc::Sender<Result<ScanPage, ClientError>>,
    ) -> Result<(), ClientError> {
        let mut start_after = options.start_after.clone().unwrap_or_default();
        let mut last_progress = Instant::now();
        let mut n_resumes_without_progress = 0u32;
        let mut resumed = false;
        loop {
            let stream = self.open_scan(partition_id, range_start, &options, &start_after).await?;
            let before = start_after.clone();
            match self.drain_scan(partition_id, stream, &mut start_after, &mut resumed, sender).await? {
                StreamEnd::Done => return Ok(()),
                StreamEnd::Resume => {}
            }
            if start_after != before {
                last_progress = Instant::now();
                n_resumes_without_progress = 0;
            }
            if last_progress.elapsed() >= self.options.deadline {
                let message =
                    format!("partition {partition_id}: the scan made no progress for {:?}", self.options.deadline);
                return Err(ClientError::Unavailable { message });
            }
            tracing::debug!(partition = partition_id, "scan stream broke; resuming after the last ID received");
            tokio::time::sleep(backoff_delay(n_resumes_without_progress, rand::random::<f64>())).await;
            n_resumes_without_progress = n_resumes_without_progress.saturating_add(1);
            resumed = true;
        }
    }

    /// Opens the stream with the usual routing and retries (within `deadline`). The request carries no gRPC
    /// timeout: a scan legitimately outlives one attempt's timeout; stalls are caught per page instead.
    async fn open_scan(
        &self,
        partition_id: u32,
        range_start: &str,
        options: &ScanOptions,
        start_after: &str,
    ) -> Result<Streaming<ScanPartitionResponse>, ClientError> {
        let target = target_for(options.consistency);
        self.execute(range_start, "partition_id", target, &new_request_id(), |mut registry, context, _timeout| {
            let message = ScanPartitionRequest {
                partition_id,
                consistency: options.consistency.into(),
                context: Some(context),
                start_after: start_after.to_string(),
                page_size: options.page_size,
            };
            async move { registry.scan_partition(Request::new(message)).await.map(Response::into_inner) }
        })
        .await
    }

    /// Passes pages on until the stream ends or breaks; `start_after` follows the last ID received.
    async fn drain_scan(
        &self,
        partition_id: u32,
        mut stream: Streaming<ScanPartitionResponse>,
        start_after: &mut String,
        resumed: &mut bool,
        sender: &mpsc::Sender<Result<ScanPage, ClientError>>,
    ) -> Result<StreamEnd, ClientError> {
        loop {
            let page = match tokio::time::timeout(self.options.rpc_timeout, stream.message()).await {
                Err(_stalled) => return Ok(StreamEnd::Resume),
                Ok(Ok(None)) => return Ok(StreamEnd::Done),
                Ok(Ok(Some(page))) => page,
                Ok(Err(status)) => {
                    return match classify(&status) {
                        Disposition::Fail(error) => Err(error),
                        Disposition::Redirect { leader_id, leader_addr, .. } => {
                            self.write_table().set_leader(partition_id, leader_id, &leader_addr);
                            Ok(StreamEnd::Resume)
                        }
                        Disposition::Backoff { .. } | Disposition::Unreachable { .. } => Ok(StreamEnd::Resume),
                    };
                }
            };
            if let Some(first) = page.citizens.first() {
                let ordered = page.citizens.windows(2).all(|pair| pair[0].id < pair[1].id);
                if first.id.as_str() <= start_after.as_str() || !ordered {
                    let message = format!("partition {partition_id}: a scan page is not in ID order after the last");
                    return Err(ClientError::Server { code: Code::Internal, message });
                }
            }
            if let Some(last) = page.citizens.last() {
                start_after.clone_from(&last.id);
            }
            let page = ScanPage { citizens: page.citizens, meta: page.meta, resumed: *resumed };
            *resumed = false;
            if sender.send(Ok(page)).await.is_err() {
                // The consumer dropped the scan.
                return Ok(StreamEnd::Done);
            }
        }
    }
}
