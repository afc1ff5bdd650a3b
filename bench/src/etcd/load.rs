//! Loading the synthetic population: key = the personal ID, value = the record's JSON line exactly as
//! `dancuctl gen` writes it. Puts travel in Txns of [`TXN_PUTS`], [`TXNS_IN_FLIGHT`] at a time, spread over
//! [`CONNECTIONS`] clients of every member; a thread generates the records meanwhile (much faster than etcd
//! takes them), so the figure is etcd's.

use std::sync::Arc;
use std::time::Instant;

use dancu_synthetic::Population;
use etcd_client::{Client, Txn, TxnOp};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;

use super::cluster::EtcdCluster;
use super::flags::MAX_TXN_OPS;
use crate::results::Load;
use crate::CompareError;

/// Puts per Txn: one Raft entry of about 128 KB.
pub const TXN_PUTS: usize = 128;
pub const TXNS_IN_FLIGHT: usize = 16;
pub const CONNECTIONS: usize = 4;
/// Txns generated ahead of the senders.
const TXNS_QUEUED_MAX: usize = 2 * TXNS_IN_FLIGHT;

const _: () = assert!(TXN_PUTS <= MAX_TXN_OPS);

/// One Txn's worth of records: (personal ID, JSON line without its newline).
type Batch = Vec<(String, Vec<u8>)>;

/// Only the key of a JSON line (serde skips the other fields).
#[derive(serde::Deserialize)]
struct RecordId {
    id: String,
}

/// Loads every record of `population` into `cluster`.
pub async fn load(cluster: &EtcdCluster, population: &Population) -> Result<Load, CompareError> {
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        clients.push(cluster.client().await?);
    }
    let started = Instant::now();
    let (batches_tx, batches_rx) = mpsc::channel(TXNS_QUEUED_MAX);
    let population = *population;
    let generator = tokio::task::spawn_blocking(move || generate(&population, &batches_tx));
    let batches_rx = Arc::new(Mutex::new(batches_rx));
    let mut senders = JoinSet::new();
    for sender_idx in 0..TXNS_IN_FLIGHT {
        senders.spawn(send_batches(clients[sender_idx % CONNECTIONS].clone(), batches_rx.clone()));
    }
    let (mut records, mut value_bytes) = (0u64, 0u64);
    let mut first_error = None;
    while let Some(joined) = senders.join_next().await {
        match joined.map_err(|error| CompareError::etcd("loading", error)).and_then(|sent| sent) {
            Ok(sent) => {
                records += sent.records;
                value_bytes += sent.value_bytes;
            }
            Err(error) => {
                // Dropping the receiver stops the generator and the other senders soon after.
                batches_rx.lock().await.close();
                first_error.get_or_insert(error);
            }
        }
    }
    generator.await.map_err(|error| CompareError::etcd("generating records", error))??;
    if let Some(error) = first_error {
        return Err(error);
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(records, population.count(), "every generated record was sent");
    Ok(Load {
        records,
        seconds,
        records_per_s: records as f64 / seconds.max(1e-9),
        mean_record_bytes: value_bytes as f64 / records.max(1) as f64,
    })
}

/// Generates the records chunk by chunk and queues them in Txn-sized batches; stops early if the senders
/// have gone (they failed).
fn generate(population: &Population, batches: &mpsc::Sender<Batch>) -> Result<(), CompareError> {
    let mut json = Vec::new();
    let mut batch = Vec::with_capacity(TXN_PUTS);
    for chunk_idx in 0..population.n_chunks() {
        json.clear();
        population.chunk_json(chunk_idx, &mut json);
        for line in json.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()) {
            let record: RecordId = serde_json::from_slice(line)
                .map_err(|error| CompareError::Import(format!("a generated line without an id: {error}")))?;
            batch.push((record.id, line.to_vec()));
            if batch.len() == TXN_PUTS && batches.blocking_send(std::mem::take(&mut batch)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(batch);
    }
    Ok(())
}

/// What one sender put.
struct Sent {
    records: u64,
    value_bytes: u64,
}

async fn send_batches(client: Client, batches: Arc<Mutex<mpsc::Receiver<Batch>>>) -> Result<Sent, CompareError> {
    let mut kv = client.kv_client();
    let mut sent = Sent { records: 0, value_bytes: 0 };
    loop {
        let Some(batch) = batches.lock().await.recv().await else { return Ok(sent) };
        sent.records += batch.len() as u64;
        sent.value_bytes += batch.iter().map(|(_, value)| value.len() as u64).sum::<u64>();
        let puts: Vec<TxnOp> = batch.into_iter().map(|(id, value)| TxnOp::put(id, value, None)).collect();
        kv.txn(Txn::new().and_then(puts)).await.map_err(|error| CompareError::etcd("a load Txn", error))?;
    }
}
