//! The example configurations operators copy: they load, and their partition maps have the promised shape.

use std::collections::BTreeMap;
use std::path::Path;

use dancu_cluster_config::provinces::PROVINCES;
use dancu_cluster_config::{ClusterConfig, ConfigError, DatacenterKind, NodeId, Operation, PartitionId, PartitionMap};

// Relative to the package root, where cargo runs its tests: a path fixed at compile time would name the checkout
// that built the binary, which a shared target dir may hand to another checkout.
const LOCAL_3: &str = "examples/local-3.toml";
const NATIONAL: &str = "examples/national.toml";
const LOCAL_3_SECURE: &str = "examples/local-3-secure.toml";

fn load(path: &str) -> ClusterConfig {
    match ClusterConfig::load(Path::new(path)) {
        Ok(config) => config,
        Err(error) => panic!("{error}"),
    }
}

fn map_of(config: &ClusterConfig) -> PartitionMap {
    match config.partition_map() {
        Ok(map) => map,
        Err(errors) => panic!("{errors}"),
    }
}

/// How many partitions each node is the preferred leader of.
fn leader_counts(map: &PartitionMap) -> BTreeMap<NodeId, usize> {
    let mut counts = BTreeMap::new();
    for spec in &map.partitions {
        *counts.entry(spec.preferred_leader).or_insert(0) += 1;
    }
    counts
}

fn dc_of(config: &ClusterConfig, node: NodeId) -> &str {
    config.node(node).map_or("", |n| n.dc.as_str())
}

#[test]
fn local_3_has_63_partitions_on_all_3_nodes() {
    let config = load(LOCAL_3);
    let map = map_of(&config);
    assert_eq!(map.partitions.len(), 63);
    for spec in &map.partitions {
        let mut replicas = spec.replicas.clone();
        replicas.sort_unstable();
        assert_eq!(replicas, [1, 2, 3], "{}", spec.id);
        assert_eq!(spec.replicas[0], spec.preferred_leader);
    }
    for node in 1..=3 {
        assert_eq!(map.hosted_by(node).count(), 63);
    }
    assert_eq!(map.hosted_by(4).count(), 0);
}

#[test]
fn local_3_spreads_leaders_evenly() {
    let map = map_of(&load(LOCAL_3));
    assert_eq!(leader_counts(&map), BTreeMap::from([(1, 21), (2, 21), (3, 21)]));
}

#[test]
fn local_3_ranges_and_ids() {
    let map = map_of(&load(LOCAL_3));
    let first = &map.partitions[0];
    assert_eq!((first.id, first.province_code.as_str()), (PartitionId(100), "001"));
    assert_eq!((first.range_start.as_str(), first.range_end.as_str()), ("001000000000", "001999999999"));
    let last = &map.partitions[62];
    assert_eq!((last.id, last.range_end.as_str()), (PartitionId(9600), "096999999999"));
    assert_eq!(map.partition_for("079212345678").map(|spec| spec.id), Some(PartitionId(7900)));
}

#[test]
fn local_3_secure_is_local_3_on_other_ports_with_mutual_tls() {
    let secure = load(LOCAL_3_SECURE);
    let mut expected = load(LOCAL_3);
    let local_addrs: Vec<String> = expected.nodes.iter().map(|node| node.addr.clone()).collect();
    for node in &mut expected.nodes {
        node.addr = node.addr.replace(":71", ":72");
        node.metrics_addr = node.metrics_addr.as_ref().map(|addr| addr.replace(":91", ":92"));
    }
    assert_eq!(secure.nodes, expected.nodes);
    assert_eq!(
        (&secure.datacenters, &secure.partitions, &secure.raft),
        (&expected.datacenters, &expected.partitions, &expected.raft)
    );
    assert_eq!(secure.cluster_name, "dancu-local-secure");
    assert!(secure.requires_tls());
    assert!(!expected.requires_tls() && expected.roles.is_empty() && expected.callers.is_empty());
    // Both clusters can run on one machine at once.
    assert!(secure.nodes.iter().all(|node| !local_addrs.contains(&node.addr)), "{local_addrs:?}");
}

