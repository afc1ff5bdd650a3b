//! `dancu-lazyfs`: a FUSE file system that loses unsynced writes, for the consistency suite's power-loss fault (the
//! idea of Jepsen's LazyFS).
//!
//! It mounts a passthrough view of a backing directory. A node's data directory is the mountpoint; the backing
//! directory is the durable state, what a disk would still hold after a power loss.
//!
//! # Semantics
//! - **File data** written through the mount stays in this process's memory, per file, until that file is
//!   `fsync`ed or `fdatasync`ed (or written through an `O_SYNC`/`O_DSYNC` handle). Closing a file does not persist
//!   it, as the page cache does not. Reads see unsynced bytes over the backing file (read your writes), and a file's
//!   size includes unsynced extensions.
//! - **Metadata** (create, mkdir, mknod, symlink, link, rename, unlink, rmdir, truncate via `setattr`, chmod, chown,
//!   utimes) goes straight to the backing directory and is durable at once. This is a simplification: a real power
//!   loss can also undo a create or a rename that was not followed by a directory `fsync`; here only data is lost.
//!   `fsync` of a directory therefore has nothing to do.
//! - A rename keeps the file's unsynced bytes attached (they belong to the backing inode, not to the name); the
//!   file's last unlink (or a rename over it) drops them, as they could never become durable.
//! - A **crash** (SIGUSR1, or `dancu-lazyfs crash --control FILE`, which sends it and waits for the record) drops
//!   every unsynced byte: afterwards the mount shows exactly the backing directory. Each crash appends one
//!   [`CrashRecord`] line to the report file. The process using the mount must be dead and reaped before the crash:
//!   a write still in flight from it could otherwise land after the crash.
//! - A sync writes the unsynced bytes to the backing file with `pwrite` but does not `fsync` the backing file: the
//!   crash simulated is this file system's own, and the backing file system's page cache survives it.
//! - SIGTERM, SIGINT or SIGHUP unmount (detaching if a file is still open) and exit **without** writing unsynced
//!   bytes anywhere. A `dancu-lazyfs` killed with SIGKILL leaves a dead mount behind:
//!   `dancu-lazyfs unmount --mountpoint DIR` detaches it (`umount2(MNT_DETACH)`).
//! - Files bypass the kernel page cache (`FOPEN_DIRECT_IO`), so the kernel never serves bytes a crash dropped;
//!   consequently shared writable `mmap` of files on the mount is not supported (RocksDB does not use it by
//!   default). `fallocate` answers ENOSYS (RocksDB treats preallocation as optional). POSIX and `flock` locks are
//!   handled by the kernel locally, so RocksDB's `LOCK` file works.
//!
//! # Memory
//! Unsynced bytes of one file are kept as disjoint extents; memory is bounded by the bytes written since the file's
//! last sync (overwrites count once), for all files together, plus up to as much again while an extent grows
//! (`Vec` doubling). There is no cap: a writer that never syncs grows this process. A sync or a crash frees them.
//!
//! Architecture Invariant: nothing here reads or writes the backing directory except through the operations the
//! kernel forwards (and a sync of unsynced bytes); a crash only forgets memory, it never touches the backing files.

mod backing;
mod control;
mod dirty;
mod fs;
mod fuse_ops;
mod inodes;
mod serve;

pub use control::{default_report_path, read_records, request_crash, ControlFile, CrashRecord};
pub use serve::{serve, unmount_detached, MountConfig, READY_LINE};

/// Running, driving or unmounting a `dancu-lazyfs` failed.
#[derive(Debug, thiserror::Error)]
pub enum LazyFsError {
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{context}: {source}")]
    Sys {
        /// What was being done.
        context: String,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// The control protocol failed: a malformed control file, or a crash that was not recorded in time.
    #[error("{0}")]
    Control(String),
}

impl LazyFsError {
    /// A `map_err` adapter for I/O errors.
    fn io(context: String) -> impl FnOnce(std::io::Error) -> LazyFsError {
        move |source| LazyFsError::Io { context, source }
    }

    fn sys(context: String, source: nix::errno::Errno) -> LazyFsError {
        LazyFsError::Sys { context, source }
    }
}
