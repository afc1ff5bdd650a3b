//! When is a local cluster healthy? A pure judgement over the Status answers of the running nodes, so the rule is
//! tested without processes.
//!
//! Healthy means: every running node answers Status; every partition a running node hosts has a leader in that
//! node's view; all running nodes name the same leader for a partition; that leader is running and says it leads.
//! Caught up (asked after a restart) means more: every replica has applied what its partition's leader had
//! applied when the wait began, so a restarted node holds current logs, not only a leader's name.

use std::collections::BTreeMap;
use std::fmt;

use dancu_proto::v1::{PartitionStatus, StatusResponse};

/// Problems listed in full in a summary; the rest are counted.
const PROBLEMS_SHOWN_MAX: usize = 12;

/// What one running node answered to Status, or why it did not.
pub type Observation = (u64, Result<StatusResponse, String>);

/// One reason a cluster is not healthy yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A running node did not answer Status.
    NoAnswer { node: u64, error: String },
    /// A running node hosting the partition knows no leader for it.
    NoLeader { partition: u32, node: u64 },
    /// Running nodes name different leaders (`None`: knows none).
    Disagreement { partition: u32, leaders: Vec<(u64, Option<u64>)> },
    /// The named leader is not a running node.
    LeaderNotRunning { partition: u32, leader: u64 },
    /// The named leader answered, but does not report itself as leader.
    LeaderDoesNotLead { partition: u32, leader: u64, role: String },
    /// A replica has not yet applied the index its leader had applied.
    Behind { partition: u32, node: u64, applied: u64, target: u64 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoAnswer { node, error } => {
                write!(f, "node {node} does not answer Status ({error})")
            }
            Problem::NoLeader { partition, node } => {
                write!(f, "partition {partition}: node {node} knows no leader")
            }
            Problem::Disagreement { partition, leaders } => {
                write!(f, "partition {partition}: nodes disagree on the leader {leaders:?}")
            }
            Problem::LeaderNotRunning { partition, leader } => {
                write!(f, "partition {partition}: leader {leader} is not running")
            }
            Problem::LeaderDoesNotLead { partition, leader, role } => {
                write!(f, "partition {partition}: named leader {leader} says it is {role:?}")
            }
            Problem::Behind { partition, node, applied, target } => {
                write!(f, "partition {partition}: node {node} has applied {applied} of its leader's {target}")
            }
        }
    }
}

/// One hosting node's view of a partition.
#[derive(Debug, Clone, Copy)]
struct View<'a> {
    node: u64,
    leader: Option<u64>,
    role: &'a str,
}

/// Everything that keeps the cluster from being healthy; empty when healthy. `running` lists the nodes expected
/// to answer; `observations` holds one entry per running node.
pub fn problems(running: &[u64], observations: &[Observation]) -> Vec<Problem> {
    let mut found = Vec::new();
    // Partition id -> the views of the nodes that host it.
    let mut views: BTreeMap<u32, Vec<View<'_>>> = BTreeMap::new();
    for (node, answer) in observations {
        match answer {
            Err(error) => found.push(Problem::NoAnswer { node: *node, error: error.clone() }),
            Ok(status) => {
                for partition in status.partitions.iter().filter(|partition| hosts(*node, partition)) {
                    let view = View { node: *node, leader: partition.leader, role: &partition.local_role };
                    views.entry(partition.id).or_default().push(view);
                }
            }
        }
    }
    for (partition, view) in views {
        found.extend(partition_problems(partition, &view, running));
    }
    found
}

