//! Failpoints for the consistency suite (the `fail` crate), compiled in only with the `failpoints` feature.
//!
//! | name | where | typical action |
//! |---|---|---|
//! | `log_append_before_write` | `LogStore::append`, before the WriteBatch | `return` → the append fails (an I/O error) |
//! | `wal_sync` | the WAL syncer, before fsync | `return` → the fsync fails |
//! | `apply_before_write` | `StateMachine::apply`, after the entries are decided, before the apply WriteBatch | `return` → the process aborts (a crash between append and apply); `sleep(N)` → slow apply |
//!
//! Every point counts how often it was reached while armed ([`fired`]), so the suite can prove a fault it
//! configured took effect instead of reporting one that never happened (Admin `FailpointCounts`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Every failpoint placed in the code, by name.
pub const KNOWN: [&str; 3] = ["log_append_before_write", "wal_sync", "apply_before_write"];

static FIRED: [AtomicU64; KNOWN.len()] = [const { AtomicU64::new(0) }; KNOWN.len()];
static ARMED: Mutex<[bool; KNOWN.len()]> = Mutex::new([false; KNOWN.len()]);

fn index_of(name: &str) -> Option<usize> {
    KNOWN.iter().position(|known| *known == name)
}

/// Counts a pass through `name` while it is armed; called where the point is placed.
pub fn note_reached(name: &str) {
    let Some(idx) = index_of(name) else {
        return;
    };
    let armed = ARMED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())[idx];
    if armed {
        FIRED[idx].fetch_add(1, Ordering::Relaxed);
    }
}

/// How often each point was reached while armed, since the process started.
pub fn fired() -> Vec<(&'static str, u64)> {
    KNOWN.iter().zip(&FIRED).map(|(name, count)| (*name, count.load(Ordering::Relaxed))).collect()
}

/// Sets `name` to `actions` (the `fail` crate's syntax; `off` removes it).
#[cfg(feature = "failpoints")]
pub fn configure(name: &str, actions: &str) -> Result<(), String> {
    let idx = index_of(name).ok_or_else(|| format!("unknown failpoint {name:?}; known: {KNOWN:?}"))?;
    let off = actions == "off" || actions.is_empty();
    if off {
        fail::remove(name);
    } else {
        fail::cfg(name, actions)?;
    }
    ARMED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())[idx] = !off;
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
pub fn configure(_name: &str, _actions: &str) -> Result<(), String> {
    Err("this node was built without the `failpoints` feature".into())
}
