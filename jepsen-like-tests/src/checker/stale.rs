//! Stale reads are not linearizable by design; what they promise is that one node never goes back: a stale read
//! served by node N never returns a lower revision than a stale read of the same key from N that completed
//! before it was invoked. Ok stale reads without a node or a revision cannot be checked and are skipped.

use std::collections::BTreeMap;

use super::{Anomaly, ANOMALY_STALE_READ_REGRESSION};
use crate::history::{Op, OpKind, Outcome, ReadLevel};

/// One anomaly per node whose stale reads of `key` went back; its window is the first such pair of reads.
pub(super) fn stale_read_regressions(key: &str, ops: &[Op]) -> Vec<Anomaly> {
    let mut by_node: BTreeMap<u64, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        let is_stale_read = op.kind == OpKind::Read && op.level == Some(ReadLevel::Stale);
        if let (true, Outcome::Ok, Some(node), Some(_)) = (is_stale_read, op.outcome, op.node, op.revision) {
            by_node.entry(node).or_default().push(op);
        }
    }
    let mut anomalies = Vec::new();
    for (node, reads) in by_node {
        let pairs = regressions(&reads);
        let Some(&(earlier, later)) = pairs.first() else { continue };
        let message = format!(
            "node {node}: stale read op {} of key {key} returned revision {} after stale read op {} from the same \
             node had returned revision {} ({} regression(s) on this node)",
            later.index,
            later.revision.unwrap_or_default(),
            earlier.index,
            earlier.revision.unwrap_or_default(),
            pairs.len()
        );
        let window = vec![earlier.clone(), later.clone()];
        anomalies.push(Anomaly { key: key.to_string(), kind: ANOMALY_STALE_READ_REGRESSION.into(), message, window });
    }
    anomalies
}

/// Each read that returned a lower revision than an earlier-completed read, with the highest such earlier read.
fn regressions<'o>(reads: &[&'o Op]) -> Vec<(&'o Op, &'o Op)> {
    let mut by_complete = reads.to_vec();
    by_complete.sort_by_key(|op| (op.complete_us, op.index));
    let mut by_invoke = reads.to_vec();
    by_invoke.sort_by_key(|op| (op.invoke_us, op.index));

    let mut highest: Option<&Op> = None;
    let mut complete_idx = 0;
    let mut pairs = Vec::new();
    for later in by_invoke {
        while let Some(&earlier) = by_complete.get(complete_idx).filter(|op| op.complete_us < later.invoke_us) {
            if highest.is_none_or(|highest| earlier.revision > highest.revision) {
                highest = Some(earlier);
            }
            complete_idx += 1;
        }
        if let Some(earlier) = highest.filter(|earlier| later.revision < earlier.revision) {
            pairs.push((earlier, later));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale_read(index: usize, node: u64, revision: u64, invoke_us: u64, complete_us: u64) -> Op {
        Op {
            index,
            process: index as u32,
            key: "k".into(),
            kind: OpKind::Read,
            level: Some(ReadLevel::Stale),
            value: Some(revision),
            revision: Some(revision),
            expected_revision: None,
            invoke_us,
            complete_us,
            outcome: Outcome::Ok,
            node: Some(node),
            error: None,
        }
    }

    fn check(ops: &[Op], expected_regressions_per_node: &[(u64, usize)]) {
        let anomalies = stale_read_regressions("k", ops);
        let found: Vec<(u64, usize)> =
            anomalies.iter().map(|anomaly| (anomaly.window[1].node.unwrap(), anomaly.window.len())).collect();
        let expected: Vec<(u64, usize)> = expected_regressions_per_node.iter().map(|&(node, _)| (node, 2)).collect();
        assert_eq!(found, expected, "{anomalies:#?}");
        for (anomaly, &(_, n)) in anomalies.iter().zip(expected_regressions_per_node) {
            assert!(anomaly.message.contains(&format!("({n} regression(s)")), "{}", anomaly.message);
        }
    }

    #[test]
    fn stale_reads_may_lag_but_not_go_back_on_one_node() {
        // Going back on one node after an earlier read completed: a regression.
        check(&[stale_read(0, 1, 5, 0, 10), stale_read(1, 1, 4, 20, 30)], &[(1, 1)]);
        // Concurrent reads may return in any order.
        check(&[stale_read(0, 1, 5, 0, 10), stale_read(1, 1, 4, 5, 30)], &[]);
        check(&[stale_read(0, 1, 5, 0, 10), stale_read(1, 1, 4, 10, 30)], &[]);
        // Different nodes may lag differently.
        check(&[stale_read(0, 1, 5, 0, 10), stale_read(1, 2, 4, 20, 30)], &[]);
        // The highest earlier revision counts, not the latest one.
        let ops = [
            stale_read(0, 1, 5, 0, 10),
            stale_read(1, 1, 5, 12, 14),
            stale_read(2, 1, 4, 20, 30),
            stale_read(3, 1, 3, 40, 50),
        ];
        check(&ops, &[(1, 2)]);
    }
}
