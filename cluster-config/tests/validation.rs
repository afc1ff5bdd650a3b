//! Every validation rule, each checked for the exact path and message it reports.

use dancu_cluster_config::{
    ClusterConfig, ConfigError, DatacenterConfig, DatacenterKind, NodeConfig, PlacementConfig, SplitConfig,
};

/// A small valid cluster: two central nodes and one provincial node serving 079 and 080.
const BASE: &str = r#"
[[nodes]]
id = 1
addr = "127.0.0.1:7101"
dc = "hq"
metrics_addr = "127.0.0.1:9101"

[[nodes]]
id = 2
addr = "127.0.0.1:7102"
dc = "hq"
metrics_addr = "127.0.0.1:9102"

[[nodes]]
id = 3
addr = "127.0.0.1:7103"
dc = "south"

[[datacenters]]
name = "hq"
kind = "central"

[[datacenters]]
name = "south"
kind = "provincial"
provinces = ["079", "080"]
"#;

fn base() -> ClusterConfig {
    ClusterConfig::from_toml_str(BASE).expect("BASE parses")
}

/// Validates `config` and compares every reported error, in order, with `expected` (empty: valid).
fn check_config(config: &ClusterConfig, expected: &[&str]) {
    let actual: Vec<String> = match config.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(actual, expected);
}

/// Applies `edit` to the base cluster, then checks it like [`check_config`].
fn check(edit: impl FnOnce(&mut ClusterConfig), expected: &[&str]) {
    let mut config = base();
    edit(&mut config);
    check_config(&config, expected);
}

fn node(id: u64, port: u16, dc: &str) -> NodeConfig {
    NodeConfig { id, addr: format!("127.0.0.1:{port}"), dc: dc.to_string(), metrics_addr: None }
}

fn provincial(name: &str, provinces: &[&str]) -> DatacenterConfig {
    DatacenterConfig {
        name: name.to_string(),
        kind: DatacenterKind::Provincial,
        provinces: provinces.iter().map(ToString::to_string).collect(),
    }
}

fn split(province: &str, at: &[&str]) -> SplitConfig {
    SplitConfig { province: province.to_string(), at: at.iter().map(ToString::to_string).collect() }
}

fn placement(partition: u32, nodes: &[u64], preferred_leader: Option<u64>) -> PlacementConfig {
    PlacementConfig { partition, nodes: nodes.to_vec(), preferred_leader }
}

#[test]
fn base_is_valid() {
    check(|_| {}, &[]);
}

#[test]
fn cluster_name_must_not_be_empty() {
    check(|c| c.cluster_name.clear(), &["cluster_name: must not be empty"]);
}

#[test]
fn at_least_one_node() {
    check(
        |c| {
            c.nodes.clear();
            c.datacenters.truncate(1);
        },
        &["nodes: at least one node is required", "partitions.replicas: 3 replicas need at least 3 nodes, found 0"],
    );
}

#[test]
fn node_id_must_be_non_zero() {
    check(|c| c.nodes[0].id = 0, &["nodes[0].id: node id must be non-zero"]);
}

#[test]
fn node_ids_are_unique() {
    check(|c| c.nodes[2].id = 2, &["nodes[2].id: duplicate id 2"]);
}

