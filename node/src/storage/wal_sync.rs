//! Group commit: one WAL fsync completes every write that was waiting for durability.
//!
//! Writers put their WriteBatch into RocksDB without syncing, then queue a waiter here. The syncer
//! thread takes every queued waiter (up to a bound), fsyncs the WAL once, and completes them all.
//! All column families share the one WAL, so appends from many Raft groups merge into one fsync.

use std::io;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;

use rocksdb::DB;

use crate::limits::{GROUP_COMMIT_WAITERS_MAX, SYNC_QUEUE_DEPTH};
use crate::storage::storage_error;

type Waiter = Box<dyn FnOnce(io::Result<()>) + Send>;

/// Whether acknowledged writes are fsync'd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    #[default]
    Fsync,
    /// TEST ONLY (`dancu-node --unsafe-skip-fsync`): the WAL reaches the OS but is never fsync'd, so a power loss
    /// loses acknowledged writes. The consistency suite's `skip-fsync` self-test must catch it.
    UnsafeSkipFsync,
}

pub struct WalSyncer {
    db: Arc<DB>,
    durability: Durability,
    /// `None` only while dropping.
    queue: Option<SyncSender<Waiter>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WalSyncer {
    pub fn start(db: Arc<DB>, durability: Durability) -> io::Result<WalSyncer> {
        let (queue, waiters) = sync_channel::<Waiter>(SYNC_QUEUE_DEPTH);
        let thread_db = db.clone();
        let thread =
            std::thread::Builder::new().name("wal-sync".into()).spawn(move || run(thread_db, durability, waiters))?;
        Ok(WalSyncer { db, durability, queue: Some(queue), thread: Some(thread) })
    }

    /// Calls `done` once everything written before this call is durable.
    pub fn on_durable(&self, done: impl FnOnce(io::Result<()>) + Send + 'static) {
        let Some(queue) = &self.queue else {
            return done(sync_wal(&self.db, self.durability));
        };
        match queue.try_send(Box::new(done)) {
            Ok(()) => {}
            // Backpressure: a full queue means the disk is behind; sync inline rather than buffer more.
            Err(TrySendError::Full(done)) | Err(TrySendError::Disconnected(done)) => {
                done(sync_wal(&self.db, self.durability))
            }
        }
    }

    pub async fn sync(&self) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.on_durable(move |result| {
            let _ = tx.send(result);
        });
        rx.await.map_err(|_| io::Error::other("WAL syncer stopped"))?
    }
}

/// Closing the queue ends the thread; joining it releases its handle on the DB, so RocksDB is closed
/// before the process exits (RocksDB aborts when its static state is torn down under an open DB).
impl Drop for WalSyncer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sync_wal(db: &DB, durability: Durability) -> io::Result<()> {
    #[cfg(feature = "failpoints")]
    {
        crate::failpoints::note_reached("wal_sync");
        fail::fail_point!("wal_sync", |_| Err(io::Error::other("failpoint wal_sync")));
    }
    db.flush_wal(durability == Durability::Fsync).map_err(storage_error)
}

fn run(db: Arc<DB>, durability: Durability, waiters: Receiver<Waiter>) {
    let mut group: Vec<Waiter> = Vec::with_capacity(GROUP_COMMIT_WAITERS_MAX);
    while let Ok(first) = waiters.recv() {
        group.push(first);
        while group.len() < GROUP_COMMIT_WAITERS_MAX {
            match waiters.try_recv() {
                Ok(waiter) => group.push(waiter),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        let result = sync_wal(&db, durability);
        for waiter in group.drain(..) {
            let each = match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
            };
            waiter(each);
        }
    }
}
