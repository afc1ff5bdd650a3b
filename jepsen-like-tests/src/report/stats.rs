//! Counts and per-bucket figures that the summary and the page show.

use std::collections::BTreeMap;

use crate::history::{FaultWindow, Op, OpKind, Outcome, ReadLevel};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct OutcomeCounts {
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

impl OutcomeCounts {
    pub fn of<'o>(ops: impl Iterator<Item = &'o Op>) -> Self {
        let mut counts = OutcomeCounts::default();
        for op in ops {
            counts.add(op.outcome);
        }
        counts
    }

    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Info => self.info += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.ok + self.fail + self.info
    }
}

/// "read (linearizable)", "write", "cas", ...
pub(super) fn kind_label(op: &Op) -> String {
    let kind = match op.kind {
        OpKind::Read => "read",
        OpKind::Write => "write",
        OpKind::Cas => "cas",
    };
    match op.level {
        Some(level) => format!("{kind} ({})", level_name(level)),
        None => kind.to_string(),
    }
}

fn level_name(level: ReadLevel) -> &'static str {
    match level {
        ReadLevel::Linearizable => "linearizable",
        ReadLevel::ReadIndex => "read_index",
        ReadLevel::Follower => "follower",
        ReadLevel::Stale => "stale",
    }
}

pub(super) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    }
}

/// Counts per op kind and read level, sorted by label.
pub(super) fn counts_by_kind(ops: &[Op]) -> Vec<(String, OutcomeCounts)> {
    let mut by_kind: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
    for op in ops {
        by_kind.entry(kind_label(op)).or_default().add(op.outcome);
    }
    by_kind.into_iter().collect()
}

/// When the run ended, as far as the history and the faults tell.
pub(super) fn end_us(ops: &[Op], faults: &[FaultWindow]) -> u64 {
    let ops_end_us = ops.iter().map(|op| op.complete_us.max(op.invoke_us)).max().unwrap_or(0);
    let faults_end_us = faults.iter().map(|fault| fault.end_us.unwrap_or(fault.start_us)).max().unwrap_or(0);
    ops_end_us.max(faults_end_us).max(1)
}

/// A fault still active at the end lasts until the end.
pub(super) fn fault_end_us(fault: &FaultWindow, end_us: u64) -> u64 {
    fault.end_us.unwrap_or(end_us).max(fault.start_us)
}

/// Ops completed in one time bucket.
#[derive(Debug, Clone, Default)]
pub(super) struct Bucket {
    pub counts: OutcomeCounts,
    /// Latencies of the ok ops, sorted.
    pub ok_latencies_ms: Vec<f64>,
}

impl Bucket {
    /// The `percent` percentile of the ok latencies (nearest rank), if any op completed ok.
    pub fn ok_latency_ms(&self, percent: usize) -> Option<f64> {
        let n = self.ok_latencies_ms.len();
        (n > 0).then(|| self.ok_latencies_ms[((n * percent).div_ceil(100)).clamp(1, n) - 1])
    }
}

/// Buckets of `bucket_us` covering `[0, end_us]`, each with the ops that completed in it.
pub(super) fn buckets(ops: &[Op], bucket_us: u64, end_us: u64) -> Vec<Bucket> {
    assert!(bucket_us > 0);
    let n_buckets = usize::try_from(end_us / bucket_us + 1).expect("bucket count fits in usize");
    let mut buckets = vec![Bucket::default(); n_buckets];
    for op in ops {
        let bucket_idx = usize::try_from(op.complete_us.min(end_us) / bucket_us).expect("fits");
        let bucket = &mut buckets[bucket_idx];
        bucket.counts.add(op.outcome);
        if op.outcome == Outcome::Ok {
            bucket.ok_latencies_ms.push(op.complete_us.saturating_sub(op.invoke_us) as f64 / 1_000.0);
        }
    }
    for bucket in &mut buckets {
        bucket.ok_latencies_ms.sort_by(f64::total_cmp);
    }
    buckets
}

/// Buckets of one second, unless the run is so long that there would be more than `n_buckets_max`.
pub(super) fn bucket_us_for(end_us: u64, n_buckets_max: u64) -> u64 {
    let seconds = end_us.div_ceil(1_000_000).max(1);
    seconds.div_ceil(n_buckets_max) * 1_000_000
}

/// Seconds, as shown in tables.
pub(super) fn seconds(us: u64) -> String {
    format!("{:.3}", us as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let bucket = Bucket { counts: OutcomeCounts::default(), ok_latencies_ms: (1..=100).map(f64::from).collect() };
        assert_eq!(bucket.ok_latency_ms(50), Some(50.0));
        assert_eq!(bucket.ok_latency_ms(99), Some(99.0));
        let one = Bucket { counts: OutcomeCounts::default(), ok_latencies_ms: vec![7.0] };
        assert_eq!(one.ok_latency_ms(99), Some(7.0));
        assert_eq!(Bucket::default().ok_latency_ms(50), None);
    }

    #[test]
    fn buckets_are_one_second_until_there_are_too_many() {
        assert_eq!(bucket_us_for(300_000_000, 2_000), 1_000_000);
        assert_eq!(bucket_us_for(5_000_000_000, 2_000), 3_000_000);
    }
}
