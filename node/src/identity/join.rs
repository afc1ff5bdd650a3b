//! Establishing this node's identity at start, before any Raft group runs.
//!
//! - A data dir with an identity: use it (it must be this node's).
//! - An empty data dir on the founder (lowest node id) in `New` mode: make the cluster id.
//! - An empty data dir elsewhere: ask the founder (`Raft/Identify`) until it answers, and adopt its cluster id. The
//!   founder records the node's incarnation before answering; when it knew the node with another incarnation, the
//!   node lost its disk and waits for an operator's re-add. The other peers are asked too (best effort): any of
//!   them that knew this node with another incarnation also means a wiped disk.
//! - `Existing` mode (`dancu-node --join`, e.g. for a wiped founder): adopt the cluster id a majority of the
//!   configured nodes agree on, and wait for the re-add.
//!
//! The incarnation is saved before the first question, so a node that crashes while joining asks again as itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_cluster_config::{ClusterConfig, NodeId};
use dancu_proto::v1 as pb;

use super::{founder_of, Identity, IdentityError, RandomId};
use crate::raft::network::{ConnectionClass, Peers};
use crate::storage::Store;

/// One `Identify` call's limit.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between rounds of questions while the founder (or a majority) cannot answer.
const JOIN_RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// How often a node that keeps waiting says so in its log.
const JOIN_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Whether an empty data dir founds or joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMode {
    /// Part of creating a cluster (the default): the founder makes the cluster id, the others take it from it.
    New,
    /// Joining a cluster that exists: take the id a majority agrees on and wait for the operator's re-add.
    Existing,
}

/// This node's identity: read from the store, or made/learnt as the module doc says. Returns only once known (the
/// caller stops waiting by dropping the future).
pub async fn establish(
    store: &Arc<Store>,
    config: &ClusterConfig,
    node_id: NodeId,
    mode: JoinMode,
    peers: &Peers,
) -> Result<Identity, IdentityError> {
    let founder = founder_of(config).unwrap_or(node_id);
    let mut record = match store.node_identity()? {
        Some(record) if record.node_id != node_id => {
            return Err(IdentityError::OtherNode { found: record.node_id, expected: node_id });
        }
        Some(record) if !record.cluster_id.is_empty() => return Identity::new(record, founder, store.clone()),
        Some(record) => record,
        None if store.holds_raft_state()? => return Err(IdentityError::Legacy),
        None => {
            let record = pb::NodeIdentity {
                node_id,
                incarnation: RandomId::generate().0.to_vec(),
                created_unix_ms: chrono::Utc::now().timestamp_millis(),
                ..Default::default()
            };
            store.save_node_identity(&record).await?;
            record
        }
    };
    let incarnation = RandomId::from_bytes(&record.incarnation)
        .ok_or_else(|| IdentityError::Malformed("incarnation is not 16 bytes".to_string()))?;
    let (cluster_id, awaiting_readd) = if founder == node_id && mode == JoinMode::New {
        let cluster_id = RandomId::generate();
        tracing::info!(node = node_id, %cluster_id, "founded a new cluster");
        (cluster_id, false)
    } else {
        learn(config, node_id, incarnation, founder, mode, peers).await
    };
    record.cluster_id = cluster_id.0.to_vec();
    record.awaiting_readd = awaiting_readd;
    store.save_node_identity(&record).await?;
    if awaiting_readd {
        tracing::warn!(
            node = node_id,
            %cluster_id,
            "this node came back with an empty data dir: it will not vote or found groups until re-added \
             (dancuctl node re-add {node_id})"
        );
    }
    Identity::new(record, founder, store.clone())
}

/// Asks the peers until the cluster id is known; returns it and whether this node must wait for a re-add.
async fn learn(
    config: &ClusterConfig,
    node_id: NodeId,
    incarnation: RandomId,
    founder: NodeId,
    mode: JoinMode,
    peers: &Peers,
) -> (RandomId, bool) {
    let started = Instant::now();
    let mut last_log = started;
    loop {
        let answers = ask_everyone(config, node_id, incarnation, peers).await;
        if let Some(decision) = decide(&answers, config.nodes.len(), incarnation, founder, mode) {
            return decision;
        }
        if last_log.elapsed() >= JOIN_LOG_INTERVAL {
            last_log = Instant::now();
            match mode {
                JoinMode::New => {
                    tracing::warn!(node = node_id, founder, "waiting for the founder to tell the cluster id")
                }
                JoinMode::Existing => tracing::warn!(node = node_id, "waiting for a majority to tell the cluster id"),
            }
        }
        tokio::time::sleep(JOIN_RETRY_INTERVAL).await;
    }
}

