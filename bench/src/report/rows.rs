//! What the report compares: the headline rows (dancu, etcd, their ratio and the ceilings that bound the figure)
//! and how a figure is printed. The terminal summary and report.md print the same rows.

use crate::results::Results;

/// What a figure counts; decides its precision and which ratio is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    PerSecond,
    Ms,
    Mib,
}

/// One figure of both systems at the headline concurrency, with the ceilings that bound it (where one does).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub label: String,
    pub unit: Unit,
    pub dancu: Option<f64>,
    pub etcd: Option<f64>,
    pub echo: Option<f64>,
    pub rocksdb: Option<f64>,
}

impl Row {
    fn new(label: impl Into<String>, unit: Unit, dancu: f64, etcd: f64) -> Row {
        Row { label: label.into(), unit, dancu: Some(dancu), etcd: Some(etcd), echo: None, rocksdb: None }
    }

    fn ceilings(self, echo: Option<f64>, rocksdb: Option<f64>) -> Row {
        Row { echo, rocksdb, ..self }
    }

    /// dancu ÷ etcd; none when either is missing or etcd's is zero.
    pub fn dancu_vs_etcd(&self) -> Option<f64> {
        ratio(self.dancu?, self.etcd?)
    }
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    let value = numerator / denominator;
    (denominator > 0.0 && value.is_finite()).then_some(value)
}

/// The rows of the ratio table, in the report's order.
pub(super) fn headline_rows(results: &Results) -> Vec<Row> {
    let (dancu, etcd, ceilings) = (&results.dancu, &results.etcd, &results.ceilings);
    let echo = &ceilings.echo;
    let mut rows = vec![
        Row::new(
            "linearizable get, ops/s",
            Unit::PerSecond,
            dancu.get_linearizable.ops_per_s,
            etcd.get_linearizable.ops_per_s,
        )
        .ceilings(Some(ceilings.echo_ops_per_s), Some(ceilings.rocksdb_get_per_s)),
        Row::new("linearizable get p50, ms", Unit::Ms, dancu.get_linearizable.p50_ms, etcd.get_linearizable.p50_ms)
            .ceilings(Some(echo.p50_ms), None),
        Row::new("linearizable get p99, ms", Unit::Ms, dancu.get_linearizable.p99_ms, etcd.get_linearizable.p99_ms)
            .ceilings(Some(echo.p99_ms), None),
        Row::new(
            "stale / serializable get, ops/s",
            Unit::PerSecond,
            dancu.get_serializable.ops_per_s,
            etcd.get_serializable.ops_per_s,
        )
        .ceilings(Some(ceilings.echo_ops_per_s), Some(ceilings.rocksdb_get_per_s)),
        Row::new(
            "stale / serializable get p99, ms",
            Unit::Ms,
            dancu.get_serializable.p99_ms,
            etcd.get_serializable.p99_ms,
        )
        .ceilings(Some(echo.p99_ms), None),
        // A put's RPC ceiling is the echo rate over the three round trips of an unbatched replicated write.
        Row::new("put, ops/s", Unit::PerSecond, dancu.put_ops_per_s, etcd.put_ops_per_s)
            .ceilings(Some(ceilings.unbatched_replicated_put_ops_per_s), None),
        Row::new("put p99, ms", Unit::Ms, dancu.put.p99_ms, etcd.put.p99_ms).ceilings(Some(echo.p99_ms), None),
    ];
    rows.extend(batch_rows(results));
    rows.extend([
        Row::new("failover p50, ms", Unit::Ms, dancu.failover_p50_ms, etcd.failover_p50_ms),
        Row::new("failover p99, ms", Unit::Ms, dancu.failover_p99_ms, etcd.failover_p99_ms),
        Row::new("largest node RSS, MiB", Unit::Mib, dancu.rss_mib, etcd.rss_mib),
        Row::new("load, records/s", Unit::PerSecond, dancu.load.records_per_s, etcd.load.records_per_s)
            .ceilings(None, Some(ceilings.rocksdb_import_records_per_s)),
    ]);
    rows
}

/// One row per batch size either system measured, keys/s; raw batched `MultiGet` of 100 keys is the ceiling.
fn batch_rows(results: &Results) -> Vec<Row> {
    let mut batch_sizes: Vec<usize> =
        results.dancu.batch_get.iter().chain(&results.etcd.batch_get).map(|batch| batch.batch_size).collect();
    batch_sizes.sort_unstable();
    batch_sizes.dedup();
    let keys_per_s = |batches: &[crate::results::BatchFigures], batch_size| {
        batches.iter().find(|batch| batch.batch_size == batch_size).map(|batch| batch.keys_per_s)
    };
    batch_sizes
        .into_iter()
        .map(|batch_size| Row {
            label: format!("batch get ({batch_size} keys), keys/s"),
            unit: Unit::PerSecond,
            dancu: keys_per_s(&results.dancu.batch_get, batch_size),
            etcd: keys_per_s(&results.etcd.batch_get, batch_size),
            echo: None,
            rocksdb: Some(results.ceilings.rocksdb_multi_get_keys_per_s),
        })
        .collect()
}

/// `41234` ops/s, `1.21` ms, `312.5` MiB; `–` when missing.
pub(super) fn figure(value: Option<f64>, unit: Unit) -> String {
    match (value, unit) {
        (None, _) => "–".to_string(),
        (Some(value), Unit::PerSecond) => format!("{value:.0}"),
        (Some(value), Unit::Ms) => format!("{value:.2}"),
        (Some(value), Unit::Mib) => format!("{value:.1}"),
    }
}

/// `6.02`; `–` when there is no ratio.
pub(super) fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |value| format!("{value:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_missing_when_etcd_measured_nothing() {
        let check = |dancu: f64, etcd: f64, expected: Option<f64>| {
            assert_eq!(Row::new("x", Unit::PerSecond, dancu, etcd).dancu_vs_etcd(), expected, "{dancu} / {etcd}");
        };
        check(600.0, 100.0, Some(6.0));
        check(0.0, 100.0, Some(0.0));
        check(600.0, 0.0, None);
        check(f64::NAN, 1.0, None);
    }

    #[test]
    fn figures_print_with_their_unit_precision() {
        assert_eq!(figure(Some(41_234.4), Unit::PerSecond), "41234");
        assert_eq!(figure(Some(1.214), Unit::Ms), "1.21");
        assert_eq!(figure(Some(312.46), Unit::Mib), "312.5");
        assert_eq!(figure(None, Unit::Ms), "–");
        assert_eq!(ratio_text(Some(6.016)), "6.02");
    }
}
