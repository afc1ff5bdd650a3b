//! The partition map: which contiguous range of personal IDs each partition owns, and where its replicas live.

use std::iter;

use crate::limits::{PARTITIONS_PER_PROVINCE_MAX, PARTITION_ID_PROVINCE_STRIDE};
use crate::provinces::{Province, PROVINCES};
use crate::{personal_id, placement, ClusterConfig, NodeId, PartitionId, SplitConfig, ValidationErrors};

/// One partition: a Raft group owning the IDs `range_start..=range_end` of one province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec {
    /// Province code number × 100 + split index.
    pub id: PartitionId,
    /// Three-digit province code, e.g. `"001"`.
    pub province_code: String,
    /// First ID of the range (inclusive), 12 digits, e.g. `"001000000000"`.
    pub range_start: String,
    /// Last ID of the range (inclusive), 12 digits, e.g. `"001999999999"`.
    pub range_end: String,
    /// The nodes holding a replica, `partitions.replicas` of them, preferred leader first.
    pub replicas: Vec<NodeId>,
    /// The node that should lead this partition when it is healthy.
    pub preferred_leader: NodeId,
}

impl PartitionSpec {
    /// Whether the ID falls inside this partition's range (false unless it is 12 ASCII digits).
    pub fn contains(&self, personal_id: &str) -> bool {
        is_personal_id(personal_id)
            && self.range_start.as_str() <= personal_id
            && personal_id <= self.range_end.as_str()
    }
}

/// Every partition of the cluster, sorted by `range_start` (which is also the order of ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMap {
    /// The partitions, sorted, ranges contiguous within a province and never overlapping.
    pub partitions: Vec<PartitionSpec>,
}

impl PartitionMap {
    /// The partition owning this personal ID; `None` if it is not 12 ASCII digits or its province code does not
    /// exist.
    pub fn partition_for(&self, personal_id: &str) -> Option<&PartitionSpec> {
        if !is_personal_id(personal_id) {
            return None;
        }
        // 12-digit strings order like the numbers they spell, so the ranges can be searched as text.
        let after_idx = self.partitions.partition_point(|spec| spec.range_start.as_str() <= personal_id);
        let spec = self.partitions.get(after_idx.checked_sub(1)?)?;
        (personal_id <= spec.range_end.as_str()).then_some(spec)
    }

    /// The partition with this id.
    pub fn get(&self, id: PartitionId) -> Option<&PartitionSpec> {
        let idx = self.partitions.binary_search_by_key(&id, |spec| spec.id).ok()?;
        Some(&self.partitions[idx])
    }

    /// The partitions of which `node` holds a replica, in map order.
    pub fn hosted_by(&self, node: NodeId) -> impl Iterator<Item = &PartitionSpec> {
        self.partitions.iter().filter(move |spec| spec.replicas.contains(&node))
    }
}

impl ClusterConfig {
    /// Validates the configuration, then derives its partition map. The result depends only on the
    /// configuration (never on order of evaluation or the clock), so every node derives the same map.
    ///
    /// Ranges: each of the 63 province codes `PPP` owns `PPP000000000..=PPP999999999`, cut at its split points
    /// (`[[partitions.splits]]`) into ranges numbered 0, 1, … from the lowest; the partition id is the code
    /// number × 100 + that index.
    ///
    /// Placement: partitions are taken in map order, and `ordinal` is a partition's index in that order. Unless a
    /// `[[partitions.placement]]` entry names its nodes, a partition's replicas are chosen in this order, never
    /// choosing a node twice:
    /// 1. its home: a node of the provincial datacenter whose `provinces` list the partition's province, the
    ///    `ordinal % n`-th of that datacenter's `n` nodes (by id);
    /// 2. a node of the central datacenters (all central nodes by id, the `ordinal % n`-th);
    /// 3. the rest, one at a time in map order, from the nodes holding the fewest replicas so far (counting
    ///    every partition's choices from steps 1–2 and overrides, and the fills before this one): first from
    ///    datacenters this partition does not use yet, then from any; ties go to the first in id order counting
    ///    from the `ordinal % n`-th of all `n` nodes.
    ///
    /// The first node chosen is the preferred leader, so leaders sit in their home datacenter, and when every
    /// node is in one central datacenter leadership rotates over the nodes (3 nodes lead 21 of 63 each).
    pub fn partition_map(&self) -> Result<PartitionMap, ValidationErrors> {
        self.validate()?;
        let ranges = partition_ranges(&self.partitions.splits);
        let replica_sets = placement::place(self, &ranges);
        let partitions = iter::zip(ranges, replica_sets)
            .map(|(range, replicas)| PartitionSpec {
                id: range.id,
                province_code: range.province.code.to_string(),
                range_start: personal_id::format(range.start),
                range_end: personal_id::format(range.end),
                preferred_leader: replicas[0],
                replicas,
            })
            .collect();
        Ok(PartitionMap { partitions })
    }
}

