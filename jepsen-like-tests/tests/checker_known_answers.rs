//! Hand-made histories whose verdict is known, each checked through one helper.
//!
//! Times are microseconds; each op is `[invoke, complete]`. Unless said otherwise every op is on key "k".

use std::time::Duration;

use dancu_jepsen::checker::{self, CheckConfig, Verdict};
use dancu_jepsen::history::{Op, OpKind, Outcome, ReadLevel};

fn op(kind: OpKind, value: Option<u64>, revision: Option<u64>, invoke_us: u64, complete_us: u64) -> Op {
    Op {
        index: 0,
        process: 0,
        key: "k".into(),
        kind,
        level: (kind == OpKind::Read).then_some(ReadLevel::Linearizable),
        value,
        revision,
        expected_revision: None,
        invoke_us,
        complete_us,
        outcome: Outcome::Ok,
        node: None,
        error: None,
    }
}

/// An ok read of `(value, revision)`.
fn read(value: Option<u64>, revision: u64, invoke_us: u64, complete_us: u64) -> Op {
    op(OpKind::Read, value, Some(revision), invoke_us, complete_us)
}

/// An ok write of `value` that produced `revision`.
fn write(value: u64, revision: u64, invoke_us: u64, complete_us: u64) -> Op {
    op(OpKind::Write, Some(value), Some(revision), invoke_us, complete_us)
}

/// An ok CAS from `expected` that wrote `value` and produced `expected + 1`.
fn cas(expected: u64, value: u64, invoke_us: u64, complete_us: u64) -> Op {
    Op { expected_revision: Some(expected), ..op(OpKind::Cas, Some(value), Some(expected + 1), invoke_us, complete_us) }
}

trait Modify {
    fn info(self) -> Op;
    fn fail(self) -> Op;
    fn stale_on(self, node: u64) -> Op;
    fn on_key(self, key: &str) -> Op;
}

impl Modify for Op {
    fn info(self) -> Op {
        Op { outcome: Outcome::Info, revision: None, error: Some("deadline exceeded".into()), ..self }
    }

    fn fail(self) -> Op {
        Op { outcome: Outcome::Fail, revision: None, error: Some("failed".into()), ..self }
    }

    fn stale_on(self, node: u64) -> Op {
        Op { level: Some(ReadLevel::Stale), node: Some(node), ..self }
    }

    fn on_key(self, key: &str) -> Op {
        Op { key: key.into(), ..self }
    }
}

/// Checks `ops` (numbered in order, one process each) and expects `verdict`; returns the report.
fn check(ops: &[Op], verdict: Verdict) -> checker::CheckReport {
    let ops: Vec<Op> =
        ops.iter().enumerate().map(|(index, op)| Op { index, process: index as u32, ..op.clone() }).collect();
    let report = checker::check(&ops, &CheckConfig::default());
    assert_eq!(report.verdict, verdict, "{ops:#?}\n{report:#?}");
    report
}

#[test]
fn sequential_reads_see_the_last_write() {
    check(
        &[write(1, 1, 0, 10), read(Some(1), 1, 20, 30), write(2, 2, 40, 50), read(Some(2), 2, 60, 70)],
        Verdict::Valid,
    );
    check(&[read(None, 0, 0, 10), write(1, 1, 20, 30)], Verdict::Valid);
}

#[test]
fn a_read_cannot_see_a_write_invoked_after_it_returned() {
    check(&[read(Some(1), 1, 0, 10), write(1, 1, 20, 30)], Verdict::Invalid);
}

#[test]
fn a_read_cannot_see_an_old_value_after_a_newer_write_completed() {
    let report = check(&[write(1, 1, 0, 10), write(2, 2, 20, 30), read(Some(1), 1, 40, 50)], Verdict::Invalid);
    let anomaly = &report.anomalies[0];
    assert_eq!(anomaly.kind, "nonlinearizable");
    let indices: Vec<usize> = anomaly.window.iter().map(|op| op.index).collect();
    assert_eq!(indices, [0, 1, 2], "the window is the bad read, what came just before it and the write it saw");
    // The same, with the revision alone telling: a read of revision 1 after revision 2 exists.
    check(&[write(1, 1, 0, 10), write(2, 2, 20, 30), read(Some(2), 1, 40, 50)], Verdict::Invalid);
}

