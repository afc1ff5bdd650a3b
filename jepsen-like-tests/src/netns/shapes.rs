//! Partition shapes as sets of cut links, computed without touching the network so the shapes are tested anywhere.
//! A cut is a pair `(a, b)` with `a < b`: traffic between the two is dropped both ways.

use std::collections::BTreeSet;

/// The cut links of a shape, each `(low, high)`.
pub type Cuts = BTreeSet<(u64, u64)>;

/// The pair in canonical order.
pub fn link(a: u64, b: u64) -> (u64, u64) {
    assert_ne!(a, b, "a node is never cut from itself");
    (a.min(b), a.max(b))
}

/// `node` cut from every other node of `all`.
pub fn isolate(node: u64, all: &[u64]) -> Cuts {
    all.iter().filter(|&&other| other != node).map(|&other| link(node, other)).collect()
}

/// Every node of `side_a` cut from every node of `side_b`.
pub fn split(side_a: &[u64], side_b: &[u64]) -> Cuts {
    side_a.iter().flat_map(|&a| side_b.iter().map(move |&b| link(a, b))).collect()
}

/// Nodes in a ring in the given order, each reaching only its two neighbours: with five nodes, every node sees a
/// majority (itself and two others) but no two nodes see the same majority. Three nodes or fewer: no cut.
pub fn majorities_ring(ring: &[u64]) -> Cuts {
    let n_nodes = ring.len();
    let mut cuts = Cuts::new();
    for a_idx in 0..n_nodes {
        for b_idx in a_idx + 1..n_nodes {
            let neighbours = b_idx - a_idx == 1 || (a_idx == 0 && b_idx == n_nodes - 1);
            if !neighbours {
                cuts.insert(link(ring[a_idx], ring[b_idx]));
            }
        }
    }
    cuts
}

/// The halves and the bridge of [`bridge`]: `(nodes before the middle, the middle node, nodes after it)`.
pub fn bridge_sides(nodes: &[u64]) -> (&[u64], u64, &[u64]) {
    assert!(nodes.len() >= 3, "a bridge needs two sides and a bridge node, got {nodes:?}");
    let middle_idx = nodes.len() / 2;
    (&nodes[..middle_idx], nodes[middle_idx], &nodes[middle_idx + 1..])
}

/// Two halves cut from each other, both still reaching the middle node, which bridges them.
pub fn bridge(nodes: &[u64]) -> Cuts {
    let (left, _, right) = bridge_sides(nodes);
    split(left, right)
}

/// The cuts as a sorted list.
pub fn to_vec(cuts: &Cuts) -> Vec<(u64, u64)> {
    cuts.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cuts: Cuts, expected: &[(u64, u64)]) {
        assert_eq!(to_vec(&cuts), expected);
    }

    #[test]
    fn isolate_cuts_one_node_from_all_others() {
        check(isolate(2, &[1, 2, 3]), &[(1, 2), (2, 3)]);
        check(isolate(5, &[5]), &[]);
    }

    #[test]
    fn split_cuts_every_link_across() {
        check(split(&[1, 2], &[3, 4, 5]), &[(1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5)]);
    }

    #[test]
    fn ring_of_five_keeps_only_neighbours() {
        let cuts = majorities_ring(&[1, 2, 3, 4, 5]);
        check(cuts.clone(), &[(1, 3), (1, 4), (2, 4), (2, 5), (3, 5)]);
        for node in 1..=5 {
            let n_seen = 1 + (1..=5u64).filter(|&other| other != node && !cuts.contains(&link(node, other))).count();
            assert_eq!(n_seen, 3, "node {node} sees a bare majority of five");
        }
    }

    #[test]
    fn ring_follows_the_given_order() {
        check(majorities_ring(&[3, 1, 5, 2, 4]), &[(1, 2), (1, 4), (2, 3), (3, 5), (4, 5)]);
        check(majorities_ring(&[1, 2, 3]), &[]);
    }

    #[test]
    fn bridge_joins_two_halves_through_the_middle_node() {
        check(bridge(&[1, 2, 3, 4, 5]), &[(1, 4), (1, 5), (2, 4), (2, 5)]);
        check(bridge(&[1, 2, 3]), &[(1, 3)]);
        assert_eq!(bridge_sides(&[1, 2, 3, 4]), (&[1, 2][..], 3, &[4][..]));
    }
}
