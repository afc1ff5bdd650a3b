//! What users of a 3-node dancu cluster can observe, checked against real `dancu-node` processes on loopback: every
//! read level sees acknowledged writes, no acknowledged write is lost to a leader crash or a whole-cluster crash, a
//! lagging node catches up by snapshot, any node is a usable entry point, retries write once, and bad records are
//! refused naming the field.
//!
//! The tests share one lock so only one cluster runs at a time (this is a 2-core machine). Each randomized test
//! prints its seed; `DANCU_TEST_SEED=N` replays it. A failing test keeps its cluster's directory (data and
//! `node-N.log`) and prints where it is. Every wait is a poll with a deadline, never a fixed sleep.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dancu_client::proto::{
    BatchGetCitizensRequest, CallerContext, Citizen, Consistency, Date, ErrorDetail, GetCitizenRequest,
    PartitionStatus, Sex, StatusResponse,
};
use dancu_client::{Client, ClientError, ClientOptions};
use dancu_cluster_config::RaftConfig;
use dancu_jepsen::{poll_until, ClusterSpec, LocalCluster};
use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::Message;
use tokio::sync::Mutex;

/// One cluster at a time. A tokio mutex is not poisoned by a failing test, so the others still run.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Time for a (re)started cluster to elect a leader for all 63 partitions on a slow, noisy machine.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);

/// Time for a replica to catch up with writes it missed.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(120);

/// A client call's whole budget, retries included: long enough to ride out a leader election.
const CLIENT_DEADLINE: Duration = Duration::from_secs(30);

fn node_spec() -> ClusterSpec {
    ClusterSpec::new(env!("CARGO_BIN_EXE_dancu-node"))
}

async fn start_healthy(spec: ClusterSpec) -> LocalCluster {
    let cluster = LocalCluster::start(spec).unwrap_or_else(|error| panic!("starting the cluster: {error}"));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    cluster
}

fn client_options() -> ClientOptions {
    ClientOptions { deadline: CLIENT_DEADLINE, purpose: "test".to_string(), ..ClientOptions::default() }
}

async fn connect(endpoints: &[String]) -> Client {
    Client::connect(endpoints, client_options())
        .await
        .unwrap_or_else(|error| panic!("connecting to {endpoints:?}: {error}"))
}

/// The test's seed: `DANCU_TEST_SEED` when set, else fresh; printed so a failure can be replayed. Below 2³² so
/// that `seed + i` never wraps and record IDs stay distinct (see [`synthetic::citizen_in`]).
fn test_seed(test: &str) -> u64 {
    let seed = match std::env::var("DANCU_TEST_SEED") {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("DANCU_TEST_SEED={text:?} is not a number")),
        Err(_) => {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").subsec_nanos();
            synthetic::mix(u64::from(nanos) ^ u64::from(std::process::id())) & u64::from(u32::MAX)
        }
    };
    eprintln!("{test}: seed {seed} (replay with DANCU_TEST_SEED={seed})");
    seed
}

/// The record as written: the server-set revision and timestamp cleared.
fn as_written(citizen: &Citizen) -> Citizen {
    Citizen { revision: 0, updated_at_unix_ms: 0, ..citizen.clone() }
}

/// A linearizable read of `written` must return it at `revision`.
async fn assert_reads_back(client: &Client, written: &Citizen, revision: u64) {
    let got = client
        .get(&written.id, Consistency::Linearizable)
        .await
        .unwrap_or_else(|error| panic!("reading {}: {error}", written.id))
        .unwrap_or_else(|| panic!("acknowledged write of {} is missing", written.id));
    assert_eq!(got.revision, revision, "revision of {}", written.id);
    assert_eq!(as_written(&got.citizen.expect("a found record has a citizen")), *written);
}

/// Synthetic citizens: valid records of people who do not exist, a pure function of a seed.
mod synthetic {
    use super::*;

    /// Province codes spread over the country, so records land in many partitions.
    pub const PROVINCES: [&str; 8] = ["001", "079", "048", "031", "038", "092", "046", "056"];

    const FAMILY_NAMES: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
    const MALE_NAMES: [&str; 6] = ["Văn An", "Hữu Bình", "Đức Cường", "Minh Dũng", "Quang Hải", "Văn Tuấn"];
    const FEMALE_NAMES: [&str; 6] = ["Thị Lan", "Ngọc Anh", "Thu Hà", "Thanh Hương", "Thị Mai", "Ngọc Trang"];

