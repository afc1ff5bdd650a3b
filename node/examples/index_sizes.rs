//! Bytes the secondary indexes add per million synthetic records (keys + values as stored, before RocksDB's
//! block compression), next to the records themselves.
//!
//! `cargo run --release -p dancu-node --example index_sizes -- [COUNT] [SEED]`

use std::collections::BTreeMap;

use dancu_cluster_config::{ClusterConfig, PartitionId};
use dancu_node::storage::{indexes, keys};
use dancu_proto::Message;
use dancu_synthetic::Population;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(42), |a| a.parse())?;
    let config = ClusterConfig::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cluster-config/examples/local-3.toml"
    )))?;
    let map = config.partition_map()?;
    let population = Population::new(seed, count)?;
    let mut by_index: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut record_bytes = 0u64;
    for citizen in population.citizens() {
        let pid = map.partition_for(&citizen.id).map_or(PartitionId(0), |spec| spec.id);
        record_bytes += (keys::citizen_key(pid, citizen.id.as_bytes()).len() + citizen.encoded_len()) as u64;
        for (key, value) in indexes::entries(pid, &citizen) {
            let name = match keys::tag_of(&key) {
                Some(keys::INDEX_HOUSEHOLD) => "household",
                Some(keys::INDEX_NAME_DOB) => "name + date of birth",
                Some(keys::INDEX_LEGACY) => "legacy number",
                _ => "other",
            };
            let slot = by_index.entry(name).or_default();
            slot.0 += 1;
            slot.1 += (key.len() + value.len()) as u64;
        }
    }
    let per_million = |bytes: u64| bytes as f64 * 1_000_000.0 / count as f64 / (1024.0 * 1024.0);
    println!("{count} records (seed {seed}); MiB per million records, keys + values before compression:");
    println!("  {:<22} {:>10} {:>10}", "records", count, format!("{:.1}", per_million(record_bytes)));
    let mut total = 0;
    for (name, (entries, bytes)) in &by_index {
        total += bytes;
        println!("  {name:<22} {entries:>10} {:>10.1}", per_million(*bytes));
    }
    println!("  {:<22} {:>10} {:>10.1}", "all indexes", "", per_million(total));
    Ok(())
}
