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
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("examples/citizen.json")
        .display()
        .to_string()
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

/// A JSON-lines file with two valid records, a malformed line (2) and a record the server refuses (4).
fn import_input() -> String {
    [
        r#"{"id": "001085000001", "full_name": "Nguyễn Văn An", "date_of_birth": "1985-03-14"}"#,
        "{oops",
        r#"{"id": "079305000001", "full_name": "Trần Thị Bích", "date_of_birth": "2005-02-28"}"#,
        r#"{"id": "001085000002", "full_name": "Lê Văn Cũ", "date_of_birth": "1850-01-01"}"#,
    ]
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_bad_lines_and_a_summary() {
    let cluster = FakeCluster::start().await;
    let endpoints = cluster.endpoints(&[1, 2, 3]).join(",");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("citizens.jsonl");
    std::fs::write(&file, import_input()).expect("write input");
    let file = file.display().to_string();

    let first = dancuctl(&["--endpoints", &endpoints, "import", &file, "--batch-size", "2"], "").await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.starts_with("imported 4 records (written 2, unchanged 0), skipped 2 bad lines, "),
        "{}",
        first.stdout
    );
    assert!(first.stdout.ends_with(" records/s\n"), "{}", first.stdout);
    let stderr: Vec<&str> = first.stderr.lines().collect();
    assert_eq!(stderr.len(), 2, "{}", first.stderr);
    assert!(stderr[0].starts_with("line 2: record: "), "{}", first.stderr);
    assert_eq!(stderr[1], "line 4: date_of_birth: before 1900-01-01");

    // Again from stdin, as JSON: nothing new is written.
    let again = dancuctl(&["--endpoints", &endpoints, "--output", "json", "import"], &import_input()).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let summary = json(&again.stdout);
    assert_eq!((summary["lines"].as_u64(), summary["written"].as_u64()), (Some(4), Some(0)));
    assert_eq!((summary["unchanged"].as_u64(), summary["skipped"].as_u64()), (Some(2), Some(2)));
    assert_eq!(summary["bad_lines"][1], serde_json::json!({"line": 4, "reason": "date_of_birth: before 1900-01-01"}));
    assert!(summary["seconds"].is_number() && summary["records_per_s"].is_number(), "{summary}");

    let strict = dancuctl(&["--endpoints", &endpoints, "import", "-", "--strict"], &import_input()).await;
    assert_eq!(strict.code, 1, "{}", strict.stderr);
    assert!(strict.stdout.is_empty(), "{}", strict.stdout);
    let lines: Vec<&str> = strict.stderr.lines().collect();
    assert!(lines[0].starts_with("error: line 2: record: "), "{}", strict.stderr);
    assert!(lines[1].starts_with("error: import stopped after reading 2 records of stdin: "), "{}", strict.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_output_never_contains_stored_values() {
    use unicode_normalization::UnicodeNormalization;
    let cluster = FakeCluster::start().await;
    let endpoints = cluster.endpoints(&[1, 2, 3]).join(",");
    let put = dancuctl(&["--endpoints", &endpoints, "put", "--file", &example_path()], "").await;
    assert_eq!(put.code, 0, "{}", put.stderr);
    let stored = std::fs::read_to_string(example_path()).expect("example");
    let stored_values: Vec<String> = json(&stored)
        .as_object()
        .expect("object")
        .iter()
        .filter(|(key, _)| key.as_str() != "id")
        .filter_map(|(_, value)| value.as_str().map(str::to_string))
        .collect();
    assert!(stored_values.iter().any(|value| value == "Nguyễn Văn An"));

    let wrong = dancuctl(
        &[
            "--endpoints",
            &endpoints,
            "--output",
            "json",
            "verify",
            "001085012345",
            "--name",
            "Nguyễn Văn Ân",
            "--sex",
            "male",
        ],
        "",
    )
    .await;
    assert_eq!(wrong.code, 0, "{}", wrong.stderr);
    let value = json(&wrong.stdout);
    let want =
        serde_json::json!({"match": false, "id_status": "found", "fields": {"full_name": "mismatch", "sex": "match"}});
    assert_eq!(value, want);
    for stored_value in &stored_values {
        assert!(!wrong.stdout.contains(stored_value.as_str()), "{stored_value} leaked: {}", wrong.stdout);
    }

    // A decomposed name (as some keyboards type it) is normalized before it is sent, so it matches.
    let decomposed: String = "Nguyễn Văn An".nfd().collect();
    let right = dancuctl(
        &["--endpoints", &endpoints, "verify", "001085012345", "--name", &decomposed, "--dob", "1985-03-14"],
        "",
    )
    .await;
    assert_eq!(right.code, 0, "{}", right.stderr);
    assert_eq!(right.stdout, "match\nid_status      found\nfull_name      match\ndate_of_birth  match\n");
    for stored_value in &stored_values {
        assert!(!right.stdout.contains(stored_value.as_str()), "{stored_value} leaked: {}", right.stdout);
    }

    let missing =
        dancuctl(&["--endpoints", &endpoints, "--output", "json", "verify", "001085099999", "--dob", "1985-03-14"], "")
            .await;
    assert_eq!(missing.code, 0, "{}", missing.stderr);
    assert_eq!(json(&missing.stdout), serde_json::json!({"match": false, "id_status": "not_found", "fields": {}}));

    let batch = dancuctl(
        &["--endpoints", &endpoints, "--output", "json", "batch-verify"],
        "{\"id\": \"001085099999\", \"sex\": \"female\"}\n{\"id\": \"001085012345\", \"full_name\": \"Nguyễn Văn An\"}\n",
    )
    .await;
    assert_eq!(batch.code, 0, "{}", batch.stderr);
    let results: Vec<serde_json::Value> = batch.stdout.lines().map(json).collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["id_status"], "not_found");
    assert_eq!(
        results[1],
        serde_json::json!({"id": "001085012345", "match": true, "id_status": "found", "fields": {"full_name": "match"}})
    );

    let nothing = dancuctl(&["--endpoints", &endpoints, "verify", "001085012345"], "").await;
    assert_eq!(nothing.code, 1);
    assert!(nothing.stderr.starts_with("error: nothing to verify"), "{}", nothing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_ids_and_legacy_numbers() {
    let cluster = FakeCluster::start().await;
    let endpoints = cluster.endpoints(&[1, 2, 3]).join(",");
    let old = r#"{"id": "001085012345", "full_name": "Nguyễn Văn An", "replaced_by": "001185012345", "legacy_id_number": "012345678"}"#;
    let put = dancuctl(&["--endpoints", &endpoints, "put", "--file", "-"], old).await;
    assert_eq!(put.code, 0, "{}", put.stderr);
    let get = dancuctl(&["--endpoints", &endpoints, "get", "001085012345"], "").await;
    assert_eq!(get.code, 1);
    assert_eq!(get.stderr, "error: personal ID 001085012345 was cancelled and replaced by 001185012345\n");

    let new = r#"{"id": "001185012345", "full_name": "Nguyễn Văn An", "legacy_id_number": "012345678"}"#;
    let put = dancuctl(&["--endpoints", &endpoints, "put", "--file", "-"], new).await;
    assert_eq!(put.code, 0, "{}", put.stderr);
    let legacy = dancuctl(&["--endpoints", &endpoints, "legacy", "012345678"], "").await;
    assert_eq!((legacy.code, legacy.stdout.as_str()), (0, "001185012345\n"), "{}", legacy.stderr);
    let none = dancuctl(&["--endpoints", &endpoints, "--output", "json", "legacy", "999999999"], "").await;
    assert_eq!(none.code, 1);
    assert_eq!(json(&none.stdout), serde_json::json!({"found": false, "id": null, "out_of_scope_partitions": []}));
    assert_eq!(none.stderr, "error: no citizen has legacy ID number 999999999\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_search_household_and_events() {
    let cluster = FakeCluster::start().await;
    let endpoints = cluster.endpoints(&[1, 2, 3]).join(",");
    let records = [
        r#"{"id": "001085000001", "full_name": "Nguyễn Văn An", "date_of_birth": "1985-03-14", "household_id": "HK1", "relationship_to_head": "Chủ hộ", "status": "alive"}"#,
        r#"{"id": "001085000002", "full_name": "Trần Thị Bích", "date_of_birth": "1987-01-02", "household_id": "HK1", "relationship_to_head": "Vợ"}"#,
        r#"{"id": "001085000003", "full_name": "Nguyễn Văn An", "date_of_birth": "1985-03-14"}"#,
        r#"{"id": "079305000001", "full_name": "Nguyễn Văn An", "date_of_birth": "1985-03-14", "household_id": "HK1"}"#,
    ];
    let import = dancuctl(&["--endpoints", &endpoints, "import"], &records.join("\n")).await;
    assert_eq!(import.code, 0, "{}", import.stderr);

    let scan = dancuctl(&["--endpoints", &endpoints, "scan", "100", "--page-size", "2"], "").await;
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let scanned: Vec<serde_json::Value> = scan.stdout.lines().map(json).collect();
    let ids: Vec<&str> = scanned.iter().filter_map(|record| record["id"].as_str()).collect();
    assert_eq!(ids, vec!["001085000001", "001085000002", "001085000003"]);
    assert_eq!(scanned[1]["relationship_to_head"], "Vợ");
    assert!(scan.stderr.starts_with("scanned 3 records of partition 100 in 2 pages to stdout, "), "{}", scan.stderr);

    let search = dancuctl(
        &[
            "--endpoints",
            &endpoints,
            "--output",
            "json",
            "search",
            "--name",
            "nguyễn văn an",
            "--dob",
            "1985-03-14",
            "--limit",
            "2",
        ],
        "",
    )
    .await;
    assert_eq!(search.code, 0, "{}", search.stderr);
    let hits = json(&search.stdout);
    assert_eq!(hits["truncated"], true);
    assert_eq!(hits["hits"][0]["id"], "001085000001");
    assert_eq!(hits["hits"][1]["date_of_birth"], "1985-03-14");

    let household = dancuctl(&["--endpoints", &endpoints, "--output", "json", "household", "001085000002"], "").await;
    assert_eq!(household.code, 0, "{}", household.stderr);
    let value = json(&household.stdout);
    assert_eq!(value["household_id"], "HK1");
    let members: Vec<&str> =
        value["members"].as_array().expect("members").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(members, vec!["001085000001", "001085000002", "079305000001"]);
    let table = dancuctl(&["--endpoints", &endpoints, "household", "--household-id", "HK1"], "").await;
    assert!(table.stdout.ends_with("household HK1: 3 members\n"), "{}", table.stdout);
    let both = dancuctl(&["--endpoints", &endpoints, "household", "001085000002", "--household-id", "HK1"], "").await;
    assert_eq!(both.code, 1);

    let marry = dancuctl(
        &[
            "--endpoints",
            &endpoints,
            "--output",
            "json",
            "event",
            "marry",
            "079305000001",
            "001085000002",
            "--date",
            "2010-10-10",
        ],
        "",
    )
    .await;
    assert_eq!(marry.code, 0, "{}", marry.stderr);
    let writes = json(&marry.stdout);
    assert_eq!(writes["writes"][0]["id"], "001085000002");
    assert_eq!(writes["writes"][1]["id"], "079305000001");
    let death =
        dancuctl(&["--endpoints", &endpoints, "event", "death", "001085000003", "--date", "2024-05-01"], "").await;
    assert_eq!(death.code, 0, "{}", death.stderr);
    assert!(death.stdout.starts_with("001085000003: revision 2, log index "), "{}", death.stdout);
    let moved = dancuctl(
        &[
            "--endpoints",
            &endpoints,
            "event",
            "move",
            "001085000003",
            "--date",
            "2024-06-01",
            "--province",
            "079",
            "--commune",
            "26734",
            "--address",
            "Số 5",
        ],
        "",
    )
    .await;
    assert_eq!(moved.code, 1);
    assert_eq!(moved.stderr, "error: refused: the person is deceased\n");
}
