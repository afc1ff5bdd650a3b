//! `dancuctl status`: the cluster as one node sees it.

use dancu_proto::v1::StatusResponse;
use serde::Serialize;

use super::config_cmd::{province_label, NodeJson};
use super::table::{join_ids, render};
use super::{plural, to_json, Failure, GlobalArgs, OutputFormat};

/// `status --output json`.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    /// The node that answered.
    node_id: u64,
    /// The cluster's identity (32 hex digits); the client pins it.
    cluster_id: &'a str,
    /// The answering node came back with an empty data dir and waits for `dancuctl node re-add`.
    awaiting_readd: bool,
    /// Leader changes the answering node saw in its groups since its process started (0 in a healthy cluster).
    leader_changes: u64,
    /// Writes the answering node refused as overloaded (RESOURCE_EXHAUSTED) since its process started.
    writes_refused: u64,
    /// Heartbeats the answering node's leaders sent that were answered later than the heartbeat interval.
    late_heartbeats: u64,
    nodes: Vec<StatusNodeJson<'a>>,
    partitions: Vec<PartitionJson<'a>>,
}

#[derive(Debug, Serialize)]
struct StatusNodeJson<'a> {
    #[serde(flatten)]
    node: NodeJson<'a>,
    /// "self", "ok", "unreachable", "foreign" or "unknown", as the answering node last found it.
    health: &'a str,
    /// With health "foreign": the other cluster's id.
    foreign_cluster_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct PartitionJson<'a> {
    id: u32,
    province_code: &'a str,
    range_start: &'a str,
    range_end: &'a str,
    leader: Option<u64>,
    voters: &'a [u64],
    learners: &'a [u64],
    term: u64,
    last_applied: u64,
    preferred_leader: u64,
    local_role: &'a str,
    replicas: &'a [u64],
    /// "led", "no_leader", "not_founded" or "not_hosted".
    availability: &'a str,
    /// Leader changes the answering node saw in this group since its process started.
    leader_changes: u64,
}

pub(crate) async fn run(global: &GlobalArgs) -> Result<String, Failure> {
    let client = global.connect().await?;
    let status = client.status().await?;
    match global.output {
        OutputFormat::Json => to_json(&status_json(&status)),
        OutputFormat::Table => Ok(status_table(&status)),
    }
}

fn status_json(status: &StatusResponse) -> StatusJson<'_> {
    let nodes = status
        .nodes
        .iter()
        .map(|node| StatusNodeJson {
            node: NodeJson {
                id: node.id,
                addr: &node.addr,
                dc: &node.dc,
                metrics_addr: Some(node.metrics_addr.as_str()).filter(|addr| !addr.is_empty()),
            },
            health: &node.health,
            foreign_cluster_id: Some(node.foreign_cluster_id.as_str()).filter(|id| !id.is_empty()),
        })
        .collect();
    let partitions = status
        .partitions
        .iter()
        .map(|partition| PartitionJson {
            id: partition.id,
            province_code: &partition.province_code,
            range_start: &partition.range_start,
            range_end: &partition.range_end,
            leader: partition.leader,
            voters: &partition.voters,
            learners: &partition.learners,
            term: partition.term,
            last_applied: partition.last_applied,
            preferred_leader: partition.preferred_leader,
            local_role: &partition.local_role,
            replicas: &partition.replicas,
            availability: &partition.availability,
            leader_changes: partition.leader_changes,
        })
        .collect();
    StatusJson {
        node_id: status.node_id,
        cluster_id: &status.cluster_id,
        awaiting_readd: status.awaiting_readd,
        leader_changes: status.leader_changes,
        writes_refused: status.writes_refused,
        late_heartbeats: status.late_heartbeats,
        nodes,
        partitions,
    }
}

