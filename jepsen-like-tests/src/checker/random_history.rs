//! Random histories that are linearizable by construction, and ways to break them, for testing the checker (and
//! anything else that needs a realistic history, such as the report).
//!
//! Processes run one op at a time over a few keys. Each op gets a linearization point inside its
//! `[invoke, complete]` window (an info write's may fall after `complete`, or it never takes effect), and the ops
//! are applied to a sequential model in linearization-point order, which gives each op its result. Stale reads
//! are served by a node that lags a fixed time behind, so each node's stale reads never go back.

use std::collections::HashMap;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

use crate::history::{Op, OpKind, Outcome, ReadLevel};

/// The environment variable that replays a randomized test.
pub const TEST_SEED_ENV: &str = "DANCU_TEST_SEED";

/// The seed of a randomized test: `DANCU_TEST_SEED` if set, else a random one; printed either way.
pub fn test_seed() -> u64 {
    let seed = match std::env::var(TEST_SEED_ENV) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{TEST_SEED_ENV}={text} is not a u64")),
        Err(_) => rand::random(),
    };
    println!("{TEST_SEED_ENV}={seed}");
    seed
}

#[derive(Debug, Clone, PartialEq)]
pub struct RandomHistoryConfig {
    pub n_ops: usize,
    pub n_processes: u32,
    pub n_keys: usize,
    /// Share of ops that are reads; the rest are writes and CAS.
    pub read_share: f64,
    /// Share of the non-reads that are CAS.
    pub cas_share: f64,
    /// Share of writes and CAS whose outcome is unknown; half of those take effect.
    pub info_share: f64,
    /// Share of reads that are stale.
    pub stale_share: f64,
    /// Each op takes 1 µs to this long.
    pub latency_us_max: u64,
    /// Nodes that serve reads; node N's stale reads lag `N × latency_us_max` behind.
    pub n_nodes: u64,
}

impl Default for RandomHistoryConfig {
    fn default() -> Self {
        RandomHistoryConfig {
            n_ops: 200,
            n_processes: 5,
            n_keys: 3,
            read_share: 0.5,
            cas_share: 0.3,
            info_share: 0.1,
            stale_share: 0.1,
            latency_us_max: 1_000,
            n_nodes: 3,
        }
    }
}

/// What the generator decided about an op before running the model.
struct Plan {
    op: Op,
    /// When it takes effect or observes; `None`: never.
    linearized_us: Option<u64>,
}

#[derive(Clone, Copy, Default)]
struct Register {
    value: Option<u64>,
    revision: u64,
}

/// A history of `config.n_ops` ops that is linearizable, with stale reads that never go back on a node.
pub fn linearizable_history(rng: &mut impl Rng, config: &RandomHistoryConfig) -> Vec<Op> {
    assert!(config.n_processes > 0 && config.n_keys > 0 && config.n_nodes > 0 && config.latency_us_max > 0);
    let mut plans = schedule(rng, config);
    run_model(rng, config, &mut plans);
    let mut ops: Vec<Op> = plans.into_iter().map(|plan| plan.op).collect();
    ops.sort_by_key(|op| (op.invoke_us, op.process));
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index;
    }
    ops
}

/// Invocation and completion times, kinds, outcomes decided up front, and linearization points.
fn schedule(rng: &mut impl Rng, config: &RandomHistoryConfig) -> Vec<Plan> {
    let mut free_us: Vec<u64> = (0..config.n_processes).map(|_| rng.random_range(0..100)).collect();
    let mut plans = Vec::with_capacity(config.n_ops);
    for op_idx in 0..config.n_ops {
        let process = (0..free_us.len()).min_by_key(|&process| free_us[process]).expect("a process");
        let invoke_us = free_us[process] + rng.random_range(0..20);
        let complete_us = invoke_us + rng.random_range(1..=config.latency_us_max);
        free_us[process] = complete_us;
        let kind = if rng.random_bool(config.read_share) {
            OpKind::Read
        } else if rng.random_bool(config.cas_share) {
            OpKind::Cas
        } else {
            OpKind::Write
        };
        let mut op = Op {
            index: op_idx,
            process: process as u32,
            key: format!("key-{}", rng.random_range(0..config.n_keys)),
            kind,
            level: None,
            value: None,
            revision: None,
            expected_revision: None,
            invoke_us,
            complete_us,
            outcome: Outcome::Ok,
            node: Some(rng.random_range(1..=config.n_nodes)),
            error: None,
        };
        let in_window_us = rng.random_range(invoke_us..=complete_us);
        let linearized_us = if kind == OpKind::Read {
            op.level = Some(random_level(rng, config));
            plan_read_outcome(rng, &mut op).then_some(in_window_us)
        } else {
            // Values are unique per history.
            op.value = Some(op_idx as u64 + 1);
            plan_write_outcome(rng, config, &mut op, in_window_us)
        };
        plans.push(Plan { op, linearized_us });
    }
    plans
}

