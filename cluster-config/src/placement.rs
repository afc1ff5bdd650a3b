//! Which nodes hold each partition's replicas; the rule is documented on [`ClusterConfig::partition_map`].

use std::collections::{BTreeMap, BTreeSet};

use crate::partition_map::PartitionRange;
use crate::{ClusterConfig, DatacenterKind, NodeId, PlacementConfig};

/// The nodes of a validated configuration, grouped the ways placement looks them up.
struct Topology<'a> {
    /// Every node with its datacenter, by id.
    nodes: Vec<(NodeId, &'a str)>,
    /// Nodes of central datacenters, by id.
    central: Vec<NodeId>,
    /// Province code → nodes of the provincial datacenter serving it, by id.
    home: BTreeMap<&'a str, Vec<NodeId>>,
}

/// The replica set of every range, preferred leader first, in the order of `ranges`.
///
/// Two passes: first every partition's fixed choices (overrides, home, central), then the fill, so the fill
/// balances against the whole map's fixed load rather than only the partitions before it.
pub(crate) fn place(config: &ClusterConfig, ranges: &[PartitionRange]) -> Vec<Vec<NodeId>> {
    let topology = Topology::new(config);
    let overrides: BTreeMap<u32, &PlacementConfig> =
        config.partitions.placement.iter().rev().map(|placement| (placement.partition, placement)).collect();
    let replicas = usize::from(config.partitions.replicas);
    let mut replica_sets: Vec<Vec<NodeId>> = ranges
        .iter()
        .enumerate()
        .map(|(ordinal, range)| match overrides.get(&range.id.0) {
            Some(placement) => placed_by_hand(placement),
            None => topology.home_and_central(ordinal, range.province.code),
        })
        .collect();
    // Replicas per node so far, so the fill spreads storage and traffic evenly.
    let mut n_replicas_by_node: BTreeMap<NodeId, usize> = BTreeMap::new();
    for &node in replica_sets.iter().flatten() {
        *n_replicas_by_node.entry(node).or_insert(0) += 1;
    }
    for (ordinal, replica_set) in replica_sets.iter_mut().enumerate() {
        let n_fixed = replica_set.len();
        topology.fill(replica_set, ordinal, replicas, &n_replicas_by_node);
        for &node in &replica_set[n_fixed..] {
            *n_replicas_by_node.entry(node).or_insert(0) += 1;
        }
        assert_eq!(replica_set.len(), replicas, "partition {} is not fully placed", ranges[ordinal].id);
    }
    replica_sets
}

/// The audit group's replicas, preferred leader first: the first central node, then the fill (other datacenters
/// first), so losing one datacenter leaves the group a quorum wherever partitions have one.
pub(crate) fn audit_group(config: &ClusterConfig) -> Vec<NodeId> {
    let topology = Topology::new(config);
    let mut chosen: Vec<NodeId> = topology.central.first().copied().into_iter().collect();
    topology.fill(&mut chosen, 0, usize::from(config.partitions.replicas), &BTreeMap::new());
    chosen
}

/// The override's nodes with the preferred leader moved to the front.
fn placed_by_hand(placement: &PlacementConfig) -> Vec<NodeId> {
    let leader = placement.preferred_leader.unwrap_or(placement.nodes[0]);
    let others = placement.nodes.iter().copied().filter(|&node| node != leader);
    std::iter::once(leader).chain(others).collect()
}

impl<'a> Topology<'a> {
    fn new(config: &'a ClusterConfig) -> Self {
        let mut nodes: Vec<(NodeId, &str)> = config.nodes.iter().map(|node| (node.id, node.dc.as_str())).collect();
        nodes.sort_unstable();
        let nodes_of_dc = |dc_name: &str| -> Vec<NodeId> {
            nodes.iter().filter(|(_, dc)| *dc == dc_name).map(|(id, _)| *id).collect()
        };
        let mut central = Vec::new();
        let mut home = BTreeMap::new();
        for dc in &config.datacenters {
            match dc.kind {
                DatacenterKind::Central => central.extend(nodes_of_dc(&dc.name)),
                DatacenterKind::Provincial => {
                    for code in &dc.provinces {
                        home.entry(code.as_str()).or_insert_with(|| nodes_of_dc(&dc.name));
                    }
                }
            }
        }
        central.sort_unstable();
        Topology { nodes, central, home }
    }

    /// The home node (if the province has a home) then a central node (if there is one), rotated by ordinal.
    fn home_and_central(&self, ordinal: usize, province_code: &str) -> Vec<NodeId> {
        let mut chosen = Vec::new();
        if let Some(home_nodes) = self.home.get(province_code) {
            push_rotated(&mut chosen, home_nodes, ordinal);
        }
        push_rotated(&mut chosen, &self.central, ordinal);
        chosen
    }

    /// Completes `chosen` with the least-loaded nodes, one from each datacenter not used yet before reusing one;
    /// ties go to the first node by id counting from `ordinal % n`.
    fn fill(
        &self,
        chosen: &mut Vec<NodeId>,
        ordinal: usize,
        replicas: usize,
        n_replicas_by_node: &BTreeMap<NodeId, usize>,
    ) {
        let n_nodes = self.nodes.len();
        let rotated = || (0..n_nodes).map(|step| self.nodes[(ordinal + step) % n_nodes]);
        let load = |id: &NodeId| n_replicas_by_node.get(id).copied().unwrap_or(0);
        for spread_over_dcs in [true, false] {
            while chosen.len() < replicas {
                let used_dcs: BTreeSet<&str> =
                    rotated().filter(|(id, _)| chosen.contains(id)).map(|(_, dc)| dc).collect();
                let dc_allowed = |dc: &str| !spread_over_dcs || !used_dcs.contains(dc);
                let candidates = rotated().filter(|(id, dc)| !chosen.contains(id) && dc_allowed(dc));
                // `min_by_key` keeps the first of equal keys, so ties follow the rotation.
                let Some((id, _)) = candidates.min_by_key(|(id, _)| load(id)) else {
                    break;
                };
                chosen.push(id);
            }
        }
    }
}

/// Pushes the first node not chosen yet, starting at `ordinal % n` and wrapping.
fn push_rotated(chosen: &mut Vec<NodeId>, candidates: &[NodeId], ordinal: usize) {
    let n_candidates = candidates.len();
    let next =
        (0..n_candidates).map(|step| candidates[(ordinal + step) % n_candidates]).find(|id| !chosen.contains(id));
    chosen.extend(next);
}
