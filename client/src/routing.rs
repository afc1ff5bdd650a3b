//! The client's partition map cache: which partition holds an ID, who leads it, where its replicas are.
//!
//! Built from a node's `Status` answer and kept current by the leader hints in NOT_LEADER errors. Lookups are a
//! binary search over the partitions' inclusive ID ranges.

use std::collections::BTreeMap;

use dancu_proto::v1::StatusResponse;

use crate::ClientError;

/// Digits in a personal ID.
pub(crate) const ID_DIGITS: usize = 12;

/// One partition as the client routes to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionRoute {
    pub(crate) id: u32,
    /// Inclusive first and last ID of the range (12 digits each, so string order is numeric order).
    pub(crate) range_start: String,
    pub(crate) range_end: String,
    /// The last leader this client heard of.
    pub(crate) leader: Option<u64>,
    pub(crate) preferred_leader: u64,
    /// Nodes holding a replica: placement plus any voters and learners the node reported.
    pub(crate) replicas: Vec<u64>,
}

/// Where a request should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Writes and LINEARIZABLE / READ_INDEX reads: the leader.
    Leader,
    /// FOLLOWER / STALE reads: any replica, the caller's first endpoint preferred.
    Replica,
}

/// The partition map and node addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RoutingTable {
    /// Sorted by `range_start`, ranges disjoint.
    partitions: Vec<PartitionRoute>,
    /// Partition id → index in `partitions`.
    partition_idx_by_id: BTreeMap<u32, usize>,
    /// Node id → `host:port`.
    nodes: BTreeMap<u64, String>,
    /// The node behind the first endpoint the caller gave, when known: FOLLOWER and STALE reads go there.
    pub(crate) first_node: Option<u64>,
}

/// Checks that `id` is 12 ASCII digits.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.len() == ID_DIGITS && id.bytes().all(|byte| byte.is_ascii_digit()) {
        return Ok(());
    }
    Err(format!("a personal ID is {ID_DIGITS} digits, got {:?}", truncate_for_message(id)))
}

/// Bad input can be arbitrarily long; error messages quote at most this much of it.
fn truncate_for_message(text: &str) -> String {
    const QUOTE_CHARS_MAX: usize = 40;
    if text.chars().count() <= QUOTE_CHARS_MAX {
        return text.to_string();
    }
    let head: String = text.chars().take(QUOTE_CHARS_MAX).collect();
    format!("{head}…")
}

impl RoutingTable {
    /// Builds the table from a node's status. `answered_via` is the address the status came from: it replaces
    /// the answering node's advertised address, because it is the one known to be reachable from here.
    pub(crate) fn from_status(status: &StatusResponse, answered_via: &str) -> Result<RoutingTable, ClientError> {
        let mut nodes: BTreeMap<u64, String> = status.nodes.iter().map(|node| (node.id, node.addr.clone())).collect();
        nodes.insert(status.node_id, answered_via.to_string());
        let partitions = status
            .partitions
            .iter()
            .map(|partition| {
                let mut replicas = partition.replicas.clone();
                for node in partition.voters.iter().chain(&partition.learners) {
                    if !replicas.contains(node) {
                        replicas.push(*node);
                    }
                }
                PartitionRoute {
                    id: partition.id,
                    range_start: partition.range_start.clone(),
                    range_end: partition.range_end.clone(),
                    leader: partition.leader,
                    preferred_leader: partition.preferred_leader,
                    replicas,
                }
            })
            .collect();
        RoutingTable::new(partitions, nodes)
    }

    /// Builds a table, checking that ranges are well formed and disjoint.
    pub(crate) fn new(
        mut partitions: Vec<PartitionRoute>,
        nodes: BTreeMap<u64, String>,
    ) -> Result<RoutingTable, ClientError> {
        partitions.sort_by(|a, b| a.range_start.cmp(&b.range_start));
        for partition in &partitions {
            let bounds_ok = check_id(&partition.range_start).is_ok() && check_id(&partition.range_end).is_ok();
            if !bounds_ok || partition.range_start > partition.range_end {
                return Err(ClientError::Config(format!(
                    "partition {} has a malformed range {}..={}",
                    partition.id, partition.range_start, partition.range_end
                )));
            }
        }
        for pair in partitions.windows(2) {
            if pair[0].range_end >= pair[1].range_start {
                return Err(ClientError::Config(format!("partitions {} and {} overlap", pair[0].id, pair[1].id)));
            }
        }
        let partition_idx_by_id = partitions.iter().enumerate().map(|(idx, p)| (p.id, idx)).collect();
        Ok(RoutingTable { partitions, partition_idx_by_id, nodes, first_node: None })
    }

