//! Access control on real processes: three `dancu-node`s running `cluster-config/examples/local-3-secure.toml`
//! (moved to free loopback ports) with certificates made here, and its example callers plus a test-only masked
//! role. Covers plaintext and foreign certificates refused, expired certificates refused by the server, each role's
//! fields, operations, purposes, province scope (denied for point reads, skipped in scatter-gather), quotas, the
//! Raft and Admin services closed to callers, and a certificate swapped on disk picked up without a restart.
//!
//! One cluster at a time (2-core machine); every wait is a poll with a deadline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dancu_client::proto::{Citizen, Consistency, VerifyQuery};
use dancu_client::{Client, ClientError, ClientOptions, SearchQuery, TlsIdentity};
use dancu_cluster_config::{CallerConfig, ClusterConfig, RoleConfig};
use dancu_jepsen::{free_loopback_ports, ClusterSpec, LocalCluster};
use dancu_proto::v1::raft_client::RaftClient;
use dancu_proto::v1::VoteRequest;
use dancu_synthetic::Population;
use dancu_tls::authority::{Authority, Validity};
use dancu_tls::{PeerIdentity, TlsDir};

const HEALTHY_TIMEOUT: Duration = Duration::from_secs(90);
const CLIENT_DEADLINE: Duration = Duration::from_secs(20);
const N_RECORDS: u64 = 1_500;
/// A role only this test configures: reads through every read API with two fields hidden.
const RESEARCHER: &str = "researcher";

fn example_path() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests");
    Path::new(&manifest).join("../cluster-config/examples/local-3-secure.toml")
}

/// The example with its nodes on free ports, plus the researcher.
fn secure_config() -> ClusterConfig {
    let mut config = ClusterConfig::load(&example_path()).expect("the secure example loads");
    let ports = free_loopback_ports(config.nodes.len()).expect("free ports");
    for (node, port) in config.nodes.iter_mut().zip(ports) {
        node.addr = format!("127.0.0.1:{port}");
        node.metrics_addr = None;
    }
    config.roles.push(RoleConfig {
        name: RESEARCHER.to_string(),
        operations: ["get", "batch-get", "search", "household", "scan"].map(String::from).to_vec(),
        hidden_fields: vec!["religion".to_string(), "relationship_to_head".to_string()],
        provinces: Vec::new(),
        purposes: vec!["research".to_string()],
        requests_per_s: None,
        burst: None,
    });
    config.callers.push(CallerConfig { name: RESEARCHER.to_string(), role: RESEARCHER.to_string() });
    config.validate().expect("the test configuration is valid");
    config
}

/// What `dancuctl certs` makes, made here: an authority, every node, every caller.
fn issue_all(config: &ClusterConfig, dir: &Path) -> Authority {
    let authority = Authority::create(&config.cluster_name, Validity::days_from_now(30)).expect("authority");
    authority.write(dir).expect("write the authority");
    for node in &config.nodes {
        issue(&authority, config, dir, &PeerIdentity::Node(node.id), Validity::days_from_now(30));
    }
    for caller in &config.callers {
        let identity = PeerIdentity::caller(&caller.name).expect("caller name");
        issue(&authority, config, dir, &identity, Validity::days_from_now(30));
    }
    authority
}

fn issue(authority: &Authority, config: &ClusterConfig, dir: &Path, identity: &PeerIdentity, validity: Validity) {
    let hosts = vec!["127.0.0.1".to_string()];
    let issued = authority.issue(identity, &hosts, validity, &config.cluster_name).expect("issue");
    issued.write(dir, &identity.file_stem()).expect("write the certificate");
}

fn options(dir: &Path, caller: &str, purpose: &str) -> ClientOptions {
    ClientOptions {
        deadline: CLIENT_DEADLINE,
        purpose: purpose.to_string(),
        tls: Some(TlsIdentity { dir: dir.to_path_buf(), name: caller.to_string() }),
        ..ClientOptions::default()
    }
}

async fn connect(cluster: &LocalCluster, dir: &Path, caller: &str, purpose: &str) -> Client {
    Client::connect(&cluster.endpoints(), options(dir, caller, purpose))
        .await
        .unwrap_or_else(|error| panic!("{caller} connects: {error}"))
}

fn denied(result: Result<impl std::fmt::Debug, ClientError>, reason: &str) {
    match result {
        Err(ClientError::PermissionDenied { reason: got, .. }) if got == reason => {}
        other => panic!("expected PERMISSION_DENIED ({reason}), got {other:?}"),
    }
}

