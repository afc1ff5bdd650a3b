//! Concurrent reads bound for the same node travel together as one `BatchGetCitizens`.
//!
//! Each (node, consistency, purpose) has a queue and a dispatcher task. A queued unit is one get's ID or one
//! node's part of a batch get. The dispatcher keeps at most `in_flight_max` requests on the wire; whenever one is
//! free it takes every unit queued meanwhile (up to [`BATCH_IDS_MAX`] IDs in all) and sends them as one request.
//! An idle node therefore gets a lone read at once, a busy one gets fewer, bigger requests: per-request costs
//! (HTTP/2 frames, syscalls, task wake-ups, and on the node one linearizer round per partition) are paid once per
//! request instead of once per caller, which is where a small read's time goes. (TiKV's clients merge concurrent
//! requests to a store the same way.)
//!
//! Each read stays linearizable: its request is sent after the read was asked for and answered before the read
//! returns, so the server's linearized read point falls inside the read's own interval. Records come back as the
//! node stored them (`BatchGetResultEncoded`); whoever needs a decoded record decodes its own.
//!
//! A request that fails for any reason (a leader moved, a node died, a deadline) is reported to each waiting
//! unit, which then takes the ordinary routed path with its retries and leader hints; the coalescer never retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::channels::NodeChannel;
use dancu_proto::v1::{BatchGetResultEncoded, CallerContext, Consistency};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::client::{EncodedRegistry, BATCH_IDS_MAX};

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

/// One unit of reads waiting for its request: at most [`BATCH_IDS_MAX`] IDs, answered in order.
struct Pending {
    ids: Vec<String>,
    /// The reader gives up at this instant; the request's timeout covers the latest reader.
    deadline: Instant,
    reply: oneshot::Sender<Result<Vec<BatchGetResultEncoded>, BatchFailed>>,
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

    /// Reads `ids` (at most [`BATCH_IDS_MAX`]) at the node at `addr` as one unit of the next request sent there,
    /// within `timeout`; one result per ID, in order.
    pub(crate) async fn get_many(
        &self,
        channel: impl FnOnce() -> NodeChannel,
        addr: &str,
        consistency: Consistency,
        purpose: &str,
        ids: Vec<String>,
        timeout: Duration,
    ) -> Result<Vec<BatchGetResultEncoded>, BatchFailed> {
        if ids.is_empty() || ids.len() > BATCH_IDS_MAX {
            return Err(BatchFailed(format!("{} IDs in one unit, 1 to {BATCH_IDS_MAX} allowed", ids.len())));
        }
        let deadline = Instant::now() + timeout;
        let (reply, answer) = oneshot::channel();
        let pending = Pending { ids, deadline, reply };
        let key = QueueKey { addr: addr.to_string(), consistency, purpose: purpose.to_string() };
        self.enqueue(key, pending, channel);
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(BatchFailed("the dispatcher stopped".to_string())),
            Err(_) => Err(BatchFailed("deadline exceeded".to_string())),
        }
    }

    fn enqueue(&self, key: QueueKey, pending: Pending, channel: impl FnOnce() -> NodeChannel) {
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
        tokio::spawn(dispatch(receiver, channel(), key.clone(), self.in_flight_max));
        // A fresh receiver is alive until the task drops it, and the task is only now spawned.
        let _ = queue.send(pending);
        queues.insert(key, queue);
    }
}

/// Sends the queued units of one key, at most `in_flight_max` requests at a time; ends when the client is
/// dropped (every sender gone).
async fn dispatch(
    mut queue: mpsc::UnboundedReceiver<Pending>,
    channel: NodeChannel,
    key: QueueKey,
    in_flight_max: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight_max));
    // A unit that did not fit the last request leads the next one.
    let mut carried: Option<Pending> = None;
    loop {
        // Wait for a free slot first: units arriving meanwhile pile up and leave together.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let first = match carried.take() {
            Some(pending) => pending,
            None => match queue.recv().await {
                Some(pending) => pending,
                None => return,
            },
        };
        let mut n_ids = first.ids.len();
        let mut batch = vec![first];
        while n_ids < BATCH_IDS_MAX {
            match queue.try_recv() {
                Ok(pending) if n_ids + pending.ids.len() <= BATCH_IDS_MAX => {
                    n_ids += pending.ids.len();
                    batch.push(pending);
                }
                Ok(pending) => {
                    carried = Some(pending);
                    break;
                }
                Err(_) => break,
            }
        }
        let registry = EncodedRegistry::new(channel.clone());
        let (consistency, purpose) = (key.consistency, key.purpose.clone());
        tokio::spawn(async move {
            send(registry, batch, consistency, purpose).await;
            drop(slot);
        });
    }
}

async fn send(registry: EncodedRegistry, batch: Vec<Pending>, consistency: Consistency, purpose: String) {
    let now = Instant::now();
    let batch: Vec<Pending> = batch.into_iter().filter(|pending| !pending.reply.is_closed()).collect();
    let Some(latest) = batch.iter().map(|pending| pending.deadline).max() else { return };
    let timeout = latest.saturating_duration_since(now);
    let ids: Vec<String> = batch.iter().flat_map(|pending| pending.ids.iter().cloned()).collect();
    let n_ids = ids.len();
    let context = CallerContext { purpose, request_id: format!("{:032x}", rand::random::<u128>()) };
    let answer = match tokio::time::timeout(timeout, registry.batch_get(ids, consistency, context, timeout)).await {
        Ok(Ok(results)) if results.len() == n_ids => Ok(results),
        Ok(Ok(results)) => Err(BatchFailed(format!("a request of {n_ids} IDs got {} results", results.len()))),
        Ok(Err(status)) => Err(BatchFailed(status.message().to_string())),
        Err(_) => Err(BatchFailed("attempt timed out".to_string())),
    };
    match answer {
        Ok(results) => {
            let mut results = results.into_iter();
            for pending in batch {
                let unit: Vec<BatchGetResultEncoded> = results.by_ref().take(pending.ids.len()).collect();
                let answers_its_ids = unit.iter().zip(&pending.ids).all(|(result, id)| result.id == *id);
                let answer = if answers_its_ids {
                    Ok(unit)
                } else {
                    Err(BatchFailed("a result answers another ID".to_string()))
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
