//! Who this node is, and which cluster it belongs to.
//!
//! A cluster's identity (16 random bytes) is made once, by its founder — the node with the lowest id in the
//! configuration — when it starts with an empty data dir; every other node learns it from the founder when it first
//! starts ([`join`]) and keeps it on disk with its own incarnation (16 random bytes made with its data dir). Every
//! Raft message carries the cluster id and the sender's node id and incarnation as gRPC metadata ([`Identity::stamp`]);
//! [`guard::ClusterCheck`] refuses messages of another cluster before any group sees them, so a node of an older
//! cluster still running on a configured address can neither feed its log entries nor its votes into this one
//! (etcd's "request cluster ID mismatch"). Clients pin the cluster id from `Status` and send it too.
//!
//! A node that comes back with an empty data dir into a cluster that knew it (its founder has its old incarnation)
//! is `awaiting_readd`: it must not vote, campaign or found a group, since its empty log could elect a candidate
//! that lacks acknowledged writes, until an operator re-adds it (`dancuctl node re-add`, as etcd requires member
//! remove + add).

pub mod guard;
pub mod join;
pub mod peer_health;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use dancu_cluster_config::{ClusterConfig, NodeId};
use dancu_proto::v1 as pb;
use tonic::metadata::{MetadataMap, MetadataValue};

use crate::storage::Store;
use peer_health::PeerHealth;

pub const CLUSTER_ID_HEADER: &str = "dancu-cluster-id";
pub const FROM_NODE_HEADER: &str = "dancu-from-node";
pub const INCARNATION_HEADER: &str = "dancu-incarnation";
pub const TO_NODE_HEADER: &str = "dancu-to-node";

/// Bytes of a cluster id and of an incarnation.
pub const ID_BYTES: usize = 16;

/// 16 random bytes, shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RandomId(pub [u8; ID_BYTES]);

impl RandomId {
    pub fn generate() -> RandomId {
        RandomId(rand::random())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<RandomId> {
        Some(RandomId(bytes.try_into().ok()?))
    }

    pub fn parse_hex(text: &str) -> Option<RandomId> {
        if text.len() != ID_BYTES * 2 {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        for (idx, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(idx * 2..idx * 2 + 2)?, 16).ok()?;
        }
        Some(RandomId(bytes))
    }
}

impl fmt::Display for RandomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for RandomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The founder of a cluster: the lowest node id of its configuration (every node derives the same one).
pub fn founder_of(config: &ClusterConfig) -> Option<NodeId> {
    config.nodes.iter().map(|node| node.id).min()
}

/// How a peer's incarnation compares with the one this node knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncarnationCheck {
    /// First contact: now recorded.
    New,
    Same,
    /// The peer came back with another data dir and has not been re-added (confirmed) yet.
    Changed,
}

/// This node's established identity, shared by the server, the groups and the network.
pub struct Identity {
    pub node_id: NodeId,
    pub cluster_id: RandomId,
    pub incarnation: RandomId,
    awaiting_readd: AtomicBool,
    /// Peers' incarnations (the founder's copy decides who is new). Written through to the store.
    known: Mutex<BTreeMap<NodeId, RandomId>>,
    pub founder: NodeId,
    pub peer_health: PeerHealth,
    store: Arc<Store>,
    /// The persisted form of this identity (kept to rewrite it when `awaiting_readd` clears).
    record: Mutex<pb::NodeIdentity>,
    header_cluster_id: MetadataValue<tonic::metadata::Ascii>,
    header_from_node: MetadataValue<tonic::metadata::Ascii>,
    header_incarnation: MetadataValue<tonic::metadata::Ascii>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("data dir belongs to node {found}, not node {expected}")]
    OtherNode { found: NodeId, expected: NodeId },
    #[error("stored identity is malformed: {0}")]
    Malformed(String),
    #[error(
        "data dir holds Raft state but no cluster identity (made by an older dancu): remove it, or start an older \
         build to export the data"
    )]
    Legacy,
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
}

impl Identity {
    fn new(record: pb::NodeIdentity, founder: NodeId, store: Arc<Store>) -> Result<Identity, IdentityError> {
        let malformed = |what: &str| IdentityError::Malformed(format!("{what} is not {ID_BYTES} bytes"));
        let cluster_id = RandomId::from_bytes(&record.cluster_id).ok_or_else(|| malformed("cluster id"))?;
        let incarnation = RandomId::from_bytes(&record.incarnation).ok_or_else(|| malformed("incarnation"))?;
        let known = store
            .known_members()?
            .incarnations
            .into_iter()
            .filter_map(|(node, bytes)| Some((node, RandomId::from_bytes(&bytes)?)))
            .collect();
        let ascii = |text: String| MetadataValue::try_from(text).expect("hex digits and decimal numbers are ASCII");
        Ok(Identity {
            node_id: record.node_id,
            cluster_id,
            incarnation,
            awaiting_readd: AtomicBool::new(record.awaiting_readd),
            known: Mutex::new(known),
            founder,
            peer_health: PeerHealth::default(),
            store,
            header_cluster_id: ascii(cluster_id.to_string()),
            header_from_node: ascii(record.node_id.to_string()),
            header_incarnation: ascii(incarnation.to_string()),
            record: Mutex::new(record),
        })
    }

