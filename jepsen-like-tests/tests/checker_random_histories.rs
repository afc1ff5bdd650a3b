//! Random histories, linearizable by construction, must pass; the same histories with one read broken must fail,
//! with the broken read in the reported window. Seeds print and replay with `DANCU_TEST_SEED`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use dancu_jepsen::checker::random_history::{break_one_read, linearizable_history, test_seed, RandomHistoryConfig};
use dancu_jepsen::checker::{self, CheckConfig, Verdict};
use dancu_jepsen::history::{Op, OpKind, Outcome, ReadLevel};

const N_HISTORIES: u64 = 250;

fn random_config(rng: &mut impl Rng) -> RandomHistoryConfig {
    RandomHistoryConfig {
        n_ops: rng.random_range(10..=200),
        n_processes: rng.random_range(1..=8),
        n_keys: rng.random_range(1..=4),
        read_share: rng.random_range(0.3..0.7),
        cas_share: rng.random_range(0.0..0.5),
        info_share: rng.random_range(0.0..0.3),
        stale_share: 0.1,
        latency_us_max: rng.random_range(10..=1_000),
        n_nodes: 3,
    }
}

#[test]
fn random_valid_histories_pass_and_broken_ones_fail() {
    let seed = test_seed();
    let config = CheckConfig { time_budget: Duration::from_secs(30), ..CheckConfig::default() };
    let started = Instant::now();
    let (mut n_broken, mut n_ops) = (0, 0);
    for history_idx in 0..N_HISTORIES {
        let history_seed = seed.wrapping_add(history_idx);
        let mut rng = StdRng::seed_from_u64(history_seed);
        let history_config = random_config(&mut rng);
        let mut ops = linearizable_history(&mut rng, &history_config);
        n_ops += ops.len();
        let report = checker::check(&ops, &config);
        assert_eq!(report.verdict, Verdict::Valid, "history seed {history_seed}: {history_config:?}\n{report:#?}");

        let Some(broken) = break_one_read(&mut rng, &mut ops) else { continue };
        n_broken += 1;
        let report = checker::check(&ops, &config);
        let context = format!("history seed {history_seed}: {}\n{report:#?}", broken.how);
        assert_eq!(report.verdict, Verdict::Invalid, "{context}");
        let anomaly = report.anomalies.iter().find(|anomaly| anomaly.kind == "nonlinearizable").expect(&context);
        assert_eq!(anomaly.key, ops[broken.op_idx].key, "{context}");
        assert!(anomaly.window.iter().any(|op| op.index == ops[broken.op_idx].index), "{context}");
    }
    println!("{N_HISTORIES} histories ({n_ops} ops), {n_broken} broken, checked in {:?}", started.elapsed());
    assert!(n_broken >= N_HISTORIES / 2, "only {n_broken} histories had a read to break");
}

#[test]
fn random_histories_with_many_unknown_writes_pass() {
    let seed = test_seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let config = RandomHistoryConfig {
        n_ops: 300,
        n_processes: 6,
        n_keys: 1,
        info_share: 0.6,
        ..RandomHistoryConfig::default()
    };
    for _ in 0..10 {
        let ops = linearizable_history(&mut rng, &config);
        let n_info = ops.iter().filter(|op| op.outcome == Outcome::Info).count();
        let started = Instant::now();
        let report = checker::check(&ops, &CheckConfig::default());
        println!("{} ops, {n_info} info: {:?} in {:?}", ops.len(), report.verdict, started.elapsed());
        assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    }
}

#[test]
fn a_long_single_key_history_checks_quickly() {
    let seed = test_seed();
    let config = RandomHistoryConfig { n_ops: 2_000, n_processes: 8, n_keys: 1, ..RandomHistoryConfig::default() };
    let ops = linearizable_history(&mut StdRng::seed_from_u64(seed), &config);
    let started = Instant::now();
    let (verdict, _) = checker::check_key(&ops, &CheckConfig::default());
    println!("{} ops on one key with 8 processes: {verdict} in {:?}", ops.len(), started.elapsed());
    assert_eq!(verdict, Verdict::Valid);
}

#[test]
fn a_run_sized_history_checks_within_budget() {
    // A 5-minute run's history: 20 keys × 3,000 ops, about 10 processes per key at any time.
    let seed = test_seed();
    let config = RandomHistoryConfig { n_ops: 60_000, n_processes: 200, n_keys: 20, ..RandomHistoryConfig::default() };
    let mut ops = linearizable_history(&mut StdRng::seed_from_u64(seed), &config);
    let started = Instant::now();
    let report = checker::check(&ops, &CheckConfig::default());
    println!("{} ops on {} keys: {} in {:?}", ops.len(), report.n_keys, report.verdict, started.elapsed());
    assert_eq!(report.verdict, Verdict::Valid);

    let broken = break_one_read(&mut StdRng::seed_from_u64(seed), &mut ops).expect("a read to break");
    let started = Instant::now();
    let report = checker::check(&ops, &CheckConfig::default());
    println!("broken ({}): {} in {:?}", broken.how, report.verdict, started.elapsed());
    assert_eq!(report.verdict, Verdict::Invalid);
    let window: &[Op] = &report.anomalies[0].window;
    assert!(window.len() <= 31, "{}", window.len());
}

/// A register's `(value, revision)`.
type Register = (Option<u64>, u64);

