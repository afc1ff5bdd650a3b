//! `bench run` against a real 3-node cluster (real `dancu-node` processes on loopback): a synthetic population is
//! loaded, then every workload runs for about a second through the library and once through the `dancuctl`
//! binary. Checks that the generator works end to end (requests succeed, figures are consistent), not speed.
//!
//! The `dancuctl` binary is the one next to `dancu-node` in the target directory; `cargo test --workspace` (and
//! `make test`) build it, a run of this test alone needs `cargo build --release -p dancu-client` first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dancu_client::bench::{self, BenchConfig, BenchResult, Distribution, KeyChooser, KeySet, Workload};
use dancu_client::proto::{Citizen, Consistency};
use dancu_client::{Client, ClientOptions, PUT_CITIZENS_MAX};
use dancu_jepsen::{ClusterSpec, LocalCluster};
use dancu_synthetic::Population;

const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);
const CLIENT_DEADLINE: Duration = Duration::from_secs(30);
const POPULATION_SEED: u64 = 5;
const N_RECORDS: u64 = 2_000;
const RUN_SEED: u64 = 9;

async fn start() -> (LocalCluster, Client) {
    let spec = ClusterSpec::new(env!("CARGO_BIN_EXE_dancu-node"));
    let cluster = LocalCluster::start(spec).unwrap_or_else(|error| panic!("starting the cluster: {error}"));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let client = Client::connect(&cluster.endpoints(), options()).await.expect("connect");
    (cluster, client)
}

fn options() -> ClientOptions {
    ClientOptions { deadline: CLIENT_DEADLINE, purpose: "test".to_string(), ..ClientOptions::default() }
}

/// Writes the population with one `PutCitizens` per partition (≤ 1,000 records each).
async fn load(client: &Client, population: &Population) {
    let mut by_partition: BTreeMap<u32, Vec<Citizen>> = BTreeMap::new();
    for citizen in population.citizens() {
        let partition = client.partition_of(&citizen.id).expect("every generated ID has a partition");
        by_partition.entry(partition).or_default().push(citizen);
    }
    for citizens in by_partition.values() {
        for batch in citizens.chunks(PUT_CITIZENS_MAX) {
            client.put_citizens(batch).await.expect("put_citizens");
        }
    }
}

fn config(workload: Workload) -> BenchConfig {
    BenchConfig {
        workload,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(300),
        concurrency: 4,
        seed: RUN_SEED,
        ..BenchConfig::default()
    }
}

/// What every run must show: requests done, none failed, figures that agree with each other.
fn check(result: &BenchResult, config: &BenchConfig) {
    let what = format!("{} {:?}", result.workload, result.consistency);
    assert!(result.ops > 0, "{what}: no request counted");
    assert_eq!(result.errors, 0, "{what}: first error {:?}", result.first_error);
    assert!(result.latency_ms.p50 > 0.0, "{what}: {:?}", result.latency_ms);
    assert!(result.latency_ms.p50 <= result.latency_ms.p99, "{what}: {:?}", result.latency_ms);
    assert!(result.latency_ms.p99 <= result.latency_ms.max, "{what}: {:?}", result.latency_ms);
    assert_eq!(result.per_second.len(), 1, "{what}: a 1 s window has one per-second entry");
    assert_eq!(result.per_second.iter().sum::<u64>(), result.ops, "{what}");
    assert_eq!(result.concurrency, config.concurrency);
    let keys_per_op = if config.workload == Workload::BatchGet { config.batch_size } else { 1 };
    assert_eq!(result.keys_per_s, result.ops_per_s * keys_per_op as f64, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_runs_against_a_real_cluster() {
    let (cluster, client) = start().await;
    let population = Population::new(POPULATION_SEED, N_RECORDS).expect("population");
    load(&client, &population).await;
    let keys = Arc::new(KeySet::from_population(&population, true).expect("keys"));
    // Two separately connected clients: loops 0 and 2 share one, loops 1 and 3 the other.
    let second = Client::connect(&cluster.endpoints(), options()).await.expect("connect");
    let clients = [client.clone(), second];

    let runs = [
        config(Workload::Get),
        BenchConfig {
            consistency: Consistency::Stale,
            distribution: Distribution::Zipfian { s: 0.99 },
            ..config(Workload::Get)
        },
        BenchConfig { batch_size: 100, consistency: Consistency::ReadIndex, ..config(Workload::BatchGet) },
        config(Workload::Verify),
        config(Workload::Put),
        BenchConfig { put_percent: 50, ..config(Workload::Mixed) },
    ];
    for run in &runs {
        let result = bench::run(run, keys.clone(), &clients).await.expect("bench run");
        println!("{}", result.table_line());
        check(&result, run);
        assert_eq!(result.connections, 2);
    }

    // The first key loop 0 drew was put in the put run's warm-up at the latest: its record carries a bench value.
    let chooser = KeyChooser::new(keys.len(), Distribution::Uniform).expect("chooser");
    let first_key = chooser.next_idx(&mut KeyChooser::rng_for(RUN_SEED, 0));
    let stored = client.get(keys.id(first_key), Consistency::Linearizable).await.expect("get").expect("found");
    let other_name = stored.citizen.expect("citizen").other_name;
    assert!(other_name.starts_with("bench "), "other_name {other_name:?}: the put run wrote nothing");

    run_dancuctl(&cluster.endpoints()).await;
}

/// `dancuctl bench run --output json` prints the result's stable fields.
async fn run_dancuctl(endpoints: &[String]) {
    let dancuctl = PathBuf::from(env!("CARGO_BIN_EXE_dancu-node")).with_file_name("dancuctl");
    assert!(
        dancuctl.is_file(),
        "{} is missing: build it with `cargo build --release -p dancu-client`",
        dancuctl.display()
    );
    let args = [
        "--endpoints".to_string(),
        endpoints.join(","),
        "--output".to_string(),
        "json".to_string(),
        "bench".to_string(),
        "run".to_string(),
        "--workload".to_string(),
        "get".to_string(),
        "--population-seed".to_string(),
        POPULATION_SEED.to_string(),
        "--population-count".to_string(),
        N_RECORDS.to_string(),
        "--concurrency".to_string(),
        "4".to_string(),
        "--duration".to_string(),
        "1s".to_string(),
        "--warmup".to_string(),
        "0s".to_string(),
    ];
    let output = tokio::process::Command::new(&dancuctl).args(&args).output().await.expect("run dancuctl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dancuctl: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    for field in [
        "workload",
        "consistency",
        "distribution",
        "concurrency",
        "connections",
        "duration_s",
        "ops",
        "errors",
        "ops_per_s",
        "keys_per_s",
        "latency_ms",
        "per_second",
    ] {
        assert!(json.get(field).is_some(), "no {field:?} in {json}");
    }
    for field in ["p50", "p99", "p999", "max", "mean"] {
        assert!(json["latency_ms"][field].is_f64(), "latency_ms.{field} in {json}");
    }
    assert_eq!((json["workload"].as_str(), json["consistency"].as_str()), (Some("get"), Some("linearizable")));
    assert!(json["ops"].as_u64().is_some_and(|ops| ops > 0), "{json}");
    assert_eq!(json["errors"].as_u64(), Some(0), "{json}");
    assert!(json["per_second"].as_array().is_some_and(|series| !series.is_empty()), "{json}");
}
