//! Failpoints for the consistency suite (the `fail` crate), compiled in only with the `failpoints` feature.
//!
//! | name | where | typical action |
//! |---|---|---|
//! | `log_append_before_write` | `LogStore::append`, before the WriteBatch | `return` → the append fails (an I/O error) |
//! | `wal_sync` | the WAL syncer, before fsync | `return` → the fsync fails |
//! | `apply_before_write` | `StateMachine::apply`, after append, before the apply WriteBatch | `return` → the process aborts (crash between append and apply); `sleep(N)` → slow apply |

/// Sets `name` to `actions` (the `fail` crate's syntax; `off` removes it).
#[cfg(feature = "failpoints")]
pub fn configure(name: &str, actions: &str) -> Result<(), String> {
    const KNOWN: [&str; 3] = ["log_append_before_write", "wal_sync", "apply_before_write"];
    if !KNOWN.contains(&name) {
        return Err(format!("unknown failpoint {name:?}; known: {KNOWN:?}"));
    }
    if actions == "off" || actions.is_empty() {
        fail::remove(name);
        return Ok(());
    }
    fail::cfg(name, actions)
}

#[cfg(not(feature = "failpoints"))]
pub fn configure(_name: &str, _actions: &str) -> Result<(), String> {
    Err("this node was built without the `failpoints` feature".into())
}
