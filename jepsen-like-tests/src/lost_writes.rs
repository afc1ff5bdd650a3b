//! Acknowledged writes the cluster lost: the check a power loss (or a broken fsync) must not fail.
//!
//! Every write to a register produces the next revision of its record. An acknowledged write `(key, revision r,
//! value v)` is lost when the final state of the key is below revision r, or when revision r survived with another
//! value: the value the final state holds at r, else the one the last successful operation to complete saw at r
//! (r was produced again after v vanished).

use std::collections::BTreeMap;

use crate::history::{Op, OpKind, Outcome};

/// A key's final state: its value (None: absent or not a register value) and revision (0: no record).
pub type FinalState = BTreeMap<String, (Option<u64>, u64)>;

/// How many acknowledged writes of `ops` the final state and the other observations contradict.
pub fn acked_writes_lost(ops: &[Op], finals: &FinalState) -> u64 {
    // Per (key, revision): the value that survived, as the latest-completing observation shows it.
    let mut survivor: BTreeMap<(&str, u64), (u64, Option<u64>)> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.outcome == Outcome::Ok) {
        if let Some(revision) = op.revision.filter(|revision| *revision > 0) {
            let slot = survivor.entry((op.key.as_str(), revision)).or_insert((op.complete_us, op.value));
            if op.complete_us >= slot.0 {
                *slot = (op.complete_us, op.value);
            }
        }
    }
    for (key, (value, revision)) in finals {
        if *revision > 0 {
            survivor.insert((key.as_str(), *revision), (u64::MAX, *value));
        }
    }
    let acked = ops.iter().filter(|op| op.outcome == Outcome::Ok && matches!(op.kind, OpKind::Write | OpKind::Cas));
    acked
        .filter(|op| {
            let Some(revision) = op.revision else { return false };
            let below_final = finals.get(&op.key).is_some_and(|(_, final_revision)| *final_revision < revision);
            let replaced = survivor.get(&(op.key.as_str(), revision)).is_some_and(|(_, value)| *value != op.value);
            below_final || replaced
        })
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, value: u64, revision: u64) -> Op {
        let mut op = Op::invoked(1, "k", kind, 0);
        (op.outcome, op.value, op.revision) = (Outcome::Ok, Some(value), Some(revision));
        op.complete_us = value;
        op
    }

    fn check(ops: &[Op], final_state: (Option<u64>, u64), expected: u64) {
        let finals: FinalState = [("k".to_string(), final_state)].into();
        assert_eq!(acked_writes_lost(ops, &finals), expected, "{ops:?} final {final_state:?}");
    }

    #[test]
    fn writes_below_the_final_revision_or_overwritten_in_place_are_lost() {
        let writes = [op(OpKind::Write, 10, 1), op(OpKind::Cas, 11, 2), op(OpKind::Write, 12, 3)];
        check(&writes, (Some(12), 3), 0);
        check(&writes, (Some(13), 4), 0);
        // The last write vanished: the final state is one revision short.
        check(&writes, (Some(11), 2), 1);
        // The last write vanished and its revision was produced again by a later write.
        let mut reused = writes.to_vec();
        reused.push(op(OpKind::Write, 20, 3));
        check(&reused, (Some(20), 3), 1);
        check(&reused, (Some(21), 4), 1);
        // A read saw revision 2 with another value: the CAS that produced it was lost.
        let mut read = op(OpKind::Read, 99, 2);
        read.kind = OpKind::Read;
        check(&[writes[0].clone(), writes[1].clone(), read], (Some(99), 2), 1);
    }

    #[test]
    fn writes_without_an_acknowledgement_count_for_nothing() {
        let mut unknown = op(OpKind::Write, 10, 5);
        unknown.outcome = Outcome::Info;
        check(&[unknown], (None, 0), 0);
    }
}
