//! Our own linearizability checker for dancu histories (no crate: see DESIGN.md, "The checker").
//!
//! Each key is an independent register `(value, revision)`, initially `(None, 0)`, so the history is split per key
//! and the keys are checked in parallel. A key's ops are checked with a Wing–Gong–Lowe search refined the way
//! Porcupine does it (`search`); its stale reads are checked only for per-node monotonicity (`stale`). When a key
//! is not linearizable, `window` finds the smallest failing window to show auditors.
//!
//! What is checked, per op (anything else is dropped from the linearizability search):
//! - ok reads whose level is not `Stale`: observe exactly `(value, revision)` at their linearization point;
//! - ok writes: `(Some(value), revision + 1)`, and `op.revision`, when present, must be that new revision;
//! - ok CAS: like a write, and the stored revision must equal `expected_revision`;
//! - failed CAS: the server answered `ABORTED`, so the stored revision differed from `expected_revision`;
//! - info writes and CAS: may take effect at any time after their invocation, or never.
//!
//! Failed reads, failed plain writes and info reads are dropped. A CAS without `expected_revision` is checked as
//! a plain write (it cannot be anything else), and a write without a value writes a value no read can observe.
//!
//! Architecture Invariant: a search that runs out of time or memory gives `Verdict::Unknown`, never a pass.
//!
//! Architecture Invariant: the checker does no I/O; `crate::report` writes what it finds.

pub mod random_history;
mod search;
mod stale;
mod window;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::history::{Op, OpKind, Outcome};

/// The answer for a key or a whole history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    /// The search ran out of its time budget (or its memory bound) before it could decide.
    Unknown,
}

impl Verdict {
    /// Combines two verdicts: any `Invalid` wins, then any `Unknown`.
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            (Verdict::Valid, Verdict::Valid) => Verdict::Valid,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConfig {
    /// How long one key's linearizability search may run before its verdict becomes `Unknown`. Looking for the
    /// smallest failing window of an invalid key may take up to a quarter of this again.
    pub time_budget: Duration,
    /// How many keys are checked at once (0 counts as 1).
    pub n_threads: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        let n_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        CheckConfig { time_budget: Duration::from_secs(60), n_threads }
    }
}

/// One problem found in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub key: String,
    /// `"nonlinearizable"` or `"stale-read-regression"`.
    pub kind: String,
    pub message: String,
    /// The ops to look at, sorted by invocation time: for `nonlinearizable`, the smallest failing window (see
    /// [`check_key`]); for `stale-read-regression`, the earlier read and the later read that went back.
    pub window: Vec<Op>,
}

pub const ANOMALY_NONLINEARIZABLE: &str = "nonlinearizable";
pub const ANOMALY_STALE_READ_REGRESSION: &str = "stale-read-regression";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReport {
    pub key: String,
    /// `Invalid` if the key is not linearizable or its stale reads went back on some node.
    pub verdict: Verdict,
    /// All of the key's ops in the history, including those dropped from checking.
    pub n_ops: usize,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// `Invalid` if any key is invalid (which includes stale-read regressions); else `Unknown` if any key is
    /// unknown; else `Valid`.
    pub verdict: Verdict,
    pub n_ops: usize,
    pub n_keys: usize,
    /// Sorted by key.
    pub keys: Vec<KeyReport>,
    /// Sorted by key.
    pub anomalies: Vec<Anomaly>,
    pub elapsed_ms: u64,
}

/// Checks a whole history: per key, linearizability of its checked ops and monotonicity of its stale reads.
pub fn check(ops: &[Op], config: &CheckConfig) -> CheckReport {
    let started = Instant::now();
    let mut by_key: BTreeMap<&str, Vec<Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op.clone());
    }
    let keys: Vec<(&str, Vec<Op>)> = by_key.into_iter().collect();
    let results = check_keys_in_parallel(&keys, config);

    let mut verdict = Verdict::Valid;
    let mut reports = Vec::with_capacity(results.len());
    let mut anomalies = Vec::new();
    for (report, key_anomalies) in results {
        verdict = verdict.and(report.verdict);
        reports.push(report);
        anomalies.extend(key_anomalies);
    }
    CheckReport {
        verdict,
        n_ops: ops.len(),
        n_keys: reports.len(),
        keys: reports,
        anomalies,
        elapsed_ms: elapsed_ms(started),
    }
}

/// Checks the linearizability of one key's ops (stale reads are ignored here: [`check`] checks them).
///
/// On `Invalid`, also returns the smallest failing window, sorted by invocation time. It is found this way:
/// 1. Cut the history at time T: ops completed by T are kept as they are, ops invoked by T but completed later
///    become info ops (they may or may not have taken effect by T), later ops are left out. Such a prefix fails
///    whenever a shorter one does, so a binary search over the completion times of the checked ops finds the
///    first T at which the key is already not linearizable. The op that completes at that T is the *last op*.
/// 2. The window is the last op and up to 29 of the prefix's other checked ops (those invoked before the last op
///    completed), the nearest in time first: those that overlap the last op, latest invoked first, then those
///    that completed before it was invoked, latest completed first; an info op counts as completing when the
///    client gave up on it. When the last op is a read, the write of the value it observed is added if missing.
///
/// Ops are reported as recorded (an op that was only pending at T keeps its real outcome). If the binary search
/// runs out of time, the window is taken from a longer prefix (at worst the whole history), never a passing one.
pub fn check_key(ops: &[Op], config: &CheckConfig) -> (Verdict, Option<Vec<Op>>) {
    let (verdict, window) = check_key_for_window(ops, config);
    (verdict, window.map(|window| window.ops))
}

