//! dancu-node: one process of a dancu cluster.
//!
//! A node hosts one Raft group per partition placed on it (openraft), keeps every group's log and
//! state in its one RocksDB, and serves `dancu.v1.Registry` plus the internal `dancu.v1.Raft`
//! service on one tonic server. See ARCHITECTURE.md for the codemap and invariants.

pub mod audit;
pub mod citizen;
pub mod failpoints;
pub mod gate;
pub mod identity;
pub mod life_events;
pub mod limits;
pub mod name_key;
pub mod personal_id;
pub mod raft;
pub mod server;
pub mod service;
pub mod storage;
