//! Concurrent point reads bound for the same node travel together as one `BatchGetCitizens`.
//!
//! Each (node, consistency, purpose) has a queue and a dispatcher task. The dispatcher keeps at most
//! `in_flight_max` batches on the wire; whenever one is free it takes every read queued meanwhile (up to
//! [`BATCH_IDS_MAX`]) and sends them as one request. An idle node therefore gets a lone read at once, a busy
//! one gets fewer, bigger requests: per-request costs (HTTP/2 frames, syscalls, task wake-ups) are paid once per
//! batch instead of once per read, which is where a small read's time goes.
//!
//! Each read stays linearizable: its batch is sent after the read was asked for and answered before the read
//! returns, so the server's linearized read point falls inside the read's own interval.
//!
//! A batch that fails for any reason (a leader moved, a node died, a deadline) is reported to each waiting read,
//! which then takes the ordinary routed path with its retries and leader hints; the coalescer never retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::v1::{BatchGetCitizensRequest, BatchGetResult, CallerContext, Consistency};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tonic::transport::Channel;

use crate::client::BATCH_IDS_MAX;

/// Why a coalesced read did not get its answer; the read falls back to the routed path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("coalesced read failed: {0}")]
pub(crate) struct BatchFailed(String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct QueueKey {
    addr: String,
    consistency: Consistency,
    purpose: String,
}

/// One read waiting for its batch.
struct Pending {
    id: String,
    /// The reader gives up at this instant; the batch's timeout covers the latest reader.
    deadline: Instant,
    reply: oneshot::Sender<Result<BatchGetResult, BatchFailed>>,
}

/// The queues of one client (shared by its clones).
#[derive(Debug)]
pub(crate) struct Coalescer {
    in_flight_max: usize,
    queues: Mutex<HashMap<QueueKey, mpsc::UnboundedSender<Pending>>>,
}

impl Coalescer {
    pub(crate) fn new(in_flight_max: usize) -> Coalescer {
        Coalescer { in_flight_max: in_flight_max.max(1), queues: Mutex::new(HashMap::new()) }
    }

    /// Reads `id` at the node at `addr` (reached through `channel`) in the next batch sent there, within
    /// `timeout`.
    pub(crate) async fn get(
        &self,
        channel: impl FnOnce() -> Channel,
        addr: &str,
        consistency: Consistency,
        purpose: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<BatchGetResult, BatchFailed> {
        let deadline = Instant::now() + timeout;
        let (reply, answer) = oneshot::channel();
        let pending = Pending { id: id.to_string(), deadline, reply };
        let key = QueueKey { addr: addr.to_string(), consistency, purpose: purpose.to_string() };
        self.enqueue(key, pending, channel);
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(BatchFailed("the dispatcher stopped".to_string())),
            Err(_) => Err(BatchFailed("deadline exceeded".to_string())),
        }
    }

    fn enqueue(&self, key: QueueKey, pending: Pending, channel: impl FnOnce() -> Channel) {
        let mut queues = self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pending = match queues.get(&key) {
            Some(queue) => match queue.send(pending) {
                Ok(()) => return,
                // The dispatcher is gone (its runtime shut down): start another one.
                Err(mpsc::error::SendError(pending)) => pending,
            },
            None => pending,
        };
        let (queue, receiver) = mpsc::unbounded_channel();
        let registry = RegistryClient::new(channel());
        tokio::spawn(dispatch(receiver, registry, key.clone(), self.in_flight_max));
        // A fresh receiver is alive until the task drops it, and the task is only now spawned.
        let _ = queue.send(pending);
        queues.insert(key, queue);
    }
}

/// Sends the queued reads of one key, at most `in_flight_max` batches at a time; ends when the client is
/// dropped (every sender gone).
async fn dispatch(
    mut queue: mpsc::UnboundedReceiver<Pending>,
    registry: RegistryClient<Channel>,
    key: QueueKey,
    in_flight_max: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight_max));
    loop {
        // Wait for a free slot first: reads arriving meanwhile pile up and leave together.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let Some(first) = queue.recv().await else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH_IDS_MAX {
            match queue.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let registry = registry.clone();
        let (consistency, purpose) = (key.consistency, key.purpose.clone());
        tokio::spawn(async move {
            send(registry, batch, consistency, purpose).await;
            drop(slot);
        });
    }
}

async fn send(mut registry: RegistryClient<Channel>, batch: Vec<Pending>, consistency: Consistency, purpose: String) {
    let now = Instant::now();
    let batch: Vec<Pending> = batch.into_iter().filter(|pending| !pending.reply.is_closed()).collect();
    let Some(latest) = batch.iter().map(|pending| pending.deadline).max() else { return };
    let timeout = latest.saturating_duration_since(now);
    let ids: Vec<String> = batch.iter().map(|pending| pending.id.clone()).collect();
    let context = CallerContext { purpose, request_id: format!("{:032x}", rand::random::<u128>()) };
    let mut request =
        tonic::Request::new(BatchGetCitizensRequest { ids, consistency: consistency.into(), context: Some(context) });
    request.set_timeout(timeout);
    let answer = match tokio::time::timeout(timeout, registry.batch_get_citizens(request)).await {
        Ok(Ok(response)) => {
            let results = response.into_inner().results;
            if results.len() == batch.len() {
                Ok(results)
            } else {
                Err(BatchFailed(format!("a batch of {} IDs got {} results", batch.len(), results.len())))
            }
        }
        Ok(Err(status)) => Err(BatchFailed(status.message().to_string())),
        Err(_) => Err(BatchFailed("attempt timed out".to_string())),
    };
    match answer {
        Ok(results) => {
            for (pending, result) in batch.into_iter().zip(results) {
                let answer = if result.id == pending.id {
                    Ok(result)
                } else {
                    Err(BatchFailed("a batch result answers another ID".to_string()))
                };
                let _ = pending.reply.send(answer);
            }
        }
        Err(failed) => {
            for pending in batch {
                let _ = pending.reply.send(Err(failed.clone()));
            }
        }
    }
}
