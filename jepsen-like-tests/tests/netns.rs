//! Network namespaces as the consistency suite uses them, against the real kernel: cuts drop exactly the links they
//! name (silently), a real 3-node dancu cluster with one node isolated keeps a working majority while the isolated
//! node makes no progress, and nothing is left behind — not after a drop, a failed create, a leftover from a crash,
//! or Ctrl-C. The cluster runs as the suite runs it by default: mutual TLS with certificates for the namespaces'
//! addresses, and plaintext refused.
//!
//! Every test runs only where [`netns_available`] is `Ok` (root with iproute2); elsewhere it prints why and passes,
//! since the suite then falls back to loopback with process faults only (`DANCU_REQUIRE_NETNS=1` turns the skip into
//! a failure, for machines where namespaces must work).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_jepsen::netns::{
    fresh_tag, install_cleanup_on_signal, namespaced_config, netns_available, remove_stale, NetTopology, CLIENT,
};
use dancu_jepsen::{
    node_binary, poll_until, ClusterSpec, LocalCluster, MutualTls, SUITE_PURPOSE, SUITE_WORKLOAD_CALLER,
};
use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::v1::{CallerContext, Citizen, Date, PutCitizenRequest, Sex, StatusRequest, StatusResponse};
use dancu_tls::{PeerIdentity, ReloadingTls, TlsDir};
use tonic::transport::Endpoint;

/// Time for a cluster to elect a leader for all 63 partitions on a slow, noisy machine.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);

/// Time for the majority to take over the partitions the isolated node led (election timeout 1–2 s, plus load).
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Budget of one put sent straight to the isolated node: far above a healthy commit (milliseconds).
const ISOLATED_PUT_TIMEOUT: Duration = Duration::from_secs(4);

/// A connect that gets no answer in this time counts as dropped; a healthy one answers in microseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Port the reachability probes listen on.
const PROBE_PORT: u16 = 7999;

/// Set in the environment of the child process of [`ctrl_c_removes_every_namespace`]: the tag it must use.
const SIGNAL_CHILD_TAG_ENV: &str = "DANCU_NETNS_SIGNAL_CHILD_TAG";

/// What that child prints, followed by the pid of the process it runs inside a node namespace, once it is ready.
const READY_MARKER: &str = "signal child ready, pid in namespace: ";

/// Set to `1` where namespaces must work (a root CI machine): a test then fails instead of skipping.
const REQUIRE_NETNS_ENV: &str = "DANCU_REQUIRE_NETNS";

/// Whether namespaces work here; if not, says why on stderr (the test then passes without checking anything,
/// unless `DANCU_REQUIRE_NETNS=1`).
fn available(test: &str) -> bool {
    match netns_available() {
        Ok(()) => {
            install_cleanup_on_signal().expect("catching Ctrl-C so namespaces are removed");
            true
        }
        Err(why) if std::env::var(REQUIRE_NETNS_ENV).is_ok_and(|value| value == "1") => {
            panic!("{test}: {REQUIRE_NETNS_ENV}=1 but network namespaces are not available: {why}")
        }
        Err(why) => {
            eprintln!("{test}: skipped, network namespaces are not available: {why}");
            false
        }
    }
}