/// The identity answers of every other configured node that answered, by node id.
async fn ask_everyone(
    config: &ClusterConfig,
    node_id: NodeId,
    incarnation: RandomId,
    peers: &Peers,
) -> BTreeMap<NodeId, pb::IdentifyResponse> {
    let questions = config.nodes.iter().filter(|node| node.id != node_id).map(|node| async move {
        let mut client = peers.raft_client(&node.addr, ConnectionClass::Control).ok()?;
        let mut request = tonic::Request::new(pb::IdentifyRequest { node_id, incarnation: incarnation.0.to_vec() });
        request.set_timeout(IDENTIFY_TIMEOUT);
        let answer = tokio::time::timeout(IDENTIFY_TIMEOUT, client.identify(request)).await.ok()?.ok()?;
        Some((node.id, answer.into_inner()))
    });
    futures::future::join_all(questions).await.into_iter().flatten().collect()
}

/// The cluster id and whether to await a re-add, when the answers settle it.
fn decide(
    answers: &BTreeMap<NodeId, pb::IdentifyResponse>,
    n_configured: usize,
    incarnation: RandomId,
    founder: NodeId,
    mode: JoinMode,
) -> Option<(RandomId, bool)> {
    let cluster_id = match mode {
        JoinMode::New => answers
            .get(&founder)
            .filter(|answer| answer.founder)
            .and_then(|answer| RandomId::from_bytes(&answer.cluster_id))?,
        JoinMode::Existing => majority_cluster_id(answers, n_configured)?,
    };
    let knew_another_me = answers.values().any(|answer| {
        RandomId::from_bytes(&answer.cluster_id) == Some(cluster_id)
            && RandomId::from_bytes(&answer.known_incarnation).is_some_and(|known| known != incarnation)
    });
    Some((cluster_id, knew_another_me || mode == JoinMode::Existing))
}

/// The cluster id more than half of the configured nodes (this one included, as not agreeing) report.
fn majority_cluster_id(answers: &BTreeMap<NodeId, pb::IdentifyResponse>, n_configured: usize) -> Option<RandomId> {
    let mut votes: BTreeMap<RandomId, usize> = BTreeMap::new();
    for answer in answers.values() {
        if let Some(id) = RandomId::from_bytes(&answer.cluster_id) {
            *votes.entry(id).or_default() += 1;
        }
    }
    votes.into_iter().find(|(_, n)| *n * 2 > n_configured).map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(cluster: Option<RandomId>, knows: Option<RandomId>, founder: bool) -> pb::IdentifyResponse {
        pb::IdentifyResponse {
            cluster_id: cluster.map(|id| id.0.to_vec()).unwrap_or_default(),
            node_id: 0,
            known_incarnation: knows.map(|id| id.0.to_vec()).unwrap_or_default(),
            founder,
            ..Default::default()
        }
    }

    fn check(
        answers: &[(NodeId, pb::IdentifyResponse)],
        mode: JoinMode,
        me: RandomId,
        expected: Option<(RandomId, bool)>,
    ) {
        let answers: BTreeMap<NodeId, pb::IdentifyResponse> = answers.iter().cloned().collect();
        assert_eq!(decide(&answers, 3, me, 1, mode), expected);
    }

    #[test]
    fn a_new_node_takes_the_founders_cluster_and_ignores_a_foreign_peer() {
        let (ours, foreign, me, old_me) =
            (RandomId::generate(), RandomId::generate(), RandomId::generate(), RandomId::generate());
        // Only a foreign node answers: wait.
        check(&[(2, answer(Some(foreign), Some(old_me), false))], JoinMode::New, me, None);
        // The founder answers: its cluster, new member; the foreign node's memory of "us" does not count.
        check(
            &[(1, answer(Some(ours), None, true)), (2, answer(Some(foreign), Some(old_me), false))],
            JoinMode::New,
            me,
            Some((ours, false)),
        );
        // The founder has no identity yet: wait.
        check(&[(1, answer(None, None, true))], JoinMode::New, me, None);
    }

    #[test]
    fn a_wiped_node_is_known_under_its_old_incarnation_and_awaits_the_readd() {
        let (ours, me, old_me) = (RandomId::generate(), RandomId::generate(), RandomId::generate());
        check(&[(1, answer(Some(ours), Some(old_me), true))], JoinMode::New, me, Some((ours, true)));
        // Another member remembers us even though the founder answers "new".
        check(
            &[(1, answer(Some(ours), Some(me), true)), (3, answer(Some(ours), Some(old_me), false))],
            JoinMode::New,
            me,
            Some((ours, true)),
        );
        // The founder knows us as we are: a restart while joining, not a wipe.
        check(&[(1, answer(Some(ours), Some(me), true))], JoinMode::New, me, Some((ours, false)));
    }

    #[test]
    fn joining_an_existing_cluster_needs_a_majority_and_always_awaits_the_readd() {
        let (ours, foreign, me) = (RandomId::generate(), RandomId::generate(), RandomId::generate());
        check(&[(2, answer(Some(ours), None, false))], JoinMode::Existing, me, None);
        check(
            &[(2, answer(Some(ours), None, false)), (3, answer(Some(foreign), None, false))],
            JoinMode::Existing,
            me,
            None,
        );
        check(
            &[(2, answer(Some(ours), None, false)), (3, answer(Some(ours), None, false))],
            JoinMode::Existing,
            me,
            Some((ours, true)),
        );
    }
}
