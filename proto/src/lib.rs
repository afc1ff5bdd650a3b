//! The dancu.v1 protobuf messages and gRPC services.
//!
//! Architecture Invariant: this crate is the only wire and disk encoding of dancu. Every byte a node
//! stores or sends is one of these messages, so the format is versioned and evolvable (no serde
//! formats on disk).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod v1 {
    tonic::include_proto!("dancu.v1");
}

/// The encoded `FileDescriptorSet` of dancu.v1, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("dancu_descriptor");

pub mod audit_chain;

pub use prost::Message;
