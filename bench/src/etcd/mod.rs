//! etcd 3.4 as the system dancu is compared with: a fresh local 3-member cluster ([`EtcdCluster`], also the
//! [`crate::failover::FailoverTarget`]), loading the synthetic records ([`load`]), the closed-loop workloads
//! ([`run_workload`]) and the writes of the failover measurement ([`failover_writes`]).
//!
//! Codemap: `binary` (finding etcd), `flags` (how members run), `member` (one process), `status` (who leads),
//! `cluster`, `load`, `put_values` (what puts write), `workloads`, `failover_writes`.

mod binary;
mod cluster;
mod failover_writes;
mod flags;
mod load;
mod member;
mod put_values;
mod status;
mod workloads;

#[cfg(test)]
mod tests;

pub use binary::ETCD_BIN_ENV;
pub use cluster::EtcdCluster;
pub use failover_writes::{failover_writes, FailoverWrites, WRITE_TIMEOUT};
pub use load::load;
pub use workloads::{run_workload, EtcdWorkload};