/// Namespaces and root interfaces whose name starts with `prefix`.
fn names_starting_with(prefix: &str) -> Vec<String> {
    let list = |args: &[&str], key: &str| -> Vec<String> {
        let output = Command::new("ip").args(args).output().expect("running ip");
        assert!(output.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout);
        if text.trim().is_empty() {
            return Vec::new();
        }
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("ip -j prints a JSON array");
        entries.iter().filter_map(|entry| entry.get(key)?.as_str().map(str::to_string)).collect()
    };
    let mut names = list(&["-j", "netns", "list"], "name");
    names.extend(list(&["-j", "link", "show"], "ifname"));
    names.retain(|name| name.starts_with(prefix));
    names
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(output.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn n_blackhole_rules(topology: &NetTopology) -> usize {
    let output = Command::new("ip").args(["-n", topology.router_namespace(), "rule", "show"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).lines().filter(|line| line.contains("blackhole")).count()
}

/// Moves the calling thread into the namespace (only this thread: a network namespace is per thread).
fn enter_namespace(namespace: &str) {
    let file = std::fs::File::open(format!("/run/netns/{namespace}")).expect("opening the namespace");
    // SAFETY: setns(2) with a valid open namespace fd only changes this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {namespace}: {}", std::io::Error::last_os_error());
}

/// One probe listener per party (the client in the root namespace, each node in its own), bound inside the party's
/// namespace; a socket stays in the namespace it was created in.
fn probe_listeners(topology: &NetTopology) -> Vec<TcpListener> {
    let mut listeners = vec![TcpListener::bind((topology.client_ip(), PROBE_PORT)).expect("binding the client probe")];
    for node in topology.node_ids() {
        let (namespace, ip) = (topology.node_namespace(node).to_string(), topology.node_ip(node));
        let bound = std::thread::spawn(move || {
            enter_namespace(&namespace);
            TcpListener::bind((ip, PROBE_PORT)).expect("binding a node probe")
        });
        listeners.push(bound.join().unwrap());
    }
    listeners
}

/// Which ordered pairs of parties ([`CLIENT`] and every node) can open a TCP connection, all probed at once. A
/// connection must either succeed or time out: a cut is a silent drop, never a refusal.
fn reachability(topology: &NetTopology) -> BTreeMap<(u64, u64), bool> {
    let parties: Vec<u64> = [CLIENT].into_iter().chain(topology.node_ids()).collect();
    let addr = |party: u64| {
        let ip = if party == CLIENT { topology.client_ip() } else { topology.node_ip(party) };
        SocketAddr::from((ip, PROBE_PORT))
    };
    std::thread::scope(|scope| {
        let probes: Vec<_> = parties
            .iter()
            .flat_map(|&from| parties.iter().filter(move |&&to| to != from).map(move |&to| (from, to)))
            .map(|(from, to)| {
                let target = addr(to);
                let namespace = (from != CLIENT).then(|| topology.node_namespace(from).to_string());
                let probe = scope.spawn(move || {
                    if let Some(namespace) = namespace {
                        enter_namespace(&namespace);
                    }
                    match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
                        Ok(_) => true,
                        Err(error) if error.kind() == std::io::ErrorKind::TimedOut => false,
                        Err(error) => panic!("{from} -> {to} ({target}): {error} (a cut must drop, not refuse)"),
                    }
                });
                ((from, to), probe)
            })
            .collect();
        probes.into_iter().map(|(pair, probe)| (pair, probe.join().unwrap())).collect()
    })
}

/// Every ordered pair is reachable exactly when its link is not in `cuts`, and the topology reports `cuts`.
fn check_reachability(topology: &NetTopology, cuts: &[(u64, u64)]) {
    assert_eq!(topology.active_cuts(), cuts);
    let unreachable: Vec<(u64, u64)> =
        reachability(topology).into_iter().filter(|(_, reached)| !reached).map(|(pair, _)| pair).collect();
    let expected: Vec<(u64, u64)> = cuts
        .iter()
        .flat_map(|&(a, b)| [(a, b), (b, a)])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(unreachable, expected, "unreachable pairs (from, to) with cuts {cuts:?}");
}

#[test]
fn shapes_drop_exactly_the_links_they_cut() {
    if !available("shapes_drop_exactly_the_links_they_cut") {
        return;
    }
    let started = Instant::now();
    let mut topology = NetTopology::create(&fresh_tag(), &[1, 2, 3, 4, 5]).expect("creating a 5-node topology");
    eprintln!("shapes_drop_exactly_the_links_they_cut: created in {:?}", started.elapsed());
    let _listeners = probe_listeners(&topology);
    check_reachability(&topology, &[]);

    eprintln!("{}", topology.isolate(3).unwrap());
    check_reachability(&topology, &[(1, 3), (2, 3), (3, 4), (3, 5)]);
    eprintln!("{}", topology.split(&[1, 2], &[3, 4, 5]).unwrap());
    check_reachability(&topology, &[(1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5)]);
    eprintln!("{}", topology.majorities_ring(&[2, 4, 1, 5, 3]).unwrap());
    check_reachability(&topology, &[(1, 2), (1, 3), (2, 5), (3, 4), (4, 5)]);
    eprintln!("{}", topology.bridge(&[1, 2, 3, 4, 5]).unwrap());
    topology.cut_client(2).unwrap();
    check_reachability(&topology, &[(0, 2), (1, 4), (1, 5), (2, 4), (2, 5)]);

    let healing = Instant::now();
    topology.heal().unwrap();
    eprintln!("shapes_drop_exactly_the_links_they_cut: healed 5 cuts in {:?}", healing.elapsed());
    topology.cut(4, 1).unwrap();
    topology.cut(1, 4).unwrap();
    assert_eq!(n_blackhole_rules(&topology), 2, "cutting a cut link adds no rule");
    check_reachability(&topology, &[(1, 4)]);
    topology.heal().unwrap();
    check_reachability(&topology, &[]);

    assert!(topology.isolate(6).is_err(), "a node outside the topology is refused");
    assert!(topology.split(&[1, 2], &[2, 3]).is_err(), "overlapping sides are refused");
    assert!(topology.cut(1, 1).is_err(), "a node cannot be cut from itself");
    assert_eq!(topology.active_cuts(), Vec::new(), "a refused shape changes nothing");
    eprintln!("shapes_drop_exactly_the_links_they_cut: {:?}", started.elapsed());
}

#[test]
fn a_failed_create_removes_only_what_it_made() {
    if !available("a_failed_create_removes_only_what_it_made") {
        return;
    }
    let tag = fresh_tag();
    let first = NetTopology::create(&tag, &[1, 2]).expect("creating the first topology");
    let mine = names_starting_with(&format!("dancu-{tag}"));
    assert_eq!(mine.len(), 4, "router, two nodes, root link: {mine:?}");
    let error = NetTopology::create(&tag, &[1, 2]).expect_err("the names are taken");
    assert!(error.to_string().contains("File exists"), "{error}");
    assert_eq!(names_starting_with(&format!("dancu-{tag}")), mine, "the failed create left the first one alone");
    assert!(NetTopology::create(&tag, &[0]).is_err(), "node id 0 is refused");
    assert!(NetTopology::create("Bad-Tag", &[1]).is_err(), "a tag that cannot name an interface is refused");
    drop(first);
    assert_eq!(names_starting_with(&format!("dancu-{tag}")), Vec::<String>::new());
}

#[test]
fn remove_stale_removes_a_leftover_made_by_hand() {
    if !available("remove_stale_removes_a_leftover_made_by_hand") {
        return;
    }
    let prefix = format!("dancu-{}", fresh_tag());
    let (router, node) = (format!("{prefix}-r"), format!("{prefix}-n1"));
    ip(&["netns", "add", &router]);
    ip(&["netns", "add", &node]);
    ip(&["link", "add", "name", &prefix, "type", "veth", "peer", "name", "root", "netns", &router]);
    let mut removed = remove_stale(&prefix);
    removed.sort();
    let expected = [format!("link {prefix}"), format!("netns {node}"), format!("netns {router}")];
    assert_eq!(removed, expected);
    assert_eq!(names_starting_with(&prefix), Vec::<String>::new());
    assert_eq!(remove_stale(&prefix), Vec::<String>::new(), "nothing left to remove");
}

/// [`node_binary`], else the workspace's own `target/{release,debug}/dancu-node` (this test may be built into
/// another target directory, e.g. with `CARGO_TARGET_DIR` set).
fn node_bin() -> PathBuf {
    node_binary().unwrap_or_else(|error| {
        let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets it"));
        let workspace = crate_dir.parent().expect("the crate sits in the workspace");
        let built = ["release", "debug"].map(|profile| workspace.join("target").join(profile).join("dancu-node"));
        built.into_iter().find(|path| path.is_file()).unwrap_or_else(|| panic!("{error}"))
    })
}

/// A synthetic citizen of `province` (a record of nobody), the same for the same seed.
fn citizen_in(province: &str, seed: u64) -> Citizen {
    Citizen {
        id: format!("{province}090{:06}", seed % 1_000_000),
        full_name: "Nguyễn Văn An".to_string(),
        date_of_birth: Some(Date { year: 1990, month: 1 + (seed % 12) as u32, day: 1 + (seed % 28) as u32 }),
        sex: Sex::Male.into(),
        nationality: "Việt Nam".to_string(),
        ..Citizen::default()
    }
}

/// The suite's workload caller's TLS identity in the cluster's certificates.
fn workload_tls(cluster: &LocalCluster) -> Arc<ReloadingTls> {
    let dir = cluster.tls_dir().expect("the cluster runs mutual TLS");
    let identity = PeerIdentity::Caller(SUITE_WORKLOAD_CALLER.to_string());
    ReloadingTls::load(TlsDir::new(dir, identity)).unwrap_or_else(|error| panic!("the workload's certificate: {error}"))
}

/// A Status call over plaintext.
async fn status_plaintext(addr: &str) -> Result<StatusResponse, String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|error| error.to_string())?;
    let channel = endpoint.timeout(ISOLATED_PUT_TIMEOUT).connect().await.map_err(|error| error.to_string())?;
    let status = RegistryClient::new(channel).status(StatusRequest {}).await;
    status.map(tonic::Response::into_inner).map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}

