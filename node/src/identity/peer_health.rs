//! How this node last found each peer (for `Status`): answering, unreachable, or a node of another cluster.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dancu_cluster_config::NodeId;

use super::RandomId;

/// Foreign-cluster warnings are logged at most this often per peer (the peer retries all the time).
const FOREIGN_LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Ok,
    Unreachable,
    /// A node of another cluster (its cluster id) answers at the peer's address or sent messages as the peer.
    Foreign(RandomId),
}

#[derive(Debug, Clone, Copy)]
struct Observation {
    state: PeerState,
    last_foreign_log: Option<Instant>,
}

#[derive(Default)]
pub struct PeerHealth {
    peers: Mutex<HashMap<NodeId, Observation>>,
}

impl PeerHealth {
    pub fn record(&self, node: NodeId, state: PeerState) {
        let mut peers = self.peers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let observation = peers.entry(node).or_insert(Observation { state, last_foreign_log: None });
        observation.state = state;
    }

    /// Records a foreign peer; true when the caller should log it (at most once per interval per peer).
    pub fn record_foreign(&self, node: NodeId, cluster_id: RandomId) -> bool {
        let mut peers = self.peers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = PeerState::Foreign(cluster_id);
        let observation = peers.entry(node).or_insert(Observation { state, last_foreign_log: None });
        observation.state = state;
        let now = Instant::now();
        let log = observation.last_foreign_log.is_none_or(|at| now.duration_since(at) >= FOREIGN_LOG_INTERVAL);
        if log {
            observation.last_foreign_log = Some(now);
        }
        log
    }

    pub fn state(&self, node: NodeId) -> Option<PeerState> {
        let peers = self.peers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        peers.get(&node).map(|observation| observation.state)
    }
}
