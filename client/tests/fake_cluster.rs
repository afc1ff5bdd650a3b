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

/// Gets asked for together travel to their node as one batch, each answered as if alone (found, absent,
/// replaced); with coalescing off every get is its own `GetCitizen`.
#[tokio::test]
async fn concurrent_gets_to_one_node_travel_together() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let ids: Vec<String> = (0..40).map(|serial| format!("001085{serial:06}")).collect();
    for (idx, id) in ids.iter().enumerate() {
        client.put(citizen(id, &format!("Nguyễn Văn {idx}")), None).await.expect("put");
    }
    client.correct_id(&ids[0], citizen("001185000000", "Nguyễn Văn 0")).await.expect("correct");
    let absent = "001085999999";
    let asked: Vec<&str> = ids.iter().map(String::as_str).chain([absent]).collect();
    let answers = futures::future::join_all(asked.iter().map(|id| client.get(id, Consistency::Linearizable))).await;
    assert_eq!(
        answers[0],
        Err(ClientError::IdReplaced { id: ids[0].clone(), replaced_by: "001185000000".to_string() })
    );
    for (idx, answer) in answers.iter().enumerate().take(ids.len()).skip(1) {
        let read = answer.as_ref().expect("get").as_ref().expect("found");
        assert_eq!(read.citizen.as_ref().map(|c| c.full_name.clone()), Some(format!("Nguyễn Văn {idx}")));
        assert_eq!(read.revision, 1);
        assert_eq!(read.meta.map(|meta| (meta.partition_id, meta.served_by)), Some((100, 1)));
    }
    assert_eq!(answers[ids.len()], Ok(None));
    assert_eq!(cluster.shared.batch_calls.lock().unwrap().clone(), vec![(1, asked.len())], "one batch for all");

    cluster.shared.batch_calls.lock().unwrap().clear();
    let alone = client.with_options(ClientOptions { get_batches_in_flight: 0, ..options() });
    let answers = futures::future::join_all(ids[1..].iter().map(|id| alone.get(id, Consistency::Linearizable))).await;
    assert!(answers.iter().all(|answer| matches!(answer, Ok(Some(_)))));
    assert!(cluster.shared.batch_calls.lock().unwrap().is_empty());
}

/// A cluster where node 1 leads both partitions (7900 moved to it) and holds one citizen in each.
async fn two_citizens_on_node_1() -> (FakeCluster, Client) {
    let cluster = FakeCluster::start().await;
    cluster.set_leader(7900, 1);
    cluster.shared.reported_leaders.lock().unwrap().insert(7900, 1);
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    client.put(citizen("079305000123", "Trần Thị Bích"), None).await.expect("put");
    (cluster, client)
}

/// Partitions served by the same node go in one request; when that node no longer leads one of them, the batch
/// is answered anyway, per partition, following the redirect.
#[tokio::test]
async fn batch_get_sends_one_request_per_node_and_falls_back_per_partition() {
    let (cluster, client) = two_citizens_on_node_1().await;
    let ids: Vec<String> =
        ["079305000123", "001085000000", "001085012345", "079305000124"].iter().map(|id| id.to_string()).collect();
    let found = |results: Vec<dancu_client::proto::BatchGetResult>| -> Vec<bool> {
        results.iter().map(|result| result.found).collect()
    };
    let results = client.batch_get(&ids, Consistency::Linearizable).await.expect("batch");
    assert_eq!(found(results), vec![true, false, true, false]);
    assert_eq!(cluster.shared.batch_calls.lock().unwrap().clone(), vec![(1, 4)]);

    // Node 2 takes over partition 7900; the client still believes node 1 leads both.
    cluster.set_leader(7900, 2);
    cluster.shared.batch_calls.lock().unwrap().clear();
    let results = client.batch_get(&ids, Consistency::Linearizable).await.expect("batch after a leader change");
    assert_eq!(found(results), vec![true, false, true, false]);
    let mut calls = cluster.shared.batch_calls.lock().unwrap().clone();
    calls.sort();
    assert_eq!(calls, vec![(1, 2), (2, 2)]);
}