#[test]
fn local_3_secure_grants_each_caller_its_role() {
    let config = load(LOCAL_3_SECURE);
    let role_of = |caller: &str| config.role_of_caller(caller).map(|role| role.name.as_str());
    assert_eq!(role_of("admin"), Some("operator"));
    assert_eq!(role_of("bank"), Some("bank-kyc"));
    assert_eq!(role_of("health-ministry"), Some("health"));
    assert_eq!(role_of("hanoi-police"), Some("hanoi-police"));
    assert_eq!(role_of("operator"), None);

    let operator = config.role("operator").expect("operator role");
    assert_eq!(operator.operations(), Operation::ALL);
    assert!(operator.allows_purpose("anything") && operator.in_scope("096") && operator.burst().is_none());

    let bank = config.role("bank-kyc").expect("bank role");
    assert_eq!(bank.operations(), [Operation::Verify]);
    assert!(bank.allows_purpose("kyc") && !bank.allows_purpose("marketing"));
    assert_eq!((bank.requests_per_s, bank.burst()), (Some(200), Some(400)));

    let health = config.role("health").expect("health role");
    assert_eq!(health.operations(), [Operation::Get, Operation::BatchGet]);
    assert_eq!(health.hidden_fields, ["ethnicity", "religion"]);
    assert_eq!((health.requests_per_s, health.burst()), (Some(500), Some(500)));

    let police = config.role("hanoi-police").expect("police role");
    assert!(police.allows(Operation::Scan) && !police.allows(Operation::Put) && !police.allows(Operation::Verify));
    assert!(police.in_scope("001") && !police.in_scope("079"));
    assert!(police.allows_purpose("investigation") && !police.allows_purpose("treatment"));
}

#[test]
fn national_has_9_nodes_in_4_datacenters() {
    let config = load(NATIONAL);
    assert!(config.nodes.len() >= 9);
    assert_eq!(config.datacenters.len(), 4);
    let n_central = config.datacenters.iter().filter(|dc| dc.kind == DatacenterKind::Central).count();
    assert_eq!(n_central, 1);
}

#[test]
fn national_serves_every_province_from_one_regional_datacenter() {
    let config = load(NATIONAL);
    let mut served: Vec<&str> =
        config.datacenters.iter().flat_map(|dc| dc.provinces.iter().map(String::as_str)).collect();
    served.sort_unstable();
    let all: Vec<&str> = PROVINCES.iter().map(|p| p.code).collect();
    assert_eq!(served, all);
}

#[test]
fn national_splits_079_into_3_and_001_into_2() {
    let map = map_of(&load(NATIONAL));
    assert_eq!(map.partitions.len(), 63 + 2 + 1);
    let ranges = |ids: &[u32]| -> Vec<(String, String)> {
        ids.iter()
            .filter_map(|&id| map.get(PartitionId(id)))
            .map(|spec| (spec.range_start.clone(), spec.range_end.clone()))
            .collect()
    };
    let expected_079 =
        [("079000000000", "079099999999"), ("079100000000", "079199999999"), ("079200000000", "079999999999")];
    let expected_079: Vec<(String, String)> =
        expected_079.iter().map(|(s, e)| (s.to_string(), e.to_string())).collect();
    assert_eq!(ranges(&[7900, 7901, 7902]), expected_079);
    assert_eq!(
        ranges(&[100, 101]),
        [
            ("001000000000".to_string(), "001099999999".to_string()),
            ("001100000000".to_string(), "001999999999".to_string())
        ]
    );
    assert!(map.get(PartitionId(7903)).is_none());
}

#[test]
fn national_leaders_sit_in_their_home_datacenter() {
    let config = load(NATIONAL);
    let map = map_of(&config);
    for spec in &map.partitions {
        let home = config.datacenters.iter().find(|dc| dc.provinces.contains(&spec.province_code));
        if let Some(home) = home {
            assert_eq!(dc_of(&config, spec.replicas[0]), home.name, "partition {}", spec.id);
        }
    }
}

