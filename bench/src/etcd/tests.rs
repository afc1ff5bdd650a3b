//! Against a real etcd cluster (etcd 3.4 from Debian's etcd-server; skipped with a message where it is not
//! installed).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dancu_client::bench::LoopShape;
use dancu_synthetic::Population;

use super::*;
use crate::failover;

const SEED: u64 = 42;
const RECORDS: u64 = 300;

fn etcd_installed() -> bool {
    match binary::find(None) {
        Ok(_) => true,
        Err(error) => {
            eprintln!("skipped: {error}");
            false
        }
    }
}

fn ids_of(population: &Population) -> Arc<Vec<String>> {
    Arc::new(population.citizens().map(|citizen| citizen.id).collect())
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A started cluster holding the test population.
async fn loaded_cluster(dir: &Path) -> (EtcdCluster, Population) {
    let cluster = EtcdCluster::start(None, dir, None).await.unwrap();
    let population = Population::new(SEED, RECORDS).unwrap();
    let loaded = load(&cluster, &population).await.unwrap();
    assert_eq!(loaded.records, RECORDS);
    assert!(loaded.records_per_s > 0.0 && loaded.mean_record_bytes > 500.0, "{loaded:?}");
    (cluster, population)
}

fn shape() -> LoopShape {
    LoopShape {
        concurrency: 4,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(300),
        seed: SEED,
        request_deadline: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loads_records_as_json_lines_and_runs_every_workload() {
    if !etcd_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cluster, population) = loaded_cluster(dir.path()).await;
    assert!(cluster.version().starts_with("etcd 3."), "{}", cluster.version());
    assert_eq!(cluster.endpoints().len(), 3);
    assert!(cluster.rss_mib_per_member().unwrap().iter().all(|&mib| mib > 1.0));

    let mut json = Vec::new();
    population.chunk_json(0, &mut json);
    let first_line = json.split(|&byte| byte == b'\n').next().unwrap();
    let first_id = population.citizens().next().unwrap().id;
    let stored = cluster.client().await.unwrap().get(first_id.as_str(), None).await.unwrap();
    assert_eq!(stored.kvs()[0].value(), first_line);

    let ids = ids_of(&population);
    for (workload, name, consistency) in [
        (EtcdWorkload::GetLinearizable, "get", Some("linearizable")),
        (EtcdWorkload::GetSerializable, "get", Some("serializable")),
        (EtcdWorkload::Put, "put", None),
        (EtcdWorkload::BatchGet(10), "batch-get", None),
    ] {
        let result = run_workload(&cluster, workload, ids.clone(), shape()).await.unwrap();
        assert_eq!((result.workload.as_str(), result.consistency.as_deref()), (name, consistency));
        assert_eq!(result.errors, 0, "{workload:?}: {:?}", result.first_error);
        assert!(result.ops > 0, "{workload:?}");
        assert_eq!(result.batch_size, workload.keys_per_op());
        assert_eq!((result.concurrency, result.connections), (4, 4));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_recover_after_each_leader_kill_and_drop_leaves_no_process() {
    if !etcd_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut cluster, population) = loaded_cluster(dir.path()).await;
    let writes = failover_writes(&cluster, ids_of(&population)).await.unwrap();
    let settle = failover::settle_max(population.count());
    let outcome = failover::measure(&mut cluster, writes, 2, settle).await.unwrap();
    assert_eq!(outcome.recoveries_ms.len(), 2);
    assert_eq!(outcome.incomplete, None);
    assert!(outcome.recoveries_ms.iter().all(|&ms| ms > 0.0), "{outcome:?}");

    let pids = cluster.pids();
    assert_eq!(pids.len(), 3, "every member runs again after the failovers");
    let data_dir = dir.path().join("etcd-m1");
    assert!(data_dir.exists());
    drop(cluster);
    assert!(pids.iter().all(|&pid| !pid_alive(pid)), "{pids:?}");
    assert!(!data_dir.exists());
}

#[tokio::test]
async fn a_missing_binary_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-etcd-here");
    let error = EtcdCluster::start(Some(&missing), dir.path(), None).await.err().unwrap();
    assert!(matches!(error, crate::CompareError::EtcdMissing { .. }), "{error}");
}
