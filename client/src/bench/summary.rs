//! The result of a run: throughput, latency percentiles, the per-second series; as JSON and as a table line.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::Measured;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl LatencySummary {
    /// From a histogram of microseconds; all zero when it is empty.
    pub fn from_histogram_us(histogram: &Histogram<u64>) -> LatencySummary {
        if histogram.is_empty() {
            return LatencySummary { p50: 0.0, p99: 0.0, p999: 0.0, max: 0.0, mean: 0.0 };
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        LatencySummary {
            p50: ms(histogram.value_at_quantile(0.50)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1_000.0,
        }
    }
}

/// One run's figures. The JSON field names are stable (`dancuctl bench run --output json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// `get`, `batch-get`, `verify`, `put` or `mixed`.
    pub workload: String,
    /// The read level (`linearizable`, `read-index`, `follower`, `stale`); null for `put`.
    pub consistency: Option<String>,
    /// `uniform` or `zipfian`.
    pub distribution: String,
    pub concurrency: usize,
    /// Separate clients (each with its own channel per node) the loops share.
    pub connections: usize,
    /// The measured time, warm-up excluded.
    pub duration_s: f64,
    /// Keys per request (the batch size for `batch-get`, else 1).
    pub batch_size: usize,
    /// Requests that succeeded in the measured time.
    pub ops: u64,
    /// Requests that failed in the measured time (not found and verify mismatches included).
    pub errors: u64,
    pub ops_per_s: f64,
    /// `ops_per_s` × `batch_size`.
    pub keys_per_s: f64,
    /// Latency of the successful requests.
    pub latency_ms: LatencySummary,
    /// Successful requests completed in each second of the measured time (the last may be a partial second).
    pub per_second: Vec<u64>,
    /// The first error seen in the measured time, for the operator (no stored value in it).
    pub first_error: Option<String>,
    /// The latency distribution at fixed quantiles (for CDF plots); empty when nothing succeeded.
    #[serde(default)]
    pub latency_cdf: Vec<CdfPoint>,
}

/// One point of a latency CDF: `quantile` of the requests took at most `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CdfPoint {
    pub quantile: f64,
    pub ms: f64,
}

/// Quantiles a CDF is sampled at: dense in the tail, where systems differ.
const CDF_QUANTILES: [f64; 24] = [
    0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.993, 0.995, 0.997,
    0.999, 0.9995, 0.9999, 1.0,
];

/// The CDF of a histogram of microseconds, at [`CDF_QUANTILES`].
pub fn latency_cdf(histogram_us: &Histogram<u64>) -> Vec<CdfPoint> {
    if histogram_us.is_empty() {
        return Vec::new();
    }
    CDF_QUANTILES
        .iter()
        .map(|&quantile| CdfPoint { quantile, ms: histogram_us.value_at_quantile(quantile) as f64 / 1_000.0 })
        .collect()
}

impl BenchResult {
    /// The result of a measured closed loop; `keys_per_op` is the batch size (1 for single-key requests).
    pub fn from_measured(
        workload: &str,
        consistency: Option<&str>,
        distribution: &str,
        keys_per_op: usize,
        connections: usize,
        concurrency: usize,
        measured: &Measured,
    ) -> BenchResult {
        let ops_per_s = measured.ops_per_s();
        BenchResult {
            workload: workload.to_string(),
            consistency: consistency.map(str::to_string),
            distribution: distribution.to_string(),
            concurrency,
            connections,
            duration_s: measured.duration.as_secs_f64(),
            batch_size: keys_per_op,
            ops: measured.ops(),
            errors: measured.errors,
            ops_per_s,
            keys_per_s: ops_per_s * keys_per_op as f64,
            latency_ms: LatencySummary::from_histogram_us(&measured.latency_us),
            per_second: measured.per_second.clone(),
            first_error: measured.first_error.clone(),
            latency_cdf: latency_cdf(&measured.latency_us),
        }
    }

    /// `get linearizable uniform c=64 m=1: 41234 ops/s, 41234 keys/s, p50 1.21 ms, p99 3.40 ms, p999 8.02 ms,
    /// max 15.11 ms, 0 errors`.
    pub fn table_line(&self) -> String {
        let consistency = self.consistency.as_deref().map(|level| format!(" {level}")).unwrap_or_default();
        let latency = &self.latency_ms;
        format!(
            "{}{consistency} {} c={} m={}: {:.0} ops/s, {:.0} keys/s, p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, \
             max {:.2} ms, {} errors",
            self.workload,
            self.distribution,
            self.concurrency,
            self.connections,
            self.ops_per_s,
            self.keys_per_s,
            latency.p50,
            latency.p99,
            latency.p999,
            latency.max,
            self.errors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_us(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds");
        for value in values {
            histogram.record(value).expect("in range");
        }
        histogram
    }

    fn check(values: Vec<u64>, expected: LatencySummary) {
        let summary = LatencySummary::from_histogram_us(&histogram_us(values));
        // Three significant digits: values are exact to within 0.1 %.
        let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * 0.001 + 1e-9;
        let pairs = [
            (summary.p50, expected.p50),
            (summary.p99, expected.p99),
            (summary.p999, expected.p999),
            (summary.max, expected.max),
            (summary.mean, expected.mean),
        ];
        assert!(pairs.iter().all(|&(got, want)| close(got, want)), "{summary:?} vs {expected:?}");
    }

    #[test]
    fn percentiles_from_a_known_histogram() {
        // 1..=1000 µs once each: the median is 0.5 ms, p99 0.99 ms, p999 0.999 ms.
        check((1..=1_000).collect(), LatencySummary { p50: 0.5, p99: 0.99, p999: 0.999, max: 1.0, mean: 0.5005 });
        // 990 fast requests and 10 slow ones: p99 still fast, p999 and max slow.
        let mut values = vec![100; 990];
        values.extend([50_000; 10]);
        check(values, LatencySummary { p50: 0.1, p99: 0.1, p999: 50.0, max: 50.0, mean: 0.599 });
        check(vec![], LatencySummary { p50: 0.0, p99: 0.0, p999: 0.0, max: 0.0, mean: 0.0 });
    }

    #[test]
    fn table_line_names_every_figure() {
        let result = BenchResult {
            workload: "batch-get".to_string(),
            consistency: Some("stale".to_string()),
            distribution: "zipfian".to_string(),
            concurrency: 64,
            connections: 2,
            duration_s: 5.0,
            batch_size: 100,
            ops: 5_000,
            errors: 3,
            ops_per_s: 1_000.0,
            keys_per_s: 100_000.0,
            latency_ms: LatencySummary { p50: 1.0, p99: 2.5, p999: 4.0, max: 9.12, mean: 1.1 },
            per_second: vec![1_000; 5],
            first_error: None,
            latency_cdf: Vec::new(),
        };
        assert_eq!(
            result.table_line(),
            "batch-get stale zipfian c=64 m=2: 1000 ops/s, 100000 keys/s, p50 1.00 ms, p99 2.50 ms, p999 4.00 ms, \
             max 9.12 ms, 3 errors"
        );
    }
}