/// Batch gets asked for together travel to their node as one request, and each caller gets its own results in its
/// own order.
#[tokio::test]
async fn concurrent_batch_gets_to_one_node_travel_together() {
    let (cluster, client) = two_citizens_on_node_1().await;
    let batches: Vec<Vec<String>> = [
        ["079305000123", "001085000000", "001085012345"],
        ["001085012345", "079305000999", "079305000123"],
        ["001085000001", "079305000123", "001085000002"],
    ]
    .iter()
    .map(|ids| ids.iter().map(|id| id.to_string()).collect())
    .collect();
    let answers =
        futures::future::join_all(batches.iter().map(|ids| client.batch_get(ids, Consistency::Linearizable))).await;
    for (ids, answer) in batches.iter().zip(answers) {
        let results = answer.expect("batch");
        let got: Vec<(&str, bool)> = results.iter().map(|result| (result.id.as_str(), result.found)).collect();
        let expected: Vec<(&str, bool)> =
            ids.iter().map(|id| (id.as_str(), id == "001085012345" || id == "079305000123")).collect();
        assert_eq!(got, expected);
        for result in results.iter().filter(|result| result.found) {
            let name = result.citizen.as_ref().map(|citizen| citizen.full_name.as_str());
            let expected = if result.id == "001085012345" { "Nguyễn Văn An" } else { "Trần Thị Bích" };
            assert_eq!(name, Some(expected), "{}", result.id);
        }
    }
    assert_eq!(cluster.shared.batch_calls.lock().unwrap().clone(), vec![(1, 9)], "one request for all three");
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

fn query(id: &str, name: Option<&str>, sex: Option<dancu_client::proto::Sex>) -> dancu_client::proto::VerifyQuery {
    dancu_client::proto::VerifyQuery {
        id: id.to_string(),
        full_name: name.map(str::to_string),
        date_of_birth: None,
        sex: sex.map_or(0, |sex| sex.into()),
    }
}

#[tokio::test]
async fn batch_verify_splits_by_partition_and_keeps_order() {
    use dancu_client::proto::{IdStatus, Sex};
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    client.put(Citizen { sex: Sex::Male.into(), ..citizen("001085012345", "Nguyễn Văn An") }, None).await.expect("put");
    client.put(citizen("079305000123", "Trần Thị Bích"), None).await.expect("put");
    // Partition 100 moved to node 3 since the map was read: its group follows the NOT_LEADER hint.
    cluster.set_leader(100, 3);
    let queries = vec![
        query("079305000123", Some("Trần Thị Bích"), None),
        query("001085012345", Some("Nguyễn Văn Ân"), None),
        query("001085000000", None, Some(Sex::Female)),
        query("001085012345", None, Some(Sex::Male)),
        query("079305000999", Some("X"), None),
    ];
    let results = client.batch_verify(&queries, Consistency::Linearizable).await.expect("batch verify");
    let got: Vec<(&str, bool, i32)> =
        results.iter().map(|result| (result.id.as_str(), result.r#match, result.id_status)).collect();
    let found = IdStatus::Found as i32;
    let not_found = IdStatus::NotFound as i32;
    assert_eq!(
        got,
        vec![
            ("079305000123", true, found),
            ("001085012345", false, found),
            ("001085000000", false, not_found),
            ("001085012345", true, found),
            ("079305000999", false, not_found),
        ]
    );
    let mut calls = cluster.shared.verify_batches.lock().unwrap().clone();
    calls.sort();
    assert_eq!(calls, vec![(2, 2), (3, 3)]);
    // Checked locally before anything is sent: a query asking nothing, a malformed ID.
    let error = client.batch_verify(&[query("001085012345", None, None)], Consistency::Linearizable).await;
    assert!(matches!(error, Err(ClientError::InvalidArgument { ref field, .. }) if field == "queries[0]"), "{error:?}");
    let error = client.batch_verify(&[queries[0].clone(), query("0010", Some("A"), None)], Consistency::Stale).await;
    assert!(
        matches!(error, Err(ClientError::InvalidArgument { ref field, .. }) if field == "queries[1].id"),
        "{error:?}"
    );
    let single = client.verify(queries[1].clone(), Consistency::Linearizable).await.expect("verify");
    assert_eq!(single.result.map(|result| result.r#match), Some(false));
}

#[tokio::test]
async fn put_citizens_checks_batches() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let field_of = |error: ClientError| match error {
        ClientError::InvalidArgument { field, .. } => field,
        other => panic!("not an invalid argument: {other}"),
    };
    let mixed = [citizen("001085000001", "A"), citizen("079305000001", "B")];
    assert_eq!(field_of(client.put_citizens(&mixed).await.unwrap_err()), "citizens");
    let twice = [citizen("001085000001", "A"), citizen("001085000001", "B")];
    assert_eq!(field_of(client.put_citizens(&twice).await.unwrap_err()), "citizens[1].id");
    assert_eq!(field_of(client.put_citizens(&[]).await.unwrap_err()), "citizens");
    let old = Citizen {
        date_of_birth: Some(dancu_client::proto::Date { year: 1850, month: 1, day: 1 }),
        ..citizen("001085000002", "B")
    };
    let error = client.put_citizens(&[citizen("001085000001", "A"), old]).await.unwrap_err();
    assert_eq!(error.to_string(), "invalid argument: citizens[1].date_of_birth: before 1900-01-01");
    let batch = [citizen("001085000001", "A"), citizen("001085000003", "C")];
    let first = client.put_citizens(&batch).await.expect("put");
    assert_eq!(
        first.results.iter().map(|result| (result.written, result.revision)).collect::<Vec<_>>(),
        [(true, 1); 2]
    );
    let changed = [citizen("001085000001", "A"), citizen("001085000003", "C2")];
    let second = client.put_citizens(&changed).await.expect("put");
    let got: Vec<(bool, u64)> = second.results.iter().map(|result| (result.written, result.revision)).collect();
    assert_eq!(got, vec![(false, 1), (true, 2)]);
}

#[tokio::test]
async fn scan_resumes_after_a_broken_stream() {
    use dancu_client::ScanOptions;
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let ids: Vec<String> = (1..=7).map(|idx| format!("001085{idx:06}")).collect();
    for id in &ids {
        client.put(citizen(id, "An"), None).await.expect("put");
    }
    client.put(citizen("079305000123", "Other partition"), None).await.expect("put");
    *cluster.shared.scans_to_break.lock().unwrap() = 1;
    let options = ScanOptions { page_size: 3, ..ScanOptions::default() };
    let mut scan = client.scan_partition(100, options).await.expect("scan starts");
    let mut pages = Vec::new();
    while let Some(page) = scan.next_page().await {
        pages.push(page.expect("page"));
    }
    let scanned: Vec<String> = pages.iter().flat_map(|page| page.citizens.iter().map(|c| c.id.clone())).collect();
    assert_eq!(scanned, ids);
    assert_eq!(pages.iter().map(|page| page.resumed).collect::<Vec<_>>(), vec![false, true, false]);
    let scans = cluster.shared.scans.lock().unwrap().clone();
    assert_eq!(scans, vec![(1, String::new()), (1, "001085000003".to_string())]);
    let error = client.scan_partition(4200, ScanOptions::default()).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { ref field, .. } if field == "partition_id"), "{error}");
}

#[tokio::test]
async fn marry_writes_the_lower_id_first_and_repeats_idempotently() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[3]), options()).await.expect("connect");
    client.put(citizen("079305000123", "Trần Thị Bích"), None).await.expect("put");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    let date = dancu_client::proto::Date { year: 2024, month: 5, day: 1 };
    let outcome = client.marry("079305000123", "001085012345", date).await.expect("marry");
    assert_eq!((outcome.first_id.as_str(), outcome.second_id.as_str()), ("001085012345", "079305000123"));
    let events = cluster.shared.events.lock().unwrap().clone();
    let prefix = "marriage:001085012345:079305000123:2024-05-01";
    assert_eq!(
        events,
        vec![
            (1, "001085012345".to_string(), format!("{prefix}:001085012345")),
            (2, "079305000123".to_string(), format!("{prefix}:079305000123")),
        ]
    );
    let records = cluster.shared.records.lock().unwrap().clone();
    let spouse = records["001085012345"].spouse.clone().expect("spouse");
    assert_eq!((spouse.full_name.as_str(), spouse.id.as_str()), ("Trần Thị Bích", "079305000123"));
    let again = client.marry("001085012345", "079305000123", date).await.expect("marry again");
    assert!(again.first.deduplicated && again.second.deduplicated);
    assert_eq!(cluster.shared.events.lock().unwrap().len(), 2);
    let error = client.marry("001085012345", "001085099999", date).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { ref field, .. } if field == "b_id"), "{error}");
}

