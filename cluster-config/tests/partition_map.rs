//! The partition map: routing by personal ID, range coverage under random splits, and placement overrides.

use dancu_cluster_config::provinces::{self, PROVINCES};
use dancu_cluster_config::{ClusterConfig, PartitionId, PartitionMap, PlacementConfig, SplitConfig};
use proptest::prelude::*;

/// Three nodes in one central datacenter: the smallest valid cluster.
const LOCAL_3: &str = r#"
[[nodes]]
id = 1
addr = "127.0.0.1:7101"
dc = "local"

[[nodes]]
id = 2
addr = "127.0.0.1:7102"
dc = "local"

[[nodes]]
id = 3
addr = "127.0.0.1:7103"
dc = "local"

[[datacenters]]
name = "local"
kind = "central"
"#;

/// IDs in one province: the suffix after the 3-digit code.
const IDS_PER_PROVINCE: u64 = 1_000_000_000;

fn local_3() -> ClusterConfig {
    ClusterConfig::from_toml_str(LOCAL_3).expect("LOCAL_3 parses")
}

fn map_with_splits(splits: Vec<SplitConfig>) -> PartitionMap {
    let mut config = local_3();
    config.partitions.splits = splits;
    match config.partition_map() {
        Ok(map) => map,
        Err(errors) => panic!("{errors}"),
    }
}

fn id_text(value: u64) -> String {
    format!("{value:012}")
}

fn id_value(text: &str) -> u64 {
    text.parse().expect("map ranges are 12 digits")
}

/// Checks partition_for against a linear scan, for `personal_id` given as 12 digits.
fn check_partition_for(map: &PartitionMap, personal_id: &str) {
    let expected = map
        .partitions
        .iter()
        .find(|spec| spec.range_start.as_str() <= personal_id && personal_id <= spec.range_end.as_str());
    assert_eq!(map.partition_for(personal_id), expected, "{personal_id}");
    let province_exists = provinces::province(&personal_id[..3]).is_some();
    assert_eq!(expected.is_some(), province_exists, "{personal_id}");
    if let Some(spec) = expected {
        assert!(spec.contains(personal_id));
        assert_eq!(spec.province_code, personal_id[..3]);
    }
}

/// Sorted, contiguous within each province, covering exactly `PPP000000000..=PPP999999999` for all 63 codes.
fn check_coverage(map: &PartitionMap) {
    for pair in map.partitions.windows(2) {
        assert!(pair[0].id < pair[1].id && pair[0].range_end < pair[1].range_start);
    }
    for province in &PROVINCES {
        let specs: Vec<_> = map.partitions.iter().filter(|spec| spec.province_code == province.code).collect();
        let code_number = u64::from(province.code_number());
        assert_eq!(id_value(&specs[0].range_start), code_number * IDS_PER_PROVINCE);
        assert_eq!(id_value(&specs[specs.len() - 1].range_end), (code_number + 1) * IDS_PER_PROVINCE - 1);
        for (split_idx, spec) in specs.iter().enumerate() {
            assert_eq!(spec.id, PartitionId(province.code_number() * 100 + split_idx as u32));
            assert!(spec.range_start <= spec.range_end);
        }
        for pair in specs.windows(2) {
            assert_eq!(id_value(&pair[0].range_end) + 1, id_value(&pair[1].range_start));
        }
    }
}

/// Random splits: for some provinces (by index into PROVINCES), sorted distinct in-range suffixes above 0.
fn splits_strategy() -> impl Strategy<Value = Vec<SplitConfig>> {
    let suffixes = prop::collection::btree_set(1..IDS_PER_PROVINCE, 1..6);
    prop::collection::btree_map(0..PROVINCES.len(), suffixes, 0..12).prop_map(|chosen| {
        chosen
            .into_iter()
            .map(|(province_idx, suffixes)| {
                let code = PROVINCES[province_idx].code;
                let at = suffixes.into_iter().map(|suffix| format!("{code}{suffix:09}")).collect();
                SplitConfig { province: code.to_string(), at }
            })
            .collect()
    })
}

/// Split point text that is sometimes valid for `code`, sometimes not 12 digits, sometimes another province's.
fn split_point_text(code: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{11,13}",
        "[0-9]{3}[0-9]{9}",
        Just(format!("{code}000000000")),
        (0..IDS_PER_PROVINCE).prop_map(move |suffix| format!("{code}{suffix:09}")),
    ]
}