#[test]
fn national_replicas_span_three_datacenters_including_the_central_one() {
    let config = load(NATIONAL);
    let map = map_of(&config);
    for spec in &map.partitions {
        let mut dcs: Vec<&str> = spec.replicas.iter().map(|&node| dc_of(&config, node)).collect();
        assert_eq!(dcs[1], "hanoi", "partition {}", spec.id);
        dcs.sort_unstable();
        dcs.dedup();
        assert_eq!(dcs.len(), 3, "partition {}", spec.id);
    }
}

#[test]
fn national_leaders_spread_within_each_datacenter() {
    let config = load(NATIONAL);
    let counts = leader_counts(&map_of(&config));
    for dc in &config.datacenters {
        let dc_counts: Vec<usize> =
            config.nodes.iter().filter(|n| n.dc == dc.name).map(|n| counts.get(&n.id).copied().unwrap_or(0)).collect();
        let (min, max) = (dc_counts.iter().min(), dc_counts.iter().max());
        assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 1), "{}: {dc_counts:?}", dc.name);
    }
}

#[test]
fn national_spreads_replicas_over_regional_nodes() {
    let config = load(NATIONAL);
    let map = map_of(&config);
    let central: Vec<&str> =
        config.datacenters.iter().filter(|dc| dc.kind == DatacenterKind::Central).map(|dc| dc.name.as_str()).collect();
    let hosted: Vec<usize> = config
        .nodes
        .iter()
        .filter(|node| !central.contains(&node.dc.as_str()))
        .map(|node| map.hosted_by(node.id).count())
        .collect();
    let (min, max) = (hosted.iter().min(), hosted.iter().max());
    assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 3), "{hosted:?}");
}

#[test]
fn examples_round_trip_through_toml() {
    for path in [LOCAL_3, NATIONAL, LOCAL_3_SECURE] {
        let config = load(path);
        let text = config.to_toml_string();
        match ClusterConfig::from_toml_str(&text) {
            Ok(reparsed) => assert_eq!(reparsed, config, "{path}"),
            Err(error) => panic!("{path}: {error}\n{text}"),
        }
    }
}

#[test]
fn partition_map_is_deterministic() {
    for path in [LOCAL_3, NATIONAL, LOCAL_3_SECURE] {
        let config = load(path);
        assert_eq!(map_of(&config), map_of(&config), "{path}");
        // The order nodes are listed in must not matter either.
        let mut reordered = config.clone();
        reordered.nodes.reverse();
        assert_eq!(map_of(&reordered), map_of(&config), "{path}");
    }
}

#[test]
fn load_reports_a_missing_file() {
    let path = "examples/missing.toml";
    match ClusterConfig::load(Path::new(path)) {
        Err(error @ ConfigError::Io { .. }) => assert!(error.to_string().starts_with(&format!("cannot read {path}: "))),
        other => panic!("expected an Io error, got {other:?}"),
    }
}

#[test]
fn load_reports_parse_and_validation_errors_with_the_file_path() {
    let dir = std::env::temp_dir().join(format!("dancu-cluster-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let text = std::fs::read_to_string(LOCAL_3).expect("example");

    let invalid = dir.join("invalid.toml");
    std::fs::write(&invalid, text.replace("id = 3", "id = 2").replace("replicas = 3", "replicas = 4")).expect("write");
    let shown = invalid.display().to_string();
    match ClusterConfig::load(&invalid) {
        Err(error @ ConfigError::Invalid { .. }) => assert_eq!(
            error.to_string(),
            format!(
                "{shown}: invalid configuration:\nnodes[2].id: duplicate id 2\npartitions.replicas: must be 3 or 5, found 4"
            )
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }

    let unparsable = dir.join("unparsable.toml");
    std::fs::write(&unparsable, text.replace("[raft]", "[raft\n")).expect("write");
    let shown = unparsable.display().to_string();
    match ClusterConfig::load(&unparsable) {
        Err(error @ ConfigError::Parse { .. }) => {
            let message = error.to_string();
            assert!(message.starts_with(&format!("{shown}: invalid TOML: TOML parse error at line ")), "{message}");
        }
        other => panic!("expected Parse, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
