//! Rules on `[partitions]`: replica count, splits and placement overrides.

use std::collections::BTreeMap;

use super::Report;
use crate::limits::{REPLICAS_ALLOWED, SPLIT_POINTS_PER_PROVINCE_MAX};
use crate::partition_map::partition_ids;
use crate::provinces::{self, Province};
use crate::{personal_id, ClusterConfig, PlacementConfig, SplitConfig};

pub(super) fn check(config: &ClusterConfig, report: &mut Report) {
    let replicas = config.partitions.replicas;
    let replicas_ok = REPLICAS_ALLOWED.contains(&replicas);
    if !replicas_ok {
        report.add(
            "partitions.replicas",
            format!("must be {} or {}, found {replicas}", REPLICAS_ALLOWED[0], REPLICAS_ALLOWED[1]),
        );
    } else if config.nodes.len() < usize::from(replicas) {
        let message = format!("{replicas} replicas need at least {replicas} nodes, found {}", config.nodes.len());
        report.add("partitions.replicas", message);
    }
    check_splits(&config.partitions.splits, report);
    check_placements(config, replicas_ok, report);
}

fn check_splits(splits: &[SplitConfig], report: &mut Report) {
    for (split_idx, split) in splits.iter().enumerate() {
        let path = format!("partitions.splits[{split_idx}]");
        let province = provinces::province(&split.province);
        if province.is_none() {
            report.add(format!("{path}.province"), format!("unknown province code {:?}", split.province));
        } else if let Some(first_idx) = splits[..split_idx].iter().position(|s| s.province == split.province) {
            let message = format!("province {} is already split by partitions.splits[{first_idx}]", split.province);
            report.add(format!("{path}.province"), message);
        }
        if split.at.is_empty() {
            report.add(format!("{path}.at"), "at least one split point is required");
        } else if split.at.len() > SPLIT_POINTS_PER_PROVINCE_MAX {
            let message =
                format!("at most {SPLIT_POINTS_PER_PROVINCE_MAX} split points per province, found {}", split.at.len());
            report.add(format!("{path}.at"), message);
        }
        check_split_points(&path, split, province, report);
    }
}

/// Each point must parse, fall inside the province above its first ID, and exceed the previous good point.
fn check_split_points(path: &str, split: &SplitConfig, province: Option<&Province>, report: &mut Report) {
    let mut previous: Option<&str> = None;
    for (point_idx, point) in split.at.iter().enumerate() {
        let point_path = format!("{path}.at[{point_idx}]");
        let Some(value) = personal_id::parse(point) else {
            report.add(point_path, format!("{point:?} is not a 12-digit personal ID"));
            continue;
        };
        if let Some(province) = province {
            let start = personal_id::province_start(province.code_number());
            let end = personal_id::province_end(province.code_number());
            let (start_text, end_text) = (personal_id::format(start), personal_id::format(end));
            if !(start..=end).contains(&value) {
                let message = format!("{point} is outside province {} ({start_text} to {end_text})", province.code);
                report.add(point_path, message);
                continue;
            }
            if value == start {
                let message =
                    format!("{point} is the start of province {}, so the first range would be empty", province.code);
                report.add(point_path, message);
                continue;
            }
        }
        if let Some(previous) = previous.filter(|previous| point.as_str() <= *previous) {
            report.add(point_path, format!("{point} must be greater than the previous split point {previous}"));
            continue;
        }
        previous = Some(point);
    }
}

fn check_placements(config: &ClusterConfig, replicas_ok: bool, report: &mut Report) {
    let known_ids = partition_ids(&config.partitions.splits);
    let mut placed: BTreeMap<u32, usize> = BTreeMap::new();
    for (placement_idx, placement) in config.partitions.placement.iter().enumerate() {
        let path = format!("partitions.placement[{placement_idx}]");
        let partition = placement.partition;
        if !known_ids.iter().any(|id| id.0 == partition) {
            report.add(format!("{path}.partition"), format!("no partition {partition} in the partition map"));
        } else if let Some(first_idx) = placed.get(&partition) {
            let message = format!("partition {partition} is already placed by partitions.placement[{first_idx}]");
            report.add(format!("{path}.partition"), message);
        } else {
            placed.insert(partition, placement_idx);
        }
        let replicas = usize::from(config.partitions.replicas);
        if replicas_ok && placement.nodes.len() != replicas {
            let message = format!("expected {replicas} nodes (partitions.replicas), found {}", placement.nodes.len());
            report.add(format!("{path}.nodes"), message);
        }
        check_placement_nodes(config, &path, placement, report);
    }
}

fn check_placement_nodes(config: &ClusterConfig, path: &str, placement: &PlacementConfig, report: &mut Report) {
    for (node_idx, &node) in placement.nodes.iter().enumerate() {
        let node_path = format!("{path}.nodes[{node_idx}]");
        if config.node(node).is_none() {
            report.add(node_path, format!("unknown node {node}"));
        } else if placement.nodes[..node_idx].contains(&node) {
            report.add(node_path, format!("duplicate node {node}"));
        }
    }
    if let Some(leader) = placement.preferred_leader.filter(|leader| !placement.nodes.contains(leader)) {
        report.add(format!("{path}.preferred_leader"), format!("node {leader} is not one of the placement's nodes"));
    }
}
