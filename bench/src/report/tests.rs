//! write_all on a hand-built run: the JSON round-trips, report.md carries the computed ratios, the plots draw every
//! series.

use dancu_client::bench::{BenchResult, CdfPoint, LatencySummary};

use super::*;
use crate::results::{BatchFigures, Ceilings, Figures, Goal, Load, SystemResults, TlsResults, TlsRun};

const LEVELS: [usize; 4] = [1, 16, 64, 256];

/// `value` to a thousandth: serde_json (without its `float_roundtrip` feature) reads back short decimals exactly,
/// but may miss the last bit of a long one such as 1189.3333333333337.
fn milli(value: f64) -> f64 {
    (value * 1_000.0).round() / 1_000.0
}

fn run(
    workload: &str,
    consistency: Option<&str>,
    batch_size: usize,
    concurrency: usize,
    ops_per_s: f64,
) -> BenchResult {
    let p50 = milli(1_000.0 / ops_per_s * concurrency as f64);
    BenchResult {
        workload: workload.to_string(),
        consistency: consistency.map(str::to_string),
        distribution: "uniform".to_string(),
        concurrency,
        connections: concurrency.min(4),
        duration_s: 3.0,
        batch_size,
        ops: (ops_per_s * 3.0) as u64,
        errors: 0,
        ops_per_s,
        keys_per_s: ops_per_s * batch_size as f64,
        latency_ms: LatencySummary {
            p50,
            p99: milli(3.0 * p50),
            p999: milli(5.0 * p50),
            max: milli(9.0 * p50),
            mean: milli(1.2 * p50),
        },
        per_second: vec![ops_per_s as u64; 3],
        first_error: None,
        latency_cdf: [0.0, 0.5, 0.99, 1.0]
            .into_iter()
            .map(|quantile| CdfPoint { quantile, ms: milli(p50 * (1.0 + 8.0 * quantile)) })
            .collect(),
    }
}

fn figures(ops_per_s: f64, p50_ms: f64, p99_ms: f64) -> Figures {
    Figures { ops_per_s, p50_ms, p99_ms, p999_ms: 2.0 * p99_ms, errors: 0 }
}

/// Each workload at each level, `scale` ops/s per client for gets.
fn sweep(stale_level: &str, scale: f64) -> Vec<BenchResult> {
    let mut runs = Vec::new();
    for concurrency in LEVELS {
        let clients = concurrency as f64;
        runs.push(run("get", Some("linearizable"), 1, concurrency, scale * clients));
        runs.push(run("get", Some(stale_level), 1, concurrency, 1.5 * scale * clients));
        runs.push(run("put", None, 1, concurrency, 0.1 * scale * clients));
        runs.push(run("batch-get", Some("linearizable"), 100, concurrency, 0.05 * scale * clients));
    }
    runs
}

fn system(
    version: &str,
    get: Figures,
    put_ops_per_s: f64,
    batch_keys_per_s: f64,
    runs: Vec<BenchResult>,
) -> SystemResults {
    SystemResults {
        version: version.to_string(),
        settings: "3 members on loopback".to_string(),
        get_linearizable: get,
        get_serializable: figures(get.ops_per_s * 1.5, get.p50_ms, get.p99_ms),
        put: figures(put_ops_per_s, 5.0, 20.0),
        put_ops_per_s,
        batch_get_keys_per_s: batch_keys_per_s,
        batch_get: vec![
            BatchFigures { batch_size: 10, keys_per_s: batch_keys_per_s / 2.0, requests_per_s: 1.0, p99_ms: 1.0 },
            BatchFigures {
                batch_size: 100,
                keys_per_s: batch_keys_per_s,
                requests_per_s: batch_keys_per_s / 100.0,
                p99_ms: 1.0,
            },
        ],
        runs,
        ..SystemResults::default()
    }
}