    /// Whether this node waits for an operator's re-add (it came back with an empty data dir): it neither grants
    /// nor asks for votes and founds no group until then.
    pub fn awaiting_readd(&self) -> bool {
        self.awaiting_readd.load(Ordering::Acquire)
    }

    /// Marks a node-to-node request as this cluster's, from this node (to `to`, when known).
    pub fn stamp(&self, metadata: &mut MetadataMap, to: Option<NodeId>) {
        metadata.insert(CLUSTER_ID_HEADER, self.header_cluster_id.clone());
        metadata.insert(FROM_NODE_HEADER, self.header_from_node.clone());
        metadata.insert(INCARNATION_HEADER, self.header_incarnation.clone());
        if let Some(to) = to {
            if let Ok(value) = MetadataValue::try_from(to.to_string()) {
                metadata.insert(TO_NODE_HEADER, value);
            }
        }
    }

    /// The incarnation this node knows for `node` (None: never heard of it).
    pub fn known_incarnation(&self, node: NodeId) -> Option<RandomId> {
        if node == self.node_id {
            return Some(self.incarnation);
        }
        self.lock_known().get(&node).copied()
    }

    /// Compares a peer's incarnation with the known one, recording it at first contact. The record is written
    /// without waiting for a WAL fsync: losing it in a crash only means learning it again.
    pub fn observe_incarnation(&self, node: NodeId, incarnation: RandomId) -> IncarnationCheck {
        let snapshot = {
            let mut known = self.lock_known();
            match known.get(&node) {
                Some(current) if *current == incarnation => return IncarnationCheck::Same,
                Some(_) => return IncarnationCheck::Changed,
                None => {
                    known.insert(node, incarnation);
                    known_members_pb(&known)
                }
            }
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.save_known_members(&snapshot).await {
                tracing::warn!(%error, "cannot save the peers' incarnations");
            }
        });
        IncarnationCheck::New
    }

    /// Records `node` with `incarnation` (durably) and whether it was known before with another one. The founder
    /// answers a joining node only after this, so two answers can never both say "new".
    pub async fn admit_member(&self, node: NodeId, incarnation: RandomId) -> std::io::Result<Option<RandomId>> {
        let (previous, snapshot) = {
            let mut known = self.lock_known();
            let previous = known.get(&node).copied();
            if previous.is_some() {
                return Ok(previous);
            }
            known.insert(node, incarnation);
            (previous, known_members_pb(&known))
        };
        self.store.save_known_members(&snapshot).await?;
        Ok(previous)
    }

    /// Accepts `incarnation` as `node`'s current data dir (the last step of a re-add); on the node itself it ends
    /// the wait for the re-add.
    pub async fn confirm_member(&self, node: NodeId, incarnation: RandomId) -> std::io::Result<()> {
        if node == self.node_id {
            if incarnation != self.incarnation {
                return Err(std::io::Error::other(format!(
                    "incarnation {incarnation} is not this node's ({})",
                    self.incarnation
                )));
            }
            let record = {
                let mut record = self.record.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                record.awaiting_readd = false;
                record.clone()
            };
            self.store.save_node_identity(&record).await?;
            self.awaiting_readd.store(false, Ordering::Release);
            tracing::info!(node, "re-added: voting again");
            return Ok(());
        }
        let snapshot = {
            let mut known = self.lock_known();
            known.insert(node, incarnation);
            known_members_pb(&known)
        };
        self.store.save_known_members(&snapshot).await
    }

    /// The answer to a joining node's `Identify`: the founder records a node it never heard of.
    pub async fn answer_identify(&self, request: &pb::IdentifyRequest) -> std::io::Result<pb::IdentifyResponse> {
        let asker = RandomId::from_bytes(&request.incarnation)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "incarnation is not 16 bytes"))?;
        let known = if self.node_id == self.founder {
            self.admit_member(request.node_id, asker).await?
        } else {
            self.known_incarnation(request.node_id)
        };
        Ok(pb::IdentifyResponse {
            cluster_id: self.cluster_id.0.to_vec(),
            node_id: self.node_id,
            known_incarnation: known.map(|id| id.0.to_vec()).unwrap_or_default(),
            founder: self.node_id == self.founder,
            incarnation: self.incarnation.0.to_vec(),
            awaiting_readd: self.awaiting_readd(),
        })
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, RandomId>> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn known_members_pb(known: &BTreeMap<NodeId, RandomId>) -> pb::KnownMembers {
    pb::KnownMembers { incarnations: known.iter().map(|(node, id)| (*node, id.0.to_vec())).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_round_trip_through_hex() {
        let id = RandomId::generate();
        assert_eq!(RandomId::parse_hex(&id.to_string()), Some(id));
        assert_eq!(id.to_string().len(), 32);
        assert_eq!(RandomId::parse_hex("0123"), None);
        assert_eq!(RandomId::parse_hex(&"zz".repeat(16)), None);
        assert_ne!(RandomId::generate(), RandomId::generate());
    }
}