    /// The partition holding `id`; `field` names the ID in the error (`id`, `ids[3]`, `citizen.id`).
    pub(crate) fn lookup(&self, id: &str, field: &str) -> Result<&PartitionRoute, ClientError> {
        check_id(id).map_err(|message| ClientError::invalid(field, message))?;
        // The last partition starting at or before `id`; it holds `id` if its range reaches that far.
        let after_idx = self.partitions.partition_point(|p| p.range_start.as_str() <= id);
        let candidate = after_idx.checked_sub(1).map(|idx| &self.partitions[idx]);
        match candidate {
            Some(partition) if id <= partition.range_end.as_str() => Ok(partition),
            _ => Err(ClientError::invalid(field, "no partition holds this ID (unknown province code?)")),
        }
    }

    pub(crate) fn partition(&self, partition_id: u32) -> Option<&PartitionRoute> {
        self.partition_idx_by_id.get(&partition_id).map(|idx| &self.partitions[*idx])
    }

    pub(crate) fn node_addr(&self, node_id: u64) -> Option<&str> {
        self.nodes.get(&node_id).map(String::as_str)
    }

    /// Every known node id, in order.
    pub(crate) fn node_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.nodes.keys().copied()
    }

    /// Every known node address, in node id order.
    pub(crate) fn node_addrs(&self) -> impl Iterator<Item = &str> {
        self.nodes.values().map(String::as_str)
    }

    /// The node id behind `addr`, if a node advertises exactly that address.
    pub(crate) fn node_with_addr(&self, addr: &str) -> Option<u64> {
        self.nodes.iter().find(|(_, node_addr)| node_addr.as_str() == addr).map(|(id, _)| *id)
    }

    /// Records a leader hint. An address is only learned for nodes the table does not know yet: a known node's
    /// address may have been replaced by the one the caller reaches it through.
    pub(crate) fn set_leader(&mut self, partition_id: u32, leader: Option<u64>, leader_addr: &str) {
        if let Some(idx) = self.partition_idx_by_id.get(&partition_id) {
            self.partitions[*idx].leader = leader;
        }
        if let Some(leader) = leader {
            if !leader_addr.is_empty() {
                self.nodes.entry(leader).or_insert_with(|| leader_addr.to_string());
            }
        }
    }
}

