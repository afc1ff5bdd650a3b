//! Random histories, linearizable by construction, must pass; the same histories with one read broken must fail,
//! with the broken read in the reported window. Seeds print and replay with `DANCU_TEST_SEED`.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use dancu_jepsen::checker::random_history::{break_one_read, linearizable_history, test_seed, RandomHistoryConfig};
use dancu_jepsen::checker::{self, CheckConfig, Verdict};
use dancu_jepsen::history::{Op, Outcome};

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
