//! `dancu_client::import` against the fake cluster: bad lines, re-runs, --strict, duplicate IDs, batching.

mod fake;

use std::io::Cursor;
use std::time::Duration;

use dancu_client::{import, Client, ClientOptions, ImportError, ImportOptions, ImportSummary};
use fake::FakeCluster;

fn options() -> ClientOptions {
    ClientOptions { deadline: Duration::from_secs(5), rpc_timeout: Duration::from_secs(1), ..ClientOptions::default() }
}

/// A record line with a name and date of birth.
fn record(id: &str, name: &str, dob: &str) -> String {
    format!(r#"{{"id": "{id}", "full_name": "{name}", "date_of_birth": "{dob}", "sex": "male"}}"#)
}

fn input(lines: &[String]) -> Cursor<Vec<u8>> {
    Cursor::new(lines.join("\n").into_bytes())
}

async fn run(client: &Client, lines: &[String], options: &ImportOptions) -> Result<ImportSummary, ImportError> {
    import(client, input(lines), options, |_| {}).await.map_err(|failure| failure.error)
}

fn stored_name(cluster: &FakeCluster, id: &str) -> Option<String> {
    cluster.shared.records.lock().unwrap().get(id).map(|citizen| citizen.full_name.clone())
}

/// Lines 3, 4, 6 and 7 are bad in four different ways; line 5 is blank.
fn mixed_lines() -> Vec<String> {
    vec![
        record("001085000001", "Nguyễn Văn An", "1985-03-14"),
        record("079305000001", "Trần Thị Bích", "2005-02-28"),
        "not json".to_string(),
        record("001085000002", "Lê Văn Cũ", "1850-01-01"),
        String::new(),
        record("003085000001", "Phạm Văn Dũng", "1985-01-01"),
        record("001085000003", "Hoàng Thị E", "1985-02-30"),
        record("001085000004", "Vũ Văn Giang", "1986-04-01"),
        record("079305000002", "Đặng Thị Hoa", "2005-06-01"),
        record("001085000005", "Bùi Văn Khoa", "1987-07-07"),
    ]
}

#[tokio::test]
async fn bad_lines_are_reported_by_number_and_the_rest_is_loaded() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let import_options = ImportOptions { batch_size: 2, ..ImportOptions::default() };
    let mut n_reports = 0;
    let summary = import(&client, input(&mixed_lines()), &import_options, |_| n_reports += 1).await.expect("import");
    assert_eq!((summary.lines, summary.written, summary.unchanged), (9, 5, 0));
    let bad: Vec<(u64, &str)> = summary.bad_lines.iter().map(|bad| (bad.line, bad.reason.as_str())).collect();
    assert_eq!(bad.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![3, 4, 6, 7], "{bad:?}");
    assert!(bad[0].1.starts_with("record: expected "), "{bad:?}");
    assert_eq!(bad[1].1, "date_of_birth: before 1900-01-01");
    assert_eq!(bad[2].1, "id: no partition holds this ID (unknown province code?)");
    assert_eq!(bad[3].1, "date_of_birth: expected a date YYYY-MM-DD, got \"1985-02-30\"");
    for id in ["001085000001", "079305000001", "001085000004", "079305000002", "001085000005"] {
        assert!(stored_name(&cluster, id).is_some(), "{id} was not loaded");
    }
    assert_eq!(stored_name(&cluster, "001085000002"), None);
    assert!(n_reports > 0);
    // Every batch held at most two records of one partition (the fake refuses mixed batches).
    let batches = cluster.shared.put_batches.lock().unwrap().clone();
    assert!(batches.iter().all(|(_, n_records, _)| *n_records <= 2), "{batches:?}");
    assert!(batches.iter().all(|(_, _, request_id)| request_id.starts_with("import-")), "{batches:?}");
}

