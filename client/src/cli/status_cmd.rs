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
    nodes: Vec<NodeJson<'a>>,
    partitions: Vec<PartitionJson<'a>>,
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
        .map(|node| NodeJson {
            id: node.id,
            addr: &node.addr,
            dc: &node.dc,
            metrics_addr: Some(node.metrics_addr.as_str()).filter(|addr| !addr.is_empty()),
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
        })
        .collect();
    StatusJson { node_id: status.node_id, nodes, partitions }
}

fn status_table(status: &StatusResponse) -> String {
    let node_rows: Vec<Vec<String>> = status
        .nodes
        .iter()
        .map(|node| {
            let metrics = if node.metrics_addr.is_empty() { "-".to_string() } else { node.metrics_addr.clone() };
            vec![node.id.to_string(), node.addr.clone(), node.dc.clone(), metrics]
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
                join_ids(&partition.voters),
                join_ids(&partition.learners),
                join_ids(&partition.replicas),
                partition.preferred_leader.to_string(),
            ]
        })
        .collect();
    let n_with_leader = status.partitions.iter().filter(|partition| partition.leader.is_some()).count();
    format!(
        "answered by node {}\n\n{}\n{}{}, {n_with_leader} with a leader\n",
        status.node_id,
        render(&["NODE", "ADDR", "DC", "METRICS"], &node_rows),
        render(
            &[
                "PARTITION",
                "PROVINCE",
                "RANGE",
                "LEADER",
                "TERM",
                "APPLIED",
                "ROLE",
                "VOTERS",
                "LEARNERS",
                "REPLICAS",
                "PREFERRED",
            ],
            &partition_rows
        ),
        plural(status.partitions.len(), "partition"),
    )
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
                    ..Default::default()
                },
                PartitionStatus { id: 200, province_code: "002".to_string(), ..Default::default() },
            ],
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
    }

    #[test]
    fn table_ends_with_summary() {
        let text = status_table(&sample());
        assert!(text.ends_with("2 partitions, 1 with a leader\n"), "{text}");
        assert!(text.contains("001 Hà Nội"), "{text}");
    }
}
