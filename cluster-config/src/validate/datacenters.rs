//! Rules on `[[datacenters]]`: names, kinds and the provinces they serve.

use std::collections::BTreeMap;

use super::Report;
use crate::{provinces, ClusterConfig, DatacenterConfig, DatacenterKind};

pub(super) fn check(config: &ClusterConfig, report: &mut Report) {
    check_names(config, report);
    if !config.datacenters.iter().any(|dc| dc.kind == DatacenterKind::Central) {
        report.add("datacenters", "at least one datacenter of kind central is required");
    }
    for (dc_idx, dc) in config.datacenters.iter().enumerate() {
        let has_nodes = config.nodes.iter().any(|node| node.dc == dc.name);
        if dc.kind == DatacenterKind::Provincial && !has_nodes {
            report.add(format!("datacenters[{dc_idx}]"), format!("provincial datacenter {:?} has no nodes", dc.name));
        }
    }
    check_provinces(config, report);
}

fn check_names(config: &ClusterConfig, report: &mut Report) {
    for (dc_idx, dc) in config.datacenters.iter().enumerate() {
        let path = format!("datacenters[{dc_idx}].name");
        if dc.name.is_empty() {
            report.add(path, "must not be empty");
        } else if config.datacenters[..dc_idx].iter().any(|earlier| earlier.name == dc.name) {
            report.add(path, format!("duplicate datacenter name {:?}", dc.name));
        }
    }
}

fn check_provinces(config: &ClusterConfig, report: &mut Report) {
    let mut served_by: BTreeMap<&str, &DatacenterConfig> = BTreeMap::new();
    for (dc_idx, dc) in config.datacenters.iter().enumerate() {
        if dc.kind == DatacenterKind::Central && !dc.provinces.is_empty() {
            // Central datacenters already take every partition without a home; a list here would do nothing.
            report.add(
                format!("datacenters[{dc_idx}].provinces"),
                "only provincial datacenters serve provinces; central datacenters hold a replica of every partition",
            );
            continue;
        }
        for (code_idx, code) in dc.provinces.iter().enumerate() {
            let path = format!("datacenters[{dc_idx}].provinces[{code_idx}]");
            if provinces::province(code).is_none() {
                report.add(path, format!("unknown province code {code:?}"));
            } else if let Some(first_dc) = served_by.get(code.as_str()) {
                report.add(path, format!("province {code} is already served by datacenter {:?}", first_dc.name));
            } else {
                served_by.insert(code, dc);
            }
        }
    }
}
