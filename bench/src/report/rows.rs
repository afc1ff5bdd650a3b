//! What the report compares: the headline rows (dancu, etcd, their ratio and the ceilings that bound the figure)
//! and how a figure is printed. The terminal summary and report.md print the same rows.
//!
//! dancu's figures are of the insecure-plaintext cluster, except in the rows that name mutual TLS ("mTLS": the
//! full-access caller; "mTLS masked": the caller whose role hides fields), which sit right below the plaintext row
//! of the same figure and carry its value as their `plaintext`, so each cost of security is its own ratio.

use crate::results::{Results, HEADLINE_BATCH};

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
    /// The same figure of dancu over insecure plaintext, for a row measured over mutual TLS.
    pub plaintext: Option<f64>,
    pub echo: Option<f64>,
    pub rocksdb: Option<f64>,
}

impl Row {
    fn new(label: impl Into<String>, unit: Unit, dancu: f64, etcd: f64) -> Row {
        Row::dancu_only(label, unit, dancu).versus_etcd(etcd)
    }

    /// A figure etcd has no counterpart of.
    fn dancu_only(label: impl Into<String>, unit: Unit, dancu: f64) -> Row {
        Row { label: label.into(), unit, dancu: Some(dancu), etcd: None, plaintext: None, echo: None, rocksdb: None }
    }

    fn versus_etcd(self, etcd: f64) -> Row {
        Row { etcd: Some(etcd), ..self }
    }

    fn ceilings(self, echo: Option<f64>, rocksdb: Option<f64>) -> Row {
        Row { echo, rocksdb, ..self }
    }

    fn beside_plaintext(self, plaintext: f64) -> Row {
        Row { plaintext: Some(plaintext), ..self }
    }

    /// dancu ÷ etcd; none when either is missing or etcd's is zero.
    pub fn dancu_vs_etcd(&self) -> Option<f64> {
        ratio(self.dancu?, self.etcd?)
    }

    /// dancu over mutual TLS ÷ dancu over plaintext; none for a plaintext row.
    pub fn dancu_vs_plaintext(&self) -> Option<f64> {
        ratio(self.dancu?, self.plaintext?)
    }
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    let value = numerator / denominator;
    (denominator > 0.0 && value.is_finite()).then_some(value)
}

/// The rows of the ratio table, in the report's order.
pub(super) fn headline_rows(results: &Results) -> Vec<Row> {
    let (dancu, tls, etcd, ceilings) = (&results.dancu, &results.dancu_tls, &results.etcd, &results.ceilings);
    let echo = &ceilings.echo;
    let get_ceilings = |row: Row| row.ceilings(Some(ceilings.echo_ops_per_s), Some(ceilings.rocksdb_get_per_s));
    let (get, get_p99) = (&dancu.get_linearizable, dancu.get_linearizable.p99_ms);
    let etcd_get = &etcd.get_linearizable;
    let mut rows = vec![
        get_ceilings(Row::new(
            "linearizable get, plaintext, ops/s",
            Unit::PerSecond,
            get.ops_per_s,
            etcd_get.ops_per_s,
        )),
        get_ceilings(
            Row::new(
                "linearizable get, mTLS, ops/s",
                Unit::PerSecond,
                tls.get_linearizable.ops_per_s,
                etcd_get.ops_per_s,
            )
            .beside_plaintext(get.ops_per_s),
        ),
        get_ceilings(
            Row::new(
                "linearizable get, mTLS masked, ops/s",
                Unit::PerSecond,
                tls.masked_get_linearizable.ops_per_s,
                etcd_get.ops_per_s,
            )
            .beside_plaintext(get.ops_per_s),
        ),
        Row::new("linearizable get p50, ms", Unit::Ms, get.p50_ms, etcd_get.p50_ms).ceilings(Some(echo.p50_ms), None),
        Row::new("linearizable get p99, plaintext, ms", Unit::Ms, get_p99, etcd_get.p99_ms)
            .ceilings(Some(echo.p99_ms), None),
        Row::new("linearizable get p99, mTLS, ms", Unit::Ms, tls.get_linearizable.p99_ms, etcd_get.p99_ms)
            .ceilings(Some(echo.p99_ms), None)
            .beside_plaintext(get_p99),
        Row::new(
            "linearizable get p99, mTLS masked, ms",
            Unit::Ms,
            tls.masked_get_linearizable.p99_ms,
            etcd_get.p99_ms,
        )
        .ceilings(Some(echo.p99_ms), None)
        .beside_plaintext(get_p99),
        get_ceilings(Row::new(
            "stale / serializable get, ops/s",
            Unit::PerSecond,
            dancu.get_serializable.ops_per_s,
            etcd.get_serializable.ops_per_s,
        )),
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
        Row::dancu_only("new connections, plaintext, conn/s", Unit::PerSecond, tls.plaintext_connections_per_s),
        Row::dancu_only("new connections, mTLS handshake, conn/s", Unit::PerSecond, tls.handshakes_per_s)
            .beside_plaintext(tls.plaintext_connections_per_s),
    ]);
    rows
}

/// One row per batch size either system measured, keys/s, and at the headline size the mutual-TLS rows below the
/// plaintext one; raw batched `MultiGet` of 100 keys is the ceiling.
fn batch_rows(results: &Results) -> Vec<Row> {
    let mut batch_sizes: Vec<usize> =
        results.dancu.batch_get.iter().chain(&results.etcd.batch_get).map(|batch| batch.batch_size).collect();
    batch_sizes.sort_unstable();
    batch_sizes.dedup();
    let keys_per_s = |batches: &[crate::results::BatchFigures], batch_size| {
        batches.iter().find(|batch| batch.batch_size == batch_size).map(|batch| batch.keys_per_s)
    };
    let rocksdb = Some(results.ceilings.rocksdb_multi_get_keys_per_s);
    let mut rows = Vec::new();
    for batch_size in batch_sizes {
        let dancu = keys_per_s(&results.dancu.batch_get, batch_size);
        let etcd = keys_per_s(&results.etcd.batch_get, batch_size);
        let row = |label: String, dancu: Option<f64>| Row {
            label,
            unit: Unit::PerSecond,
            dancu,
            etcd,
            plaintext: None,
            echo: None,
            rocksdb,
        };
        if batch_size != HEADLINE_BATCH {
            rows.push(row(format!("batch get ({batch_size} keys), keys/s"), dancu));
            continue;
        }
        let tls = &results.dancu_tls;
        rows.push(row(format!("batch get ({batch_size} keys), plaintext, keys/s"), dancu));
        for (transport, tls_keys_per_s) in
            [("mTLS", tls.batch_get_keys_per_s), ("mTLS masked", tls.masked_batch_get_keys_per_s)]
        {
            let label = format!("batch get ({batch_size} keys), {transport}, keys/s");
            rows.push(Row { plaintext: dancu, ..row(label, Some(tls_keys_per_s)) });
        }
    }
    rows
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
