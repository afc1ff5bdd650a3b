//! Server reflection as clients that are not ours use it: PyPI's `grpcio` + `grpcio-reflection` (what Python
//! services, and tools such as Postman and Evans, speak: `grpc.reflection.v1alpha`) and the same client pointed at
//! `grpc.reflection.v1` (grpcurl's version). Each lists the services, fetches the descriptors, builds a
//! `GetCitizen` request from them alone and reads a record from a real 3-node cluster.
//!
//! The Python venv comes from `make deps` (`.ci/deps.sh`): `$DANCU_PYVENV`, else `$CARGO_TARGET_DIR/pyvenv`, else
//! `target/pyvenv`. Without it the test fails and says how to make it: a test that skips itself proves nothing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use dancu_client::{Client, ClientOptions};
use dancu_jepsen::{ClusterSpec, LocalCluster};
use dancu_synthetic::Population;

const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);

fn python() -> PathBuf {
    let venv = std::env::var_os("DANCU_PYVENV").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
                .join("../target")
        });
        target.join("pyvenv")
    });
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing: run `make deps` (it makes the Python test venv)", python.display());
    python
}

/// Runs the Python reflection client; its JSON line on success, its stderr on failure.
fn reflect(addr: &str, version: &str, personal_id: &str) -> Result<serde_json::Value, String> {
    let script = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("tests/reflection/python_client.py");
    let output = Command::new(python())
        .arg(&script)
        .args([addr, version, personal_id])
        .output()
        .unwrap_or_else(|error| panic!("running {}: {error}", script.display()));
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_reflection_reads_a_record_over_v1alpha_and_v1() {
    let cluster = LocalCluster::start(ClusterSpec::new(env!("CARGO_BIN_EXE_dancu-node")))
        .unwrap_or_else(|error| panic!("starting the cluster: {error}"));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let options = ClientOptions { purpose: "test".to_string(), ..ClientOptions::default() };
    let client = Client::connect(&cluster.endpoints(), options).await.expect("connect");
    let citizen = Population::new(7, 1).expect("population").citizens().next().expect("one citizen");
    client.put(citizen.clone(), None).await.expect("put");
    // A plain gRPC client does not route: it asks the partition's leader (a linearizable read, the default).
    let partition = client.partition_of(&citizen.id).expect("partition");
    let leader = cluster.leader_of(partition).await.expect("the partition has a leader");
    let addr = cluster.addr(leader);

    for version in ["v1alpha", "v1"] {
        let reply = reflect(&addr, version, &citizen.id)
            .unwrap_or_else(|stderr| panic!("reflection {version} failed:\n{stderr}"));
        let services = reply["services"].as_array().expect("services listed");
        for expected in ["dancu.v1.Registry", "dancu.v1.Admin", "grpc.health.v1.Health"] {
            assert!(services.iter().any(|name| name == expected), "{version}: {expected} missing from {services:?}");
        }
        assert_eq!(reply["citizen"]["id"], citizen.id.as_str(), "{version}: {reply}");
        assert_eq!(reply["citizen"]["full_name"], citizen.full_name.as_str(), "{version}: {reply}");
    }

    // The version argument reaches the wire: a version no server serves fails.
    let unknown = reflect(&addr, "v9", &citizen.id).expect_err("no grpc.reflection.v9");
    assert!(unknown.contains("UNIMPLEMENTED"), "expected UNIMPLEMENTED, got:\n{unknown}");
}
