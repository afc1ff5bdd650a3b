//! Node-wide records beside the Raft state: this node's identity and the peers' incarnations it knows.

use std::io;

use dancu_proto::v1 as pb;
use dancu_proto::Message;
use rocksdb::WriteBatch;

use crate::storage::keys::{self, CF_RAFT_LOG, CF_RAFT_META, NODE_IDENTITY, NODE_KNOWN_MEMBERS, NODE_PREFIX};
use crate::storage::Store;

impl Store {
    /// This node's identity, when the data dir has one.
    pub fn node_identity(&self) -> io::Result<Option<pb::NodeIdentity>> {
        self.get_message(CF_RAFT_META, &keys::node_key(NODE_IDENTITY))
    }

    /// Saves this node's identity; durable (WAL fsync'd) when this returns. Written with its own fsync, not
    /// through the group-commit syncer: rare, and durable whatever the syncer is configured to do.
    pub async fn save_node_identity(&self, identity: &pb::NodeIdentity) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_RAFT_META)?, keys::node_key(NODE_IDENTITY), identity.encode_to_vec());
        self.write_synced(batch)
    }

    pub fn known_members(&self) -> io::Result<pb::KnownMembers> {
        Ok(self.get_message(CF_RAFT_META, &keys::node_key(NODE_KNOWN_MEMBERS))?.unwrap_or_default())
    }

    /// Saves the peers' incarnations; durable when this returns (the founder answers a new node only after this).
    pub async fn save_known_members(&self, members: &pb::KnownMembers) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_RAFT_META)?, keys::node_key(NODE_KNOWN_MEMBERS), members.encode_to_vec());
        self.write_synced(batch)
    }

    pub(super) fn write_synced(&self, batch: WriteBatch) -> io::Result<()> {
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(super::storage_error)
    }

    /// Whether any Raft group has left state here (a log entry, a vote, a snapshot): a data dir in use.
    pub fn holds_raft_state(&self) -> io::Result<bool> {
        for cf in [CF_RAFT_LOG, CF_RAFT_META] {
            let mut iter = self.db.raw_iterator_cf(self.cf(cf)?);
            iter.seek_to_first();
            iter.status().map_err(super::storage_error)?;
            if iter.key().is_some_and(|key| !key.starts_with(&NODE_PREFIX)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
