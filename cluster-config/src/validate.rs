//! Validation: every rule of a configuration, each problem reported with its path so an operator can find it.
//!
//! Rules never stop at the first problem: an operator fixing a file wants the whole list at once.

mod access;
mod address;
mod datacenters;
mod nodes;
mod partitions;
mod raft;

use crate::{ClusterConfig, ValidationError, ValidationErrors};

impl ClusterConfig {
    /// Checks every rule and reports every problem found, each with its path (e.g. `nodes[2].id`).
    ///
    /// Rules: at least one node; node ids non-zero and unique; `addr` and `metrics_addr` are `host:port`, and no
    /// address is used twice; each node's `dc` exists; datacenter names unique; at least one central
    /// datacenter; provinces listed only by provincial datacenters, existing, and served by at most one; each
    /// provincial datacenter has a node; `replicas` is 3 or 5 with at least as many nodes; splits name an
    /// existing province once, with 12-digit points strictly increasing inside its range, above its start;
    /// placements name an existing partition once, with exactly `replicas` distinct known nodes and a preferred
    /// leader among them; `raft` timings satisfy `10 ≤ heartbeat < election min < election max`. Access control:
    /// roles and callers only with `tls.mode = "mutual"`; role and caller names unique, `[a-z0-9][a-z0-9-]*` of at
    /// most 64 bytes; each role lists at least one operation and one purpose; operations, hidden fields (never
    /// `id`), provinces and purposes are known, well formed and listed once; `"*"` is a role's only purpose;
    /// `requests_per_s` and `burst` are above zero, `burst` only with `requests_per_s`; each caller's role exists.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut report = Report::default();
        if self.cluster_name.is_empty() {
            report.add("cluster_name", "must not be empty");
        }
        nodes::check(self, &mut report);
        datacenters::check(self, &mut report);
        partitions::check(self, &mut report);
        raft::check(&self.raft, &mut report);
        access::check(self, &mut report);
        if let Err(problem) = self.audit.retention() {
            report.add("audit.retention", problem);
        }
        report.finish()
    }
}

/// The problems found so far.
#[derive(Default)]
struct Report {
    errors: Vec<ValidationError>,
}

impl Report {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ValidationError { path: path.into(), message: message.into() });
    }

    fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }
}
