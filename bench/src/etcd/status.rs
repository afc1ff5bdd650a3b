//! Asking each member who it is and whom it follows (the maintenance `Status` call), and reading what the
//! answers say together: is there one leader everybody agrees on, and which member is it.

use std::time::Duration;

use etcd_client::{Client, GetOptions};
use futures::future::join_all;

/// Longest a member may take to answer a status or probe read before it counts as not answering.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
/// The key the readiness probe reads (it need not exist: the read itself is the check).
const PROBE_KEY: &str = "dancu-bench/probe";

/// What one member says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberStatus {
    pub member_id: u64,
    /// 0 while the member knows no leader.
    pub leader_id: u64,
    pub raft_term: u64,
}

/// Each member's answer (or why there was none), in member order.
pub type ClusterView = Vec<Result<MemberStatus, String>>;

/// Asks every member (`clients[i]` is connected to member `i` only) for its status at once.
pub async fn view(clients: &[Client]) -> ClusterView {
    join_all(clients.iter().map(member_status)).await
}

async fn member_status(client: &Client) -> Result<MemberStatus, String> {
    let mut maintenance = client.maintenance_client();
    let status = tokio::time::timeout(ANSWER_TIMEOUT, maintenance.status())
        .await
        .map_err(|_| format!("no status within {ANSWER_TIMEOUT:?}"))?
        .map_err(|error| error.to_string())?;
    let member_id = status.header().map(|header| header.member_id()).ok_or("status without a header")?;
    Ok(MemberStatus { member_id, leader_id: status.leader(), raft_term: status.raft_term() })
}

/// Whether every member serves a linearizable read (which needs a leader with a committed entry in its term).
pub async fn every_member_reads(clients: &[Client]) -> Result<(), String> {
    let reads = clients.iter().map(|client| async move {
        let mut kv = client.kv_client();
        match tokio::time::timeout(ANSWER_TIMEOUT, kv.get(PROBE_KEY, Some(GetOptions::new()))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no read within {ANSWER_TIMEOUT:?}")),
        }
    });
    join_all(reads).await.into_iter().collect()
}

/// The leader every member names, when every member answered and they all name the same one.
pub fn agreed_leader(view: &ClusterView) -> Option<u64> {
    let mut leaders = view.iter().map(|answer| answer.as_ref().ok().map(|status| status.leader_id));
    let first = leaders.next()??;
    (first != 0 && leaders.all(|leader| leader == Some(first))).then_some(first)
}

/// The index of the member that leads: the one named by the answer of the highest term.
pub fn leader_idx(view: &ClusterView) -> Option<usize> {
    let answers = view.iter().filter_map(|answer| answer.as_ref().ok());
    let newest = answers.filter(|status| status.leader_id != 0).max_by_key(|status| status.raft_term)?;
    view.iter().position(|answer| answer.as_ref().is_ok_and(|status| status.member_id == newest.leader_id))
}

/// `m1: leader 8e9e…, term 2; m2: no status within 1s; …`, for a timeout message.
pub fn describe(view: &ClusterView) -> String {
    let parts = view.iter().enumerate().map(|(idx, answer)| match answer {
        Ok(status) => format!("m{}: leader {:x}, term {}", idx + 1, status.leader_id, status.raft_term),
        Err(error) => format!("m{}: {error}", idx + 1),
    });
    parts.collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(member_id: u64, leader_id: u64, raft_term: u64) -> Result<MemberStatus, String> {
        Ok(MemberStatus { member_id, leader_id, raft_term })
    }

    #[test]
    fn agreement_needs_every_member_and_a_leader() {
        assert_eq!(agreed_leader(&vec![status(1, 2, 3), status(2, 2, 3), status(3, 2, 3)]), Some(2));
        assert_eq!(agreed_leader(&vec![status(1, 2, 3), status(2, 2, 3), Err("down".into())]), None);
        assert_eq!(agreed_leader(&vec![status(1, 2, 3), status(2, 3, 4), status(3, 3, 4)]), None);
        assert_eq!(agreed_leader(&vec![status(1, 0, 3), status(2, 0, 3), status(3, 0, 3)]), None);
    }

    #[test]
    fn leader_is_the_one_the_newest_term_names() {
        let view = vec![status(10, 10, 2), status(20, 30, 3), status(30, 30, 3)];
        assert_eq!(leader_idx(&view), Some(2));
        let view = vec![Err("down".into()), status(20, 10, 2), status(30, 10, 2)];
        assert_eq!(leader_idx(&view), None, "the named leader did not answer");
    }
}