#[test]
fn a_concurrent_write_and_read_may_go_either_way() {
    check(&[write(1, 1, 0, 100), read(None, 0, 10, 20)], Verdict::Valid);
    check(&[write(1, 1, 0, 100), read(Some(1), 1, 10, 20)], Verdict::Valid);
    // Two reads inside the write: old then new is fine, new then old is not.
    check(&[write(1, 1, 0, 100), read(None, 0, 10, 20), read(Some(1), 1, 30, 40)], Verdict::Valid);
    check(&[write(1, 1, 0, 100), read(Some(1), 1, 10, 20), read(None, 0, 30, 40)], Verdict::Invalid);
}

#[test]
fn revisions_count_every_write() {
    // Two writes produced revisions 1 and 3: some write is missing in between.
    check(&[write(1, 1, 0, 10), write(2, 3, 20, 30)], Verdict::Invalid);
    // An unknown write in between explains it.
    check(&[write(1, 1, 0, 10), write(9, 0, 12, 14).info(), write(2, 3, 20, 30)], Verdict::Valid);
}

#[test]
fn an_info_write_may_take_effect_later() {
    // The client gave up at 10; the write took effect between the reads at 30 and 100.
    let ops = [write(1, 0, 0, 10).info(), read(None, 0, 20, 30), read(Some(1), 1, 100, 110)];
    check(&ops, Verdict::Valid);
    // ...but never before its invocation.
    check(&[read(Some(1), 1, 0, 10), write(1, 0, 20, 30).info()], Verdict::Invalid);
}

#[test]
fn an_info_write_may_never_take_effect() {
    check(&[write(1, 0, 0, 10).info(), read(None, 0, 20, 30), read(None, 0, 100, 110)], Verdict::Valid);
    check(&[write(1, 0, 0, 10).info(), write(2, 1, 20, 30), read(Some(2), 1, 40, 50)], Verdict::Valid);
    // Once seen, it stays.
    let ops = [write(1, 0, 0, 10).info(), read(Some(1), 1, 20, 30), read(None, 0, 40, 50)];
    check(&ops, Verdict::Invalid);
}

#[test]
fn many_info_writes_stay_cheap() {
    // Eighty unknown writes, of which the reads show that exactly three took effect before write 1000.
    let mut ops: Vec<Op> = (0..80).map(|idx| write(idx + 1, 0, idx, idx + 5).info()).collect();
    ops.extend([write(1000, 4, 200, 210), read(Some(1000), 4, 220, 230)]);
    check(&ops, Verdict::Valid);
    ops.push(read(Some(1000), 3, 240, 250));
    check(&ops, Verdict::Invalid);
}

#[test]
fn cas_needs_the_expected_revision() {
    check(&[write(1, 1, 0, 10), cas(1, 2, 20, 30), read(Some(2), 2, 40, 50)], Verdict::Valid);
    check(&[write(1, 1, 0, 10), cas(0, 2, 20, 30)], Verdict::Invalid);
    // A CAS on an absent record expects revision 0.
    check(&[cas(0, 1, 0, 10), read(Some(1), 1, 20, 30)], Verdict::Valid);
}

#[test]
fn a_failed_cas_saw_another_revision() {
    // Nothing could have changed revision 1 while the CAS ran: ABORTED is wrong.
    check(&[write(1, 1, 0, 10), cas(1, 2, 20, 30).fail()], Verdict::Invalid);
    // A concurrent write explains it.
    check(&[write(1, 1, 0, 10), cas(1, 2, 20, 30).fail(), write(3, 2, 15, 25)], Verdict::Valid);
    // An earlier unknown write too.
    check(&[write(1, 1, 0, 10), write(3, 0, 12, 14).info(), cas(1, 2, 20, 30).fail()], Verdict::Valid);
    // A failed CAS never takes effect.
    check(&[write(1, 1, 0, 10), cas(0, 2, 20, 30).fail(), read(Some(2), 2, 40, 50)], Verdict::Invalid);
}

#[test]
fn an_info_cas_applies_only_at_its_expected_revision() {
    check(&[write(1, 1, 0, 10), cas(1, 2, 20, 30).info(), read(Some(2), 2, 40, 50)], Verdict::Valid);
    check(&[write(1, 1, 0, 10), cas(0, 2, 20, 30).info(), read(Some(2), 2, 40, 50)], Verdict::Invalid);
    check(&[write(1, 1, 0, 10), cas(0, 2, 20, 30).info(), read(Some(1), 1, 40, 50)], Verdict::Valid);
}

