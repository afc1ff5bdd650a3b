//! The inodes the kernel knows (FUSE inode number → backing `O_PATH` descriptor) and the unsynced bytes of every
//! backing file.
//!
//! Unsynced bytes belong to the backing inode ([`Identity`]), not to a name or a FUSE inode number: a rename keeps
//! them attached, and a file the kernel forgot (no open handle, dentry evicted) keeps them until a sync or a crash.
//! They go away with the file's last name (unlink or rename over it).
//!
//! Lock order: the table's mutex before any [`DirtyFile`] mutex, never the reverse.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fuser::FileType;
use nix::sys::stat::FileStat;

use super::backing::{file_type, Identity};
use super::dirty::DirtyFile;

/// FUSE's number for the root of the mount.
pub const ROOT_INO: u64 = 1;

/// Locks `mutex`, carrying on after a panic elsewhere: every update under these locks leaves consistent state.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One inode the kernel knows.
#[derive(Debug)]
pub struct Node {
    /// `O_PATH` descriptor of the backing inode.
    pub fd: OwnedFd,
    /// The backing inode.
    pub identity: Identity,
    /// Its type (never changes for an inode).
    pub kind: FileType,
    /// Its unsynced bytes, shared with [`Inodes`]' per-identity map so a crash reaches them.
    pub dirty: Arc<Mutex<DirtyFile>>,
}

/// A node and how many lookups of it the kernel has not forgotten yet.
#[derive(Debug)]
struct Known {
    node: Arc<Node>,
    n_lookups: u64,
}

/// What a crash dropped.
#[derive(Debug, Default)]
pub struct Loss {
    /// Files that had unsynced bytes.
    pub n_files: u64,
    /// Unsynced bytes dropped.
    pub bytes: u64,
    /// FUSE inode numbers of those files the kernel knows (their cached attributes are stale now).
    pub inos: Vec<u64>,
}

/// The inode table.
#[derive(Debug)]
pub struct Inodes {
    by_ino: HashMap<u64, Known>,
    by_identity: HashMap<Identity, u64>,
    /// Unsynced bytes per backing inode. An entry lives while a node uses it or while it holds bytes.
    dirty: HashMap<Identity, Arc<Mutex<DirtyFile>>>,
    next_ino: u64,
}

impl Inodes {
    /// A table that knows the root, `root_fd` (an `O_PATH` descriptor of the backing directory).
    pub fn new(root_fd: OwnedFd, root_stat: &FileStat) -> Inodes {
        let mut inodes =
            Inodes { by_ino: HashMap::new(), by_identity: HashMap::new(), dirty: HashMap::new(), next_ino: ROOT_INO };
        let (ino, _) = inodes.remember(root_fd, root_stat);
        assert_eq!(ino, ROOT_INO, "the root must be the first inode");
        inodes
    }

    /// The node behind `ino`, if the kernel still knows it.
    pub fn get(&self, ino: u64) -> Option<Arc<Node>> {
        self.by_ino.get(&ino).map(|known| known.node.clone())
    }

    /// Counts one lookup of the backing inode behind `fd` and returns its FUSE number and node. A backing inode
    /// already known keeps its number (and `fd` is closed).
    pub fn remember(&mut self, fd: OwnedFd, stat: &FileStat) -> (u64, Arc<Node>) {
        let identity = Identity::of(stat);
        if let Some(&ino) = self.by_identity.get(&identity) {
            if let Some(known) = self.by_ino.get_mut(&ino) {
                known.n_lookups += 1;
                return (ino, known.node.clone());
            }
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let dirty = self.dirty.entry(identity).or_default().clone();
        let node = Arc::new(Node { fd, identity, kind: file_type(stat.st_mode), dirty });
        self.by_ino.insert(ino, Known { node: node.clone(), n_lookups: 1 });
        self.by_identity.insert(identity, ino);
        (ino, node)
    }

    /// The kernel dropped `n` lookups of `ino`; at zero the node goes (its unsynced bytes stay, per identity).
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT_INO {
            return;
        }
        let Some(known) = self.by_ino.get_mut(&ino) else { return };
        known.n_lookups = known.n_lookups.saturating_sub(n);
        if known.n_lookups > 0 {
            return;
        }
        let Some(known) = self.by_ino.remove(&ino) else { return };
        let identity = known.node.identity;
        if self.by_identity.get(&identity) == Some(&ino) {
            self.by_identity.remove(&identity);
        }
        let unused = self.dirty.get(&identity).is_some_and(|dirty| Arc::ptr_eq(dirty, &known.node.dirty))
            && lock(&known.node.dirty).is_empty();
        if unused {
            self.dirty.remove(&identity);
        }
    }

    /// The last name of `identity` is gone: its unsynced bytes can never become durable, so a crash no longer
    /// counts them. Handles still open on it keep reading and writing their (now private) bytes.
    pub fn unlinked(&mut self, identity: Identity) {
        self.dirty.remove(&identity);
    }

    /// Drops every unsynced byte, as a power loss would.
    pub fn crash(&mut self) -> Loss {
        let mut loss = Loss::default();
        for (identity, dirty) in &self.dirty {
            let mut dirty = lock(dirty);
            if dirty.is_empty() {
                continue;
            }
            loss.n_files += 1;
            loss.bytes += dirty.clear();
            loss.inos.extend(self.by_identity.get(identity));
        }
        let by_identity = &self.by_identity;
        self.dirty.retain(|identity, _| by_identity.contains_key(identity));
        loss
    }
}
