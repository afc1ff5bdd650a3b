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
    assert!(number(&results, &["ceilings", "echo_ops_per_s"]) > 0.0);
    assert!(number(&results, &["ceilings", "rocksdb_get_per_s"]) > 0.0);
    assert_eq!(results["goals"].as_array().map(Vec::len), Some(7));

    for member in ["dancu-node-1.log", "etcd-m1.log"] {
        let log = std::fs::metadata(out.join("logs").join(member)).unwrap_or_else(|error| panic!("{member}: {error}"));
        assert!(log.len() > 0, "{member} is empty");
    }

    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(report.contains("etcd") && report.contains("linearizable get"), "{report}");
    for plot in ["throughput_vs_concurrency.svg", "latency_cdf.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap_or_else(|error| panic!("{plot}: {error}"));
        assert!(svg.trim_start().starts_with("<svg"), "{plot} is not an SVG");
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