fn results() -> Results {
    let mut dancu = system("dancu 0.1.0", figures(60_000.0, 0.8, 2.5), 3_000.0, 400_000.0, sweep("stale", 1_000.0));
    dancu.failover_p50_ms = 300.0;
    dancu.failover_p99_ms = 900.0;
    dancu.rss_mib = 150.0;
    dancu.load = Load { records: 100_000, seconds: 2.0, records_per_s: 50_000.0, mean_record_bytes: 600.0 };
    let mut etcd = system("etcd 3.4.23", figures(10_000.0, 4.0, 10.0), 1_500.0, 80_000.0, sweep("serializable", 150.0));
    etcd.failover_p50_ms = 1_200.0;
    etcd.failover_p99_ms = 1_800.0;
    etcd.rss_mib = 75.0;
    etcd.load = Load { records: 100_000, seconds: 5.0, records_per_s: 20_000.0, mean_record_bytes: 900.0 };
    let tls_runs = [
        ("insecure-plaintext", run("connect", None, 1, 64, 4_000.0)),
        ("bench-full", run("get", Some("linearizable"), 1, 64, 54_000.0)),
        ("bench-full", run("batch-get", Some("linearizable"), 100, 64, 3_600.0)),
        ("bench-masked", run("get", Some("linearizable"), 1, 64, 48_000.0)),
        ("bench-masked", run("batch-get", Some("linearizable"), 100, 64, 3_000.0)),
        ("bench-full", run("tls-handshake", None, 1, 64, 1_000.0)),
    ];
    let mut dancu_tls = TlsResults {
        settings: "3 nodes; mutual TLS".to_string(),
        full_caller: "bench-full".to_string(),
        masked_caller: "bench-masked".to_string(),
        hidden_fields: vec!["ethnicity".to_string(), "religion".to_string()],
        handshakes_full: 4_000,
        load: Load { records: 100_000, seconds: 2.5, records_per_s: 40_000.0, mean_record_bytes: 600.0 },
        runs: tls_runs.map(|(caller, result)| TlsRun { caller: caller.to_string(), result }).to_vec(),
        ..TlsResults::default()
    };
    crate::secure::summarize(&mut dancu_tls);
    Results {
        mode: "quick".to_string(),
        records: 100_000,
        concurrency: 64,
        concurrency_levels: LEVELS.to_vec(),
        duration_s: 3.0,
        git_rev: "abc1234".to_string(),
        started_at: "2025-01-01T00:00:00Z".to_string(),
        dancu,
        dancu_tls,
        etcd,
        ceilings: Ceilings {
            echo_ops_per_s: 120_000.0,
            echo: figures(120_000.0, 0.3, 1.0),
            echo_reply_bytes: 600,
            rocksdb_get_per_s: 2_000_000.0,
            rocksdb_multi_get_keys_per_s: 5_000_000.0,
            rocksdb_records: 100_000,
            rocksdb_import_records_per_s: 80_000.0,
            rocksdb_import_records: 100_000,
            unbatched_replicated_put_ops_per_s: 40_000.0,
            runs: LEVELS.iter().map(|&level| run("echo", None, 1, level, 2_000.0 * level as f64)).collect(),
        },
        goals: vec![
            Goal {
                name: "linearizable get vs etcd (×)".to_string(),
                target: ">= 6".to_string(),
                measured: 6.0,
                met: true,
            },
            Goal { name: "put vs etcd (×)".to_string(), target: ">= 3".to_string(), measured: 2.0, met: false },
        ],
        ..Results::default()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

#[test]
fn json_round_trips_to_the_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let results = results();
    let written = write_all(&results, dir.path()).expect("written");
    let names: Vec<_> = written.iter().filter_map(|path| path.file_name()?.to_str()).collect();
    assert_eq!(names, ["results.json", "report.md", "throughput_vs_concurrency.svg", "latency_cdf.svg"]);
    let parsed: Results = serde_json::from_str(&read(&dir.path().join(RESULTS_FILE))).expect("parses");
    assert_eq!(parsed, results);
}

#[test]
fn report_has_the_computed_ratios() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(&results(), dir.path()).expect("written");
    let report = read(&dir.path().join(REPORT_FILE));
    let expected_rows = [
        "| linearizable get, plaintext, ops/s | 60000 | 10000 | 6.00 | – | 120000 | 2000000 |",
        "| linearizable get, mTLS, ops/s | 54000 | 10000 | 5.40 | 0.90 | 120000 | 2000000 |",
        "| linearizable get, mTLS masked, ops/s | 48000 | 10000 | 4.80 | 0.80 | 120000 | 2000000 |",
        "| linearizable get p50, ms | 0.80 | 4.00 | 0.20 | – | 0.30 | – |",
        "| linearizable get p99, plaintext, ms | 2.50 | 10.00 | 0.25 | – | 1.00 | – |",
        // The made-up runs' p99 is 3 × p50 = 3 × 1000 / ops/s per client.
        "| linearizable get p99, mTLS, ms | 3.56 | 10.00 | 0.36 | 1.42 | 1.00 | – |",
        "| stale / serializable get, ops/s | 90000 | 15000 | 6.00 | – | 120000 | 2000000 |",
        "| put, ops/s | 3000 | 1500 | 2.00 | – | 40000 | – |",
        "| batch get (10 keys), keys/s | 200000 | 40000 | 5.00 | – | – | 5000000 |",
        "| batch get (100 keys), plaintext, keys/s | 400000 | 80000 | 5.00 | – | – | 5000000 |",
        "| batch get (100 keys), mTLS, keys/s | 360000 | 80000 | 4.50 | 0.90 | – | 5000000 |",
        "| batch get (100 keys), mTLS masked, keys/s | 300000 | 80000 | 3.75 | 0.75 | – | 5000000 |",
        "| failover p50, ms | 300.00 | 1200.00 | 0.25 | – | – | – |",
        "| failover p99, ms | 900.00 | 1800.00 | 0.50 | – | – | – |",
        "| largest node RSS, MiB | 150.0 | 75.0 | 2.00 | – | – | – |",
        "| load, records/s | 50000 | 20000 | 2.50 | – | – | 80000 |",
        "| new connections, plaintext, conn/s | 4000 | – | – | – | – | – |",
        "| new connections, mTLS handshake, conn/s | 1000 | – | – | 0.25 | – | – |",
        "| bench-masked | batch-get | 100 | 64 | 3000 | 300000 | 21.33 | 64.00 | 0 |",
        "- handshakes: 4000 full, 0 resumed (resumption off: a freshly started process has no session)",
        "| put vs etcd (×) | >= 3 | 2.00 | **no** |",
        "| git rev | `abc1234` |",
        "![Throughput against concurrent clients](throughput_vs_concurrency.svg)",
        // The sweep side by side: dancu stale and etcd serializable share a row, echo at the same concurrency.
        "| get | stale / serializable | 1 | 16 | 24000 | 2.00 | 3600 | 13.33 | 32000 | 1.50 |",
        "| get | linearizable | 1 | 256 | 256000 | 3.00 | 38400 | 20.00 | 512000 | 1.50 |",
    ];
    for row in expected_rows {
        assert!(report.contains(row), "missing {row:?} in:\n{report}");
    }
}

