//! The history of a consistency run: one record per client operation, invocation to completion.
//!
//! Each key is a register holding `(value, revision)`: the record's value is a unique number written by the
//! workload, and its revision is the server's per-record revision (0 = the record does not exist). Written to
//! `history.jsonl` one `Op` per line.

use serde::{Deserialize, Serialize};

/// What an operation does to its key's register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Observes `(value, revision)`.
    Read,
    /// Sets `value`; the revision becomes revision + 1.
    Write,
    /// Sets `value` only if the stored revision equals `expected_revision`.
    Cas,
}

/// How an operation ended, as far as the client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It took effect (writes) or returned a value (reads).
    Ok,
    /// It definitely did not take effect (a refused write, an `ABORTED` CAS, a failed read).
    Fail,
    /// Unknown: a timeout or a dropped connection. A write may take effect at any time after its
    /// invocation, or never.
    Info,
}

/// The read consistency level of a read (writes carry none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadLevel {
    Linearizable,
    ReadIndex,
    Follower,
    /// Checked only for per-node monotonicity, never for linearizability.
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history (unique).
    pub index: usize,
    /// The client worker that ran it; a worker runs one operation at a time.
    pub process: u32,
    /// The personal ID of the register.
    pub key: String,
    pub kind: OpKind,
    /// Reads only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<ReadLevel>,
    /// Write/CAS: the unique value written. Read (ok): the value observed (`None` = not found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// Read (ok): the revision observed (0 = not found). Write/CAS (ok): the revision it produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// CAS only: the revision the write requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
    /// Microseconds since the run started.
    pub invoke_us: u64,
    /// When the client got the answer or gave up (for `Info`, the op may still take effect later).
    pub complete_us: u64,
    pub outcome: Outcome,
    /// The node that served a read, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// An op invoked at `invoke_us` whose outcome is not known yet (`Info` until the caller fills it in).
    pub fn invoked(process: u32, key: &str, kind: OpKind, invoke_us: u64) -> Op {
        Op {
            index: 0,
            process,
            key: key.to_string(),
            kind,
            level: None,
            value: None,
            revision: None,
            expected_revision: None,
            invoke_us,
            complete_us: invoke_us,
            outcome: Outcome::Info,
            node: None,
            error: None,
        }
    }
}

/// A fault window, as logged by the nemesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// e.g. "partition", "kill", "pause", "leader", "membership", "admin", "failpoint".
    pub nemesis: String,
    /// Human-readable: what was done to which nodes/partitions.
    pub description: String,
    pub start_us: u64,
    /// `None` while still active (a fault healed at the end gets the end time).
    pub end_us: Option<u64>,
}