#[test]
fn failed_writes_and_unknown_reads_are_not_checked_but_cannot_take_effect() {
    // An info or failed read observes nothing.
    let garbage_read = read(Some(77), 9, 20, 30);
    check(&[write(1, 1, 0, 10), garbage_read.clone().info(), garbage_read.fail()], Verdict::Valid);
    // A failed write definitely did not happen.
    check(&[write(1, 1, 0, 10), write(2, 0, 20, 30).fail(), read(Some(1), 1, 40, 50)], Verdict::Valid);
    check(&[write(1, 1, 0, 10), write(2, 0, 20, 30).fail(), read(Some(2), 2, 40, 50)], Verdict::Invalid);
}

#[test]
fn stale_reads_must_not_go_back_on_a_node() {
    // Stale reads may lag behind linearizable ones: not checked for linearizability.
    let lagging = [write(1, 1, 0, 10), write(2, 2, 20, 30), read(Some(1), 1, 40, 50).stale_on(1)];
    check(&lagging, Verdict::Valid);
    // Going back on one node is an anomaly.
    let back = [
        write(1, 1, 0, 10),
        write(2, 2, 20, 30),
        read(Some(2), 2, 40, 50).stale_on(1),
        read(Some(1), 1, 60, 70).stale_on(1),
    ];
    let report = check(&back, Verdict::Invalid);
    assert_eq!(report.anomalies.len(), 1);
    assert_eq!(report.anomalies[0].kind, "stale-read-regression");
    assert_eq!(report.anomalies[0].window.iter().map(|op| op.index).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(report.keys[0].verdict, Verdict::Invalid);
    // Two nodes may lag differently.
    let two_nodes = [
        write(1, 1, 0, 10),
        write(2, 2, 20, 30),
        read(Some(2), 2, 40, 50).stale_on(1),
        read(Some(1), 1, 60, 70).stale_on(2),
    ];
    check(&two_nodes, Verdict::Valid);
}

#[test]
fn keys_are_independent_registers() {
    let ops = [
        write(1, 1, 0, 10).on_key("a"),
        write(2, 1, 0, 10).on_key("b"),
        read(Some(1), 1, 20, 30).on_key("a"),
        read(Some(1), 1, 20, 30).on_key("b"),
    ];
    let report = check(&ops, Verdict::Invalid);
    let verdicts: Vec<(&str, Verdict)> = report.keys.iter().map(|key| (key.key.as_str(), key.verdict)).collect();
    assert_eq!(verdicts, [("a", Verdict::Valid), ("b", Verdict::Invalid)]);
    assert_eq!((report.n_keys, report.n_ops), (2, 4));
    assert_eq!(report.anomalies.len(), 1);
    assert_eq!(report.anomalies[0].key, "b");
}

#[test]
fn check_key_reports_the_window_only_when_invalid() {
    let config = CheckConfig::default();
    let valid = [write(1, 1, 0, 10), read(Some(1), 1, 20, 30)];
    assert_eq!(checker::check_key(&valid, &config), (Verdict::Valid, None));
    let invalid = [write(1, 1, 0, 10), read(Some(2), 1, 20, 30)];
    let (verdict, window) = checker::check_key(&invalid, &config);
    assert_eq!(verdict, Verdict::Invalid);
    assert_eq!(window.expect("a window").len(), 2);
}

#[test]
fn running_out_of_time_is_unknown_never_valid() {
    // Sixty concurrent writes whose revisions are unknown, then a read of a value nobody wrote: deciding needs
    // the search to try every subset, far more than one budget check's worth of steps.
    let mut ops: Vec<Op> = (0..60).map(|idx| Op { revision: None, ..write(idx + 1, 0, 0, 1_000 + idx) }).collect();
    ops.push(read(Some(999), 1, 2_000, 2_010));
    let config = CheckConfig { time_budget: Duration::from_millis(50), n_threads: 1 };
    let numbered: Vec<Op> = ops.iter().enumerate().map(|(index, op)| Op { index, ..op.clone() }).collect();
    let report = checker::check(&numbered, &config);
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.keys[0].verdict, Verdict::Unknown);
    assert!(report.anomalies.is_empty());
}
