//! Data and queries on a real 3-node cluster (real `dancu-node` processes on loopback): a synthetic population
//! imported with bad lines mixed in, re-imported without new writes, then verified, searched, listed by household
//! (households span partitions), looked up by legacy number, exported by scan; and life events applied with the
//! state rules (a deceased person does not move; a cancelled ID answers "replaced by").
//!
//! One cluster at a time (2-core machine); every wait is a poll with a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::time::Duration;

use dancu_client::proto::{
    life_event, Citizen, Consistency, Date, FieldMatch, IdStatus, LifeEvent, LifeStatus, Move, Place, Sex, VerifyQuery,
};
use dancu_client::{import, Client, ClientError, ClientOptions, ImportOptions, SearchQuery};
use dancu_jepsen::{ClusterSpec, LocalCluster};
use dancu_proto::Message;
use dancu_synthetic::Population;
use tokio::sync::Mutex;

static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);
const CLIENT_DEADLINE: Duration = Duration::from_secs(30);
/// Records imported by the import test: enough for multi-member and multi-partition households.
const N_RECORDS: u64 = 3_000;

async fn start() -> (LocalCluster, Client) {
    let spec = ClusterSpec::new(env!("CARGO_BIN_EXE_dancu-node"));
    let cluster = LocalCluster::start(spec).unwrap_or_else(|error| panic!("starting the cluster: {error}"));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let options = ClientOptions { deadline: CLIENT_DEADLINE, purpose: "test".to_string(), ..ClientOptions::default() };
    let client = Client::connect(&cluster.endpoints(), options).await.expect("connect");
    (cluster, client)
}

fn as_written(citizen: &Citizen) -> Citizen {
    Citizen { revision: 0, updated_at_unix_ms: 0, ..citizen.clone() }
}

