//! The closed-loop workloads against etcd, measured by the same loop as dancu's
//! ([`dancu_client::bench::measure`]): linearizable get (a default Range), serializable get, put, and batch get
//! (one Txn of n Ranges, etcd's nearest equivalent of a multi-key get). Keys are drawn uniformly from the
//! loaded IDs; a get that finds nothing is a failed request.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dancu_client::bench::{measure, BenchResult, LoopShape, Operation};
use etcd_client::{GetOptions, KvClient, Txn, TxnOp, TxnOpResponse};
use rand::rngs::StdRng;
use rand::Rng;

use super::cluster::EtcdCluster;
use super::flags::MAX_TXN_OPS;
use super::put_values::PutValues;
use crate::CompareError;

/// Client connections of a run (each to every member): loop `i` uses connection `i % n`.
pub const CONNECTIONS_MAX: usize = 4;
/// Largest reply a client accepts: a batch get of 1,000 records of up to 1.5 KB, with room to spare.
const REPLY_BYTES_MAX: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdWorkload {
    GetLinearizable,
    GetSerializable,
    Put,
    /// One Txn of this many Ranges.
    BatchGet(usize),
}

impl EtcdWorkload {
    /// The workload's name in `results.json`, the same as dancu's.
    pub fn name(self) -> &'static str {
        match self {
            EtcdWorkload::GetLinearizable | EtcdWorkload::GetSerializable => "get",
            EtcdWorkload::Put => "put",
            EtcdWorkload::BatchGet(_) => "batch-get",
        }
    }

    pub fn consistency(self) -> Option<&'static str> {
        match self {
            EtcdWorkload::GetLinearizable => Some("linearizable"),
            EtcdWorkload::GetSerializable => Some("serializable"),
            EtcdWorkload::Put | EtcdWorkload::BatchGet(_) => None,
        }
    }

    pub fn keys_per_op(self) -> usize {
        match self {
            EtcdWorkload::BatchGet(n_keys) => n_keys,
            _ => 1,
        }
    }
}

/// Runs `workload` with `shape.concurrency` closed loops over keys drawn uniformly from `ids`.
pub async fn run_workload(
    cluster: &EtcdCluster,
    workload: EtcdWorkload,
    ids: Arc<Vec<String>>,
    shape: LoopShape,
) -> Result<BenchResult, CompareError> {
    if ids.is_empty() {
        return Err(CompareError::etcd(format!("{workload:?}"), "no keys to draw from"));
    }
    if let EtcdWorkload::BatchGet(n_keys) = workload {
        if !(1..=MAX_TXN_OPS).contains(&n_keys) {
            return Err(CompareError::etcd(format!("{workload:?}"), format!("batch size 1..={MAX_TXN_OPS}")));
        }
    }
    let n_connections = shape.concurrency.clamp(1, CONNECTIONS_MAX);
    let mut kvs = Vec::with_capacity(n_connections);
    for _ in 0..n_connections {
        kvs.push(cluster.client().await?.kv_client().max_decoding_message_size(REPLY_BYTES_MAX));
    }
    let kind = match workload {
        EtcdWorkload::GetLinearizable => RequestKind::Get(GetOptions::new()),
        EtcdWorkload::GetSerializable => RequestKind::Get(GetOptions::new().with_serializable()),
        EtcdWorkload::Put => RequestKind::Put(PutValues::sample(&mut kvs[0], &ids).await?),
        EtcdWorkload::BatchGet(n_keys) => RequestKind::BatchGet(n_keys),
    };
    let run_tag = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
    let request_timeout = (!shape.request_deadline.is_zero()).then_some(shape.request_deadline);
    let operation = Arc::new(EtcdRequest { kvs, ids, kind, run_tag, request_timeout });
    let measured = measure(operation, shape).await?;
    Ok(BenchResult::from_measured(
        workload.name(),
        workload.consistency(),
        "uniform",
        workload.keys_per_op(),
        n_connections,
        shape.concurrency,
        &measured,
    ))
}

/// What one request of a workload sends.
enum RequestKind {
    Get(GetOptions),
    Put(PutValues),
    BatchGet(usize),
}

/// One request of a workload.
struct EtcdRequest {
    kvs: Vec<KvClient>,
    ids: Arc<Vec<String>>,
    kind: RequestKind,
    /// Makes this run's put values differ from an earlier run's.
    run_tag: u64,
    request_timeout: Option<Duration>,
}

impl Operation for EtcdRequest {
    async fn execute(&self, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), String> {
        let mut kv = self.kvs[loop_idx % self.kvs.len()].clone();
        let request = self.send(&mut kv, rng, loop_idx, op_idx);
        match self.request_timeout {
            Some(timeout) => tokio::time::timeout(timeout, request)
                .await
                .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?,
            None => request.await,
        }
    }
}

impl EtcdRequest {
    async fn send(&self, kv: &mut KvClient, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), String> {
        match &self.kind {
            RequestKind::Get(options) => self.get(kv, rng, options.clone()).await,
            RequestKind::Put(values) => {
                let key_idx = rng.random_range(0..self.ids.len());
                let tag = format!("{}-{loop_idx}-{op_idx}", self.run_tag);
                let value = values.value(key_idx, &self.ids[key_idx], &tag);
                kv.put(self.ids[key_idx].as_str(), value, None).await.map(drop).map_err(|error| error.to_string())
            }
            RequestKind::BatchGet(n_keys) => self.batch_get(kv, rng, *n_keys).await,
        }
    }

    async fn get(&self, kv: &mut KvClient, rng: &mut StdRng, options: GetOptions) -> Result<(), String> {
        let key = &self.ids[rng.random_range(0..self.ids.len())];
        let response = kv.get(key.as_str(), Some(options)).await.map_err(|error| error.to_string())?;
        if response.kvs().is_empty() {
            return Err(format!("{key} not found"));
        }
        Ok(())
    }

    async fn batch_get(&self, kv: &mut KvClient, rng: &mut StdRng, n_keys: usize) -> Result<(), String> {
        let keys: Vec<&String> = (0..n_keys).map(|_| &self.ids[rng.random_range(0..self.ids.len())]).collect();
        let reads: Vec<TxnOp> = keys.iter().map(|key| TxnOp::get(key.as_str(), None)).collect();
        let response = kv.txn(Txn::new().and_then(reads)).await.map_err(|error| error.to_string())?;
        let reads = response.op_responses();
        if reads.len() != n_keys {
            return Err(format!("{} answers to a Txn of {n_keys} gets", reads.len()));
        }
        for (key, read) in keys.iter().zip(reads) {
            match read {
                TxnOpResponse::Get(read) if !read.kvs().is_empty() => {}
                TxnOpResponse::Get(_) => return Err(format!("{key} not found")),
                _ => return Err("a Txn of gets answered something else".to_string()),
            }
        }
        Ok(())
    }
}
