//! The cluster configuration parser and validator: never a panic; a configuration that validates survives a round
//! trip through its TOML form unchanged, yields a partition map, and its roles compile into an access policy.
#![no_main]

use dancu_cluster_config::ClusterConfig;
use dancu_node::service::access::AccessPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = ClusterConfig::from_toml_str(text) else {
        return;
    };
    if config.validate().is_err() {
        return;
    }
    let map = config.partition_map().expect("a valid configuration has a partition map");
    assert!(!map.partitions.is_empty());
    AccessPolicy::from_config(&config).expect("a valid configuration's roles compile");
    let again = ClusterConfig::from_toml_str(&config.to_toml_string()).expect("its own TOML parses");
    assert_eq!(again, config);
    again.validate().expect("its own TOML validates");
});
