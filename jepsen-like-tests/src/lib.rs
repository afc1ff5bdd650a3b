//! dancu's consistency suite, starting with its foundation: a harness that runs a cluster of real `dancu-node`
//! processes on this machine and injects process faults into it.
//!
//! ```no_run
//! # async fn example() -> Result<(), dancu_jepsen::HarnessError> {
//! use std::time::Duration;
//! use dancu_jepsen::{node_binary, ClusterSpec, LocalCluster};
//!
//! let mut cluster = LocalCluster::start(ClusterSpec::new(node_binary()?))?;
//! cluster.wait_healthy(Duration::from_secs(60)).await?;
//! let leader = cluster.leader_of(7900).await.expect("partition 7900 has a leader");
//! cluster.kill(leader)?;
//! cluster.wait_healthy(Duration::from_secs(60)).await?;
//! cluster.restart(leader)?;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture Invariant: the harness talks to nodes only the way operators and clients do (command line,
//! signals, the public and admin gRPC APIs); it never reads a node's data directory — it only erases one
//! ([`LocalCluster::wipe`], a lost disk) or drops its unsynced writes ([`LocalCluster::power_loss`]).
//!
//! Architecture Invariant: tests synchronize with the cluster by polling a condition with a deadline
//! ([`poll_until`]), never by sleeping a fixed time.

mod binary;
mod cluster;
mod cpu_cap;
mod error;
mod health;
mod lazy_mounts;
mod local_config;
pub mod lost_writes;
mod poll;
mod ports;
mod process;

pub use binary::{node_binary, NODE_BIN_ENV};
pub use cluster::{ClusterSpec, LocalCluster, KEEP_CLUSTER_ENV};
pub use cpu_cap::CpuCap;
pub use error::HarnessError;
pub use lazy_mounts::{lazyfs_binary, LAZYFS_BIN_ENV};
pub use local_config::{
    loopback_config, MutualTls, LOCAL_CLUSTER_NAME, LOCAL_DATACENTER, SUITE_OPERATOR_CALLER, SUITE_PURPOSE,
    SUITE_WORKLOAD_CALLER,
};
pub use poll::{poll_until, wait_until, POLL_INTERVAL};
pub use ports::free_loopback_ports;
pub use process::tail_lines;
pub mod checker;
pub mod clock;
pub mod history;
pub mod lazyfs;
pub mod nemesis;
pub mod netns;
pub mod report;
pub mod run;
pub mod transport;
pub mod workload;
