//! The gRPC edge: the public `dancu.v1.Registry` service, the operator `dancu.v1.Admin` service, caller admission, read consistency
//! levels, and the mapping of typed errors to statuses.
//!
//! Architecture Invariant: the service never touches RocksDB except through `storage::Store`'s
//! read methods, and never logs a citizen's id, name or fields.

pub mod access;
pub mod admin;
pub mod admission;
pub mod audit;
pub mod audit_queries;
pub mod caller;
pub mod encoded_reads;
pub mod errors;
pub mod field_mask;
pub mod linearizer;
pub mod lookups;
pub mod quota;
pub mod readd;
pub mod registry;
pub mod request;
pub mod scan;
pub mod scatter;
pub mod verify;
pub mod writes;
