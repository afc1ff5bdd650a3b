//! `dancu-bench compare --smoke` end to end, as `dancuctl bench compare` runs it: real dancu nodes, real etcd
//! members, the echo server process and RocksDB, a few seconds each. Checks that every output is written and
//! well-formed, not speed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bench_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dancu-bench"))
}

fn number(value: &Value, path: &[&str]) -> f64 {
    let mut at = value;
    for key in path {
        at = &at[*key];
    }
    at.as_f64().unwrap_or_else(|| panic!("results.json: {} is not a number: {at}", path.join(".")))
}

fn check_results(out: &Path) {
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    let results: Value = serde_json::from_str(&text).expect("results.json is JSON");
    assert_eq!(results["mode"], "smoke");
    assert!(results["git_rev"].as_str().is_some_and(|rev| !rev.is_empty()));
    assert!(number(&results, &["machine", "cpus"]) >= 1.0);
    for system in ["dancu", "etcd"] {
        for field in ["ops_per_s", "p50_ms", "p99_ms"] {
            assert!(number(&results, &[system, "get_linearizable", field]) > 0.0, "{system}.get_linearizable.{field}");
        }
        assert!(number(&results, &[system, "put_ops_per_s"]) > 0.0, "{system}.put_ops_per_s");
        assert!(number(&results, &[system, "batch_get_keys_per_s"]) > 0.0, "{system}.batch_get_keys_per_s");
        assert!(number(&results, &[system, "failover_p99_ms"]) > 0.0, "{system}.failover_p99_ms");
        assert!(number(&results, &[system, "rss_mib"]) > 0.0, "{system}.rss_mib");
        assert_eq!(number(&results, &[system, "load", "records"]), number(&results, &["records"]));
        let failover = results[system]["failover"]["recoveries_ms"].as_array().expect("recoveries");
        assert_eq!(failover.len(), 2, "{system}: one recovery per kill");
        let runs = results[system]["runs"].as_array().expect("runs");
        assert!(runs.iter().all(|run| run["errors"] == 0), "{system}: a smoke run had errors: {runs:?}");
    }
    check_tls(&results);
    assert!(number(&results, &["ceilings", "echo_ops_per_s"]) > 0.0);
    assert!(number(&results, &["ceilings", "rocksdb_get_per_s"]) > 0.0);
    // Issue 6's seven, issue 19's four (mutual TLS and the masked role against plaintext and etcd).
    assert_eq!(results["goals"].as_array().map(Vec::len), Some(11));
    for ratio in ["get_tls_vs_plaintext", "get_masked_vs_plaintext", "handshakes_vs_plaintext_connections"] {
        assert!(number(&results, &["ratios", ratio]) > 0.0, "ratios.{ratio}");
    }

    for member in ["dancu-node-1.log", "dancu-tls-node-1.log", "etcd-m1.log"] {
        let log = std::fs::metadata(out.join("logs").join(member)).unwrap_or_else(|error| panic!("{member}: {error}"));
        assert!(log.len() > 0, "{member} is empty");
    }

    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(report.contains("etcd") && report.contains("linearizable get"), "{report}");
    for label in ["linearizable get, mTLS masked, ops/s", "batch get (100 keys), mTLS, keys/s", "mTLS handshake"] {
        assert!(report.contains(label), "no {label:?} row in {report}");
    }
    for plot in ["throughput_vs_concurrency.svg", "latency_cdf.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap_or_else(|error| panic!("{plot}: {error}"));
        assert!(svg.trim_start().starts_with("<svg"), "{plot} is not an SVG");
    }
}

/// The mutual-TLS phase measured something: every run made requests without an error, every handshake was a full
/// one, and every figure is there.
fn check_tls(results: &Value) {
    let tls = &results["dancu_tls"];
    for field in [
        "batch_get_keys_per_s",
        "masked_batch_get_keys_per_s",
        "handshakes_per_s",
        "plaintext_connections_per_s",
        "handshakes_full",
    ] {
        assert!(number(tls, &[field]) > 0.0, "dancu_tls.{field}");
    }
    for figures in ["get_linearizable", "masked_get_linearizable", "handshakes", "plaintext_connections"] {
        for field in ["ops_per_s", "p50_ms", "p99_ms"] {
            assert!(number(tls, &[figures, field]) > 0.0, "dancu_tls.{figures}.{field}");
        }
    }
    assert_eq!(number(tls, &["handshakes_resumed"]), 0.0, "a handshake resumed a session");
    assert_eq!(number(tls, &["load", "records"]), number(results, &["records"]));
    assert_eq!(tls["hidden_fields"], serde_json::json!(["ethnicity", "religion"]));
    let runs = tls["runs"].as_array().expect("dancu_tls.runs");
    let made: Vec<(&str, &str)> = runs
        .iter()
        .map(|run| (run["caller"].as_str().unwrap_or(""), run["result"]["workload"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        made,
        [
            ("insecure-plaintext", "connect"),
            ("bench-full", "get"),
            ("bench-full", "batch-get"),
            ("bench-masked", "get"),
            ("bench-masked", "batch-get"),
            ("bench-full", "tls-handshake"),
        ]
    );
    for run in runs {
        let result = &run["result"];
        assert!(number(result, &["ops"]) > 0.0 && result["errors"] == 0, "a TLS-phase run: {run}");
    }
}

#[test]
fn smoke_compare_writes_every_output() {
    let out = tempfile::tempdir().expect("tempdir");
    let before = bench_processes();
    let output = Command::new(bench_exe())
        .args(["compare", "--smoke", "--out"])
        .arg(out.path())
        .output()
        .expect("run dancu-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dancu-bench failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("dancu/etcd"), "the ratio table is printed: {stdout}");
    check_results(out.path());
    // No member of either cluster outlives the run: each is killed by pid and its data removed.
    // Processes of other runs on the machine, there before this one, are not this run's to judge.
    let left: Vec<String> = bench_processes().into_iter().filter(|pid| !before.contains(pid)).collect();
    assert!(left.is_empty(), "processes left: {left:?}");
}

/// Pids of processes whose command line names a bench cluster (data directories and etcd tokens start so).
fn bench_processes() -> Vec<String> {
    let listed = Command::new("pgrep").args(["-f", "dancu-bench-"]).output().expect("pgrep");
    String::from_utf8_lossy(&listed.stdout).lines().map(str::to_string).collect()
}