#[test]
fn addr_must_be_host_port() {
    check(
        |c| c.nodes[0].addr = "localhost".into(),
        &[r#"nodes[0].addr: invalid address "localhost": expected host:port"#],
    );
    check(
        |c| c.nodes[1].addr = "127.0.0.1:70000".into(),
        &[r#"nodes[1].addr: invalid address "127.0.0.1:70000": port must be a number from 1 to 65535"#],
    );
    check(
        |c| c.nodes[2].addr = "dc north:7100".into(),
        &[concat!(
            r#"nodes[2].addr: invalid address "dc north:7100": "#,
            "host must be a hostname, an IPv4 address or a bracketed IPv6 address"
        )],
    );
}

#[test]
fn hostnames_and_ipv6_are_accepted() {
    check(
        |c| {
            c.nodes[0].addr = "dc-north-1.dancu.internal:7100".into();
            c.nodes[1].addr = "[::1]:7100".into();
        },
        &[],
    );
}

#[test]
fn addrs_are_unique() {
    check(
        |c| c.nodes[1].addr = "127.0.0.1:7101".into(),
        &[r#"nodes[1].addr: duplicate address "127.0.0.1:7101" (also nodes[0].addr)"#],
    );
}

#[test]
fn metrics_addr_must_be_host_port() {
    check(
        |c| c.nodes[0].metrics_addr = Some("9101".into()),
        &[r#"nodes[0].metrics_addr: invalid address "9101": expected host:port"#],
    );
}

#[test]
fn metrics_addrs_are_unique() {
    check(
        |c| c.nodes[1].metrics_addr = Some("127.0.0.1:9101".into()),
        &[r#"nodes[1].metrics_addr: duplicate address "127.0.0.1:9101" (also nodes[0].metrics_addr)"#],
    );
}

#[test]
fn metrics_addr_differs_from_every_grpc_addr() {
    check(
        |c| c.nodes[0].metrics_addr = Some("127.0.0.1:7102".into()),
        &[r#"nodes[0].metrics_addr: duplicate address "127.0.0.1:7102" (also nodes[1].addr)"#],
    );
}

#[test]
fn node_dc_must_exist() {
    check(|c| c.nodes[1].dc = "hqq".into(), &[r#"nodes[1].dc: unknown datacenter "hqq""#]);
}

#[test]
fn datacenter_names_are_unique_and_non_empty() {
    check(
        |c| c.datacenters.push(provincial("south", &[])),
        &[r#"datacenters[2].name: duplicate datacenter name "south""#],
    );
    check(
        |c| {
            c.datacenters[1].name.clear();
            c.nodes[2].dc.clear();
        },
        &["datacenters[1].name: must not be empty"],
    );
}

#[test]
fn a_central_datacenter_is_required() {
    check(
        |c| c.datacenters[0].kind = DatacenterKind::Provincial,
        &["datacenters: at least one datacenter of kind central is required"],
    );
}

#[test]
fn datacenter_provinces_must_exist() {
    check(
        |c| c.datacenters[1].provinces.extend(["003".to_string(), "79".to_string()]),
        &[
            r#"datacenters[1].provinces[2]: unknown province code "003""#,
            r#"datacenters[1].provinces[3]: unknown province code "79""#,
        ],
    );
}

#[test]
fn a_province_is_served_by_at_most_one_provincial_datacenter() {
    check(
        |c| {
            c.nodes.push(node(4, 7104, "mekong"));
            c.datacenters.push(provincial("mekong", &["092", "079"]));
        },
        &[r#"datacenters[2].provinces[1]: province 079 is already served by datacenter "south""#],
    );
    check(
        |c| c.datacenters[1].provinces.push("080".into()),
        &[r#"datacenters[1].provinces[2]: province 080 is already served by datacenter "south""#],
    );
}

#[test]
fn central_datacenters_list_no_provinces() {
    check(
        |c| c.datacenters[0].provinces.push("001".into()),
        &["datacenters[0].provinces: only provincial datacenters serve provinces; \
           central datacenters hold a replica of every partition"],
    );
}

#[test]
fn a_provincial_datacenter_needs_a_node() {
    check(
        |c| c.datacenters.push(provincial("north", &["001"])),
        &[r#"datacenters[2]: provincial datacenter "north" has no nodes"#],
    );
}

#[test]
fn replicas_is_3_or_5() {
    check(|c| c.partitions.replicas = 4, &["partitions.replicas: must be 3 or 5, found 4"]);
    check(|c| c.partitions.replicas = 1, &["partitions.replicas: must be 3 or 5, found 1"]);
}

#[test]
fn enough_nodes_for_the_replicas() {
    check(|c| c.partitions.replicas = 5, &["partitions.replicas: 5 replicas need at least 5 nodes, found 3"]);
    check(
        |c| {
            c.partitions.replicas = 5;
            c.nodes.extend([node(4, 7104, "hq"), node(5, 7105, "south")]);
        },
        &[],
    );
}

#[test]
fn split_province_must_exist() {
    check(
        |c| c.partitions.splits.push(split("003", &["003500000000"])),
        &[r#"partitions.splits[0].province: unknown province code "003""#],
    );
}

#[test]
fn a_province_is_split_once() {
    check(
        |c| c.partitions.splits.extend([split("079", &["079500000000"]), split("079", &["079600000000"])]),
        &["partitions.splits[1].province: province 079 is already split by partitions.splits[0]"],
    );
}

#[test]
fn a_split_needs_points() {
    check(
        |c| c.partitions.splits.push(split("079", &[])),
        &["partitions.splits[0].at: at least one split point is required"],
    );
}

#[test]
fn a_province_has_at_most_99_split_points() {
    let points: Vec<String> = (1..=100).map(|n| format!("079{:09}", n * 1000)).collect();
    let points: Vec<&str> = points.iter().map(String::as_str).collect();
    check(
        |c| c.partitions.splits.push(split("079", &points)),
        &["partitions.splits[0].at: at most 99 split points per province, found 100"],
    );
    check(|c| c.partitions.splits.push(split("079", &points[..99])), &[]);
}

#[test]
fn split_points_are_12_ascii_digits() {
    check(
        |c| c.partitions.splits.push(split("079", &["079500000000", "07960000000", "07970000000x"])),
        &[
            r#"partitions.splits[0].at[1]: "07960000000" is not a 12-digit personal ID"#,
            r#"partitions.splits[0].at[2]: "07970000000x" is not a 12-digit personal ID"#,
        ],
    );
}

#[test]
fn split_points_lie_inside_the_province() {
    check(
        |c| c.partitions.splits.push(split("079", &["079500000000", "080000000000"])),
        &["partitions.splits[0].at[1]: 080000000000 is outside province 079 (079000000000 to 079999999999)"],
    );
}

#[test]
fn split_points_increase_strictly() {
    check(
        |c| c.partitions.splits.push(split("079", &["079500000000", "079500000000", "079400000000"])),
        &[
            "partitions.splits[0].at[1]: 079500000000 must be greater than the previous split point 079500000000",
            "partitions.splits[0].at[2]: 079400000000 must be greater than the previous split point 079500000000",
        ],
    );
}

#[test]
fn a_split_point_is_not_the_range_start() {
    check(
        |c| c.partitions.splits.push(split("079", &["079000000000"])),
        &["partitions.splits[0].at[0]: 079000000000 is the start of province 079, so the first range would be empty"],
    );
}

#[test]
fn placement_partition_must_exist() {
    check(
        |c| c.partitions.placement.push(placement(7901, &[1, 2, 3], None)),
        &["partitions.placement[0].partition: no partition 7901 in the partition map"],
    );
    check(
        |c| {
            c.partitions.splits.push(split("079", &["079500000000"]));
            c.partitions.placement.push(placement(7901, &[1, 2, 3], None));
        },
        &[],
    );
}

#[test]
fn a_partition_is_placed_once() {
    check(
        |c| c.partitions.placement.extend([placement(100, &[1, 2, 3], None), placement(100, &[3, 2, 1], None)]),
        &["partitions.placement[1].partition: partition 100 is already placed by partitions.placement[0]"],
    );
}

#[test]
fn placement_names_exactly_replicas_nodes() {
    check(
        |c| c.partitions.placement.push(placement(100, &[1, 2], None)),
        &["partitions.placement[0].nodes: expected 3 nodes (partitions.replicas), found 2"],
    );
}

#[test]
fn placement_nodes_exist() {
    check(
        |c| c.partitions.placement.push(placement(100, &[1, 9, 3], None)),
        &["partitions.placement[0].nodes[1]: unknown node 9"],
    );
}

#[test]
fn placement_nodes_are_distinct() {
    check(
        |c| c.partitions.placement.push(placement(100, &[1, 2, 1], None)),
        &["partitions.placement[0].nodes[2]: duplicate node 1"],
    );
}

#[test]
fn placement_preferred_leader_is_one_of_its_nodes() {
    check(
        |c| c.partitions.placement.push(placement(100, &[1, 2, 3], Some(4))),
        &["partitions.placement[0].preferred_leader: node 4 is not one of the placement's nodes"],
    );
}

#[test]
fn heartbeat_is_at_least_10_ms() {
    check(|c| c.raft.heartbeat_interval_ms = 5, &["raft.heartbeat_interval_ms: must be at least 10, found 5"]);
}

#[test]
fn election_timeout_min_exceeds_heartbeat() {
    check(
        |c| c.raft.election_timeout_ms_min = 100,
        &["raft.election_timeout_ms_min: must be greater than raft.heartbeat_interval_ms (100), found 100"],
    );
}

#[test]
fn election_timeout_max_exceeds_min() {
    check(
        |c| c.raft.election_timeout_ms_max = 150,
        &["raft.election_timeout_ms_max: must be greater than raft.election_timeout_ms_min (200), found 150"],
    );
}

#[test]
fn clock_drift_bound_leaves_a_lease() {
    check(|c| c.raft.max_clock_drift_ppm = 200_000, &[]);
    check(
        |c| c.raft.max_clock_drift_ppm = 200_001,
        &["raft.max_clock_drift_ppm: must be at most 200000 (clocks that far apart leave no lease), found 200001"],
    );
}

#[test]
fn every_problem_is_reported_at_once_one_per_line() {
    let mut config = base();
    config.nodes[2].id = 2;
    config.raft.heartbeat_interval_ms = 5;
    let errors = config.validate().expect_err("two problems");
    assert_eq!(errors.0.len(), 2);
    assert_eq!(
        errors.to_string(),
        "nodes[2].id: duplicate id 2\nraft.heartbeat_interval_ms: must be at least 10, found 5"
    );
    assert_eq!(errors.0[0].path, "nodes[2].id");
    assert_eq!(errors.0[0].message, "duplicate id 2");
}

#[test]
fn partition_map_refuses_an_invalid_config() {
    let mut config = base();
    config.partitions.replicas = 4;
    let errors = config.partition_map().expect_err("invalid replicas");
    assert_eq!(errors.to_string(), "partitions.replicas: must be 3 or 5, found 4");
}

/// Parses `text` and expects a parse error whose message contains every fragment.
fn check_parse_error(text: &str, fragments: &[&str]) {
    match ClusterConfig::from_toml_str(text) {
        Err(ConfigError::Parse { path, message }) => {
            assert_eq!(path, "<string>");
            for fragment in fragments {
                assert!(message.contains(fragment), "{fragment:?} not in {message}");
            }
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn unknown_fields_are_parse_errors_with_a_location() {
    check_parse_error(
        &format!("{BASE}\n[raft]\nheartbeat_ms = 100\n"),
        &["unknown field `heartbeat_ms`", "line 29, column 1"],
    );
    check_parse_error(&BASE.replace("metrics_addr = \"127.0.0.1:9101\"", "metric_addr = \"x\""), &["unknown field"]);
    check_parse_error(&format!("{BASE}\n[partitions]\nreplica = 3\n"), &["unknown field `replica`"]);
    check_parse_error(&format!("cluster = \"x\"\n{BASE}"), &["unknown field `cluster`"]);
}

#[test]
fn wrong_kinds_and_missing_sections_are_parse_errors() {
    check_parse_error(&BASE.replace("kind = \"central\"", "kind = \"Central\""), &["unknown variant `Central`"]);
    check_parse_error(&BASE.replace("id = 3", "id = -3"), &["line 15"]);
    check_parse_error("[[nodes]]\nid = 1\naddr = \"127.0.0.1:1\"\ndc = \"x\"\n", &["missing field `datacenters`"]);
    check_parse_error("nodes = [", &["line 1"]);
}

#[test]
fn parse_fills_in_defaults() {
    let config = base();
    assert_eq!(config.cluster_name, "dancu");
    assert_eq!(config.partitions.replicas, 3);
    assert!(config.partitions.splits.is_empty() && config.partitions.placement.is_empty());
    assert_eq!(config.raft.heartbeat_interval_ms, 100);
    assert_eq!(config.raft.election_timeout_ms_min, 200);
    assert_eq!(config.raft.election_timeout_ms_max, 400);
    assert_eq!(config.raft.snapshot_logs_since_last, 5000);
    assert_eq!(config.raft.max_in_snapshot_log_to_keep, 1000);
    assert_eq!(config.raft.max_clock_drift_ppm, 20_000);
    assert_eq!(config.nodes[2].metrics_addr, None);
    assert_eq!(config.node(3).map(|n| n.dc.as_str()), Some("south"));
    assert!(config.node(4).is_none());
}
