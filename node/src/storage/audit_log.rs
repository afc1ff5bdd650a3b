//! This node's own audit chain (its local audit store): every access record, hash-chained, written and fsync'd
//! (group commit with every other write of the node) before the reply it describes is sent.
//!
//! | column family | key                  | value                                   |
//! |---------------|----------------------|-----------------------------------------|
//! | `audit`       | seq (u64 BE)         | `AuditRecord` (encoded; the chain hashes these bytes) |
//! | `raft_meta`   | ff ff ff ff · 0x03   | `LocalChain` (head, shipped, base)      |
//! | `raft_meta`   | ff ff ff ff · 0x04   | the node's audit signing key (PKCS#8)   |

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use dancu_proto::audit_chain::{self, SigningKey};
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use rocksdb::WriteBatch;

use crate::storage::keys::{self, CF_AUDIT, CF_RAFT_META, NODE_AUDIT_CHAIN, NODE_AUDIT_KEY};
use crate::storage::{invalid_data, Store};

/// The local audit store of one node.
pub struct AuditLog {
    store: Arc<Store>,
    node_id: u64,
    /// Held while a batch of records is numbered, chained and handed to RocksDB, so the chain's order is the
    /// order of the writes. `None` in a new data dir until the chain is based on the anchored one ([`AuditLog::adopt`]).
    chain: Mutex<Option<pb::LocalChain>>,
    key: SigningKey,
}

fn genesis() -> pb::AuditHead {
    pb::AuditHead { seq: 0, hash: audit_chain::GENESIS.to_vec() }
}

impl AuditLog {
    /// Opens the node's chain, creating its signing key on first use.
    pub fn open(store: Arc<Store>, node_id: u64) -> io::Result<AuditLog> {
        let chain: Option<pb::LocalChain> = store.get_message(CF_RAFT_META, &keys::node_key(NODE_AUDIT_CHAIN))?;
        let key = match store.get(CF_RAFT_META, &keys::node_key(NODE_AUDIT_KEY))? {
            Some(pkcs8) => SigningKey::from_pkcs8(&pkcs8).map_err(invalid_data)?,
            None => {
                let (key, pkcs8) = SigningKey::generate().map_err(io::Error::other)?;
                let mut batch = WriteBatch::default();
                batch.put_cf(store.cf(CF_RAFT_META)?, keys::node_key(NODE_AUDIT_KEY), pkcs8);
                store.write_synced(batch)?;
                key
            }
        };
        Ok(AuditLog { store, node_id, chain: Mutex::new(chain), key })
    }

    fn lock(&self) -> MutexGuard<'_, Option<pb::LocalChain>> {
        self.chain.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The chain's bookkeeping now (`None` until based).
    pub fn chain(&self) -> Option<pb::LocalChain> {
        self.lock().clone()
    }