fn search_query(citizen: &Citizen) -> SearchQuery {
    SearchQuery {
        full_name: citizen.full_name.clone(),
        date_of_birth: citizen.date_of_birth.unwrap_or_default(),
        province_code: None,
        limit: 100,
    }
}

/// Imports the population as `admin`, one batch per partition.
async fn import(admin: &Client, citizens: &[Citizen]) {
    let mut by_partition: BTreeMap<u32, Vec<Citizen>> = BTreeMap::new();
    for citizen in citizens {
        by_partition.entry(admin.partition_of(&citizen.id).expect("partition")).or_default().push(citizen.clone());
    }
    for batch in by_partition.values() {
        for chunk in batch.chunks(500) {
            admin.put_citizens(chunk).await.unwrap_or_else(|error| panic!("import: {error}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_see_and_do_exactly_what_their_roles_allow() {
    let certs = tempfile::tempdir().expect("tempdir");
    let dir = certs.path();
    let config = secure_config();
    let authority = issue_all(&config, dir);
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_dancu-node"));
    spec.config = Some(config.clone());
    spec.tls = Some(TlsDir::new(dir, PeerIdentity::caller("admin").expect("name")));
    let cluster = LocalCluster::start(spec).unwrap_or_else(|error| panic!("starting the cluster: {error}"));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));

    // Plaintext is refused: the handshake never happens, so no request reaches a service.
    let plaintext = ClientOptions { deadline: Duration::from_secs(3), ..ClientOptions::default() };
    match Client::connect(&cluster.endpoints(), plaintext).await {
        Err(error) => assert!(error.to_string().contains("--tls-dir"), "the error should hint at TLS: {error}"),
        Ok(_) => panic!("a plaintext client was served"),
    }

    let population = Population::new(11, N_RECORDS).expect("population");
    let citizens: Vec<Citizen> = population.citizens().collect();
    let admin = connect(&cluster, dir, "admin", "registration").await;
    import(&admin, &citizens).await;
    let who = admin.who_am_i().await.expect("whoami");
    assert_eq!((who.identity.as_str(), who.role.as_str()), ("caller admin", "operator"));

    let hanoi = citizens.iter().find(|c| c.id.starts_with("001") && !c.religion.is_empty()).expect("a Hà Nội citizen");
    let elsewhere = citizens.iter().find(|c| !c.id.starts_with("001")).expect("a citizen of another province");
    let with_household =
        citizens.iter().find(|c| !c.household_id.is_empty() && !c.relationship_to_head.is_empty()).expect("household");

    // health-ministry: get and batch get, without ethnicity and religion; nothing else.
    let health = connect(&cluster, dir, "health-ministry", "treatment").await;
    let full = admin.get(&hanoi.id, Consistency::Linearizable).await.expect("admin get").expect("found");
    let full = full.citizen.expect("record");
    assert!(!full.ethnicity.is_empty() && !full.religion.is_empty(), "the admin sees every field");
    let seen = health.get(&hanoi.id, Consistency::Linearizable).await.expect("health get").expect("found");
    let seen = seen.citizen.expect("record");
    assert_eq!(seen, Citizen { ethnicity: String::new(), religion: String::new(), ..full.clone() });
    let batch = health.batch_get(&[hanoi.id.clone(), elsewhere.id.clone()], Consistency::Linearizable).await;
    for result in batch.expect("health batch get") {
        let citizen = result.citizen.expect("found");
        assert!(citizen.ethnicity.is_empty() && citizen.religion.is_empty(), "masked in batch get");
        assert!(!citizen.full_name.is_empty());
    }
    let query = search_query(&full);
    denied(health.search(&query, Consistency::Linearizable).await, "operation_not_allowed");
    let other_purpose = health.with_options(options(dir, "health-ministry", "marketing"));
    denied(other_purpose.get(&hanoi.id, Consistency::Linearizable).await, "purpose_not_allowed");

    // bank: verify only, for KYC; its quota answers RESOURCE_EXHAUSTED with a retry hint.
    // Refusals are counted, not retried (the client's default is to wait out the hint and retry).
    let bank_options = ClientOptions { retry_overloaded: false, ..options(dir, "bank", "kyc") };
    let bank = Client::connect(&cluster.endpoints(), bank_options).await.expect("the bank connects");
    let claim = VerifyQuery { id: hanoi.id.clone(), full_name: Some(hanoi.full_name.clone()), ..Default::default() };
    let verdict = bank.verify(claim.clone(), Consistency::Linearizable).await.expect("verify");
    assert!(verdict.result.expect("result").r#match);
    denied(bank.get(&hanoi.id, Consistency::Linearizable).await, "operation_not_allowed");
    let (mut served, mut refused) = (0, 0);
    let verifies = (0..600).map(|_| bank.verify(claim.clone(), Consistency::Linearizable));
    for outcome in futures::future::join_all(verifies).await {
        match outcome {
            Ok(_) => served += 1,
            Err(ClientError::Overloaded { retry_after, message }) => {
                assert!(message.contains("quota") && !retry_after.is_zero(), "{message} {retry_after:?}");
                refused += 1;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0 && served >= 400, "600 verifies at once against a 400 burst: {served} served");
    denied(bank.readd_node(2).await, "operation_not_allowed");

    // hanoi-police: every field, province 001 only; elsewhere denied before any lookup (even for an ID that
    // does not exist), skipped in scatter-gather.
    let police = connect(&cluster, dir, "hanoi-police", "investigation").await;
    let seen = police.get(&hanoi.id, Consistency::Linearizable).await.expect("police get").expect("found");
    assert_eq!(seen.citizen.expect("record"), full);
    denied(police.get(&elsewhere.id, Consistency::Linearizable).await, "out_of_scope");
    denied(police.get("079099000001", Consistency::Linearizable).await, "out_of_scope");
    let hits = police.search(&query, Consistency::Linearizable).await.expect("police search");
    assert!(hits.hits.iter().all(|hit| hit.id.starts_with("001")) && hits.hits.iter().any(|hit| hit.id == hanoi.id));
    assert_eq!(hits.out_of_scope_partitions.len(), 62, "every other province is skipped and named");
    let elsewhere_query = search_query(elsewhere);
    let hits = police.search(&elsewhere_query, Consistency::Linearizable).await.expect("police search");
    assert!(hits.hits.is_empty(), "a record outside the scope was found");
    let mut scan = police.scan_partition(7900, Default::default()).await.expect("the scan starts");
    denied(scan.next_page().await.expect("an answer"), "out_of_scope");

    // researcher: religion and relationship_to_head absent from every read API.
    let researcher = connect(&cluster, dir, RESEARCHER, "research").await;
    let seen = researcher.get(&hanoi.id, Consistency::Linearizable).await.expect("get").expect("found");
    let seen = seen.citizen.expect("record");
    assert!(seen.religion.is_empty() && seen.relationship_to_head.is_empty() && !seen.ethnicity.is_empty());
    let members = researcher.list_household(&with_household.id, Consistency::Linearizable).await.expect("household");
    let members = members.expect("found").members;
    assert!(!members.is_empty() && members.iter().all(|member| member.relationship_to_head.is_empty()));
    let admin_members = admin.list_household(&with_household.id, Consistency::Linearizable).await.expect("household");
    assert!(admin_members.expect("found").members.iter().any(|member| !member.relationship_to_head.is_empty()));
    let partition = admin.partition_of(&hanoi.id).expect("partition");
    let mut scan = researcher.scan_partition(partition, Default::default()).await.expect("scan");
    let mut scanned = 0;
    while let Some(page) = scan.next_page().await {
        for citizen in page.expect("page").citizens {
            assert!(citizen.religion.is_empty() && citizen.relationship_to_head.is_empty(), "masked in scan");
            scanned += 1;
        }
    }
    assert!(scanned > 0);

    // The internal Raft service takes node certificates only: not even the admin's.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", cluster.addr(1)))
        .expect("endpoint")
        .connect_with_connector(dancu_tls::connector::connector(
            dancu_tls::ReloadingTls::load(TlsDir::new(dir, PeerIdentity::caller("admin").expect("name"))).expect("tls"),
        ))
        .await
        .expect("the admin connects");
    let vote = RaftClient::new(channel).vote(VoteRequest::default()).await;
    assert_eq!(vote.expect_err("a caller voted").code(), tonic::Code::PermissionDenied);

    // A certificate from another authority is refused, whatever name it carries.
    let foreign = tempfile::tempdir().expect("tempdir");
    let impostor = Authority::create(&config.cluster_name, Validity::days_from_now(30)).expect("authority");
    impostor.write(foreign.path()).expect("write");
    issue(
        &impostor,
        &config,
        foreign.path(),
        &PeerIdentity::caller("admin").expect("name"),
        Validity::days_from_now(3),
    );
    let mut impostor_options = options(foreign.path(), "admin", "registration");
    impostor_options.deadline = Duration::from_secs(3);
    let refused = Client::connect(&cluster.endpoints(), impostor_options).await.expect_err("a foreign CA was served");
    assert!(refused.to_string().contains("certificate") || refused.to_string().contains("Unknown"), "{refused}");

    expired_certificates_are_refused_by_the_server(&cluster, dir, &authority, &config).await;
    swapped_certificates_are_used_without_a_restart(&cluster, dir, &authority, &config).await;
}

/// The client side refuses to use an expired certificate; a client that tries anyway is refused by the server.
async fn expired_certificates_are_refused_by_the_server(
    cluster: &LocalCluster,
    dir: &Path,
    authority: &Authority,
    config: &ClusterConfig,
) {
    let expired_dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(dir.join("ca.crt"), expired_dir.path().join("ca.crt")).expect("copy the authority");
    let now = time::OffsetDateTime::now_utc();
    let validity =
        Validity { not_before: now - Duration::from_secs(86_400 * 2), not_after: now - Duration::from_secs(60) };
    issue(authority, config, expired_dir.path(), &PeerIdentity::caller("admin").expect("name"), validity);
    let own_check = Client::connect(&cluster.endpoints(), options(expired_dir.path(), "admin", "registration")).await;
    assert!(own_check.expect_err("an expired certificate was used").to_string().contains("expired"));

    let handshake = raw_handshake(cluster, expired_dir.path(), "admin").await;
    let error = handshake.expect_err("the server accepted an expired certificate");
    assert!(error.to_lowercase().contains("expired"), "{error}");
    // The server logs the refusal after sending its alert: poll for the line.
    let says_why = || async {
        let log = std::fs::read_to_string(cluster.log_path(1)).unwrap_or_default();
        log.lines().any(|line| line.contains("TLS handshake refused") && line.to_lowercase().contains("expired"))
    };
    dancu_jepsen::wait_until(Duration::from_secs(10), "node 1 to log why it refused the expired certificate", says_why)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

/// Re-issues node 1's certificate while it runs: the next connection is served with the new one.
async fn swapped_certificates_are_used_without_a_restart(
    cluster: &LocalCluster,
    dir: &Path,
    authority: &Authority,
    config: &ClusterConfig,
) {
    let before = raw_handshake(cluster, dir, "admin").await.expect("handshake");
    issue(authority, config, dir, &PeerIdentity::Node(1), Validity::days_from_now(30));
    let renewed = std::fs::read(dir.join("node-1.crt")).expect("renewed certificate");
    let renewed: rustls::pki_types::CertificateDer<'static> =
        rustls::pki_types::pem::PemObject::from_pem_slice(&renewed).expect("pem");
    let pid = cluster.pid(1);
    dancu_jepsen::wait_until(Duration::from_secs(20), "node 1 to serve its renewed certificate", || async {
        matches!(raw_handshake(cluster, dir, "admin").await, Ok(served) if served == renewed.as_ref())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_ne!(before, renewed.as_ref().to_vec());
    assert_eq!(cluster.pid(1), pid, "node 1 was restarted");
    let log = std::fs::read_to_string(cluster.log_path(1)).expect("node log");
    assert!(log.contains("TLS certificate and authority reloaded"));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
}

/// A TLS handshake with node 1 presenting `caller`'s files as they are (no client-side checks): the server's
/// certificate, or the handshake's error. TLS 1.3 reports a refused client certificate on the first read.
async fn raw_handshake(cluster: &LocalCluster, dir: &Path, caller: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.crt")).expect("ca") {
        roots.add(ca.expect("ca")).expect("root");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join(format!("{caller}.crt")))
        .expect("crt")
        .map(|c| c.expect("crt"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{caller}.key"))).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(cluster.addr(1)).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut stream =
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
    let served = stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).map(|c| c.as_ref().to_vec());
    // The HTTP/2 preface; the server either answers (settings) or sends the alert that refuses us.
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.map_err(|e| e.to_string())?;
    let mut buffer = [0u8; 9];
    stream.read_exact(&mut buffer).await.map_err(|e| e.to_string())?;
    served.ok_or_else(|| "no server certificate".to_string())
}
