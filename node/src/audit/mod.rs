//! The access audit: every access to citizen data, allowed or refused, recorded before its reply is sent, and made
//! impossible to erase quietly.
//!
//! Two tiers (ARCHITECTURE.md "The access audit" says why):
//! 1. **Local chain** (`storage::AuditLog`): each node numbers and hash-chains its own records and writes them
//!    through the node's group-committed WAL fsync before replying. A request whose record cannot be written is
//!    refused (`UNAVAILABLE`), never served untraced.
//! 2. **Audit group** (`shipper`): every [`limits::AUDIT_SHIP_INTERVAL`] a node seals what it recorded into a
//!    segment with a checkpoint signed by its key and proposes it to the audit Raft group (`AUDIT_GROUP`), whose
//!    state machine accepts only a segment that continues the node's anchored chain and hashes to its checkpoint.
//!    Anchored records are on a quorum; the queries read them there.
//!
//! A node that cannot anchor its records for [`limits::AUDIT_UNANCHORED_AGE_MAX`], or whose chain conflicts with
//! the anchored one, fails closed: it refuses access until its records are anchored again.

pub mod shipper;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dancu_proto::v1 as pb;

use crate::limits::AUDIT_UNANCHORED_AGE_MAX;
use crate::service::errors::ApiError;
use crate::storage::AuditLog;

/// Shipping's state, as `Status` and the fail-closed rule read it.
#[derive(Debug, Default)]
struct ShipState {
    /// Why the last attempt failed.
    error: Option<String>,
    /// The shipper found this node's chain in conflict with the anchored one: only an operator can resolve it.
    conflict: Option<String>,
    /// Since when recorded records have waited to be anchored (`None`: nothing waits).
    waiting_since: Option<Instant>,
}

/// The node's audit: its local chain and the state of shipping it. Disabled (no log) only in an insecure-plaintext
/// cluster whose configuration says `audit.enabled = false`.
pub struct Auditor {
    log: Option<Arc<AuditLog>>,
    state: Mutex<ShipState>,
    /// Asks the shipper to ship now.
    flush: tokio::sync::Notify,
    /// The last seq anchored, for flush waiters.
    anchored: tokio::sync::watch::Sender<u64>,
    closed: AtomicBool,
}

impl Auditor {
    pub fn new(log: Option<Arc<AuditLog>>) -> Arc<Auditor> {
        let anchored = log.as_ref().and_then(|log| log.chain()).map_or(0, |chain| chain.shipped_seq);
        Arc::new(Auditor {
            log,
            state: Mutex::default(),
            flush: tokio::sync::Notify::new(),
            anchored: tokio::sync::watch::Sender::new(anchored),
            closed: AtomicBool::new(false),
        })
    }

    pub fn enabled(&self) -> bool {
        self.log.is_some()
    }

    pub fn log(&self) -> Option<&Arc<AuditLog>> {
        self.log.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ShipState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why access must be refused now, if it must.
    fn refusal(&self) -> Option<String> {
        let state = self.lock();
        if let Some(conflict) = &state.conflict {
            return Some(format!("this node's audit chain conflicts with the anchored one: {conflict}"));
        }
        let waited = state.waiting_since.map(|since| since.elapsed())?;
        (waited > AUDIT_UNANCHORED_AGE_MAX).then(|| {
            format!(
                "records unanchored for {} ms (the audit group is unreachable or has no leader){}",
                waited.as_millis(),
                state.error.as_ref().map(|error| format!(": {error}")).unwrap_or_default()
            )
        })
    }

    /// Records one access durably (fsync'd, group commit) or says why it could not.
    pub async fn record(&self, record: pb::AuditRecord) -> Result<(), ApiError> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        if let Some(reason) = self.refusal() {
            self.closed.store(true, Ordering::Relaxed);
            return Err(ApiError::AuditUnavailable(reason));
        }
        self.closed.store(false, Ordering::Relaxed);
        log.append(vec![record]).await.map_err(|error| ApiError::AuditUnavailable(error.to_string()))?;
        let mut state = self.lock();
        state.waiting_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Ships what is recorded now and waits until it is anchored (or `wait` passes). Returns the anchored seq.
    pub async fn flush(&self, wait: std::time::Duration) -> Result<u64, ApiError> {
        let Some(log) = &self.log else {
            return Ok(0);
        };
        let target = log.chain().and_then(|chain| chain.head).map_or(0, |head| head.seq);
        let mut anchored = self.anchored.subscribe();
        self.flush.notify_one();
        let reached = tokio::time::timeout(wait, anchored.wait_for(|&seq| seq >= target)).await;
        match reached {
            Ok(Ok(seq)) => Ok(*seq),
            _ => Err(ApiError::AuditUnavailable(format!(
                "records through seq {target} not anchored within {} ms{}",
                wait.as_millis(),
                self.lock().error.as_ref().map(|error| format!(": {error}")).unwrap_or_default()
            ))),
        }
    }

    /// The audit part of `Status`.
    pub fn status(&self) -> pb::AuditStatus {
        let chain = self.log.as_ref().and_then(|log| log.chain()).unwrap_or_default();
        let local_seq = chain.head.map_or(0, |head| head.seq);
        let state = self.lock();
        pb::AuditStatus {
            group: None,
            local_seq,
            shipped_seq: chain.shipped_seq,
            unshipped: local_seq.saturating_sub(chain.shipped_seq),
            ship_error: state.conflict.clone().or_else(|| state.error.clone()).unwrap_or_default(),
            failing_closed: self.closed.load(Ordering::Relaxed) || state.conflict.is_some(),
        }
    }

    /// The audit group anchored the chain through `seq`; the local chain now ends at `local_head`.
    fn shipped(&self, seq: u64, local_head: u64) {
        let mut state = self.lock();
        state.error = None;
        state.waiting_since = (local_head > seq).then(Instant::now);
        drop(state);
        self.anchored.send_if_modified(|anchored| {
            let moved = seq > *anchored;
            *anchored = (*anchored).max(seq);
            moved
        });
    }

    fn ship_failed(&self, error: String) {
        tracing::warn!(%error, "audit shipping failed");
        self.lock().error = Some(error);
    }

    fn conflict(&self, reason: String) {
        tracing::error!(%reason, "audit chain conflicts with the anchored one: refusing access until resolved");
        self.lock().conflict = Some(reason);
    }
}