    /// Bases a new data dir's chain on its anchored head (genesis for a node the audit group has never heard of),
    /// so the chain continues where the node's earlier data dir left it. A chain already based stays as it is.
    pub fn adopt(&self, anchored: pb::AuditHead) -> io::Result<()> {
        let mut chain = self.lock();
        if chain.is_some() {
            return Ok(());
        }
        let next = pb::LocalChain { head: Some(anchored.clone()), shipped_seq: anchored.seq, base: Some(anchored) };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_RAFT_META)?, keys::node_key(NODE_AUDIT_CHAIN), next.encode_to_vec());
        self.store.write_synced(batch)?;
        *chain = Some(next);
        Ok(())
    }

    /// Numbers and chains `records` and returns once they are in the fsync'd WAL. An error means they may not be
    /// durable: the caller must not send what they describe.
    pub async fn append(&self, records: Vec<pb::AuditRecord>) -> io::Result<()> {
        {
            let mut guard = self.lock();
            let Some(chain) = guard.as_ref() else {
                return Err(io::Error::other("the audit chain is not based on its anchored head yet"));
            };
            let mut head = chain.head.clone().unwrap_or_else(genesis);
            let cf = self.store.cf(CF_AUDIT)?;
            let mut batch = WriteBatch::default();
            for mut record in records {
                head.seq += 1;
                record.seq = head.seq;
                record.node_id = self.node_id;
                let bytes = record.encode_to_vec();
                head.hash = audit_chain::next_hash(&head.hash, &bytes).to_vec();
                batch.put_cf(cf, head.seq.to_be_bytes(), bytes);
            }
            let next = pb::LocalChain { head: Some(head), ..chain.clone() };
            batch.put_cf(self.store.cf(CF_RAFT_META)?, keys::node_key(NODE_AUDIT_CHAIN), next.encode_to_vec());
            #[cfg(feature = "failpoints")]
            {
                crate::failpoints::note_reached("audit_append");
                fail::fail_point!("audit_append", |_| Err(io::Error::other("failpoint audit_append")));
            }
            self.store.write(batch)?;
            *guard = Some(next);
        }
        self.store.syncer.sync().await
    }

    /// Up to `limit` stored records from `from_seq` on, with the seq each one's key names (as stored: a tampered
    /// store shows as it is).
    pub fn read(&self, from_seq: u64, limit: usize) -> io::Result<Vec<(u64, Vec<u8>)>> {
        let mut items = Vec::with_capacity(limit.min(4096));
        let cf = self.store.cf(CF_AUDIT)?;
        let mode = rocksdb::IteratorMode::From(&from_seq.to_be_bytes()[..], rocksdb::Direction::Forward);
        for item in self.store.db.iterator_cf(cf, mode) {
            let (key, value) = item.map_err(super::storage_error)?;
            let seq = u64::from_be_bytes(key.as_ref().try_into().map_err(invalid_data)?);
            items.push((seq, value.to_vec()));
            if items.len() >= limit {
                break;
            }
        }
        Ok(items)
    }

    /// Notes that the audit group anchored the chain through `seq` (not fsync'd: after a crash the node ships the
    /// same records again, which the group recognizes).
    pub fn mark_shipped(&self, seq: u64) -> io::Result<()> {
        let mut guard = self.lock();
        let Some(chain) = guard.as_ref().filter(|chain| seq > chain.shipped_seq) else {
            return Ok(());
        };
        let next = pb::LocalChain { shipped_seq: seq, ..chain.clone() };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_RAFT_META)?, keys::node_key(NODE_AUDIT_CHAIN), next.encode_to_vec());
        self.store.write(batch)?;
        *guard = Some(next);
        Ok(())
    }

    /// Drops the kept records through `through_seq` (only anchored ones), recomputing the hash the kept chain
    /// then starts from.
    pub fn prune(&self, through_seq: u64) -> io::Result<u64> {
        let Some(chain) = self.chain() else {
            return Ok(0);
        };
        let through_seq = through_seq.min(chain.shipped_seq);
        let mut base = chain.base.clone().unwrap_or_else(genesis);
        if through_seq <= base.seq {
            return Ok(0);
        }
        let cf = self.store.cf(CF_AUDIT)?;
        let mut batch = WriteBatch::default();
        let mut n_pruned = 0;
        for (seq, bytes) in self.read(base.seq + 1, (through_seq - base.seq) as usize)? {
            if seq > through_seq {
                break;
            }
            base.hash = audit_chain::next_hash(&base.hash, &bytes).to_vec();
            base.seq = seq;
            batch.delete_cf(cf, seq.to_be_bytes());
            n_pruned += 1;
        }
        let mut guard = self.lock();
        let Some(current) = guard.as_ref() else {
            return Ok(0);
        };
        let next = pb::LocalChain { base: Some(base), ..current.clone() };
        batch.put_cf(self.store.cf(CF_RAFT_META)?, keys::node_key(NODE_AUDIT_CHAIN), next.encode_to_vec());
        self.store.write(batch)?;
        *guard = Some(next);
        Ok(n_pruned)
    }
}

/// Raw access to a stopped node's local audit store, for the tests that tamper with it (as an attacker with the
/// disk would) and prove `dancuctl audit verify` names what changed.
pub mod tamper {
    use super::*;

    pub fn get(store: &Store, seq: u64) -> io::Result<Option<Vec<u8>>> {
        store.get(CF_AUDIT, &seq.to_be_bytes())
    }

    pub fn put(store: &Store, seq: u64, bytes: &[u8]) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(store.cf(CF_AUDIT)?, seq.to_be_bytes(), bytes);
        store.write_synced(batch)
    }

    pub fn delete(store: &Store, seq: u64) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(store.cf(CF_AUDIT)?, seq.to_be_bytes());
        store.write_synced(batch)
    }

    /// The stored chain bookkeeping.
    pub fn local_chain(store: &Store) -> io::Result<Option<pb::LocalChain>> {
        store.get_message(CF_RAFT_META, &keys::node_key(NODE_AUDIT_CHAIN))
    }
}