    /// splitmix64: a good 64-bit mix, enough for test data without a dependency.
    pub fn mix(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    /// A record in one of [`PROVINCES`].
    pub fn citizen(seed: u64) -> Citizen {
        citizen_in(PROVINCES[(mix(seed) % PROVINCES.len() as u64) as usize], seed)
    }

    /// A record whose ID starts with `province`. The six-digit serial is `seed × 7919 mod 10⁶` (7919 is coprime
    /// with 10⁶), so any million consecutive seeds give distinct IDs.
    pub fn citizen_in(province: &str, seed: u64) -> Citizen {
        let draw = |salt: u64, n: u64| mix(seed ^ mix(salt)) % n;
        let year = 1930 + draw(1, 91) as u32;
        let female = draw(2, 2) == 1;
        let sex_century_digit = if year >= 2000 { 2 } else { 0 } + u32::from(female);
        let serial = seed.wrapping_mul(7919) % 1_000_000;
        let names = if female { &FEMALE_NAMES } else { &MALE_NAMES };
        let full_name =
            format!("{} {}", FAMILY_NAMES[draw(3, 8) as usize], names[draw(4, names.len() as u64) as usize]);
        Citizen {
            id: format!("{province}{sex_century_digit}{:02}{serial:06}", year % 100),
            full_name,
            date_of_birth: Some(Date { year, month: 1 + draw(5, 12) as u32, day: 1 + draw(6, 28) as u32 }),
            sex: if female { Sex::Female } else { Sex::Male }.into(),
            nationality: "Việt Nam".to_string(),
            ..Citizen::default()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_is_read_back_everywhere_at_every_level() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let seed = test_seed("put_is_read_back_everywhere_at_every_level");
    let cluster = start_healthy(node_spec()).await;
    let written = synthetic::citizen(seed);
    let put = connect(&[cluster.addr(1)]).await.put(written.clone(), None).await.expect("put through node 1");
    for node in cluster.node_ids() {
        let client = connect(&[cluster.addr(node)]).await;
        for level in [Consistency::Linearizable, Consistency::ReadIndex, Consistency::Follower] {
            let got = client
                .get(&written.id, level)
                .await
                .unwrap_or_else(|error| panic!("{level:?} read through node {node}: {error}"))
                .unwrap_or_else(|| panic!("{level:?} read through node {node} misses an acknowledged write"));
            assert_eq!(got.revision, put.revision, "{level:?} read through node {node}");
            assert_eq!(as_written(&got.citizen.unwrap()), written);
            if level == Consistency::Follower {
                assert_eq!(got.meta.map(|meta| meta.served_by), Some(node), "FOLLOWER read is served locally");
            }
        }
        // A STALE read may lag behind, but must catch up.
        let what = format!("a STALE read on node {node} to see the write");
        let got = poll_until(CATCH_UP_TIMEOUT, &what, || async {
            match client.get(&written.id, Consistency::Stale).await {
                Ok(Some(got)) => Ok(got),
                Ok(None) => Err("not there yet".to_string()),
                Err(error) => Err(error.to_string()),
            }
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(got.revision, put.revision, "STALE read on node {node}");
        assert_eq!(got.meta.map(|meta| meta.served_by), Some(node), "STALE read is served locally");
    }
}

/// What the writers of the leader-kill test share.
#[derive(Default)]
struct Ledger {
    /// Every acknowledged write: the record, its revision and its partition.
    acked: StdMutex<Vec<(Citizen, u64, u32)>>,
    n_acked: AtomicUsize,
    n_failed: AtomicUsize,
    first_errors: StdMutex<Vec<String>>,
    stop: AtomicBool,
}

/// Seeds per writer: writer `w` writes seeds `base + w × WRITER_SEEDS ..`; 8 writers stay below 10⁶ seeds.
const WRITER_SEEDS: u64 = 100_000;

/// Writes fresh records one after another until told to stop; a put that fails within the client's deadline
/// (retries included) is counted, never acknowledged.
async fn write_until_stopped(client: Client, ledger: Arc<Ledger>, first_seed: u64) {
    for seed in first_seed..first_seed + WRITER_SEEDS {
        if ledger.stop.load(Ordering::SeqCst) {
            return;
        }
        let citizen = synthetic::citizen(seed);
        match client.put(citizen.clone(), None).await {
            Ok(put) => {
                ledger.acked.lock().unwrap().push((citizen, put.revision, put.partition_id));
                ledger.n_acked.fetch_add(1, Ordering::SeqCst);
            }
            Err(error) => {
                ledger.n_failed.fetch_add(1, Ordering::SeqCst);
                let mut first_errors = ledger.first_errors.lock().unwrap();
                if first_errors.len() < 5 {
                    first_errors.push(error.to_string());
                }
            }
        }
    }
}

async fn wait_for_acks(ledger: &Ledger, n_acked: usize, timeout: Duration) {
    let what = format!("{n_acked} acknowledged writes");
    poll_until(timeout, &what, || async {
        let n = ledger.n_acked.load(Ordering::SeqCst);
        let n_failed = ledger.n_failed.load(Ordering::SeqCst);
        if n >= n_acked {
            Ok(())
        } else {
            Err(format!("{n} acknowledged, {n_failed} failed"))
        }
    })
    .await
    .unwrap_or_else(|error| panic!("{error}; first errors: {:?}", ledger.first_errors.lock().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_during_load_loses_no_acknowledged_write() {
    const N_WRITERS: u64 = 8;
    const N_ACKED_BEFORE_KILL: usize = 300;
    const N_ACKED_TOTAL: usize = 1_000;
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let seed = test_seed("leader_kill_during_load_loses_no_acknowledged_write");
    let mut cluster = start_healthy(node_spec()).await;
    let client = connect(&cluster.endpoints()).await;
    let ledger = Arc::new(Ledger::default());
    let writers: Vec<_> = (0..N_WRITERS)
        .map(|writer| {
            let first_seed = seed + writer * WRITER_SEEDS;
            tokio::spawn(write_until_stopped(client.clone(), ledger.clone(), first_seed))
        })
        .collect();
    wait_for_acks(&ledger, N_ACKED_BEFORE_KILL, Duration::from_secs(120)).await;

    // The partition of the latest acknowledged write is one the writers are busy with.
    let (busy_record, _, busy_partition) = ledger.acked.lock().unwrap().last().cloned().expect("writes acked");
    let victim = poll_until(Duration::from_secs(30), "a leader of the busy partition", || async {
        cluster.leader_of(busy_partition).await.ok_or_else(|| format!("partition {busy_partition} has none"))
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    cluster.kill(victim).unwrap();
    eprintln!("killed node {victim}, leader of partition {busy_partition}");

    // A write to the orphaned partition goes through once a new leader is elected.
    let probe = synthetic::citizen_in(&busy_record.id[..3], seed + N_WRITERS * WRITER_SEEDS);
    let started = Instant::now();
    let probe_put = client.put(probe.clone(), None).await.expect("a put after the leader was killed");
    let recovery = started.elapsed();
    eprintln!("a put to partition {busy_partition} succeeded {recovery:?} after its leader was killed");
    assert!(recovery < Duration::from_secs(20), "a put took {recovery:?} after the leader was killed");

    wait_for_acks(&ledger, N_ACKED_TOTAL, Duration::from_secs(300)).await;
    ledger.stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer task panicked");
    }
    cluster.restart(victim).unwrap();
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));

    let acked = ledger.acked.lock().unwrap().clone();
    eprintln!("{} acknowledged, {} failed", acked.len(), ledger.n_failed.load(Ordering::SeqCst));
    assert_reads_back(&client, &probe, probe_put.revision).await;
    for (citizen, revision, _) in &acked {
        assert_reads_back(&client, citizen, *revision).await;
    }
}

fn partition_status(status: &StatusResponse, partition: u32) -> PartitionStatus {
    status
        .partitions
        .iter()
        .find(|candidate| candidate.id == partition)
        .cloned()
        .unwrap_or_else(|| panic!("node {} reports no partition {partition}", status.node_id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_node_catches_up_by_snapshot() {
    const PROVINCE: &str = "048";
    const PARTITION: u32 = 4800;
    const N_RECORDS: u64 = 150;
    const LAGGARD: u64 = 3;
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let seed = test_seed("lagging_node_catches_up_by_snapshot");
    let raft = RaftConfig { snapshot_logs_since_last: 20, max_in_snapshot_log_to_keep: 0, ..RaftConfig::default() };
    let mut cluster = start_healthy(ClusterSpec { raft: Some(raft), ..node_spec() }).await;
    cluster.stop(LAGGARD).unwrap();
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));

    let client = connect(&[cluster.addr(1), cluster.addr(2)]).await;
    let records: Vec<Citizen> = (0..N_RECORDS).map(|idx| synthetic::citizen_in(PROVINCE, seed + idx)).collect();
    let mut revisions = Vec::new();
    for record in &records {
        let put = client.put(record.clone(), None).await.unwrap_or_else(|error| panic!("put: {error}"));
        assert_eq!(put.partition_id, PARTITION);
        revisions.push(put.revision);
    }
    poll_until(CATCH_UP_TIMEOUT, "the leader of partition 4800 to purge its log", || async {
        let leader = cluster.leader_of(PARTITION).await.ok_or("no leader")?;
        let status = cluster.status(leader).await.map_err(|error| error.to_string())?;
        let partition = partition_status(&status, PARTITION);
        if partition.purged_index > 0 {
            return Ok(());
        }
        Err(format!("leader {leader}: snapshot index {}, purged index 0", partition.snapshot_index))
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));

    cluster.restart(LAGGARD).unwrap();
    let laggard = connect(&[cluster.addr(LAGGARD)]).await;
    let what = format!("node {LAGGARD} to serve all {N_RECORDS} records to STALE reads");
    poll_until(CATCH_UP_TIMEOUT, &what, || async {
        let mut n_missing = 0;
        for (record, revision) in records.iter().zip(&revisions) {
            match laggard.get(&record.id, Consistency::Stale).await {
                Ok(Some(got)) if got.meta.is_some_and(|meta| meta.served_by == LAGGARD) => {
                    assert_eq!(got.revision, *revision, "revision of {} on node {LAGGARD}", record.id);
                    assert_eq!(as_written(&got.citizen.unwrap()), *record);
                }
                Ok(Some(got)) => return Err(format!("a STALE read was served by {:?}", got.meta)),
                Ok(None) => n_missing += 1,
                Err(error) => return Err(error.to_string()),
            }
        }
        if n_missing == 0 {
            Ok(())
        } else {
            Err(format!("{n_missing} records missing"))
        }
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let status = cluster.status(LAGGARD).await.unwrap();
    let partition = partition_status(&status, PARTITION);
    assert!(partition.snapshot_index > 0, "node {LAGGARD} has no snapshot of partition {PARTITION}: {partition:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_given_only_a_follower_address_writes_and_reads() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let seed = test_seed("client_given_only_a_follower_address_writes_and_reads");
    let cluster = start_healthy(node_spec()).await;
    for node in cluster.node_ids() {
        let status = cluster.status(node).await.unwrap();
        let partition = status
            .partitions
            .iter()
            .find(|partition| partition.leader.is_some_and(|leader| leader != node))
            .unwrap_or_else(|| panic!("node {node} leads every partition"));
        let record = synthetic::citizen_in(&partition.province_code, seed + node);
        assert!(partition.range_start <= record.id && record.id <= partition.range_end);
        let client = connect(&[cluster.addr(node)]).await;
        let put = client
            .put(record.clone(), None)
            .await
            .unwrap_or_else(|error| panic!("put through follower {node} of partition {}: {error}", partition.id));
        assert_eq!(put.partition_id, partition.id);
        assert_reads_back(&client, &record, put.revision).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_request_id_writes_once_and_revision_mismatch_aborts() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let seed = test_seed("retried_request_id_writes_once_and_revision_mismatch_aborts");
    let cluster = start_healthy(node_spec()).await;
    let client = connect(&cluster.endpoints()).await;
    let original = synthetic::citizen(seed);
    let created = client.put(original.clone(), None).await.unwrap();

    let renamed = Citizen { full_name: "Trần Minh Châu".to_string(), ..original.clone() };
    let first = client.put_with_request_id(renamed.clone(), "req-1".to_string(), None).await.unwrap();
    let retry = client.put_with_request_id(renamed.clone(), "req-1".to_string(), None).await.unwrap();
    assert_eq!(first.revision, created.revision + 1);
    assert!(!first.deduplicated);
    assert_eq!(retry.revision, first.revision, "a retried request id returns the first result");
    assert!(retry.deduplicated, "a retried request id is answered from memory");
    assert_reads_back(&client, &renamed, created.revision + 1).await;

    let stale_revision = created.revision;
    match client.put(original.clone(), Some(stale_revision)).await {
        Err(ClientError::RevisionMismatch { current_revision }) => {
            assert_eq!(current_revision, first.revision)
        }
        other => panic!("a put expecting revision {stale_revision} must abort, got {other:?}"),
    }
    match client.put(original.clone(), Some(0)).await {
        Err(ClientError::RevisionMismatch { current_revision }) => {
            assert_eq!(current_revision, first.revision)
        }
        other => panic!("a create-only put of an existing record must abort, got {other:?}"),
    }
    assert_reads_back(&client, &renamed, first.revision).await;
    let conditional = client.put(original.clone(), Some(first.revision)).await.unwrap();
    assert_eq!(conditional.revision, first.revision + 1);
    assert_reads_back(&client, &original, first.revision + 1).await;
}

/// A valid synthetic record to spoil: male, born 1985-03-14, province 001.
fn valid_record(serial: u32) -> Citizen {
    Citizen {
        id: format!("001085{serial:06}"),
        full_name: "Nguyễn Văn An".to_string(),
        date_of_birth: Some(Date { year: 1985, month: 3, day: 14 }),
        sex: Sex::Male.into(),
        ..Citizen::default()
    }
}

/// Bad records, the field the refusal must name, and whether the ID itself is invalid.
fn bad_records() -> Vec<(&'static str, Citizen, &'static str)> {
    let base = valid_record;
    let long_name = "Nguyễn Văn ".repeat(19) + "An";
    assert!(long_name.chars().count() > 200);
    vec![
        ("11-digit id", Citizen { id: "00108512345".to_string(), ..base(1) }, "citizen.id"),
        ("unknown province 003", Citizen { id: "003085123456".to_string(), ..base(2) }, "citizen.id"),
        ("female with a male sex digit", Citizen { sex: Sex::Female.into(), ..base(3) }, "citizen.sex"),
        (
            "born 1986 with YY 85",
            Citizen { date_of_birth: Some(Date { year: 1986, month: 3, day: 14 }), ..base(4) },
            "citizen.date_of_birth",
        ),
        (
            // Sex digit 2 and YY 99 agree with 2099, so only the future date is wrong.
            "born in the future",
            Citizen {
                id: "001299000005".to_string(),
                date_of_birth: Some(Date { year: 2099, month: 1, day: 1 }),
                ..base(5)
            },
            "citizen.date_of_birth",
        ),
        (
            "born 1850",
            Citizen {
                id: "001050000006".to_string(),
                date_of_birth: Some(Date { year: 1850, month: 1, day: 1 }),
                ..base(6)
            },
            "citizen.date_of_birth",
        ),
        ("empty name", Citizen { full_name: String::new(), ..base(7) }, "citizen.full_name"),
        (
            "decomposed (non-NFC) name",
            Citizen { full_name: "Nguye\u{0302}\u{0303}n Văn An".to_string(), ..base(8) },
            "citizen.full_name",
        ),
        ("name over 200 characters", Citizen { full_name: long_name, ..base(9) }, "citizen.full_name"),
        (
            "month 13",
            Citizen { date_of_birth: Some(Date { year: 1985, month: 13, day: 1 }), ..base(10) },
            "citizen.date_of_birth",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_refused_naming_the_field_and_nothing_is_written() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let cluster = start_healthy(node_spec()).await;
    let client = connect(&cluster.endpoints()).await;
    for (case, record, expected_field) in bad_records() {
        match client.put(record.clone(), None).await {
            Err(ClientError::InvalidArgument { field, .. }) => {
                assert_eq!(field, expected_field, "{case}")
            }
            other => {
                panic!("{case}: expected InvalidArgument naming {expected_field}, got {other:?}")
            }
        }
        // An unroutable ID cannot be read either; any other ID must read as absent.
        match client.get(&record.id, Consistency::Linearizable).await {
            Ok(None) => {}
            Err(ClientError::InvalidArgument { .. }) if expected_field == "citizen.id" => {}
            other => panic!("{case}: the refused record must not be stored, read gave {other:?}"),
        }
    }

    // Over the batch limit: refused as a whole, naming the field.
    let too_many: Vec<String> = (0..1_001).map(|serial| format!("001085{serial:06}")).collect();
    let mut raw = RegistryClient::connect(format!("http://{}", cluster.addr(1))).await.unwrap();
    let refused = raw
        .batch_get_citizens(BatchGetCitizensRequest {
            ids: too_many,
            consistency: Consistency::Linearizable.into(),
            context: Some(CallerContext { purpose: "test".to_string(), request_id: "batch-over-limit".to_string() }),
        })
        .await
        .expect_err("a batch of 1,001 IDs must be refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let detail = ErrorDetail::decode(refused.details()).expect("the refusal carries an ErrorDetail");
    assert_eq!(detail.field, "ids");

    // A mixed batch answers every ID, in request order.
    let stored: Vec<Citizen> = (0..3).map(|idx| synthetic::citizen(1_000 + idx)).collect();
    for record in &stored {
        client.put(record.clone(), None).await.unwrap();
    }
    let unknown = ["001085999998".to_string(), "079300999999".to_string()];
    let ids =
        vec![stored[0].id.clone(), unknown[0].clone(), stored[1].id.clone(), unknown[1].clone(), stored[2].id.clone()];
    let results = client.batch_get(&ids, Consistency::Linearizable).await.unwrap();
    let answered: Vec<(String, bool)> = results.iter().map(|result| (result.id.clone(), result.found)).collect();
    let expected: Vec<(String, bool)> = ids.iter().cloned().zip([true, false, true, false, true]).collect();
    assert_eq!(answered, expected);
    let found: Vec<Citizen> = results.iter().filter_map(|result| result.citizen.as_ref()).map(as_written).collect();
    assert_eq!(found, stored);

    // A node answers GetCitizen with the record's stored bytes: a plain gRPC client reads the public message.
    let via_client = client.get(&stored[1].id, Consistency::Linearizable).await.unwrap().expect("stored");
    let meta = via_client.meta.expect("a read names where it was served");
    let mut raw_leader = RegistryClient::connect(format!("http://{}", cluster.addr(meta.served_by))).await.unwrap();
    let raw = raw_leader
        .get_citizen(GetCitizenRequest {
            id: stored[1].id.clone(),
            consistency: Consistency::Linearizable.into(),
            context: Some(CallerContext { purpose: "test".to_string(), request_id: "raw-get".to_string() }),
        })
        .await
        .expect("the leader serves a linearizable get")
        .into_inner();
    assert_eq!(raw.citizen.as_ref().map(as_written), Some(stored[1].clone()));
    assert_eq!(raw.revision, via_client.revision);
    let raw_meta = raw.meta.expect("meta");
    assert_eq!((raw_meta.partition_id, raw_meta.served_by), (meta.partition_id, meta.served_by));
    assert!(raw.log_index >= raw_meta.read_index && raw_meta.read_index > 0, "{raw:?}");
    assert!(results.iter().all(|result| result.meta.is_some_and(|meta| meta.read_index > 0)), "every ID has its read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_sigkill_and_restart_serves_every_acknowledged_write() {
    const N_RECORDS: u64 = 200;
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let seed = test_seed("whole_cluster_sigkill_and_restart_serves_every_acknowledged_write");
    let mut cluster = start_healthy(node_spec()).await;
    let client = connect(&cluster.endpoints()).await;
    let mut acked = Vec::new();
    for idx in 0..N_RECORDS {
        let record = synthetic::citizen(seed + idx);
        let put = client.put(record.clone(), None).await.unwrap_or_else(|error| panic!("put {idx}: {error}"));
        acked.push((record, put.revision));
    }
    for node in cluster.node_ids() {
        cluster.kill(node).unwrap();
    }
    for node in cluster.node_ids() {
        cluster.restart(node).unwrap();
    }
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let client = connect(&cluster.endpoints()).await;
    for (record, revision) in &acked {
        assert_reads_back(&client, record, *revision).await;
    }
}

/// Operators and load balancers probe the standard gRPC health service; tools like grpcurl list the services
/// through reflection. Both run on the node's one port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served_on_the_node_port() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let cluster = start_healthy(node_spec()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", cluster.addr(1)))
        .expect("node address is a URI")
        .connect()
        .await
        .expect("connect to node 1");

    let mut health = HealthClient::new(channel.clone());
    let serving = health
        .check(HealthCheckRequest { service: "dancu.v1.Registry".into() })
        .await
        .expect("health check answered")
        .into_inner();
    assert_eq!(serving.status, ServingStatus::Serving as i32);

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answered")
        .into_inner();
    let reply = replies.message().await.expect("reflection reply").expect("one reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("expected a service list, got {:?}", reply.message_response);
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["dancu.v1.Registry", "dancu.v1.Raft", "dancu.v1.Admin", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}
