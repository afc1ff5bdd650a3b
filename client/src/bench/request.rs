//! One request of a workload, and whether it counts as a success.

use std::sync::Arc;

use dancu_proto::v1::{Consistency, VerifyQuery};
use rand::rngs::StdRng;
use rand::Rng;

use super::{BenchConfig, KeyChooser, KeySet, Operation, Workload};
use crate::{Client, ClientError};

/// What every request loop of a run shares.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) config: BenchConfig,
    pub(crate) keys: Arc<KeySet>,
    pub(crate) chooser: KeyChooser,
    /// Makes this run's put values differ from an earlier run's (milliseconds since the epoch at the start).
    pub(crate) run_tag: u64,
    /// Loop `i` sends with `clients[i % clients.len()]` (never empty).
    pub(crate) clients: Vec<Client>,
}

/// Why one request counts as an error. Messages carry no stored value and no personal ID of ours.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("a key was not found (is the population loaded?)")]
    NotFound,
    #[error("{n_missing} of {n_ids} keys of a batch were not found (is the population loaded?)")]
    Missing { n_missing: usize, n_ids: usize },
    #[error("verify answered \"no match\" for a record's own full name and date of birth")]
    Mismatch,
}

impl Operation for Plan {
    async fn execute(&self, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), String> {
        let client = &self.clients[loop_idx % self.clients.len()];
        self.send(client, rng, loop_idx, op_idx).await.map_err(|error| error.to_string())
    }
}

impl Plan {
    /// Sends one request of the workload; `loop_idx` and `op_idx` make a put's value unique.
    async fn send(&self, client: &Client, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), OpError> {
        match self.config.workload {
            Workload::Get => self.get(client, rng, self.config.consistency).await,
            Workload::BatchGet => self.batch_get(client, rng).await,
            Workload::Verify => self.verify(client, rng).await,
            Workload::Put => self.put(client, rng, loop_idx, op_idx).await,
            Workload::Mixed => {
                if rng.random_range(0..100u8) < self.config.put_percent {
                    self.put(client, rng, loop_idx, op_idx).await
                } else {
                    self.get(client, rng, Consistency::Linearizable).await
                }
            }
        }
    }

    async fn get(&self, client: &Client, rng: &mut StdRng, consistency: Consistency) -> Result<(), OpError> {
        let id = self.keys.id(self.chooser.next_idx(rng));
        match client.get(id, consistency).await? {
            Some(_) => Ok(()),
            None => Err(OpError::NotFound),
        }
    }

    async fn batch_get(&self, client: &Client, rng: &mut StdRng) -> Result<(), OpError> {
        let ids: Vec<String> =
            (0..self.config.batch_size).map(|_| self.keys.id(self.chooser.next_idx(rng)).to_string()).collect();
        // Records stay encoded, as etcd's values do: decoding is the caller's work, on the caller's machine.
        let results = client.batch_get_encoded(&ids, self.config.consistency).await?;
        let n_missing = results.iter().filter(|result| !result.found).count();
        if n_missing > 0 {
            return Err(OpError::Missing { n_missing, n_ids: ids.len() });
        }
        Ok(())
    }

    async fn verify(&self, client: &Client, rng: &mut StdRng) -> Result<(), OpError> {
        let record = self.record(self.chooser.next_idx(rng));
        let query = VerifyQuery {
            id: record.id,
            full_name: Some(record.full_name),
            date_of_birth: record.date_of_birth,
            ..VerifyQuery::default()
        };
        let response = client.verify(query, self.config.consistency).await?;
        match response.result {
            Some(result) if result.r#match => Ok(()),
            _ => Err(OpError::Mismatch),
        }
    }

    async fn put(&self, client: &Client, rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), OpError> {
        let mut record = self.record(self.chooser.next_idx(rng));
        // A value no earlier put wrote, so the server really writes (an identical record could be skipped).
        record.other_name = format!("bench {} {loop_idx} {op_idx}", self.run_tag);
        client.put(record, None).await?;
        Ok(())
    }

    fn record(&self, key_idx: usize) -> dancu_proto::v1::Citizen {
        // `run` refuses a workload that needs records when the key set has none.
        self.keys.record(key_idx).expect("the key set keeps records for this workload")
    }
}