fn partition_problems(partition: u32, views: &[View<'_>], running: &[u64]) -> Vec<Problem> {
    let mut found: Vec<Problem> = views
        .iter()
        .filter(|view| view.leader.is_none())
        .map(|view| Problem::NoLeader { partition, node: view.node })
        .collect();
    let Some(leader) = views.iter().find_map(|view| view.leader) else {
        return found;
    };
    if views.iter().any(|view| view.leader.is_some_and(|named| named != leader)) {
        let leaders = views.iter().map(|view| (view.node, view.leader)).collect();
        found.push(Problem::Disagreement { partition, leaders });
        return found;
    }
    if !running.contains(&leader) {
        found.push(Problem::LeaderNotRunning { partition, leader });
        return found;
    }
    if let Some(own) = views.iter().find(|view| view.node == leader) {
        if own.role != "leader" {
            found.push(Problem::LeaderDoesNotLead { partition, leader, role: own.role.to_string() });
        }
    }
    found
}

/// What each partition's leader has applied (partition id -> index), from the nodes that say they lead; when two
/// do (one deposed, not yet told), the higher term's.
pub fn leader_applied(observations: &[Observation]) -> BTreeMap<u32, u64> {
    let mut leaders: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for (_, answer) in observations {
        let Ok(status) = answer else { continue };
        for partition in status.partitions.iter().filter(|partition| partition.local_role == "leader") {
            let seen = leaders.entry(partition.id).or_insert((partition.term, partition.last_applied));
            if partition.term > seen.0 {
                *seen = (partition.term, partition.last_applied);
            }
        }
    }
    leaders.into_iter().map(|(partition, (_, applied))| (partition, applied)).collect()
}

/// Every replica that has not applied `targets[partition]` yet, and every node that did not answer.
pub fn catch_up_problems(targets: &BTreeMap<u32, u64>, observations: &[Observation]) -> Vec<Problem> {
    let mut found = Vec::new();
    for (node, answer) in observations {
        let status = match answer {
            Ok(status) => status,
            Err(error) => {
                found.push(Problem::NoAnswer { node: *node, error: error.clone() });
                continue;
            }
        };
        for partition in status.partitions.iter().filter(|partition| hosts(*node, partition)) {
            let Some(&target) = targets.get(&partition.id) else { continue };
            if partition.last_applied < target {
                let (applied, partition) = (partition.last_applied, partition.id);
                found.push(Problem::Behind { partition, node: *node, applied, target });
            }
        }
    }
    found
}

/// Whether `node` holds a replica of the partition, by placement or by its current Raft role.
fn hosts(node: u64, partition: &PartitionStatus) -> bool {
    partition.replicas.contains(&node)
        || partition.voters.contains(&node)
        || partition.learners.contains(&node)
        || matches!(partition.local_role.as_str(), "leader" | "follower" | "candidate" | "learner")
}

/// The first problems, one per line, and how many more there are.
pub fn summarize(problems: &[Problem]) -> String {
    let mut lines: Vec<String> = problems.iter().take(PROBLEMS_SHOWN_MAX).map(ToString::to_string).collect();
    if problems.len() > PROBLEMS_SHOWN_MAX {
        lines.push(format!("… and {} more problems", problems.len() - PROBLEMS_SHOWN_MAX));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's Status answer: `(partition, leader, local_role)` for each partition it hosts.
    fn status(node: u64, partitions: &[(u32, Option<u64>, &str)]) -> Observation {
        let partitions = partitions
            .iter()
            .map(|&(id, leader, role)| PartitionStatus {
                id,
                leader,
                local_role: role.to_string(),
                replicas: vec![1, 2, 3],
                ..PartitionStatus::default()
            })
            .collect();
        (node, Ok(StatusResponse { node_id: node, partitions, ..StatusResponse::default() }))
    }

    fn check(running: &[u64], observations: &[Observation], expected: &[Problem]) {
        assert_eq!(problems(running, observations), expected);
    }

    #[test]
    fn agreeing_running_leaders_are_healthy() {
        let observations = [
            status(1, &[(100, Some(1), "leader"), (200, Some(2), "follower")]),
            status(2, &[(100, Some(1), "follower"), (200, Some(2), "leader")]),
        ];
        check(&[1, 2], &observations, &[]);
    }

    #[test]
    fn a_node_without_a_leader_is_named() {
        let observations = [status(1, &[(100, Some(1), "leader")]), status(2, &[(100, None, "follower")])];
        check(&[1, 2], &observations, &[Problem::NoLeader { partition: 100, node: 2 }]);
    }

    #[test]
    fn disagreement_is_reported_with_every_view() {
        let observations = [status(1, &[(100, Some(1), "leader")]), status(2, &[(100, Some(2), "leader")])];
        let expected = Problem::Disagreement { partition: 100, leaders: vec![(1, Some(1)), (2, Some(2))] };
        check(&[1, 2], &observations, &[expected]);
    }

    #[test]
    fn a_dead_leader_still_named_by_followers_is_not_healthy() {
        let observations = [status(1, &[(100, Some(3), "follower")]), status(2, &[(100, Some(3), "follower")])];
        check(&[1, 2], &observations, &[Problem::LeaderNotRunning { partition: 100, leader: 3 }]);
    }

    #[test]
    fn a_named_leader_must_say_it_leads() {
        let observations = [status(1, &[(100, Some(2), "follower")]), status(2, &[(100, Some(2), "candidate")])];
        let expected = Problem::LeaderDoesNotLead { partition: 100, leader: 2, role: "candidate".to_string() };
        check(&[1, 2], &observations, &[expected]);
    }

    #[test]
    fn a_silent_node_is_named_and_partitions_it_does_not_host_are_ignored() {
        let mut absent = status(1, &[(100, None, "absent")]);
        if let Ok(answer) = &mut absent.1 {
            answer.partitions[0].replicas = vec![2, 3, 4];
        }
        let silent = (2, Err("connection refused".to_string()));
        check(&[1, 2], &[absent, silent], &[Problem::NoAnswer { node: 2, error: "connection refused".to_string() }]);
    }

    /// `status` with `(term, last_applied)` set per partition, in order.
    fn applied(mut observation: Observation, indexes: &[(u64, u64)]) -> Observation {
        if let Ok(answer) = &mut observation.1 {
            for (partition, &(term, last_applied)) in answer.partitions.iter_mut().zip(indexes) {
                partition.term = term;
                partition.last_applied = last_applied;
            }
        }
        observation
    }

    #[test]
    fn a_replica_is_caught_up_once_it_applied_what_its_leader_had() {
        let before = [
            applied(status(1, &[(100, Some(1), "leader"), (200, Some(2), "follower")]), &[(3, 50), (2, 7)]),
            applied(status(2, &[(100, Some(1), "follower"), (200, Some(2), "leader")]), &[(3, 41), (2, 9)]),
            // A deposed leader not yet told: the higher term's leader sets the target.
            applied(status(3, &[(100, Some(3), "leader")]), &[(2, 60)]),
        ];
        let targets = leader_applied(&before);
        assert_eq!(targets, BTreeMap::from([(100, 50), (200, 9)]));
        let expected = vec![
            Problem::Behind { partition: 200, node: 1, applied: 7, target: 9 },
            Problem::Behind { partition: 100, node: 2, applied: 41, target: 50 },
        ];
        assert_eq!(catch_up_problems(&targets, &before[..2]), expected);
        let after = [
            applied(status(1, &[(100, Some(1), "leader"), (200, Some(2), "follower")]), &[(3, 55), (2, 9)]),
            applied(status(2, &[(100, Some(1), "follower"), (200, Some(2), "leader")]), &[(3, 50), (2, 12)]),
        ];
        assert_eq!(catch_up_problems(&targets, &after), vec![]);
        let silent = (2, Err("connection refused".to_string()));
        let problems = catch_up_problems(&targets, &[after[0].clone(), silent]);
        assert_eq!(problems, vec![Problem::NoAnswer { node: 2, error: "connection refused".to_string() }]);
    }

    #[test]
    fn summary_counts_what_it_does_not_show() {
        let many: Vec<Problem> = (0..20).map(|partition| Problem::NoLeader { partition, node: 1 }).collect();
        let summary = summarize(&many);
        assert_eq!(summary.lines().count(), PROBLEMS_SHOWN_MAX + 1);
        assert!(summary.ends_with("… and 8 more problems"), "{summary}");
    }
}