fn random_level(rng: &mut impl Rng, config: &RandomHistoryConfig) -> ReadLevel {
    if rng.random_bool(config.stale_share) {
        return ReadLevel::Stale;
    }
    [ReadLevel::Linearizable, ReadLevel::ReadIndex, ReadLevel::Follower][rng.random_range(0..3)]
}

/// Whether the read returns; a few fail or time out.
fn plan_read_outcome(rng: &mut impl Rng, op: &mut Op) -> bool {
    match rng.random_range(0..100) {
        0..3 => set_error(op, Outcome::Fail, "unavailable"),
        3..6 => set_error(op, Outcome::Info, "deadline exceeded"),
        _ => return true,
    }
    false
}

/// When the write takes effect, if ever (a CAS that takes effect may still fail when the model runs).
fn plan_write_outcome(rng: &mut impl Rng, config: &RandomHistoryConfig, op: &mut Op, in_window_us: u64) -> Option<u64> {
    if rng.random_bool(config.info_share) {
        set_error(op, Outcome::Info, "deadline exceeded");
        // An unknown outcome: it took effect, possibly after the client gave up, or it never did.
        let latency_us = op.complete_us - op.invoke_us;
        return rng.random_bool(0.5).then(|| op.invoke_us + rng.random_range(0..=3 * latency_us));
    }
    if op.kind == OpKind::Write && rng.random_range(0..100) < 3 {
        set_error(op, Outcome::Fail, "not leader");
        return None;
    }
    Some(in_window_us)
}

fn set_error(op: &mut Op, outcome: Outcome, error: &str) {
    op.outcome = outcome;
    op.error = Some(error.to_string());
}

/// Applies the ops in linearization-point order and fills in what each op observed or produced.
fn run_model(rng: &mut impl Rng, config: &RandomHistoryConfig, plans: &mut [Plan]) {
    let mut order: Vec<usize> = (0..plans.len()).filter(|&idx| plans[idx].linearized_us.is_some()).collect();
    order.sort_by_key(|&idx| (plans[idx].linearized_us, idx));
    let mut registers: HashMap<String, Register> = HashMap::new();
    // Each key's register after each write, for the stale reads.
    let mut timelines: HashMap<String, Vec<(u64, Register)>> = HashMap::new();
    // The revision each process last saw of each key, which its CAS expect.
    let mut last_seen: HashMap<(u32, String), u64> = HashMap::new();
    let mut stale_reads = Vec::new();

    for idx in order {
        let at_us = plans[idx].linearized_us.expect("only linearized ops are ordered");
        let op = &mut plans[idx].op;
        if op.level == Some(ReadLevel::Stale) {
            stale_reads.push(idx);
            continue;
        }
        let register = registers.entry(op.key.clone()).or_default();
        let seen = last_seen.entry((op.process, op.key.clone())).or_default();
        match op.kind {
            OpKind::Read => {
                (op.value, op.revision) = (register.value, Some(register.revision));
                *seen = register.revision;
                continue;
            }
            OpKind::Cas => {
                // As a client would: the revision current when it started (as if it had just read), or the last
                // one it saw itself, or now and then a guess; some of these CAS fail.
                let timeline = timelines.get(&op.key).map_or(&[][..], Vec::as_slice);
                let n_applied = timeline.partition_point(|&(at_us, _)| at_us <= op.invoke_us);
                let current = n_applied.checked_sub(1).map_or(0, |idx| timeline[idx].1.revision);
                let expected = match rng.random_range(0..10) {
                    0..5 => current,
                    5..9 => *seen,
                    _ => *seen + rng.random_range(0..3),
                };
                op.expected_revision = Some(expected);
                if register.revision != expected {
                    if op.outcome == Outcome::Ok {
                        set_error(op, Outcome::Fail, "aborted: revision mismatch");
                    }
                    continue;
                }
            }
            OpKind::Write => {}
        }
        *register = Register { value: op.value, revision: register.revision + 1 };
        if op.outcome == Outcome::Ok {
            op.revision = Some(register.revision);
            *seen = register.revision;
        }
        timelines.entry(op.key.clone()).or_default().push((at_us, *register));
    }
    for idx in stale_reads {
        let op = &mut plans[idx].op;
        let lag_us = op.node.expect("every generated op has a node") * config.latency_us_max;
        let as_of_us = plans[idx].linearized_us.expect("stale reads here are linearized").saturating_sub(lag_us);
        let timeline = timelines.get(&op.key).map_or(&[][..], Vec::as_slice);
        let n_applied = timeline.partition_point(|&(at_us, _)| at_us <= as_of_us);
        let register = n_applied.checked_sub(1).map_or(Register::default(), |idx| timeline[idx].1);
        (op.value, op.revision) = (register.value, Some(register.revision));
    }
}