#[tokio::test]
async fn correct_id_cancels_the_old_id() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    let corrected = citizen("001185012345", "Nguyễn Văn An");
    client.correct_id("001085012345", corrected.clone()).await.expect("correct");
    let events = cluster.shared.events.lock().unwrap().clone();
    let request_ids: Vec<&str> = events.iter().map(|(_, _, request_id)| request_id.as_str()).collect();
    assert_eq!(request_ids, ["id-correction:001085012345:001185012345:1", "id-correction:001085012345:001185012345:2"]);
    let error = client.get("001085012345", Consistency::Linearizable).await.unwrap_err();
    assert_eq!(
        error,
        ClientError::IdReplaced { id: "001085012345".to_string(), replaced_by: "001185012345".to_string() }
    );
    let new = client.get("001185012345", Consistency::Linearizable).await.expect("get").expect("found");
    assert_eq!(new.citizen.map(|citizen| citizen.earlier_ids), Some(vec!["001085012345".to_string()]));
    // A repeat completes nothing new.
    let again = client.correct_id("001085012345", corrected).await.expect("repeat");
    assert!(again.corrected.deduplicated && again.cancelled.deduplicated);
}

#[tokio::test]
async fn refused_events_are_typed() {
    use dancu_client::proto::life_event::Kind;
    use dancu_client::proto::{Date, Death, LifeEvent, Move, Place};
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    client.put(citizen("001085012345", "Nguyễn Văn An"), None).await.expect("put");
    let date = Some(Date { year: 2024, month: 5, day: 1 });
    let death = LifeEvent { id: "001085012345".to_string(), date, kind: Some(Kind::Death(Death {})) };
    client.record_event(death).await.expect("death");
    let place = Place { province_code: "079".to_string(), ..Place::default() };
    let change = Move { permanent_residence: Some(place), ..Move::default() };
    let moved = LifeEvent { id: "001085012345".to_string(), date, kind: Some(Kind::Move(change)) };
    let error = client.record_event(moved).await.unwrap_err();
    assert_eq!(error, ClientError::Refused { message: "the person is deceased".to_string() });
}