/// A put sent to `addr` only (no re-routing, unlike `dancu_client::Client`), with a deadline, over mutual TLS as
/// the suite's workload.
async fn put_directly(addr: &str, citizen: Citizen, tls: &Arc<ReloadingTls>) -> Result<u64, String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|error| error.to_string())?;
    let connector = dancu_tls::connector::connector(tls.clone());
    let connected = endpoint.timeout(ISOLATED_PUT_TIMEOUT).connect_with_connector(connector).await;
    let channel = connected.map_err(|error| format!("connect: {error}"))?;
    let request_id = format!("netns-test-{}", citizen.id);
    let context = CallerContext { purpose: SUITE_PURPOSE.to_string(), request_id: request_id.clone() };
    let request =
        PutCitizenRequest { citizen: Some(citizen), request_id, expected_revision: None, context: Some(context) };
    let put = RegistryClient::new(channel).put_citizen(request).await;
    put.map(|reply| reply.into_inner().log_index).map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}

/// `(leader, term)` of every partition as the `majority` nodes see it, once they all agree on a leader among
/// themselves that says it leads; else why not.
fn majority_leaders(majority: &[(u64, StatusResponse)]) -> Result<BTreeMap<u32, (u64, u64)>, String> {
    let mut leaders = BTreeMap::new();
    for (node, status) in majority {
        for partition in &status.partitions {
            let Some(leader) = partition.leader.filter(|leader| majority.iter().any(|(member, _)| member == leader))
            else {
                return Err(format!("partition {}: node {node} sees leader {:?}", partition.id, partition.leader));
            };
            let (_, leader_status) = majority.iter().find(|(member, _)| *member == leader).expect("a member");
            let own = leader_status.partitions.iter().find(|own| own.id == partition.id);
            let Some(own) = own.filter(|own| own.local_role == "leader") else {
                return Err(format!("partition {}: named leader {leader} does not say it leads", partition.id));
            };
            if *leaders.entry(partition.id).or_insert((leader, own.term)) != (leader, own.term) {
                return Err(format!("partition {}: the majority disagrees on its leader", partition.id));
            }
        }
    }
    Ok(leaders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_node_makes_no_progress_while_the_majority_does() {
    let test = "an_isolated_node_makes_no_progress_while_the_majority_does";
    if !available(test) {
        return;
    }
    let started = Instant::now();
    let nodes = [1, 2, 3];
    let mut topology = NetTopology::create(&fresh_tag(), &nodes).expect("creating a 3-node topology");
    let spec = ClusterSpec {
        config: Some(namespaced_config(&topology, &nodes, 3, None)),
        node_command_prefix: topology.command_prefixes(),
        mutual_tls: Some(MutualTls::consistency_suite()),
        ..ClusterSpec::new(node_bin())
    };
    let cluster = LocalCluster::start(spec).unwrap_or_else(|error| panic!("starting the cluster: {error}"));
    assert_eq!(cluster.addr(2), format!("{}:7100", topology.node_ip(2)));
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("{error}"));
    let healthy_after = started.elapsed();
    let tls = workload_tls(&cluster);
    // Over TLS or not at all: every node refuses a plaintext Status call (which any caller may make).
    for node in nodes {
        let plaintext = status_plaintext(&cluster.addr(node)).await;
        assert!(plaintext.is_err(), "node {node} answered plaintext although the cluster is mutual TLS");
    }

    // Isolate the node that leads the most partitions.
    let mut statuses = Vec::new();
    for node in nodes {
        statuses.push((node, cluster.status(node).await.unwrap()));
    }
    let n_led = |status: &StatusResponse| status.partitions.iter().filter(|p| p.local_role == "leader").count();
    let (isolated, isolated_before) = statuses.iter().max_by_key(|(_, status)| n_led(status)).unwrap().clone();
    let led_before: Vec<_> = isolated_before.partitions.iter().filter(|p| p.local_role == "leader").collect();
    eprintln!("{test}: node {isolated} leads {} partitions; {}", led_before.len(), topology.isolate(isolated).unwrap());
    let majority: Vec<u64> = nodes.into_iter().filter(|&node| node != isolated).collect();

    let leaders = poll_until(TAKEOVER_TIMEOUT, "the majority to lead every partition", || async {
        let mut views = Vec::new();
        for &node in &majority {
            views.push((node, cluster.status(node).await.map_err(|error| error.to_string())?));
        }
        majority_leaders(&views)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(leaders.len(), 63, "every partition has a leader in the majority");
    let took_over_after = started.elapsed();

    // The isolated node still answers the client, and whatever it still believes it leads is stale.
    let isolated_view = cluster.status(isolated).await.expect("the client still reaches the isolated node");
    let still_leading: Vec<_> = isolated_view.partitions.iter().filter(|p| p.local_role == "leader").collect();
    eprintln!("{test}: isolated node {isolated} still says it leads {} partitions", still_leading.len());
    for partition in still_leading {
        let (leader, term) = leaders[&partition.id];
        assert!(
            term > partition.term,
            "partition {}: isolated node {isolated} leads at term {} but majority leader {leader} is at {term}",
            partition.id,
            partition.term
        );
    }
    let partition = led_before[0];
    let put = put_directly(
        &cluster.addr(isolated),
        citizen_in(&partition.province_code, started.elapsed().as_nanos() as u64),
        &tls,
    )
    .await;
    eprintln!("{test}: put through isolated node {isolated} to partition {}: {put:?}", partition.id);
    let error = put.expect_err("a put through the isolated node committed without a majority");
    // Not committing must be the cut's doing, not a refused connection or caller.
    for refusal in ["connect:", "PermissionDenied", "Unauthenticated", "InvalidArgument"] {
        assert!(!error.starts_with(refusal), "the isolated node refused the put itself: {error}");
    }

    topology.heal().unwrap();
    cluster.wait_healthy(HEALTHY_TIMEOUT).await.unwrap_or_else(|error| panic!("after heal: {error}"));
    let new_leader = cluster.leader_of(partition.id).await.expect("a leader after heal");
    let put = put_directly(&cluster.addr(new_leader), citizen_in(&partition.province_code, 1), &tls).await;
    assert!(put.is_ok(), "a put through the leader of partition {} after heal: {put:?}", partition.id);
    let healed_after = started.elapsed();

    let tag = topology.tag().to_string();
    drop(cluster);
    drop(topology);
    let left = names_starting_with(&format!("dancu-{tag}"));
    assert_eq!(left, Vec::<String>::new(), "namespaces left after drop");
    eprintln!(
        "{test}: healthy {healthy_after:?}, majority took over {took_over_after:?}, healed {healed_after:?}, \
         total {:?}",
        started.elapsed()
    );
}

/// Ctrl-C on a process holding a topology (with a process running inside a node namespace) removes every
/// namespace and kills that process. Run in a child process (this test binary again, running only
/// [`signal_cleanup_child`]), because the signal ends the process that receives it.
#[test]
fn ctrl_c_removes_every_namespace() {
    if !available("ctrl_c_removes_every_namespace") {
        return;
    }
    let tag = fresh_tag();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "signal_cleanup_child", "--nocapture", "--test-threads=1"])
        .env(SIGNAL_CHILD_TAG_ENV, &tag)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the child");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let ready = loop {
        let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(20)) else {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the child did not say it was ready");
        };
        // libtest may print `test signal_cleanup_child ... ` on the same line first.
        if let Some((_, pid)) = line.split_once(READY_MARKER) {
            break pid.trim().parse::<i32>().expect("the pid of the process in the namespace");
        }
    };
    assert_eq!(names_starting_with(&format!("dancu-{tag}")).len(), 4, "router, two nodes, root link");
    let child_pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own unreaped child.
    assert_eq!(unsafe { libc::kill(child_pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the child did not exit after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "exit code after SIGINT");
    assert_eq!(names_starting_with(&format!("dancu-{tag}")), Vec::<String>::new(), "namespaces left after SIGINT");
    // The process that lived in a node namespace was killed (it may linger as a zombie until init reaps it).
    let state = std::fs::read_to_string(format!("/proc/{ready}/stat")).unwrap_or_default();
    assert!(state.is_empty() || state.contains(") Z "), "process {ready} in the namespace survived: {state}");
}

/// The child of [`ctrl_c_removes_every_namespace`]; does nothing when run by itself.
#[test]
fn signal_cleanup_child() {
    let Ok(tag) = std::env::var(SIGNAL_CHILD_TAG_ENV) else {
        return;
    };
    install_cleanup_on_signal().unwrap();
    let topology = NetTopology::create(&tag, &[1, 2]).unwrap();
    let mut command: Vec<String> = topology.exec_prefix(1);
    command.extend(["sleep".to_string(), "30".to_string()]);
    let mut inside = Command::new(&command[0]).args(&command[1..]).spawn().unwrap();
    println!("{READY_MARKER}{}", inside.id());
    // The SIGINT cleanup kills `sleep`, then exits this process with 130; this thread must not end the test first.
    let status = inside.wait().unwrap();
    if !status.success() {
        std::thread::sleep(Duration::from_secs(30));
    }
    panic!("no SIGINT cleanup while `sleep 30` ran in the namespace ({status})");
}
