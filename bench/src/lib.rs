//! dancu-bench: dancu side by side with etcd and the hardware ceilings, measured in one run on one machine
//! (`dancuctl bench compare`, `make bench`).
//!
//! A run ([`compare::run`]) loads the same synthetic citizens into a fresh local 3-node dancu cluster (insecure
//! plaintext), a second one over mutual TLS (read as a full-access and as a masked caller; [`secure`]) and a
//! fresh local 3-node etcd 3.4 cluster, drives the same closed-loop workloads against both at each concurrency
//! level ([`dancu_client::bench::measure`]: same loop, same histograms), measures the RPC ceiling (a tonic
//! echo server in its own process) and the storage ceilings (raw RocksDB gets; raw RocksDB writing what three
//! replicas store for the same import), kills leaders under write load, and writes `results.json`, `report.md`
//! and SVG plots.
//!
//! Codemap: [`plan`] (what a mode runs), [`dancu_side`] and [`etcd`] (one system each: cluster, load,
//! workloads, failover target), [`secure`] (the mutual-TLS cluster and its callers), [`connections`] (new
//! connections per second, plaintext and TLS handshakes), [`ceiling`] (echo, RocksDB reads and import writes),
//! [`failover`] (the kill-and-wait measurement both systems share), [`results`] (the JSON schema), [`report`]
//! (markdown and plots), [`compare`] (the run).
//!
//! Architecture Invariant: every figure compared is measured in the same run, by the same loop code, on the
//! same machine; nothing is read from an earlier run.

pub mod ceiling;
pub mod compare;
pub mod connections;
pub mod dancu_side;
pub mod error;
pub mod etcd;
pub mod failover;
pub mod overload;
pub mod plan;
pub mod process_stats;
pub mod report;
pub mod results;
pub mod secure;

pub use error::CompareError;