proptest! {
    #[test]
    fn random_splits_cover_every_province(splits in splits_strategy()) {
        let n_points: usize = splits.iter().map(|split| split.at.len()).sum();
        let map = map_with_splits(splits);
        prop_assert_eq!(map.partitions.len(), PROVINCES.len() + n_points);
        check_coverage(&map);
        for spec in &map.partitions {
            prop_assert_eq!(map.get(spec.id), Some(spec));
            for edge in [&spec.range_start, &spec.range_end] {
                prop_assert_eq!(map.partition_for(edge), Some(spec));
            }
        }
    }

    #[test]
    fn partition_for_finds_the_containing_range(
        splits in splits_strategy(),
        any_ids in prop::collection::vec(0..1_000 * IDS_PER_PROVINCE, 1..40),
        province_ids in prop::collection::vec((0..PROVINCES.len(), 0..IDS_PER_PROVINCE), 1..40),
    ) {
        let map = map_with_splits(splits);
        for value in any_ids {
            check_partition_for(&map, &id_text(value));
        }
        for (province_idx, suffix) in province_ids {
            let personal_id = format!("{}{suffix:09}", PROVINCES[province_idx].code);
            check_partition_for(&map, &personal_id);
            prop_assert!(map.partition_for(&personal_id).is_some());
        }
    }

    #[test]
    fn arbitrary_split_points_never_panic(
        (province_idx, at) in (0..PROVINCES.len()).prop_flat_map(|province_idx| {
            (Just(province_idx), prop::collection::vec(split_point_text(PROVINCES[province_idx].code), 0..5))
        }),
    ) {
        let mut config = local_3();
        let province = PROVINCES[province_idx].code.to_string();
        config.partitions.splits = vec![SplitConfig { province, at }];
        if let Ok(map) = config.partition_map() {
            check_coverage(&map);
        }
    }
}

#[test]
fn partition_for_rejects_what_is_not_a_known_id() {
    let map = map_with_splits(Vec::new());
    for bad in
        ["", "abc", "00100000000", "0010000000000", "00100000000x", "003000000000", "097000000000", "999999999999"]
    {
        assert_eq!(map.partition_for(bad), None, "{bad:?}");
    }
    assert_eq!(map.partition_for("001000000000").map(|s| s.id), Some(PartitionId(100)));
    assert_eq!(map.partition_for("096999999999").map(|s| s.id), Some(PartitionId(9600)));
    assert_eq!(map.get(PartitionId(300)), None);
}

#[test]
fn partition_ids_display_as_numbers() {
    assert_eq!(PartitionId(7901).to_string(), "7901");
}

#[test]
fn placement_override_puts_the_preferred_leader_first() {
    let mut config = local_3();
    config.partitions.placement = vec![
        PlacementConfig { partition: 7900, nodes: vec![1, 2, 3], preferred_leader: Some(3) },
        PlacementConfig { partition: 100, nodes: vec![2, 3, 1], preferred_leader: None },
    ];
    let map = config.partition_map().expect("valid");
    let spec = map.get(PartitionId(7900)).expect("7900 exists");
    assert_eq!((spec.preferred_leader, spec.replicas.clone()), (3, vec![3, 1, 2]));
    let spec = map.get(PartitionId(100)).expect("100 exists");
    assert_eq!((spec.preferred_leader, spec.replicas.clone()), (2, vec![2, 3, 1]));
}

#[test]
fn five_replicas_use_five_distinct_nodes() {
    let mut config = local_3();
    config.partitions.replicas = 5;
    for id in 4..=6 {
        let mut node = config.nodes[0].clone();
        node.id = id;
        node.addr = format!("127.0.0.1:{}", 7100 + id);
        config.nodes.push(node);
    }
    let map = config.partition_map().expect("valid");
    for spec in &map.partitions {
        let mut replicas = spec.replicas.clone();
        replicas.sort_unstable();
        replicas.dedup();
        assert_eq!(replicas.len(), 5, "{}", spec.id);
    }
    for node in 1..=6 {
        let n_led = map.partitions.iter().filter(|spec| spec.preferred_leader == node).count();
        assert!((10..=11).contains(&n_led), "node {node} leads {n_led}");
    }
}