#[test]
fn plots_draw_a_line_per_series() {
    let dir = tempfile::tempdir().expect("tempdir");
    let results = results();
    write_all(&results, dir.path()).expect("written");
    let check = |plot: Plot, lines: Vec<plots::Line>, n_lines: usize| {
        assert_eq!(lines.len(), n_lines, "{:?}", lines.iter().map(|line| &line.label).collect::<Vec<_>>());
        let svg = read(&dir.path().join(plot.file_name()));
        assert!(svg.starts_with("<svg"), "{plot:?}: {}", &svg[..svg.len().min(80)]);
        // Each series draws its line and its legend sample.
        assert!(svg.matches("<polyline").count() >= 2 * n_lines, "{plot:?}");
        for line in &lines {
            assert!(svg.contains(&line.label), "{plot:?} has no legend for {}", line.label);
        }
    };
    // dancu get linearizable, get stale, put; etcd the same three; the echo ceiling.
    check(Plot::ThroughputVsConcurrency, plots::throughput_lines(&results), 7);
    // dancu and etcd linearizable get and put, and echo, at 64 clients.
    check(Plot::LatencyCdf, plots::cdf_lines(&results), 5);
}

#[test]
fn a_system_without_runs_is_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut results = results();
    results.etcd = SystemResults::default();
    results.ceilings.runs.clear();
    write_all(&results, dir.path()).expect("written");
    assert_eq!(plots::throughput_lines(&results).len(), 3);
    assert_eq!(plots::cdf_lines(&results).len(), 2);
    write_all(&Results::default(), dir.path()).expect("an empty run is written too");
    assert!(read(&dir.path().join(REPORT_FILE)).contains("No run was measured."));
}

#[test]
fn summary_names_every_row_and_goal() {
    let summary = summary_table(&results());
    let lines: Vec<&str> = summary.lines().collect();
    let row = |label: &str| lines.iter().find(|line| line.starts_with(label)).copied().unwrap_or_default();
    let cells = |label: &str| row(label).split_whitespace().rev().take(6).collect::<Vec<_>>();
    assert_eq!(cells("linearizable get, plaintext, ops/s"), ["2000000", "120000", "–", "6.00", "10000", "60000"]);
    assert_eq!(cells("linearizable get, mTLS, ops/s"), ["2000000", "120000", "0.90", "5.40", "10000", "54000"]);
    assert_eq!(cells("linearizable get, mTLS masked, ops/s"), ["2000000", "120000", "0.80", "4.80", "10000", "48000"]);
    assert_eq!(cells("put, ops/s"), ["–", "40000", "–", "2.00", "1500", "3000"]);
    assert_eq!(cells("load, records/s"), ["80000", "–", "–", "2.50", "20000", "50000"]);
    assert_eq!(cells("new connections, mTLS handshake, conn/s"), ["–", "–", "0.25", "–", "–", "1000"]);
    assert!(summary.contains("NOT MET  put vs etcd (×): >= 3 (measured 2.00)"), "{summary}");
    assert!(summary.contains("met      linearizable get vs etcd (×): >= 6 (measured 6.00)"), "{summary}");
}
