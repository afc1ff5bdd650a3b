//! `dancuctl config validate|show`: offline checks of a cluster configuration.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use dancu_cluster_config::{provinces, ClusterConfig, PartitionMap};
use serde::Serialize;

use super::table::{join_ids, render};
use super::{load_config, plural, to_json, Failure, GlobalArgs, OutputFormat};

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a configuration: prints `FILE: valid (N nodes, M datacenters, P partitions)` and exits 0, or
    /// prints every problem with its path (one per line, on stderr) and exits 1.
    Validate {
        /// The TOML file (default: --config).
        file: Option<PathBuf>,
    },
    /// Print the nodes and the partition map a configuration produces (id, province, range, replicas,
    /// preferred leader). With --output json: `{"cluster_name", "nodes", "partitions"}`.
    Show {
        /// The TOML file (default: --config).
        file: Option<PathBuf>,
    },
}

/// `config show --output json`.
#[derive(Debug, Serialize)]
struct ConfigJson<'a> {
    cluster_name: &'a str,
    nodes: Vec<NodeJson<'a>>,
    partitions: Vec<PartitionJson<'a>>,
}

/// A node in `config show` and `status` JSON.
#[derive(Debug, Serialize)]
pub(super) struct NodeJson<'a> {
    pub(super) id: u64,
    pub(super) addr: &'a str,
    pub(super) dc: &'a str,
    pub(super) metrics_addr: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct PartitionJson<'a> {
    id: u32,
    province_code: &'a str,
    range_start: &'a str,
    range_end: &'a str,
    replicas: &'a [u64],
    preferred_leader: u64,
}

pub(crate) fn run(global: &GlobalArgs, command: ConfigCommand) -> Result<String, Failure> {
    match command {
        ConfigCommand::Validate { file } => validate(&config_path(global, file)?),
        ConfigCommand::Show { file } => show(&config_path(global, file)?, global.output),
    }
}

fn config_path(global: &GlobalArgs, file: Option<PathBuf>) -> Result<PathBuf, Failure> {
    file.or_else(|| global.config_file.clone())
        .ok_or_else(|| Failure::usage("no configuration file given: pass FILE or --config FILE"))
}

/// Loads, validates and derives the partition map, so `validate` catches everything a node would refuse.
fn load_with_map(path: &Path) -> Result<(ClusterConfig, PartitionMap), Failure> {
    let config = load_config(path)?;
    let map = config.partition_map().map_err(|errors| {
        let path = path.display();
        Failure::lines(errors.0.iter().map(|error| format!("{path}: {error}")).collect())
    })?;
    Ok((config, map))
}

fn validate(path: &Path) -> Result<String, Failure> {
    let (config, map) = load_with_map(path)?;
    let n_datacenters = config.datacenters.iter().map(|dc| dc.name.as_str()).collect::<BTreeSet<_>>().len();
    Ok(format!(
        "{}: valid ({}, {}, {})\n",
        path.display(),
        plural(config.nodes.len(), "node"),
        plural(n_datacenters, "datacenter"),
        plural(map.partitions.len(), "partition"),
    ))
}

fn show(path: &Path, output: OutputFormat) -> Result<String, Failure> {
    let (config, map) = load_with_map(path)?;
    match output {
        OutputFormat::Json => to_json(&config_json(&config, &map)),
        OutputFormat::Table => Ok(config_table(&config, &map)),
    }
}

fn config_json<'a>(config: &'a ClusterConfig, map: &'a PartitionMap) -> ConfigJson<'a> {
    let nodes = config
        .nodes
        .iter()
        .map(|node| NodeJson {
            id: node.id,
            addr: &node.addr,
            dc: &node.dc,
            metrics_addr: node.metrics_addr.as_deref(),
        })
        .collect();
    let partitions = map
        .partitions
        .iter()
        .map(|partition| PartitionJson {
            id: partition.id.0,
            province_code: &partition.province_code,
            range_start: &partition.range_start,
            range_end: &partition.range_end,
            replicas: &partition.replicas,
            preferred_leader: partition.preferred_leader,
        })
        .collect();
    ConfigJson { cluster_name: &config.cluster_name, nodes, partitions }
}

fn config_table(config: &ClusterConfig, map: &PartitionMap) -> String {
    let node_rows: Vec<Vec<String>> = config
        .nodes
        .iter()
        .map(|node| {
            let metrics = node.metrics_addr.clone().unwrap_or_else(|| "-".to_string());
            vec![node.id.to_string(), node.addr.clone(), node.dc.clone(), metrics]
        })
        .collect();
    let partition_rows: Vec<Vec<String>> = map
        .partitions
        .iter()
        .map(|partition| {
            vec![
                partition.id.to_string(),
                province_label(&partition.province_code),
                format!("{}..={}", partition.range_start, partition.range_end),
                join_ids(&partition.replicas),
                partition.preferred_leader.to_string(),
            ]
        })
        .collect();
    format!(
        "cluster {}\n\n{}\n{}",
        config.cluster_name,
        render(&["NODE", "ADDR", "DC", "METRICS"], &node_rows),
        render(&["PARTITION", "PROVINCE", "RANGE", "REPLICAS", "PREFERRED LEADER"], &partition_rows),
    )
}

/// `001 Hà Nội`, or just the code when it is not a known province.
pub(crate) fn province_label(code: &str) -> String {
    match provinces::province(code) {
        Some(province) => format!("{code} {}", province.name),
        None => code.to_string(),
    }
}