#[tokio::test]
async fn a_second_import_writes_nothing_new() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[2]), options()).await.expect("connect");
    let lines: Vec<String> = (0u32..50)
        .map(|idx| {
            let province = if idx.is_multiple_of(3) { "079" } else { "001" };
            record(&format!("{province}085{idx:06}"), &format!("Người {idx}"), "1985-01-01")
        })
        .collect();
    let import_options = ImportOptions { batch_size: 10, ..ImportOptions::default() };
    let first = run(&client, &lines, &import_options).await.expect("first import");
    assert_eq!((first.lines, first.written, first.unchanged, first.bad_lines.len()), (50, 50, 0, 0));
    let second = run(&client, &lines, &import_options).await.expect("second import");
    assert_eq!((second.written, second.unchanged), (0, 50));
    let records = cluster.shared.records.lock().unwrap().clone();
    assert!(records.values().all(|citizen| citizen.revision == 1), "an unchanged record got a new revision");
    drop(records);
    // With a fixed run id, a re-run is answered from the exactly-once table: nothing reaches validation.
    let fixed = ImportOptions { run_id: Some("nightly-1".to_string()), ..import_options };
    run(&client, &lines, &fixed).await.expect("fixed run id");
    let n_batches = cluster.shared.put_batches.lock().unwrap().len();
    let again = run(&client, &lines, &fixed).await.expect("same run id again");
    assert_eq!((again.written, again.unchanged), (0, 50));
    assert_eq!(cluster.shared.put_batches.lock().unwrap().len(), n_batches);
}

#[tokio::test]
async fn strict_stops_at_the_first_bad_line() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    let mut lines: Vec<String> =
        (1..=10).map(|idx| record(&format!("001085{idx:06}"), "Nguyễn Văn An", "1985-03-14")).collect();
    lines.push(r#"{"id": "001085000099", "sex": "m"}"#.to_string());
    lines.extend((11..=20).map(|idx| record(&format!("001085{idx:06}"), "Nguyễn Văn An", "1985-03-14")));
    let strict = ImportOptions { batch_size: 5, strict: true, ..ImportOptions::default() };
    let failure = import(&client, input(&lines), &strict, |_| {}).await.expect_err("strict stops");
    let ImportError::Strict { bad_line } = &failure.error else { panic!("{:?}", failure.error) };
    assert_eq!(bad_line.line, 11);
    assert_eq!(failure.summary.lines, 11);
    // The two batches sent before the bad line completed; nothing after it was sent.
    assert_eq!(failure.summary.written, 10);
    assert!(stored_name(&cluster, "001085000010").is_some());
    assert!(stored_name(&cluster, "001085000011").is_none());

    // A line the server refuses stops the import too; its batch (all or nothing) wrote nothing.
    let lines = vec![
        record("079305000001", "Trần Thị Bích", "2005-02-28"),
        record("079305000002", "Trần Thị Bích", "1899-12-31"),
        record("079305000003", "Trần Thị Bích", "2005-02-28"),
    ];
    let failure = import(&client, input(&lines), &strict, |_| {}).await.expect_err("strict stops");
    let ImportError::Strict { bad_line } = &failure.error else { panic!("{:?}", failure.error) };
    assert_eq!((bad_line.line, bad_line.reason.as_str()), (2, "date_of_birth: before 1900-01-01"));
    assert_eq!(failure.summary.written, 0);
    assert!(stored_name(&cluster, "079305000001").is_none());
}

#[tokio::test]
async fn duplicate_ids_end_with_the_later_line() {
    let cluster = FakeCluster::start().await;
    let client = Client::connect(&cluster.endpoints(&[1]), options()).await.expect("connect");
    // The first batch is held back at the server; a later batch sent meanwhile would overtake it.
    *cluster.shared.first_batch_delay.lock().unwrap() = Some(Duration::from_millis(300));
    let lines = vec![
        record("001085000001", "Version One", "1985-03-14"),
        record("001085000002", "Other", "1985-03-14"),
        record("001085000001", "Version Two", "1985-03-14"),
        record("001085000003", "Other", "1985-03-14"),
        record("001085000004", "First W", "1985-03-14"),
        record("001085000004", "Second W", "1985-03-14"),
    ];
    let import_options = ImportOptions { batch_size: 2, in_flight_per_partition: 4, ..ImportOptions::default() };
    let summary = run(&client, &lines, &import_options).await.expect("import");
    assert_eq!((summary.lines, summary.written), (6, 6));
    assert_eq!(stored_name(&cluster, "001085000001").as_deref(), Some("Version Two"));
    assert_eq!(stored_name(&cluster, "001085000004").as_deref(), Some("Second W"));
    let records = cluster.shared.records.lock().unwrap();
    assert_eq!(records.get("001085000001").map(|citizen| citizen.revision), Some(2));
}
