//! A node of an older cluster still running on a configured address must not leak into a new cluster started
//! with the same configuration (issue 16, reproduced on real processes): cluster A imports marked records; A's
//! nodes 1 and 3 are killed while A's node 2 keeps running; new nodes 1 and 3 start with empty data dirs. The new
//! nodes must name node 2 as foreign in `Status`, refuse its messages, report its partitions as not founded, and
//! never return a record of A. Once A's node 2 is stopped and the new node 2 starts, an import of 200,000 records
//! succeeds and still no record of A is readable.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Duration;

use dancu_client::proto::{Citizen, Consistency, StatusResponse};
use dancu_client::{import, CitizenJson, Client, ClientOptions, ImportOptions};
use dancu_jepsen::{poll_until, ClusterSpec, LocalCluster};
use dancu_synthetic::Population;

const HEALTHY_TIMEOUT: Duration = Duration::from_secs(90);
/// Marks every record of the old cluster, so "a record of A" is recognizable whatever IDs the new cluster holds.
const MARKER: &str = "record of the old cluster A";
const N_OLD_RECORDS: u64 = 20_000;
const N_NEW_RECORDS: u64 = 200_000;
/// Old IDs read back per partition and level.
const SAMPLE_PER_PARTITION: usize = 100;
/// A read of a partition the new cluster cannot serve yet gives up after this.
const CHECK_DEADLINE: Duration = Duration::from_millis(1_000);

fn node_bin() -> &'static str {
    env!("CARGO_BIN_EXE_dancu-node")
}

fn options() -> ClientOptions {
    ClientOptions { deadline: Duration::from_secs(30), purpose: "test".to_string(), ..ClientOptions::default() }
}

fn json_lines(citizens: impl Iterator<Item = Citizen>) -> String {
    let mut text = String::new();
    for citizen in citizens {
        text.push_str(&serde_json::to_string(&CitizenJson::from(&citizen)).expect("json"));
        text.push('\n');
    }
    text
}

async fn import_all(client: &Client, text: String) -> u64 {
    let options = ImportOptions { strict: true, ..ImportOptions::default() };
    let summary = import(client, Cursor::new(text.into_bytes()), &options, |_| {})
        .await
        .unwrap_or_else(|failure| panic!("import failed: {failure}"));
    assert!(summary.bad_lines.is_empty(), "{:?}", summary.bad_lines);
    summary.lines
}

/// Reads old IDs through `client` — up to `SAMPLE_PER_PARTITION` per partition, at the STALE level (any replica,
/// no leader needed) and the LINEARIZABLE one: none may come back as the old cluster's record. A partition that
/// cannot answer (not founded in the new cluster: `unavailable`) is asked once, with a short deadline; that it fails
/// is fine, data of A is not. Returns how many IDs were answered (found or not).
async fn assert_no_old_record(client: &Client, old_ids: &[String], unavailable: &[u32], through: &str) -> usize {
    let client = client.with_options(ClientOptions { deadline: CHECK_DEADLINE, ..client.options().clone() });
    let mut by_partition: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for id in old_ids {
        let ids = by_partition.entry(client.partition_of(id).expect("old IDs have partitions")).or_default();
        if ids.len() < SAMPLE_PER_PARTITION {
            ids.push(id.clone());
        }
    }
    let mut n_answered = 0;
    for level in [Consistency::Stale, Consistency::Linearizable] {
        for (partition, ids) in &by_partition {
            if unavailable.contains(partition) && level != Consistency::Stale {
                continue;
            }
            let Ok(results) = client.batch_get(ids, level).await else { continue };
            for result in results {
                n_answered += 1;
                if let Some(citizen) = result.citizen {
                    assert_ne!(citizen.other_name, MARKER, "{through} returned {} of the old cluster", citizen.id);
                }
            }
        }
    }
    eprintln!("{through}: {n_answered} reads of old IDs answered, none with the old cluster's data");
    n_answered
}

