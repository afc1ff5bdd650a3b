//! `dancuctl` as a process against the fake cluster: outputs, JSON shapes, error lines and exit codes.

mod fake;

use std::path::PathBuf;
use std::process::Stdio;

use dancu_client::proto::Citizen;
use fake::FakeCluster;
use tokio::io::AsyncWriteExt;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs dancuctl with `args` (and `stdin`), without blocking the runtime that serves the fake cluster.
async fn dancuctl(args: &[&str], stdin: &str) -> Run {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dancuctl"))
        .args(args)
        .env_remove("DANCU_ENDPOINTS")
        .env_remove("DANCU_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dancuctl starts");
    let mut input = child.stdin.take().expect("piped stdin");
    input.write_all(stdin.as_bytes()).await.expect("write stdin");
    drop(input);
    let output = child.wait_with_output().await.expect("dancuctl runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn example_path() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/citizen.json").display().to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_and_batch_get() {
    let cluster = FakeCluster::start().await;
    let endpoints = cluster.endpoints(&[1, 2, 3]).join(",");
    let example = example_path();

    let put = dancuctl(&["--endpoints", &endpoints, "--output", "json", "put", "--file", &example], "").await;
    assert_eq!(put.code, 0, "{}", put.stderr);
    let put_json = json(&put.stdout);
    assert_eq!(put_json["id"], "001085012345");
    assert_eq!(put_json["revision"], 1);
    assert_eq!(put_json["partition_id"], 100);
    assert_eq!(put_json["deduplicated"], false);

    let again = dancuctl(
        &["--endpoints", &endpoints, "put", "--file", "-", "--expected-revision", "1", "--request-id", "r-1"],
        &std::fs::read_to_string(&example).expect("example"),
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.starts_with("001085012345: revision 2, log index"), "{}", again.stdout);

    let conflict =
        dancuctl(&["--endpoints", &endpoints, "put", "--file", &example, "--expected-revision", "0"], "").await;
    assert_eq!(conflict.code, 1);
    assert_eq!(conflict.stderr, "error: revision mismatch: the stored revision is 2\n");

    let get = dancuctl(&["--endpoints", &endpoints, "--output", "json", "get", "001085012345"], "").await;
    assert_eq!(get.code, 0, "{}", get.stderr);
    let record = json(&get.stdout);
    assert_eq!(record["full_name"], "Nguyễn Văn An");
    assert_eq!(record["date_of_birth"], "1985-03-14");
    assert_eq!(record["revision"], 2);

    let table = dancuctl(&["--endpoints", &endpoints, "get", "001085012345", "--consistency", "stale"], "").await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("full_name "), "{}", table.stdout);
    assert!(table.stdout.contains("served_by "), "{}", table.stdout);
    assert!(table.stdout.lines().any(|line| line.starts_with("served_by") && line.ends_with(" 1")), "{}", table.stdout);

    let missing = dancuctl(&["--endpoints", &endpoints, "get", "001085099999"], "").await;
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr, "error: citizen 001085099999 not found\n");

    let batch =
        dancuctl(&["--endpoints", &endpoints, "--output", "json", "batch-get"], "001085099999\n\n001085012345\n").await;
    assert_eq!(batch.code, 0, "{}", batch.stderr);
    let results = json(&batch.stdout);
    assert_eq!(results["results"][0], serde_json::json!({"id": "001085099999", "found": false}));
    assert_eq!(results["results"][1]["citizen"]["full_name"], "Nguyễn Văn An");

    let batch_table = dancuctl(&["--endpoints", &endpoints, "batch-get", "--file", "-"], "001085012345\n").await;
    assert!(batch_table.stdout.ends_with("1 ID, 1 found\n"), "{}", batch_table.stdout);
    let put_attempts = cluster.shared.put_attempts.lock().expect("lock").len();
    assert!(put_attempts >= 3);
    assert!(cluster
        .shared
        .records
        .lock()
        .expect("lock")
        .get("001085012345")
        .is_some_and(|c: &Citizen| c.revision == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_outputs() {
    let cluster = FakeCluster::start().await;
    let endpoints = cluster.endpoints(&[2]).join(",");
    let table = dancuctl(&["--endpoints", &endpoints, "status"], "").await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.ends_with("2 partitions, 2 with a leader\n"), "{}", table.stdout);
    let status = dancuctl(&["--endpoints", &endpoints, "--output", "json", "status"], "").await;
    let value = json(&status.stdout);
    assert_eq!(value["node_id"], 2);
    assert_eq!(value["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(value["partitions"][1]["id"], 7900);
    assert_eq!(value["partitions"][1]["leader"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_and_connection_errors() {
    let bad_record =
        dancuctl(&["--endpoints", "127.0.0.1:1", "put", "--file", "-"], r#"{"id": "001085012345", "sex": "m"}"#).await;
    assert_eq!(bad_record.code, 1);
    assert_eq!(bad_record.stderr, "error: stdin: sex: expected \"male\" or \"female\", got \"m\"\n");

    let bad_id = dancuctl(&["--endpoints", "127.0.0.1:1", "get", "12345"], "").await;
    assert_eq!(bad_id.code, 1);
    assert_eq!(bad_id.stderr, "error: invalid argument: id: a personal ID is 12 digits, got \"12345\"\n");

    let unreachable =
        dancuctl(&["--endpoints", "127.0.0.1:1", "--deadline-ms", "500", "get", "001085012345"], "").await;
    assert_eq!(unreachable.code, 2);
    assert!(unreachable.stderr.starts_with("error: cannot connect to 127.0.0.1:1: "), "{}", unreachable.stderr);
    assert_eq!(unreachable.stderr.lines().count(), 1, "{}", unreachable.stderr);

    let no_cluster = dancuctl(&["status"], "").await;
    assert_eq!(no_cluster.code, 1);
    assert!(no_cluster.stderr.starts_with("error: no cluster given"), "{}", no_cluster.stderr);

    let usage = dancuctl(&["get"], "").await;
    assert_eq!(usage.code, 1);
    let help = dancuctl(&["--help"], "").await;
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit status:"), "{}", help.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_validate_and_show() {
    let dir = tempfile::tempdir().expect("temp dir");
    let valid = dir.path().join("cluster.toml");
    let mut text = String::from("cluster_name = \"test\"\n");
    for id in 1..=3 {
        text.push_str(&format!("[[nodes]]\nid = {id}\naddr = \"127.0.0.1:{}\"\ndc = \"central\"\n", 7100 + id));
    }
    text.push_str("[[datacenters]]\nname = \"central\"\nkind = \"central\"\n");
    std::fs::write(&valid, &text).expect("write config");
    let valid = valid.display().to_string();

    let ok = dancuctl(&["config", "validate", &valid], "").await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, format!("{valid}: valid (3 nodes, 1 datacenter, 63 partitions)\n"));

    let show = dancuctl(&["--output", "json", "config", "show", &valid], "").await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    let value = json(&show.stdout);
    assert_eq!(value["cluster_name"], "test");
    assert_eq!(value["partitions"].as_array().map(Vec::len), Some(63));
    assert_eq!(value["partitions"][0]["range_start"], "001000000000");

    let invalid = dir.path().join("bad.toml");
    std::fs::write(
        &invalid,
        text.replace("id = 2", "id = 0")
            .replace("dc = \"central\"\n[[nodes]]\nid = 3", "dc = \"x\"\n[[nodes]]\nid = 3"),
    )
    .expect("write config");
    let bad = dancuctl(&["--config", &invalid.display().to_string(), "config", "validate"], "").await;
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.lines().count() >= 2, "{}", bad.stderr);
    assert!(bad.stderr.lines().all(|line| line.starts_with("error: ")), "{}", bad.stderr);
    assert!(bad.stderr.contains("nodes[1].id"), "{}", bad.stderr);
}