fn check_key_for_window(ops: &[Op], config: &CheckConfig) -> (Verdict, Option<window::FailingWindow>) {
    if let Some(first) = ops.first() {
        assert!(ops.iter().all(|op| op.key == first.key), "check_key takes the ops of a single key");
    }
    let started = Instant::now();
    let verdict = search::check_linearizable(ops, started + config.time_budget);
    if verdict != Verdict::Invalid {
        return (verdict, None);
    }
    // The window is for auditors and always exists (the whole history fails); give the search for a smaller one
    // what is left of the budget, or at least a quarter of it.
    let deadline = (started + config.time_budget).max(Instant::now() + config.time_budget / 4);
    (verdict, Some(window::smallest_failing_window(ops, deadline)))
}

fn check_keys_in_parallel(keys: &[(&str, Vec<Op>)], config: &CheckConfig) -> Vec<(KeyReport, Vec<Anomaly>)> {
    // The largest keys first, so that no worker is left with a big key at the end.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&idx| std::cmp::Reverse(keys[idx].1.len()));
    let next_idx = AtomicUsize::new(0);
    let n_workers = config.n_threads.clamp(1, keys.len().max(1));

    let mut results: Vec<Option<(KeyReport, Vec<Anomaly>)>> = (0..keys.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..n_workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let order_idx = next_idx.fetch_add(1, Ordering::Relaxed);
                        let Some(&key_idx) = order.get(order_idx) else { break };
                        let (key, ops) = &keys[key_idx];
                        done.push((key_idx, check_one_key(key, ops, config)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            for (key_idx, result) in worker.join().expect("a checker worker panicked") {
                results[key_idx] = Some(result);
            }
        }
    });
    results.into_iter().map(|result| result.expect("every key was checked")).collect()
}

fn check_one_key(key: &str, ops: &[Op], config: &CheckConfig) -> (KeyReport, Vec<Anomaly>) {
    let started = Instant::now();
    let (linearizable, window) = check_key_for_window(ops, config);
    let mut anomalies = Vec::new();
    if let Some(window) = window {
        let last = &window.last;
        let message = format!(
            "key {key} has no valid order once op {} completes: {} by process {}, {:.3} s to {:.3} s; \
             the window shows the {} ops nearest to it",
            last.index,
            describe(last),
            last.process,
            last.invoke_us as f64 / 1e6,
            last.complete_us as f64 / 1e6,
            window.ops.len()
        );
        let window = window.ops;
        anomalies.push(Anomaly { key: key.to_string(), kind: ANOMALY_NONLINEARIZABLE.into(), message, window });
    }
    anomalies.extend(stale::stale_read_regressions(key, ops));
    let verdict = if anomalies.is_empty() { linearizable } else { Verdict::Invalid };
    let report = KeyReport { key: key.to_string(), verdict, n_ops: ops.len(), elapsed_ms: elapsed_ms(started) };
    (report, anomalies)
}

/// What an op did, in words: "a read (linearizable) of value 5 at revision 3", "an ok write of value 7 (revision
/// 4)", "a failed CAS of value 9 expecting revision 2".
fn describe(op: &Op) -> String {
    let show = |value: Option<u64>| value.map_or("none".to_string(), |value| value.to_string());
    let outcome = match op.outcome {
        Outcome::Ok => "an ok",
        Outcome::Fail => "a failed",
        Outcome::Info => "an unknown",
    };
    match op.kind {
        OpKind::Read => {
            let level = op
                .level
                .map_or(String::new(), |level| format!(" ({})", serde_json::json!(level).as_str().unwrap_or("?")));
            format!("{outcome} read{level} of value {} at revision {}", show(op.value), show(op.revision))
        }
        OpKind::Write => format!("{outcome} write of value {} (revision {})", show(op.value), show(op.revision)),
        OpKind::Cas => format!(
            "{outcome} CAS of value {} expecting revision {} (revision {})",
            show(op.value),
            show(op.expected_revision),
            show(op.revision)
        ),
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_combine_invalid_first_then_unknown() {
        use Verdict::*;
        assert_eq!(Valid.and(Valid), Valid);
        assert_eq!(Valid.and(Unknown), Unknown);
        assert_eq!(Unknown.and(Invalid), Invalid);
        assert_eq!(Invalid.and(Valid), Invalid);
    }

    #[test]
    fn verdicts_serialize_lowercase_and_display_the_same() {
        for verdict in [Verdict::Valid, Verdict::Invalid, Verdict::Unknown] {
            assert_eq!(serde_json::to_string(&verdict).unwrap(), format!("\"{verdict}\""));
        }
    }

    #[test]
    fn empty_history_is_valid() {
        let report = check(&[], &CheckConfig::default());
        assert_eq!(report.verdict, Verdict::Valid);
        assert_eq!(report.n_keys, 0);
    }
}