/// A read that [`break_one_read`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRead {
    /// Its position in the slice.
    pub op_idx: usize,
    /// What was done, for the test's failure message.
    pub how: String,
}

/// Changes what one ok, non-stale read observed so that no linearization exists; returns which read and how, or
/// `None` when the history has no read it can break that way.
///
/// Two ways, tried in random order: the read returns a value whose only write was invoked after the read
/// completed; or the read returns an older write's value and revision although a write that produced a higher
/// revision completed before the read was invoked.
pub fn break_one_read(rng: &mut impl Rng, ops: &mut [Op]) -> Option<BrokenRead> {
    if rng.random_bool(0.5) {
        read_from_the_future(rng, ops).or_else(|| read_from_the_past(rng, ops))
    } else {
        read_from_the_past(rng, ops).or_else(|| read_from_the_future(rng, ops))
    }
}

/// The ok, non-stale reads, in random order.
fn breakable_reads(rng: &mut impl Rng, ops: &[Op]) -> Vec<usize> {
    let mut reads: Vec<usize> = (0..ops.len())
        .filter(|&idx| {
            let op = &ops[idx];
            op.kind == OpKind::Read && op.outcome == Outcome::Ok && op.level != Some(ReadLevel::Stale)
        })
        .collect();
    reads.shuffle(rng);
    reads
}

fn read_from_the_future(rng: &mut impl Rng, ops: &mut [Op]) -> Option<BrokenRead> {
    for read_idx in breakable_reads(rng, ops) {
        let read = &ops[read_idx];
        let later_writes: Vec<usize> = (0..ops.len())
            .filter(|&idx| {
                let write = &ops[idx];
                write.kind != OpKind::Read && write.key == read.key && write.invoke_us > read.complete_us
            })
            .collect();
        let Some(&write_idx) = later_writes.choose(rng) else { continue };
        let (value, revision) = (ops[write_idx].value, ops[write_idx].revision);
        let read = &mut ops[read_idx];
        read.value = value;
        read.revision = revision.or(read.revision);
        let how = format!("op {read_idx} now reads the value of op {write_idx}, invoked after it completed");
        return Some(BrokenRead { op_idx: read_idx, how });
    }
    None
}

fn read_from_the_past(rng: &mut impl Rng, ops: &mut [Op]) -> Option<BrokenRead> {
    let is_ok_write = |op: &Op| op.kind != OpKind::Read && op.outcome == Outcome::Ok && op.revision.is_some();
    for read_idx in breakable_reads(rng, ops) {
        let read = &ops[read_idx];
        let same_key_writes = || ops.iter().enumerate().filter(|(_, op)| is_ok_write(op) && op.key == read.key);
        // The highest revision that a write of this key had produced before the read was invoked.
        let revision_floor = same_key_writes()
            .filter(|(_, write)| write.complete_us < read.invoke_us)
            .map(|(_, write)| write.revision)
            .max();
        let Some(revision_floor) = revision_floor else { continue };
        let older: Vec<usize> =
            same_key_writes().filter(|(_, write)| write.revision < revision_floor).map(|(idx, _)| idx).collect();
        let Some(&write_idx) = older.choose(rng) else { continue };
        let (value, revision) = (ops[write_idx].value, ops[write_idx].revision);
        let read = &mut ops[read_idx];
        (read.value, read.revision) = (value, revision);
        let how =
            format!("op {read_idx} now reads the older value of op {write_idx}, after a newer write had completed");
        return Some(BrokenRead { op_idx: read_idx, how });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn histories_are_deterministic_per_seed_and_well_formed() {
        let seed = test_seed();
        let config = RandomHistoryConfig::default();
        let ops = linearizable_history(&mut StdRng::seed_from_u64(seed), &config);
        assert_eq!(ops, linearizable_history(&mut StdRng::seed_from_u64(seed), &config));
        assert_eq!(ops.len(), config.n_ops);
        for (index, op) in ops.iter().enumerate() {
            assert_eq!(op.index, index);
            assert!(op.invoke_us < op.complete_us);
            if op.kind == OpKind::Cas && op.outcome == Outcome::Ok {
                assert_eq!(op.revision, op.expected_revision.map(|revision| revision + 1), "{op:?}");
            }
        }
        // One process runs one op at a time.
        for process in 0..config.n_processes {
            let mine: Vec<&Op> = ops.iter().filter(|op| op.process == process).collect();
            assert!(mine.windows(2).all(|pair| pair[0].complete_us <= pair[1].invoke_us));
        }
    }
}