fn status_table(status: &StatusResponse) -> String {
    let node_rows: Vec<Vec<String>> = status
        .nodes
        .iter()
        .map(|node| {
            let metrics = if node.metrics_addr.is_empty() { "-".to_string() } else { node.metrics_addr.clone() };
            let health = if node.foreign_cluster_id.is_empty() {
                node.health.clone()
            } else {
                format!("{} (cluster {})", node.health, node.foreign_cluster_id)
            };
            vec![node.id.to_string(), node.addr.clone(), node.dc.clone(), metrics, health]
        })
        .collect();
    let partition_rows: Vec<Vec<String>> = status
        .partitions
        .iter()
        .map(|partition| {
            vec![
                partition.id.to_string(),
                province_label(&partition.province_code),
                format!("{}..={}", partition.range_start, partition.range_end),
                partition.leader.map_or_else(|| "-".to_string(), |leader| leader.to_string()),
                partition.term.to_string(),
                partition.last_applied.to_string(),
                partition.local_role.clone(),
                partition.availability.clone(),
                join_ids(&partition.voters),
                join_ids(&partition.learners),
                join_ids(&partition.replicas),
                partition.preferred_leader.to_string(),
            ]
        })
        .collect();
    let n_with_leader = status.partitions.iter().filter(|partition| partition.leader.is_some()).count();
    format!(
        "answered by node {} of cluster {}{}\n\n{}\n{}since node {} started: {}, {}, {} refused as overloaded\n\
         {}, {n_with_leader} with a leader{}\n{}",
        status.node_id,
        status.cluster_id,
        if status.awaiting_readd { " (awaiting re-add: run `dancuctl node re-add`)" } else { "" },
        render(&["NODE", "ADDR", "DC", "METRICS", "HEALTH"], &node_rows),
        render(
            &[
                "PARTITION",
                "PROVINCE",
                "RANGE",
                "LEADER",
                "TERM",
                "APPLIED",
                "ROLE",
                "AVAILABILITY",
                "VOTERS",
                "LEARNERS",
                "REPLICAS",
                "PREFERRED",
            ],
            &partition_rows
        ),
        status.node_id,
        plural(usize::try_from(status.leader_changes).unwrap_or(usize::MAX), "leader change"),
        plural(usize::try_from(status.late_heartbeats).unwrap_or(usize::MAX), "late heartbeat"),
        plural(usize::try_from(status.writes_refused).unwrap_or(usize::MAX), "write"),
        plural(status.partitions.len(), "partition"),
        unavailable_summary(status),
        foreign_warnings(status),
    )
}

/// ", N not founded, M without a leader" for partitions that cannot serve, or nothing.
fn unavailable_summary(status: &StatusResponse) -> String {
    let count = |state: &str| status.partitions.iter().filter(|partition| partition.availability == state).count();
    let mut text = String::new();
    let not_founded = count("not_founded");
    if not_founded > 0 {
        text.push_str(&format!(", {not_founded} not founded (their founder has not started in this cluster)"));
    }
    let no_leader = count("no_leader");
    if no_leader > 0 {
        text.push_str(&format!(", {no_leader} without a leader"));
    }
    text
}

/// One line per node that belongs to another cluster.
fn foreign_warnings(status: &StatusResponse) -> String {
    status
        .nodes
        .iter()
        .filter(|node| node.health == "foreign")
        .map(|node| {
            format!(
                "warning: node {} at {} belongs to another cluster ({}): its messages are refused\n",
                node.id, node.addr, node.foreign_cluster_id
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dancu_proto::v1::{NodeStatus, PartitionStatus};

    fn sample() -> StatusResponse {
        StatusResponse {
            node_id: 1,
            nodes: vec![NodeStatus {
                id: 1,
                addr: "127.0.0.1:7101".to_string(),
                dc: "hn".to_string(),
                ..Default::default()
            }],
            partitions: vec![
                PartitionStatus {
                    id: 100,
                    province_code: "001".to_string(),
                    range_start: "001000000000".to_string(),
                    range_end: "001999999999".to_string(),
                    leader: Some(1),
                    voters: vec![1],
                    local_role: "leader".to_string(),
                    replicas: vec![1],
                    preferred_leader: 1,
                    leader_changes: 2,
                    ..Default::default()
                },
                PartitionStatus {
                    id: 200,
                    province_code: "002".to_string(),
                    availability: "not_founded".to_string(),
                    ..Default::default()
                },
            ],
            cluster_id: "0123456789abcdef0123456789abcdef".to_string(),
            leader_changes: 2,
            writes_refused: 7,
            late_heartbeats: 1,
            ..Default::default()
        }
    }

    #[test]
    fn json_shape() {
        let value = serde_json::to_value(status_json(&sample())).expect("serializable");
        assert_eq!(value["node_id"], 1);
        assert_eq!(value["nodes"][0]["metrics_addr"], serde_json::Value::Null);
        assert_eq!(value["partitions"][0]["leader"], 1);
        assert_eq!(value["partitions"][1]["leader"], serde_json::Value::Null);
        assert_eq!(value["partitions"][0]["range_end"], "001999999999");
        assert_eq!(value["partitions"][0]["leader_changes"], 2);
        assert_eq!((value["leader_changes"].clone(), value["writes_refused"].clone()), (2.into(), 7.into()));
        assert_eq!(value["late_heartbeats"], 1);
    }

    #[test]
    fn table_ends_with_summary() {
        let text = status_table(&sample());
        assert!(
            text.ends_with(
                "since node 1 started: 2 leader changes, 1 late heartbeat, 7 writes refused as overloaded\n\
                 2 partitions, 1 with a leader, 1 not founded (their founder has not started in this cluster)\n"
            ),
            "{text}"
        );
        assert!(text.contains("001 Hà Nội"), "{text}");
    }
}