/// A plain search over every order, straight from the register's rules, with none of the checker's refinements:
/// the checker must agree with it on small histories, valid or not.
fn reference_linearizable(ops: &[Op]) -> bool {
    let checked: Vec<&Op> = ops
        .iter()
        .filter(|op| match op.kind {
            OpKind::Read => op.outcome == Outcome::Ok && op.level != Some(ReadLevel::Stale),
            OpKind::Write => op.outcome != Outcome::Fail,
            OpKind::Cas => op.outcome != Outcome::Fail || op.expected_revision.is_some(),
        })
        .collect();
    assert!(checked.len() <= 16);
    Reference { checked, explored: HashSet::new() }.search(0, (None, 0))
}

struct Reference<'o> {
    checked: Vec<&'o Op>,
    explored: HashSet<(u32, Register)>,
}

impl Reference<'_> {
    /// Whether some order of the ops not in `placed` works from `register`.
    fn search(&mut self, placed: u32, register: Register) -> bool {
        let unplaced = |idx: &usize| placed & (1 << idx) == 0;
        if !(0..self.checked.len()).filter(unplaced).any(|idx| self.checked[idx].outcome != Outcome::Info) {
            return true;
        }
        if !self.explored.insert((placed, register)) {
            return false;
        }
        for idx in (0..self.checked.len()).filter(unplaced) {
            let op = self.checked[idx];
            // Every op that completed before this one was invoked comes first (info ops never complete).
            let ready = (0..self.checked.len()).filter(unplaced).all(|other| {
                self.checked[other].outcome == Outcome::Info || self.checked[other].complete_us >= op.invoke_us
            });
            if let (true, Some(next)) = (ready, Self::step(op, register)) {
                if self.search(placed | (1 << idx), next) {
                    return true;
                }
            }
        }
        false
    }

    /// The register after `op`, or `None` if `op` cannot happen now.
    fn step(op: &Op, (value, revision): Register) -> Option<Register> {
        let expected = op.expected_revision.filter(|_| op.kind == OpKind::Cas);
        match (op.kind, op.outcome) {
            (OpKind::Read, _) => {
                (op.value == value && op.revision.is_none_or(|r| r == revision)).then_some((value, revision))
            }
            (_, Outcome::Fail) => (Some(revision) != expected).then_some((value, revision)),
            (_, outcome) => {
                let revision_fits = outcome == Outcome::Info || op.revision.is_none_or(|r| r == revision + 1);
                (expected.is_none_or(|e| e == revision) && revision_fits).then_some((op.value, revision + 1))
            }
        }
    }
}

/// Small random histories, some left valid and most changed at random, so that both answers come up often.
fn small_history(rng: &mut StdRng) -> Vec<Op> {
    let config = RandomHistoryConfig {
        n_ops: rng.random_range(2..=12),
        n_processes: rng.random_range(1..=6),
        n_keys: 1,
        read_share: 0.4,
        cas_share: 0.4,
        info_share: 0.3,
        stale_share: 0.0,
        latency_us_max: 100,
        n_nodes: 1,
    };
    let mut ops = linearizable_history(rng, &config);
    let n_ops = ops.len();
    let values: Vec<u64> = ops.iter().filter_map(|op| op.value).collect();
    for _ in 0..rng.random_range(0..=3) {
        let op = &mut ops[rng.random_range(0..n_ops)];
        match rng.random_range(0..8) {
            0 | 1 if op.kind == OpKind::Read => {
                op.value = if rng.random_bool(0.2) {
                    None
                } else {
                    values.get(rng.random_range(0..values.len().max(1))).copied()
                };
                op.revision = Some(rng.random_range(0..=4));
            }
            2 if op.kind != OpKind::Read => {
                op.outcome = [Outcome::Ok, Outcome::Fail, Outcome::Info][rng.random_range(0..3)];
                op.revision = (op.outcome == Outcome::Ok).then(|| rng.random_range(1..=4));
            }
            3 if op.kind == OpKind::Cas => op.expected_revision = Some(rng.random_range(0..=3)),
            4 if op.kind != OpKind::Read => op.value = values.get(rng.random_range(0..values.len().max(1))).copied(),
            // Fields a recorder might leave out.
            5 => op.revision = None,
            6 => op.expected_revision = None,
            _ => {
                let shift = rng.random_range(0..=150);
                op.invoke_us = op.invoke_us.saturating_sub(shift);
            }
        }
    }
    ops
}

#[test]
fn the_checker_agrees_with_a_plain_search_on_small_histories() {
    let seed = test_seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let config = CheckConfig::default();
    let (mut n_valid, mut n_invalid) = (0, 0);
    for history_idx in 0..4_000 {
        let ops = small_history(&mut rng);
        let expected = if reference_linearizable(&ops) { Verdict::Valid } else { Verdict::Invalid };
        let (verdict, _) = checker::check_key(&ops, &config);
        assert_eq!(verdict, expected, "history {history_idx} of seed {seed}:\n{}", compact(&ops));
        if expected == Verdict::Valid {
            n_valid += 1
        } else {
            n_invalid += 1
        }
    }
    println!("{n_valid} valid and {n_invalid} invalid small histories agree");
    assert!(n_valid > 500 && n_invalid > 500, "{n_valid} valid, {n_invalid} invalid");
}

/// One line per op, for failure messages.
fn compact(ops: &[Op]) -> String {
    let show = |value: Option<u64>| value.map_or("-".to_string(), |value| value.to_string());
    ops.iter()
        .map(|op| {
            format!(
                "{:>3} p{} {:?} {:?} value {} revision {} expected {} [{}, {}]\n",
                op.index,
                op.process,
                op.kind,
                op.outcome,
                show(op.value),
                show(op.revision),
                show(op.expected_revision),
                op.invoke_us,
                op.complete_us
            )
        })
        .collect()
}
