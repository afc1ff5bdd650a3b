//! The dancu client library: partition-aware routing, leader redirects, retries and deadlines, for services that
//! call the register and for the `dancuctl` operator CLI.
//!
//! A [`Client`] learns the cluster's partition map from any node's `Status`, then sends each call straight to the
//! node that can answer it: the partition's leader for writes and LINEARIZABLE / READ_INDEX reads, the first
//! endpoint the caller named (when it holds a replica) for FOLLOWER and STALE reads. It keeps one gRPC channel
//! per node and acts on the server's error contract:
//!
//! | server says | client does |
//! |---|---|
//! | FAILED_PRECONDITION, NOT_LEADER / PARTITION_NOT_HOSTED | caches the leader hint and retries there at once; without a hint, backs off and refreshes the map |
//! | UNAVAILABLE (no quorum), RESOURCE_EXHAUSTED | retries with exponential backoff and jitter (20 ms to 1 s) |
//! | transport error, attempt timeout | marks the node suspect, tries another replica, refreshes the map |
//! | INVALID_ARGUMENT, ABORTED (revision mismatch), NOT_FOUND | returns at once ([`ClientError`]) |
//! | FAILED_PRECONDITION + REFUSED, NOT_FOUND + ID_REPLACED | returns at once ([`ClientError::Refused`], [`ClientError::IdReplaced`]) |
//!
//! Calls about one ID (get, put, verify, household by ID, life events) and per-partition groups of batches
//! (batch get, batch verify, batch put) are routed as above. Scatter-gather queries (legacy number, household by
//! household id, search) go to any node, round-robin (FOLLOWER / STALE: the first endpoint), which fans out
//! itself; the whole call is retried on retryable errors. [`import()`] loads JSON lines in batches per partition.
//!
//! Every call carries a [`CallerContext`](proto::CallerContext) (purpose and request id) and runs within
//! [`ClientOptions::deadline`], retries included; each attempt within [`ClientOptions::rpc_timeout`]. A put keeps
//! its request id across retries, so a retried write is applied once.
//!
//! ```no_run
//! use dancu_client::proto::{Citizen, Consistency, Date, Sex};
//! use dancu_client::{Client, ClientOptions};
//!
//! # async fn example() -> Result<(), dancu_client::ClientError> {
//! let endpoints = ["127.0.0.1:7101".to_string(), "127.0.0.1:7102".to_string()];
//! let client = Client::connect(&endpoints, ClientOptions::default()).await?;
//!
//! // A synthetic record: province 001, male born 1985.
//! let citizen = Citizen {
//!     id: "001085012345".to_string(),
//!     full_name: "Nguyễn Văn An".to_string(),
//!     date_of_birth: Some(Date { year: 1985, month: 3, day: 14 }),
//!     sex: Sex::Male.into(),
//!     ..Citizen::default()
//! };
//! // `Some(0)`: create only, fail with a revision mismatch if the record exists.
//! let written = client.put(citizen, Some(0)).await?;
//! println!("revision {} at log index {}", written.revision, written.log_index);
//!
//! match client.get("001085012345", Consistency::Linearizable).await? {
//!     Some(found) => println!("{:?}", found.citizen.map(|citizen| citizen.full_name)),
//!     None => println!("not found"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Architecture Invariant: the client never logs a citizen's ID, name or other fields (only partition ids, node
//! ids, request ids and counts), and it holds no blocking lock across an `.await` (the routing table and channel
//! cache sit behind `std` locks taken only between awaits).

pub mod bench;
pub mod certificates;
mod channels;
pub mod citizen_json;
mod client;
mod coalescer;
mod error;
pub mod import;
mod in_flight_window;
mod options;
mod retry;
mod routing;

#[doc(hidden)]
pub mod cli;

pub use citizen_json::{
    parse_consistency, parse_date_text, parse_sex_text, CitizenJson, CitizenJsonError, PersonRefJson, PlaceJson,
};
pub use client::{
    Client, IdCorrectionOutcome, LegacyLookup, MarriageOutcome, PartitionScan, ScanOptions, ScanPage, SearchQuery,
    BATCH_IDS_MAX, PUT_CITIZENS_MAX,
};
pub use error::{error_chain, ClientError};
pub use import::{import, BadLine, ImportError, ImportFailure, ImportOptions, ImportProgress, ImportSummary};
pub use options::{ClientOptions, TlsIdentity};

/// The dancu.v1 messages this API takes and returns.
pub use dancu_proto::v1 as proto;