/// The population as JSON lines, with bad lines inserted; returns the text and the bad lines' numbers.
fn input_with_bad_lines(population: &Population) -> (String, BTreeSet<u64>) {
    let mut json = Vec::new();
    for chunk in 0..population.n_chunks() {
        population.chunk_json(chunk, &mut json);
    }
    let good = String::from_utf8(json).expect("utf-8");
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let mut bad = BTreeSet::new();
    // (position, line): an unparsable line, an impossible date, a province code that opens no partition, and a
    // record the server refuses (sex disagrees with the ID).
    let mut wrong_sex: Citizen = dancu_client::CitizenJson::parse_citizen(&lines[10]).expect("generated line");
    wrong_sex.sex = if wrong_sex.sex == Sex::Male as i32 { Sex::Female as i32 } else { Sex::Male as i32 };
    let wrong_sex_line = serde_json::to_string(&dancu_client::CitizenJson::from(&wrong_sex)).expect("json");
    let inserts = [
        (3, "{not json".to_string()),
        (500, lines[20].replace("\"date_of_birth\":\"", "\"date_of_birth\":\"1850-13-")),
        (1200, lines[30].replacen("\"id\":\"", "\"id\":\"003", 1)),
        // The same ID as a good line before it: the refused copy must not replace it.
        (2000, wrong_sex_line),
    ];
    // Ascending positions: each insert leaves the earlier ones' line numbers alone.
    for (position, line) in inserts {
        lines.insert(position, line);
        bad.insert((position + 1) as u64);
    }
    (lines.join("\n") + "\n", bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_verify_search_household_legacy_and_scan() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (cluster, client) = start().await;
    let population = Population::new(7, N_RECORDS).expect("population");
    let citizens: Vec<Citizen> = population.citizens().collect();
    let (input, bad_lines) = input_with_bad_lines(&population);

    let options = ImportOptions { batch_size: 200, ..ImportOptions::default() };
    let summary = import(&client, Cursor::new(input.clone().into_bytes()), &options, |_| {})
        .await
        .unwrap_or_else(|failure| panic!("import failed: {failure}"));
    let reported: BTreeSet<u64> = summary.bad_lines.iter().map(|bad| bad.line).collect();
    assert_eq!(reported, bad_lines, "bad lines reported by number: {:?}", summary.bad_lines);
    assert_eq!(summary.written, N_RECORDS, "{summary:?}");

    // A re-run writes nothing new.
    let again = import(&client, Cursor::new(input.into_bytes()), &options, |_| {}).await.expect("second import");
    assert_eq!((again.written, again.unchanged), (0, N_RECORDS), "{again:?}");

    // Every record reads back as generated.
    let ids: Vec<String> = citizens.iter().map(|c| c.id.clone()).collect();
    for (chunk_ids, chunk) in ids.chunks(1000).zip(citizens.chunks(1000)) {
        let got = client.batch_get(chunk_ids, Consistency::Linearizable).await.expect("batch get");
        for (result, expected) in got.iter().zip(chunk) {
            let stored = result.citizen.as_ref().unwrap_or_else(|| panic!("{} missing", expected.id));
            assert_eq!(as_written(stored), *expected);
            assert_eq!(stored.revision, 1, "the re-run did not write {}", expected.id);
        }
    }

    // 20 records spread over the population: verify, wrong name, search unaccented, household.
    let by_household: BTreeMap<&str, Vec<&Citizen>> = citizens.iter().fold(BTreeMap::new(), |mut map, c| {
        map.entry(c.household_id.as_str()).or_default().push(c);
        map
    });
    for citizen in citizens.iter().step_by(citizens.len() / 20).take(20) {
        let claim = VerifyQuery {
            id: citizen.id.clone(),
            full_name: Some(citizen.full_name.clone()),
            date_of_birth: citizen.date_of_birth,
            sex: Sex::Unspecified as i32,
        };
        let verdict = client.verify(claim.clone(), Consistency::Linearizable).await.expect("verify");
        let result = verdict.result.expect("result");
        assert!(result.r#match, "{} verifies with its own name and DOB", citizen.id);
        let wrong = VerifyQuery { full_name: Some(format!("{} Nhầm", citizen.full_name)), ..claim };
        let reply = client.verify(wrong, Consistency::Linearizable).await.expect("verify");
        let bytes = reply.encode_to_vec();
        let result = reply.result.expect("result");
        assert!(!result.r#match);
        assert_eq!(result.full_name, FieldMatch::Mismatch as i32);
        assert_eq!(result.date_of_birth, FieldMatch::Match as i32);
        for stored_value in [citizen.full_name.as_bytes(), citizen.household_id.as_bytes()] {
            assert!(!bytes.windows(stored_value.len()).any(|w| w == stored_value), "the reply leaks a stored value");
        }

        let query = SearchQuery {
            full_name: dancu_synthetic::unaccented(&citizen.full_name).to_uppercase(),
            date_of_birth: citizen.date_of_birth.expect("dob"),
            province_code: None,
            limit: 0,
        };
        let hits = client.search(&query, Consistency::Linearizable).await.expect("search");
        assert!(
            hits.hits.iter().any(|hit| hit.id == citizen.id),
            "search by {:?} finds {}",
            query.full_name,
            citizen.id
        );

        let household = client.list_household(&citizen.id, Consistency::Linearizable).await.expect("household");
        let household = household.expect("the citizen exists");
        let listed: BTreeSet<&str> = household.members.iter().map(|m| m.id.as_str()).collect();
        let expected: BTreeSet<&str> =
            by_household[citizen.household_id.as_str()].iter().map(|c| c.id.as_str()).collect();
        assert_eq!(listed, expected, "household {}", citizen.household_id);
    }

    // A household whose members live in several partitions is listed whole.
    let spanning = by_household
        .values()
        .find(|members| members.iter().map(|c| &c.id[..3]).collect::<BTreeSet<_>>().len() > 1)
        .expect("the population has a household spanning provinces");
    let listed = client.list_household(&spanning[0].id, Consistency::Linearizable).await.expect("household");
    assert_eq!(listed.expect("exists").members.len(), spanning.len());

    // Legacy number → personal ID, through a follower-level read too.
    let with_legacy = citizens.iter().find(|c| !c.legacy_id_number.is_empty()).expect("someone has a legacy number");
    for level in [Consistency::Linearizable, Consistency::Follower] {
        let found = client.lookup_legacy_number(&with_legacy.legacy_id_number, level).await.expect("legacy").id;
        assert_eq!(found.as_deref(), Some(with_legacy.id.as_str()));
    }
    assert_eq!(client.lookup_legacy_number("000000001", Consistency::Linearizable).await.expect("legacy").id, None);

    // A scan of Hà Nội's partition returns exactly its records, in ID order, in pages.
    let mut scan = client
        .scan_partition(100, dancu_client::ScanOptions { page_size: 50, ..Default::default() })
        .await
        .expect("scan");
    let mut scanned = Vec::new();
    while let Some(page) = scan.next_page().await {
        scanned.extend(page.expect("page").citizens.into_iter().map(|c| c.id));
    }
    let mut expected: Vec<String> = ids.iter().filter(|id| id.starts_with("001")).cloned().collect();
    expected.sort();
    assert_eq!(scanned, expected);
    drop(cluster);
}

fn event(id: &str, date: Option<Date>, kind: life_event::Kind) -> LifeEvent {
    LifeEvent { id: id.to_string(), date, kind: Some(kind) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn life_events_follow_the_state_rules() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (cluster, client) = start().await;
    let people: Vec<Citizen> = Population::new(11, 40).expect("population").citizens().collect();
    let adults: Vec<&Citizen> = people
        .iter()
        .filter(|c| c.status == LifeStatus::Alive as i32 && c.date_of_birth.is_some_and(|d| d.year < 1990))
        .filter(|c| c.spouse.is_none())
        .collect();
    assert!(adults.len() >= 3, "the sample has three living unmarried adults");
    for chunk in people.chunks(1) {
        client.put_citizens(chunk).await.expect("load");
    }
    let date = |year, month, day| Some(Date { year, month, day });

    // Birth of a new person in Hồ Chí Minh City.
    let mut baby = Citizen {
        id: "079224000777".into(),
        full_name: "Phạm Minh Khang".into(),
        date_of_birth: date(2024, 3, 5),
        sex: Sex::Male as i32,
        ..Default::default()
    };
    client
        .record_event(event(
            &baby.id,
            None,
            life_event::Kind::Birth(dancu_client::proto::Birth { citizen: Some(baby.clone()) }),
        ))
        .await
        .expect("birth");
    baby.status = LifeStatus::Alive as i32;
    let got = client.get(&baby.id, Consistency::Linearizable).await.expect("get").expect("born");
    assert_eq!(as_written(&got.citizen.expect("record")), baby);

    // Death, then a move is refused and changes nothing.
    let dying = adults[0];
    client
        .record_event(event(&dying.id, date(2025, 6, 1), life_event::Kind::Death(dancu_client::proto::Death {})))
        .await
        .expect("death");
    let relocation = Move {
        current_residence: Some(Place { province_code: "048".into(), ..Default::default() }),
        ..Default::default()
    };
    let refused = client.record_event(event(&dying.id, date(2025, 7, 1), life_event::Kind::Move(relocation))).await;
    assert!(matches!(refused, Err(ClientError::Refused { .. })), "{refused:?}");
    let after =
        client.get(&dying.id, Consistency::Linearizable).await.expect("get").expect("exists").citizen.expect("record");
    assert_eq!(after.status, LifeStatus::Deceased as i32);
    assert_eq!(after.current_residence, dying.current_residence);

    // Marriage: both sides linked, whichever order the IDs come in.
    let (a, b) = (adults[1], adults[2]);
    client.marry(&b.id, &a.id, Date { year: 2025, month: 9, day: 9 }).await.expect("marry");
    for (who, other) in [(a, b), (b, a)] {
        let record = client
            .get(&who.id, Consistency::Linearizable)
            .await
            .expect("get")
            .expect("exists")
            .citizen
            .expect("record");
        assert_eq!(record.spouse.as_ref().map(|s| s.id.as_str()), Some(other.id.as_str()));
    }

    // ID correction: the new ID holds the record, the old one says where it went.
    let old = a;
    let mut corrected = (*old).clone();
    corrected.id = format!("{}{}", &old.id[..6], if &old.id[6..] == "999999" { "999998" } else { "999999" });
    corrected.revision = 0;
    corrected.updated_at_unix_ms = 0;
    client.correct_id(&old.id, corrected.clone()).await.expect("correct id");
    match client.get(&old.id, Consistency::Linearizable).await {
        Err(ClientError::IdReplaced { replaced_by, .. }) => assert_eq!(replaced_by, corrected.id),
        other => panic!("the old ID should answer replaced-by, got {other:?}"),
    }
    // A batch get answers the cancelled ID as a get does: not found, replaced by the new ID.
    let both = [old.id.clone(), corrected.id.clone()];
    let results = client.batch_get(&both, Consistency::Linearizable).await.expect("batch get");
    assert!(!results[0].found && results[0].citizen.is_none(), "{:?}", results[0]);
    assert_eq!(results[0].replaced_by, corrected.id);
    assert!(results[1].found && results[1].replaced_by.is_empty(), "{:?}", results[1]);
    let verdict = client
        .verify(
            VerifyQuery { id: old.id.clone(), full_name: Some(old.full_name.clone()), ..Default::default() },
            Consistency::Linearizable,
        )
        .await
        .expect("verify");
    assert_eq!(verdict.result.expect("result").id_status, IdStatus::Replaced as i32);
    let new_record = client
        .get(&corrected.id, Consistency::Linearizable)
        .await
        .expect("get")
        .expect("exists")
        .citizen
        .expect("record");
    assert_eq!(new_record.earlier_ids, vec![old.id.clone()]);
    // The search index now finds the new ID, not the cancelled one.
    let query = SearchQuery {
        full_name: old.full_name.clone(),
        date_of_birth: old.date_of_birth.expect("dob"),
        province_code: None,
        limit: 0,
    };
    let hits: Vec<String> = client
        .search(&query, Consistency::Linearizable)
        .await
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert!(hits.contains(&corrected.id) && !hits.contains(&old.id), "{hits:?}");
    drop(cluster);
}
