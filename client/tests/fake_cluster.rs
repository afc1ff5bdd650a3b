//! The client against a fake three-node cluster on loopback: routing, leader redirects, retries with one
//! request id, replica reads, batch reassembly, error mapping and deadlines.

mod fake;

use std::time::{Duration, Instant};

use dancu_client::proto::{Citizen, Consistency};
use dancu_client::{Client, ClientError, ClientOptions};
use fake::FakeCluster;

fn options() -> ClientOptions {
    ClientOptions { deadline: Duration::from_secs(5), rpc_timeout: Duration::from_secs(1), ..ClientOptions::default() }
}

fn citizen(id: &str, name: &str) -> Citizen {
    Citizen { id: id.to_string(), full_name: name.to_string(), ..Citizen::default() }
}

#[tokio::test]
async fn put_and_get_follow_a_stale_leader_map() {
    let cluster = FakeCluster::start().await;
    // The map says node 1 leads partition 100, but node 3 does: the client must follow the NOT_LEADER hint.
    cluster.set_leader(100, 3);
    let client = Client::connect(&cluster.endpoints(&[2, 1, 3]), options()).await.expect("connect");
    let written = client.put(citizen("001085012345", "Nguyễn Văn An"), Some(0)).await.expect("put");
    assert_eq!(written.revision, 1);
    assert_eq!(written.partition_id, 100);
    let read = client.get("001085012345", Consistency::Linearizable).await.expect("get").expect("found");
    assert_eq!(read.citizen.map(|c| c.full_name), Some("Nguyễn Văn An".to_string()));
    assert_eq!(read.meta.map(|meta| meta.served_by), Some(3));
    let attempts = cluster.shared.put_attempts.lock().unwrap().clone();
    assert_eq!(attempts.iter().map(|(node, _, _)| *node).collect::<Vec<_>>(), vec![1, 3]);
    assert!(attempts.iter().all(|(_, _, purpose)| purpose == "operator"));
}

#[tokio::test]
async fn retries_keep_one_request_id() {
    let cluster = FakeCluster::start().await;
    *cluster.shared.puts_to_fail.lock().unwrap() = 3;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let written = client.put(citizen("079305000123", "Trần Thị Bích"), None).await.expect("put after retries");
    assert_eq!(written.revision, 1);
    let attempts = cluster.shared.put_attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 4);
    assert!(attempts.iter().all(|(node, id, _)| *node == 2 && *id == attempts[0].1), "{attempts:?}");
    assert_eq!(attempts[0].1.len(), 32);
    // The same request id again is answered from the dedup table.
    let again = client
        .put_with_request_id(citizen("079305000123", "Trần Thị Bích"), attempts[0].1.clone(), None)
        .await
        .expect("repeat");
    assert!(again.deduplicated);
    assert_eq!(again.revision, 1);
}

#[tokio::test]
async fn final_errors_are_not_retried() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let error = client.put(citizen("001085012345", ""), None).await.unwrap_err();
    assert_eq!(error.to_string(), "invalid argument: citizen.full_name: full name is required");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    let error = client.put(citizen("001085012345", "Nguyễn Văn An"), Some(0)).await.unwrap_err();
    assert_eq!(error, ClientError::RevisionMismatch { current_revision: 1 });
    assert_eq!(cluster.shared.put_attempts.lock().unwrap().len(), 3);
    assert_eq!(client.get("001085099999", Consistency::Linearizable).await, Ok(None));
    // Bad IDs are refused locally.
    let error = client.get("0010850", Consistency::Linearizable).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { ref field, .. } if field == "id"), "{error}");
    let error = client.get("003085012345", Consistency::Linearizable).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { .. }), "{error}");
}

#[tokio::test]
async fn stale_reads_go_to_the_first_endpoint() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[3, 1]), options()).await.expect("connect");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    for consistency in [Consistency::Stale, Consistency::Follower] {
        let read = client.get("001085012345", consistency).await.expect("get").expect("found");
        assert_eq!(read.meta.map(|meta| meta.served_by), Some(3));
    }
    let read = client.get("001085012345", Consistency::ReadIndex).await.expect("get").expect("found");
    assert_eq!(read.meta.map(|meta| meta.served_by), Some(1));
}

#[tokio::test]
async fn batch_get_splits_by_partition_and_keeps_order() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    client.put(citizen("079305000123", "Trần Thị Bích"), None).await.expect("put");
    let ids: Vec<String> =
        ["079305000123", "001085000000", "001085012345", "079305000123"].iter().map(|id| id.to_string()).collect();
    let results = client.batch_get(&ids, Consistency::Linearizable).await.expect("batch");
    let got: Vec<(&str, bool)> = results.iter().map(|result| (result.id.as_str(), result.found)).collect();
    assert_eq!(
        got,
        vec![("079305000123", true), ("001085000000", false), ("001085012345", true), ("079305000123", true)]
    );
    let mut calls = cluster.shared.batch_calls.lock().unwrap().clone();
    calls.sort();
    assert_eq!(calls, vec![(1, 2), (2, 2)]);
    let too_many = vec!["001085012345".to_string(); dancu_client::BATCH_IDS_MAX + 1];
    let error = client.batch_get(&too_many, Consistency::Linearizable).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { ref field, .. } if field == "ids"), "{error}");
    assert_eq!(client.batch_get(&[], Consistency::Linearizable).await, Ok(vec![]));
}

#[tokio::test]
async fn a_dead_leader_fails_within_the_deadline() {
    let mut cluster = FakeCluster::start().await;
    let deadline = Duration::from_millis(800);
    let options = ClientOptions { deadline, rpc_timeout: Duration::from_millis(300), ..ClientOptions::default() };
    // An unreachable first endpoint does not stop connect.
    let mut endpoints = vec!["127.0.0.1:1".to_string()];
    endpoints.extend(cluster.endpoints(&[2, 3]));
    let client = Client::connect(&endpoints, options).await.expect("connect");
    cluster.stop(1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Nodes 2 and 3 keep naming node 1 as leader of partition 100; node 1 is gone.
    let started = Instant::now();
    let error = client.get("001085012345", Consistency::Linearizable).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, ClientError::Unavailable { .. } | ClientError::DeadlineExceeded), "{error}");
    assert!(elapsed < deadline + Duration::from_millis(400), "took {elapsed:?}");
    // Partition 7900 (led by node 2) still works.
    client.put(citizen("079305000123", "Trần Thị Bích"), None).await.expect("other partition");
    let status_error = client.status_of(&cluster.addrs[&1]).await.unwrap_err();
    assert!(matches!(status_error, ClientError::Connect { .. }), "{status_error}");
}

#[tokio::test]
async fn connect_fails_clearly_without_endpoints() {
    let error = Client::connect(&[], ClientOptions::default()).await.unwrap_err();
    assert_eq!(error.to_string(), "configuration: no endpoints given");
    let options = ClientOptions { deadline: Duration::from_millis(500), ..ClientOptions::default() };
    let error = Client::connect(&["127.0.0.1:1".to_string()], options).await.unwrap_err();
    assert!(matches!(error, ClientError::Connect { .. }), "{error}");
    assert!(error.to_string().starts_with("cannot connect to 127.0.0.1:1: "), "{error}");
}
