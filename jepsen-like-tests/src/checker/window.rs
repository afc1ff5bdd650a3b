//! The smallest failing window of a key that is not linearizable (what is reported is documented on
//! [`super::check_key`]).

use std::time::Instant;

use super::search::{check_linearizable, is_checked};
use super::Verdict;
use crate::history::{Op, OpKind, Outcome};

/// At most this many ops are shown for one anomaly.
pub(super) const WINDOW_OPS_MAX: usize = 30;

/// The smallest failing window and the op it ends at.
pub(super) struct FailingWindow {
    /// The op whose completion makes the history fail (it is also in `ops`).
    pub last: Op,
    /// Sorted by invocation time.
    pub ops: Vec<Op>,
}

/// `ops` must not be linearizable.
pub(super) fn smallest_failing_window(ops: &[Op], deadline: Instant) -> FailingWindow {
    // Positions in `ops`, not `Op::index`: callers of `check_key` need not number their ops.
    let mut by_complete: Vec<usize> = (0..ops.len()).filter(|&pos| is_checked(&ops[pos])).collect();
    assert!(!by_complete.is_empty(), "a history with nothing to check is linearizable");
    by_complete.sort_by_key(|&pos| (ops[pos].complete_us, ops[pos].invoke_us, pos));

    // The history cut at the last completion is the whole history, which fails. Cuts fail monotonically, so a
    // binary search finds the first that fails; a cut whose check runs out of time counts as not failing.
    let (mut lo_idx, mut hi_idx) = (0, by_complete.len() - 1);
    while lo_idx < hi_idx {
        let mid_idx = lo_idx + (hi_idx - lo_idx) / 2;
        let cut_us = ops[by_complete[mid_idx]].complete_us;
        if check_linearizable(&cut_at(ops, cut_us), deadline) == Verdict::Invalid {
            hi_idx = mid_idx;
        } else {
            lo_idx = mid_idx + 1;
        }
    }
    let last_pos = by_complete[hi_idx];
    FailingWindow { last: ops[last_pos].clone(), ops: window_around(ops, last_pos) }
}

/// The history as it stood at `cut_us`: ops completed by then as they are, ops still running then as info ops
/// (they may or may not have taken effect), ops invoked later left out.
pub(super) fn cut_at(ops: &[Op], cut_us: u64) -> Vec<Op> {
    ops.iter()
        .filter(|op| op.invoke_us <= cut_us)
        .map(|op| {
            let mut op = op.clone();
            if op.complete_us > cut_us {
                op.outcome = Outcome::Info;
            }
            op
        })
        .collect()
}

fn window_around(ops: &[Op], last_pos: usize) -> Vec<Op> {
    let last = &ops[last_pos];
    let in_prefix = |&pos: &usize| is_checked(&ops[pos]) && ops[pos].invoke_us <= last.complete_us && pos != last_pos;
    // How long before the last op was invoked an op completed; 0 for the ops that overlap it. An info op counts as
    // completing when the client gave up on it, which keeps a flood of old timeouts from filling the window.
    let gap_us = |pos: usize| last.invoke_us.saturating_sub(ops[pos].complete_us);
    let mut nearest: Vec<usize> = (0..ops.len()).filter(in_prefix).collect();
    nearest.sort_by_key(|&pos| (gap_us(pos), std::cmp::Reverse(ops[pos].invoke_us), pos));

    let mut window: Vec<usize> = vec![last_pos];
    window.extend(nearest.into_iter().take(WINDOW_OPS_MAX - 1));
    if let Some(writer_pos) = writer_of_observed_value(ops, last) {
        if !window.contains(&writer_pos) {
            window.push(writer_pos);
        }
    }
    window.sort_by_key(|&pos| (ops[pos].invoke_us, pos));
    window.into_iter().map(|pos| ops[pos].clone()).collect()
}

/// When `read` is a read, the position of the write or CAS of the value it observed.
fn writer_of_observed_value(ops: &[Op], read: &Op) -> Option<usize> {
    let value = read.value.filter(|_| read.kind == OpKind::Read)?;
    ops.iter().position(|op| op.kind != OpKind::Read && op.value == Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ReadLevel;

    fn op(index: usize, kind: OpKind, value: u64, revision: u64, invoke_us: u64, complete_us: u64) -> Op {
        Op {
            index,
            process: index as u32,
            key: "k".into(),
            kind,
            level: (kind == OpKind::Read).then_some(ReadLevel::Linearizable),
            value: Some(value),
            revision: Some(revision),
            expected_revision: None,
            invoke_us,
            complete_us,
            outcome: Outcome::Ok,
            node: None,
            error: None,
        }
    }

    #[test]
    fn cutting_turns_running_ops_into_info_and_drops_later_ones() {
        let ops =
            [op(0, OpKind::Write, 1, 1, 0, 10), op(1, OpKind::Write, 2, 2, 5, 30), op(2, OpKind::Read, 2, 2, 20, 40)];
        let cut = cut_at(&ops, 10);
        assert_eq!(cut.len(), 2);
        assert_eq!(cut[0].outcome, Outcome::Ok);
        assert_eq!(cut[1].outcome, Outcome::Info);
    }

    #[test]
    fn the_window_ends_at_the_first_op_that_cannot_be_placed() {
        // Many valid writes and reads, then a read of an old value, then more valid ops.
        let mut ops = Vec::new();
        for idx in 0..50u64 {
            ops.push(op(ops.len(), OpKind::Write, idx + 1, idx + 1, idx * 100, idx * 100 + 10));
            ops.push(op(ops.len(), OpKind::Read, idx + 1, idx + 1, idx * 100 + 20, idx * 100 + 30));
        }
        let bad_idx = 41;
        ops[bad_idx].value = Some(1);
        ops[bad_idx].revision = Some(1);
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let FailingWindow { last, ops: window } = smallest_failing_window(&ops, far);
        assert_eq!(last.index, bad_idx);
        assert!(window.len() <= WINDOW_OPS_MAX + 1, "{}", window.len());
        assert!(window.iter().any(|op| op.index == 0), "the write of the value read is shown");
        assert!(window.iter().all(|op| op.complete_us <= last.complete_us));
    }
}
