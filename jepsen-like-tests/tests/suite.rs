//! The consistency suite run end to end, short: a healthy cluster must pass under every fault this build can
//! inject (failpoints need `--features failpoints`, so `make jepsen` covers them), each fault confirmed and no
//! acknowledged write lost; and nodes that skip the linearizer (`--self-test broken-reads`) must be caught. Real
//! nodes, real faults (network namespaces, FUSE power losses and libfaketime clocks, as root), over mutual TLS as
//! the suite runs by default: each run must say so and show that its nodes refused plaintext.

use std::path::Path;
use std::process::Command;

/// Every kind but `failpoint` (the node binary of `make test` has none compiled in).
const HEALTHY_NEMESES: [&str; 10] =
    ["partition", "kill", "pause", "leader", "membership", "admin", "restart", "clock", "power-loss", "disk-wipe"];

fn run_suite(out: &Path, duration: &str, nemeses: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let status = Command::new(env!("CARGO_BIN_EXE_dancu-jepsen"))
        .args(["run", "--duration", duration, "--nemesis", nemeses, "--seed", "7"])
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

/// The suite's namespaces now; a run must leave none of its own (leftovers of other runs on the machine are not
/// this run's to judge).
fn namespaces() -> Vec<String> {
    let listed = Command::new("ip").args(["netns", "list"]).output();
    let names = listed.map(|l| String::from_utf8_lossy(&l.stdout).into_owned()).unwrap_or_default();
    names
        .lines()
        .filter(|l| l.starts_with("dancu-"))
        .map(|l| l.split_whitespace().next().unwrap_or(l).to_string())
        .collect()
}

/// The run was mutual TLS: the report says so, with every node's refusal of a plaintext call as the evidence,
/// and the nodes were started with the certificates made for the run.
fn ran_over_mutual_tls(out: &Path, results: &serde_json::Value) {
    assert_eq!(results["transport"], serde_json::json!("mutual TLS"), "{results:#}");
    let evidence = results["transport_evidence"].as_str().unwrap_or_default();
    assert!(evidence.starts_with("a plaintext Status call was refused by every node"), "{evidence}");
    let nodes = results["config"]["nodes"].as_u64().expect("config.nodes");
    for node in 1..=nodes {
        assert!(evidence.contains(&format!("node {node}: ")), "node {node} was not asked over plaintext: {evidence}");
        assert!(out.join("cluster/certs").join(format!("node-{node}.crt")).is_file(), "node {node}'s certificate");
    }
    let config = std::fs::read_to_string(out.join("cluster/config.toml")).expect("the run's config.toml");
    assert!(config.contains("mode = \"mutual\""), "the nodes' configuration is not mutual TLS:\n{config}");
}

fn no_namespaces_left(before: &[String]) {
    let left: Vec<String> = namespaces().into_iter().filter(|name| !before.contains(name)).collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

/// Lazyfs mounts under this run's output directory (its nodes' data directories live there).
fn no_mounts_left(out: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let out = out.to_str().expect("utf-8 path");
    let left: Vec<&str> = mounts.lines().filter(|line| line.contains("dancu-lazyfs") && line.contains(out)).collect();
    assert!(left.is_empty(), "lazyfs mounts left behind: {left:?}");
}

#[test]
fn healthy_cluster_passes_and_broken_reads_are_caught() {
    let dir = tempfile::tempdir().expect("temp dir");

    let namespaces_before = namespaces();
    let healthy = dir.path().join("healthy");
    let (code, results) = run_suite(&healthy, "80s", &HEALTHY_NEMESES.join(","), &[]);
    assert_eq!(results["valid"], serde_json::json!(true), "healthy run: {results:#}");
    assert_eq!(code, 0, "healthy run: {results:#}");
    assert!(results["ops"].as_u64().unwrap_or(0) >= 500, "too few operations: {}", results["ops"]);
    assert_eq!(results["acked_writes_lost"], serde_json::json!(0));
    assert_eq!(results["nemesis_unconfirmed"], serde_json::json!([]), "{results:#}");
    ran_over_mutual_tls(&healthy, &results);
    for kind in HEALTHY_NEMESES {
        let confirmed = results["nemesis_confirmed"][kind].as_u64().unwrap_or(0);
        assert!(confirmed >= 1, "no confirmed {kind} fault: {}", results["nemesis_confirmed"]);
    }
    no_namespaces_left(&namespaces_before);
    no_mounts_left(&healthy);

    let broken = dir.path().join("broken");
    let (code, results) =
        run_suite(&broken, "40s", "partition,kill,pause,leader,admin", &["--self-test", "broken-reads"]);
    assert_eq!(results["valid"], serde_json::json!(false), "broken reads not caught: {results:#}");
    assert_ne!(code, 0);
    ran_over_mutual_tls(&broken, &results);
    no_namespaces_left(&namespaces_before);
}