#[tokio::test]
async fn scatter_queries_go_to_any_node() {
    use dancu_client::proto::Date;
    use dancu_client::SearchQuery;
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[3, 1]), options()).await.expect("connect");
    let dob = Date { year: 1985, month: 3, day: 14 };
    for (id, household) in [("079085000002", "HK1"), ("001085000001", "HK1"), ("001085000003", "HK2")] {
        let record = Citizen {
            date_of_birth: Some(dob),
            household_id: household.to_string(),
            legacy_id_number: format!("0{}", &id[4..]),
            ..citizen(id, "Nguyễn Văn An")
        };
        client.put(record, None).await.expect("put");
    }
    let found = client.lookup_legacy_number("085000003", Consistency::Linearizable).await.expect("lookup").id;
    assert_eq!(found.as_deref(), Some("001085000003"));
    assert_eq!(
        client.lookup_legacy_number("123456789", Consistency::Linearizable).await.map(|found| found.id),
        Ok(None)
    );
    let error = client.lookup_legacy_number("12345", Consistency::Linearizable).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidArgument { .. }), "{error}");

    let query =
        SearchQuery { full_name: "nguyễn văn an".to_string(), date_of_birth: dob, province_code: None, limit: 2 };
    let hits = client.search(&query, Consistency::Stale).await.expect("search");
    let ids: Vec<&str> = hits.hits.iter().map(|hit| hit.id.as_str()).collect();
    assert_eq!((ids, hits.truncated), (vec!["001085000001", "001085000003"], true));
    // STALE goes to the first endpoint (node 3).
    assert_eq!(cluster.shared.scatter_calls.lock().unwrap().last(), Some(&(3, "search")));

    let household =
        client.list_household("079085000002", Consistency::Linearizable).await.expect("list").expect("found");
    let members: Vec<&str> = household.members.iter().map(|member| member.id.as_str()).collect();
    assert_eq!((household.household_id.as_str(), members), ("HK1", vec!["001085000001", "079085000002"]));
    let by_id = client.list_household_by_id("HK2", Consistency::Linearizable).await.expect("list");
    assert_eq!(by_id.members.len(), 1);
    assert_eq!(client.list_household("001085099999", Consistency::Linearizable).await, Ok(None));
}
