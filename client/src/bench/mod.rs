//! Load generation for `dancuctl bench run`: a closed loop of requests through [`Client`](crate::Client),
//! measured with HDR histograms.
//!
//! A run has `concurrency` loops, each sending one request at a time and the next as soon as it is answered, over
//! `connections` separately connected clients (loop `i` uses client `i % connections`). The loops first run for
//! the warm-up, which is not measured, then for the measured duration; each keeps its own latency histogram
//! (microseconds, successful requests) and per-second counts, merged at the end into a [`BenchResult`].
//!
//! Keys are the personal IDs of a synthetic [`Population`](dancu_synthetic::Population) (the one `dancuctl gen`
//! writes for the same seed and count) or of an ID file ([`KeySet`]); each loop draws them uniformly or zipfian
//! ([`KeyChooser`]) from its own random source seeded from the run's seed.
//!
//! | workload | one request | an error |
//! |---|---|---|
//! | `get` | `GetCitizen` at the chosen consistency | a failed call, or not found |
//! | `batch-get` | `BatchGetCitizens` of `batch_size` keys | a failed call, or any key not found |
//! | `verify` | `VerifyCitizen` of the record's own full name and date of birth | a failed call, or no match |
//! | `put` | `PutCitizen` of the record with `other_name` changed, so each put writes | a failed call |
//! | `mixed` | `put_percent` % puts, the rest linearizable gets | as above |
//!
//! Architecture Invariant: the generator only measures; it sends what the workload says and never retries on its
//! own (the client's retries are part of what is measured). Every loop ends when the window does.

mod choice;
mod closed_loop;
mod config;
mod duration;
mod error;
mod keys;
mod request;
mod summary;

pub use choice::KeyChooser;
pub use closed_loop::{measure, run, LoopShape, Measured, Operation};
pub use config::{BenchConfig, Distribution, Workload, CONCURRENCY_MAX, DURATION_MAX};
pub use duration::{parse_duration, DurationParseError};
pub use error::BenchError;
pub use keys::KeySet;
pub use summary::{latency_cdf, BenchResult, CdfPoint, LatencySummary};