/// The audit group's id: below every partition's (province codes start at 001, so partition ids at 100).
pub const AUDIT_GROUP: PartitionId = PartitionId(0);

impl ClusterConfig {
    /// The access audit's Raft group: no ID range, replicas placed like a partition's led from the central
    /// datacenter (see `placement::audit_group`). Expects a validated configuration.
    pub fn audit_group(&self) -> PartitionSpec {
        let replicas = placement::audit_group(self);
        PartitionSpec {
            id: AUDIT_GROUP,
            province_code: String::new(),
            range_start: String::new(),
            range_end: String::new(),
            preferred_leader: replicas[0],
            replicas,
        }
    }
}

/// A partition's range before placement, as numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionRange {
    pub(crate) id: PartitionId,
    pub(crate) province: &'static Province,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// The ranges of all provinces in map order. Expects validated splits; unparsable points are skipped.
pub(crate) fn partition_ranges(splits: &[SplitConfig]) -> Vec<PartitionRange> {
    let mut ranges = Vec::with_capacity(PROVINCES.len());
    for province in &PROVINCES {
        let code_number = province.code_number();
        let points = split_points(splits, province.code);
        let starts = iter::once(personal_id::province_start(code_number)).chain(points.iter().copied());
        let ends = points.iter().map(|point| point - 1).chain(iter::once(personal_id::province_end(code_number)));
        for (split_idx, (start, end)) in iter::zip(starts, ends).enumerate() {
            assert!(start <= end, "empty range {start}..={end}: splits were not validated");
            let id = partition_id(code_number, split_idx);
            ranges.push(PartitionRange { id, province, start, end });
        }
    }
    ranges
}

/// The parsed split points of this province, empty when it is not split.
fn split_points(splits: &[SplitConfig], code: &str) -> Vec<u64> {
    let Some(split) = split_of(splits, code) else {
        return Vec::new();
    };
    split.at.iter().filter_map(|point| personal_id::parse(point)).collect()
}

/// The id of every partition the splits produce, whether or not their points are valid (the count of points
/// alone decides the ids).
pub(crate) fn partition_ids(splits: &[SplitConfig]) -> Vec<PartitionId> {
    let mut ids = Vec::with_capacity(PROVINCES.len());
    for province in &PROVINCES {
        let n_points = split_of(splits, province.code).map_or(0, |split| split.at.len());
        let n_ranges = (n_points + 1).min(PARTITIONS_PER_PROVINCE_MAX);
        ids.extend((0..n_ranges).map(|split_idx| partition_id(province.code_number(), split_idx)));
    }
    ids
}

/// The split of this province; validation rejects a second one, and the first wins.
fn split_of<'a>(splits: &'a [SplitConfig], code: &str) -> Option<&'a SplitConfig> {
    splits.iter().find(|split| split.province == code)
}

fn partition_id(code_number: u32, split_idx: usize) -> PartitionId {
    assert!(split_idx < PARTITIONS_PER_PROVINCE_MAX);
    PartitionId(code_number * PARTITION_ID_PROVINCE_STRIDE + split_idx as u32)
}

fn is_personal_id(text: &str) -> bool {
    personal_id::parse(text).is_some()
}
