//! The writes [`crate::failover::measure`] drives against etcd: a put of a record-sized value to a random key,
//! given up after [`WRITE_TIMEOUT`] so a writer stuck on the killed member moves on.
//!
//! Each writer has one connection per member and sends to one of them at a time, moving to the next member
//! after a failed write. etcd-client's own balancing (tonic's balanced channel over every endpoint) does not
//! drop a dead endpoint: with one member SIGKILLed, about a quarter of a client's requests kept failing at once
//! with "tcp connect error" for as long as the member stayed down (measured with etcd-client 0.21).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dancu_client::bench::Operation;
use etcd_client::KvClient;
use rand::rngs::StdRng;
use rand::Rng;

use super::cluster::{connect, EtcdCluster};
use super::put_values::PutValues;
use crate::failover::WRITERS;
use crate::CompareError;

/// Longest one failover write may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(300);

/// One writer's connections, one per member, and the member it sends to now.
struct Writer {
    kvs: Vec<KvClient>,
    member_idx: AtomicUsize,
}

/// The write operation of a failover measurement against etcd.
pub struct FailoverWrites {
    writers: Vec<Writer>,
    ids: Arc<Vec<String>>,
    values: PutValues,
    run_tag: u64,
}

/// Connects [`WRITERS`] writers to every member of `cluster`; they put to keys from `ids` (which must be
/// loaded: the values are sampled from them).
pub async fn failover_writes(
    cluster: &EtcdCluster,
    ids: Arc<Vec<String>>,
) -> Result<Arc<FailoverWrites>, CompareError> {
    let endpoints = cluster.endpoints();
    let mut writers = Vec::with_capacity(WRITERS);
    for writer_idx in 0..WRITERS {
        let mut kvs = Vec::with_capacity(endpoints.len());
        for endpoint in &endpoints {
            kvs.push(connect(std::slice::from_ref(endpoint)).await?.kv_client());
        }
        // Writers start spread over the members, as clients of a real deployment would be.
        writers.push(Writer { kvs, member_idx: AtomicUsize::new(writer_idx % endpoints.len()) });
    }
    let values = PutValues::sample(&mut cluster.client().await?.kv_client(), &ids).await?;
    let run_tag = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
    Ok(Arc::new(FailoverWrites { writers, ids, values, run_tag }))
}

impl Operation for FailoverWrites {
    async fn execute(&self, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), String> {
        let writer = &self.writers[loop_idx % self.writers.len()];
        let member_idx = writer.member_idx.load(Ordering::Relaxed);
        let key_idx = rng.random_range(0..self.ids.len());
        let value = self.values.value(key_idx, &self.ids[key_idx], &format!("{}-{loop_idx}-{op_idx}", self.run_tag));
        let mut kv = writer.kvs[member_idx].clone();
        let outcome = match tokio::time::timeout(WRITE_TIMEOUT, kv.put(self.ids[key_idx].as_str(), value, None)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(error)) => Err(format!("m{}: {error}", member_idx + 1)),
            Err(_) => Err(format!("m{}: no answer within {} ms", member_idx + 1, WRITE_TIMEOUT.as_millis())),
        };
        // Another loop of the same writer may have moved on already.
        let next_idx = (member_idx + 1) % writer.kvs.len();
        let _ = writer.member_idx.compare_exchange(member_idx, next_idx, Ordering::Relaxed, Ordering::Relaxed);
        outcome
    }
}
