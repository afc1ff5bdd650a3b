//! The consistency suite run end to end, short: a healthy cluster must pass, and nodes that skip the
//! linearizer (`--broken-reads`) must be caught. Real nodes, real faults (network namespaces as root).

use std::path::Path;
use std::process::Command;

fn run_suite(out: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let status = Command::new(env!("CARGO_BIN_EXE_dancu-jepsen"))
        .args(["run", "--duration", "40s", "--nemesis", "partition,kill,pause,leader,admin", "--seed", "7"])
        .args(["--out", out.to_str().expect("utf-8 path"), "--rate", "150"])
        .args(extra)
        .status()
        .expect("dancu-jepsen runs");
    let results = std::fs::read_to_string(out.join("results.json")).expect("results.json written");
    for file in ["history.jsonl", "summary.md", "report.html"] {
        assert!(out.join(file).exists(), "{file} missing in {}", out.display());
    }
    (status.code().unwrap_or(-1), serde_json::from_str(&results).expect("results.json is JSON"))
}

fn no_namespaces_left() {
    let listed = Command::new("ip").args(["netns", "list"]).output();
    if let Ok(listed) = listed {
        let names = String::from_utf8_lossy(&listed.stdout);
        assert!(!names.lines().any(|l| l.starts_with("dancu-")), "namespaces left behind: {names}");
    }
}

#[test]
fn healthy_cluster_passes_and_broken_reads_are_caught() {
    let dir = tempfile::tempdir().expect("temp dir");

    let healthy = dir.path().join("healthy");
    let (code, results) = run_suite(&healthy, &[]);
    assert_eq!(results["valid"], serde_json::json!(true), "healthy run: {results:#}");
    assert_eq!(code, 0);
    assert!(results["ops"].as_u64().unwrap_or(0) >= 500, "too few operations: {}", results["ops"]);
    assert!(results["faults"].as_array().map_or(0, Vec::len) >= 3, "too few faults: {}", results["faults"]);
    no_namespaces_left();

    let broken = dir.path().join("broken");
    let (code, results) = run_suite(&broken, &["--broken-reads"]);
    assert_eq!(results["valid"], serde_json::json!(false), "broken reads not caught: {results:#}");
    assert_ne!(code, 0);
    no_namespaces_left();
}