fn foreign_nodes(status: &StatusResponse) -> Vec<u64> {
    status.nodes.iter().filter(|node| node.health == "foreign").map(|node| node.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_an_old_cluster_never_leaks_into_a_new_one() {
    // Cluster A with marked records.
    let mut old = LocalCluster::start(ClusterSpec::new(node_bin())).expect("cluster A starts");
    old.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let old_client = Client::connect(&old.endpoints(), options()).await.expect("connect to A");
    let old_records: Vec<Citizen> = Population::new(11, N_OLD_RECORDS)
        .expect("population")
        .citizens()
        .map(|citizen| Citizen { other_name: MARKER.to_string(), ..citizen })
        .collect();
    let old_ids: Vec<String> = old_records.iter().map(|citizen| citizen.id.clone()).collect();
    assert_eq!(import_all(&old_client, json_lines(old_records.into_iter())).await, N_OLD_RECORDS);
    drop(old_client);
    let old_cluster_id = old.status(2).await.expect("A's node 2 answers").cluster_id;

    // A's nodes 1 and 3 die; new nodes 1 and 3 start on their addresses with empty data dirs.
    old.kill(1).expect("kill A1");
    old.kill(3).expect("kill A3");
    let spec = ClusterSpec {
        fixed_config: Some(old.config_path().to_path_buf()),
        initially_down: vec![2],
        ..ClusterSpec::new(node_bin())
    };
    let mut new = LocalCluster::start(spec).expect("new nodes 1 and 3 start");
    let not_founded_expected: Vec<u32> = new
        .config()
        .partition_map()
        .expect("map")
        .partitions
        .iter()
        .filter(|p| p.preferred_leader == 2)
        .map(|p| p.id.0)
        .collect();
    assert!(!not_founded_expected.is_empty());

    // Status is honest: node 2 is foreign, its partitions are not founded, the others are led.
    let status = poll_until(HEALTHY_TIMEOUT, "node 2 named foreign, other partitions led", || async {
        let status = new.status(1).await.map_err(|error| error.to_string())?;
        let led = status.partitions.iter().filter(|p| p.availability == "led").count();
        let not_founded: Vec<u32> =
            status.partitions.iter().filter(|p| p.availability == "not_founded").map(|p| p.id).collect();
        if foreign_nodes(&status) == vec![2]
            && not_founded == not_founded_expected
            && led + not_founded.len() == status.partitions.len()
        {
            Ok(status)
        } else {
            Err(format!("foreign {:?}, {led} led, not founded {not_founded:?}", foreign_nodes(&status)))
        }
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_ne!(status.cluster_id, old_cluster_id, "the new cluster has its own id");
    let node_2 = status.nodes.iter().find(|node| node.id == 2).expect("node 2 listed");
    assert_eq!(node_2.foreign_cluster_id, old_cluster_id);
    let status_3 = new.status(3).await.expect("node 3 answers");
    assert_eq!(status_3.cluster_id, status.cluster_id, "node 3 joined node 1's cluster");

    // No record of A through the new nodes, nor through a client given every configured address (node 2's too).
    let through_new = Client::connect(&[new.addr(1), new.addr(3)], options()).await.expect("connect");
    assert_no_old_record(&through_new, &old_ids, &not_founded_expected, "new nodes 1 and 3").await;
    let through_config = Client::connect(&new.endpoints(), options()).await.expect("connect");
    assert_eq!(through_config.cluster_id(), Some(status.cluster_id.clone()));
    assert_no_old_record(&through_config, &old_ids, &not_founded_expected, "every configured address").await;

    // A's node 2 stops, the real node 2 starts: the new cluster completes and takes a big import.
    old.kill(2).expect("kill A2");
    new.restart(2).expect("new node 2 starts");
    new.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let client = Client::connect(&new.endpoints(), options()).await.expect("connect");
    let population = Population::new(12, N_NEW_RECORDS).expect("population");
    let mut text = Vec::new();
    for chunk in 0..population.n_chunks() {
        population.chunk_json(chunk, &mut text);
    }
    let lines = import_all(&client, String::from_utf8(text).expect("utf-8")).await;
    assert_eq!(lines, N_NEW_RECORDS);
    let status = new.status(2).await.expect("node 2 answers");
    assert!(foreign_nodes(&status).is_empty(), "{:?}", status.nodes);
    let n_answered = assert_no_old_record(&client, &old_ids, &[], "the completed new cluster").await;
    assert!(n_answered > 0, "the completed cluster answered no read at all");
}