/// Chooses the node for one attempt, skipping nodes for which `avoid` is true. `round_robin` spreads replica
/// reads when the first endpoint is not a replica. Returns `None` when every candidate is avoided.
pub(crate) fn pick_node(
    route: &PartitionRoute,
    target: Target,
    first_node: Option<u64>,
    round_robin: usize,
    avoid: impl Fn(u64) -> bool,
) -> Option<u64> {
    match target {
        Target::Leader => {
            let preferred = [route.leader, Some(route.preferred_leader).filter(|id| *id != 0)];
            let candidates = preferred.into_iter().flatten().chain(route.replicas.iter().copied());
            candidates.into_iter().find(|node| !avoid(*node))
        }
        Target::Replica => {
            if let Some(first) = first_node.filter(|first| route.replicas.contains(first) && !avoid(*first)) {
                return Some(first);
            }
            let usable: Vec<u64> = route.replicas.iter().copied().filter(|node| !avoid(*node)).collect();
            if usable.is_empty() {
                return None;
            }
            Some(usable[round_robin % usable.len()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: u32, start: &str, end: &str) -> PartitionRoute {
        PartitionRoute {
            id,
            range_start: start.to_string(),
            range_end: end.to_string(),
            leader: None,
            preferred_leader: 1,
            replicas: vec![1, 2, 3],
        }
    }

    fn table() -> RoutingTable {
        let partitions = vec![
            route(7900, "079000000000", "079299999999"),
            route(100, "001000000000", "001999999999"),
            route(7901, "079300000000", "079999999999"),
            route(200, "002000000000", "002999999999"),
        ];
        let nodes = (1..=3).map(|id| (id, format!("10.0.0.{id}:7000"))).collect();
        RoutingTable::new(partitions, nodes).expect("a well-formed table")
    }

    /// One helper for every lookup case: `expected` is the partition id, or the error text.
    fn check(id: &str, expected: Result<u32, &str>) {
        let table = table();
        let got = table.lookup(id, "id").map(|route| route.id).map_err(|error| error.to_string());
        assert_eq!(got, expected.map_err(str::to_string), "lookup of {id:?}");
    }

    #[test]
    fn lookup_finds_the_partition() {
        check("001000000000", Ok(100));
        check("001085012345", Ok(100));
        check("001999999999", Ok(100));
        check("002300012345", Ok(200));
        check("079000000000", Ok(7900));
        check("079299999999", Ok(7900));
        check("079300000000", Ok(7901));
        check("079999999999", Ok(7901));
    }

    #[test]
    fn lookup_rejects_bad_ids() {
        let no_partition = "invalid argument: id: no partition holds this ID (unknown province code?)";
        check("000999999999", Err(no_partition));
        check("003000000000", Err(no_partition));
        check("096000000000", Err(no_partition));
        check("00108501234", Err("invalid argument: id: a personal ID is 12 digits, got \"00108501234\""));
        check("00108501234x", Err("invalid argument: id: a personal ID is 12 digits, got \"00108501234x\""));
        check("", Err("invalid argument: id: a personal ID is 12 digits, got \"\""));
        check("٠٠١٠٨٥٠١٢٣٤٥", Err("invalid argument: id: a personal ID is 12 digits, got \"٠٠١٠٨٥٠١٢٣٤٥\""));
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let partitions = vec![route(1, "001000000000", "001999999999"), route(2, "001500000000", "002999999999")];
        let error = RoutingTable::new(partitions, BTreeMap::new()).unwrap_err();
        assert_eq!(error.to_string(), "configuration: partitions 1 and 2 overlap");
    }

    #[test]
    fn leader_hint_updates_the_cache() {
        let mut table = table();
        table.set_leader(100, Some(4), "10.0.0.4:7000");
        assert_eq!(table.partition(100).map(|p| p.leader), Some(Some(4)));
        assert_eq!(table.node_addr(4), Some("10.0.0.4:7000"));
        // A hint never overwrites an address the table already has.
        table.set_leader(100, Some(1), "elsewhere:1");
        assert_eq!(table.node_addr(1), Some("10.0.0.1:7000"));
    }

    #[test]
    fn pick_prefers_leader_then_preferred_then_replicas() {
        let mut partition = route(100, "001000000000", "001999999999");
        partition.preferred_leader = 2;
        assert_eq!(pick_node(&partition, Target::Leader, None, 0, |_| false), Some(2));
        partition.leader = Some(3);
        assert_eq!(pick_node(&partition, Target::Leader, None, 0, |_| false), Some(3));
        assert_eq!(pick_node(&partition, Target::Leader, None, 0, |node| node == 3), Some(2));
        assert_eq!(pick_node(&partition, Target::Leader, None, 0, |node| node != 1), Some(1));
        assert_eq!(pick_node(&partition, Target::Leader, None, 0, |_| true), None);
    }

    #[test]
    fn pick_replica_prefers_first_endpoint() {
        let partition = route(100, "001000000000", "001999999999");
        assert_eq!(pick_node(&partition, Target::Replica, Some(3), 0, |_| false), Some(3));
        assert_eq!(pick_node(&partition, Target::Replica, Some(3), 1, |node| node == 3), Some(2));
        // Not a replica: round-robin over the replicas.
        let picks: Vec<_> =
            (0..3).filter_map(|rr| pick_node(&partition, Target::Replica, Some(9), rr, |_| false)).collect();
        assert_eq!(picks, vec![1, 2, 3]);
    }
}
