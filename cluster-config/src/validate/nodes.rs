//! Rules on `[[nodes]]`: ids, addresses and datacenter references.

use std::collections::BTreeMap;

use super::address::address_problem;
use super::Report;
use crate::ClusterConfig;

pub(super) fn check(config: &ClusterConfig, report: &mut Report) {
    if config.nodes.is_empty() {
        report.add("nodes", "at least one node is required");
    }
    check_ids(config, report);
    check_addresses(config, report);
    for (node_idx, node) in config.nodes.iter().enumerate() {
        if !config.datacenters.iter().any(|dc| dc.name == node.dc) {
            report.add(format!("nodes[{node_idx}].dc"), format!("unknown datacenter {:?}", node.dc));
        }
    }
}

fn check_ids(config: &ClusterConfig, report: &mut Report) {
    for (node_idx, node) in config.nodes.iter().enumerate() {
        let path = format!("nodes[{node_idx}].id");
        if node.id == 0 {
            report.add(path, "node id must be non-zero");
        } else if config.nodes[..node_idx].iter().any(|earlier| earlier.id == node.id) {
            report.add(path, format!("duplicate id {}", node.id));
        }
    }
}

/// gRPC addresses first, so a metrics address that repeats one is the one reported.
fn check_addresses(config: &ClusterConfig, report: &mut Report) {
    let mut first_use: BTreeMap<&str, String> = BTreeMap::new();
    let grpc = config.nodes.iter().enumerate().map(|(node_idx, node)| (format!("nodes[{node_idx}].addr"), &node.addr));
    let metrics = config.nodes.iter().enumerate().filter_map(|(node_idx, node)| {
        node.metrics_addr.as_ref().map(|addr| (format!("nodes[{node_idx}].metrics_addr"), addr))
    });
    for (path, addr) in grpc.chain(metrics) {
        if let Some(problem) = address_problem(addr) {
            report.add(path, problem);
        } else if let Some(first_path) = first_use.get(addr.as_str()) {
            report.add(path, format!("duplicate address {addr:?} (also {first_path})"));
        } else {
            first_use.insert(addr, path);
        }
    }
}
