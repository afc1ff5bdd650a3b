//! The file system's operations, free of FUSE's reply plumbing: each returns a value or an errno.
//!
//! Data writes land in the file's [`DirtyFile`]; reads merge it over the backing file; `fsync` writes it to the
//! backing file. Everything else goes straight to the backing directory.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use fuser::{FileAttr, FileType, TimeOrNow};
use nix::errno::Errno;
use nix::fcntl::{renameat2, OFlag, RenameFlags, AT_FDCWD};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::statvfs::{statvfs, Statvfs};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use super::backing::{self, DirEntry, Identity};
use super::dirty::DirtyFile;
use super::inodes::{lock, Inodes, Loss, Node};

/// An open regular file.
#[derive(Debug)]
struct OpenFile {
    /// The backing file, opened with the access mode the caller asked for.
    file: File,
    /// Whether `file` may be written (a sync through a read-only handle reopens the file for writing).
    writable: bool,
    /// `O_SYNC`/`O_DSYNC`: every write is synced at once.
    writes_sync: bool,
    node: Arc<Node>,
}

/// An open directory: its listing, taken when the kernel reads from offset 0.
#[derive(Debug)]
struct OpenDir {
    node: Arc<Node>,
    listing: Mutex<Arc<Vec<DirEntry>>>,
}

#[derive(Clone, Debug)]
enum Open {
    File(Arc<OpenFile>),
    Dir(Arc<OpenDir>),
}

/// Changes asked by one `setattr`.
#[derive(Debug, Default)]
pub struct AttrChanges {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (a truncate, durable at once).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<TimeOrNow>,
    /// New modification time.
    pub mtime: Option<TimeOrNow>,
}

/// The lazy file system over one backing directory.
#[derive(Debug)]
pub struct LazyFs {
    backing_root: PathBuf,
    inodes: Mutex<Inodes>,
    handles: Mutex<HashMap<u64, Open>>,
    next_fh: AtomicU64,
}

impl LazyFs {
    /// Serves `backing_root`, which must be a directory.
    pub fn new(backing_root: &Path) -> Result<LazyFs, Errno> {
        let root_fd = backing::open_root(backing_root)?;
        let root_stat = backing::stat(root_fd.as_fd())?;
        Ok(LazyFs {
            backing_root: backing_root.to_path_buf(),
            inodes: Mutex::new(Inodes::new(root_fd, &root_stat)),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
        })
    }

    /// Drops every unsynced byte of every file, as a power loss would.
    pub fn crash(&self) -> Loss {
        lock(&self.inodes).crash()
    }

    /// Finds `name` in directory `parent` (one more lookup the kernel will forget).
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let parent = self.node(parent)?;
        let fd = backing::open_child(parent.fd.as_fd(), name)?;
        self.remember(fd)
    }

    /// The kernel dropped `n_lookups` lookups of `ino`.
    pub fn forget(&self, ino: u64, n_lookups: u64) {
        lock(&self.inodes).forget(ino, n_lookups);
    }

    /// Attributes, with the size as seen through the mount.
    pub fn getattr(&self, ino: u64) -> Result<FileAttr, Errno> {
        let node = self.node(ino)?;
        attr_of(ino, &node)
    }

    /// Applies `changes` straight to the backing inode; `fh` is the handle a `ftruncate` came through.
    pub fn setattr(&self, ino: u64, fh: Option<u64>, changes: &AttrChanges) -> Result<FileAttr, Errno> {
        let node = self.node(ino)?;
        let path = backing::proc_path(node.fd.as_fd());
        if let Some(mode) = changes.mode {
            fchmodat(AT_FDCWD, path.as_str(), Mode::from_bits_truncate(mode), FchmodatFlags::FollowSymlink)?;
        }
        if changes.uid.is_some() || changes.gid.is_some() {
            let (uid, gid) = (changes.uid.map(Uid::from_raw), changes.gid.map(Gid::from_raw));
            fchownat(node.fd.as_fd(), "", uid, gid, nix::fcntl::AtFlags::AT_EMPTY_PATH)?;
        }
        if let Some(size) = changes.size {
            self.truncate(&node, fh, size)?;
        }
        if changes.atime.is_some() || changes.mtime.is_some() {
            let (atime, mtime) = (timespec(changes.atime), timespec(changes.mtime));
            utimensat(AT_FDCWD, path.as_str(), &atime, &mtime, UtimensatFlags::FollowSymlink)?;
        }
        attr_of(ino, &node)
    }

    /// Creates a directory.
    pub fn mkdir(&self, parent: u64, name: &OsStr, mode: u32) -> Result<FileAttr, Errno> {
        let parent = self.node(parent)?;
        mkdirat(parent.fd.as_fd(), name, Mode::from_bits_truncate(mode))?;
        self.remember(backing::open_child(parent.fd.as_fd(), name)?)
    }

    /// Creates a special file (or a regular one, for a kernel that does not use `create`).
    pub fn mknod(&self, parent: u64, name: &OsStr, mode: u32, rdev: u32) -> Result<FileAttr, Errno> {
        let parent = self.node(parent)?;
        let kind = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
        mknodat(parent.fd.as_fd(), name, kind, Mode::from_bits_truncate(mode), u64::from(rdev))?;
        self.remember(backing::open_child(parent.fd.as_fd(), name)?)
    }

    /// Creates a symbolic link `name` → `target`.
    pub fn symlink(&self, parent: u64, name: &OsStr, target: &Path) -> Result<FileAttr, Errno> {
        let parent = self.node(parent)?;
        symlinkat(target, parent.fd.as_fd(), name)?;
        self.remember(backing::open_child(parent.fd.as_fd(), name)?)
    }

    /// The target of a symbolic link.
    pub fn readlink(&self, ino: u64) -> Result<OsString, Errno> {
        let node = self.node(ino)?;
        nix::fcntl::readlinkat(node.fd.as_fd(), "")
    }

    /// Adds a hard link; both names share the inode's unsynced bytes.
    pub fn link(&self, ino: u64, new_parent: u64, new_name: &OsStr) -> Result<FileAttr, Errno> {
        let node = self.node(ino)?;
        let new_parent = self.node(new_parent)?;
        let path = backing::proc_path(node.fd.as_fd());
        linkat(AT_FDCWD, path.as_str(), new_parent.fd.as_fd(), new_name, nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW)?;
        self.remember(backing::open_child(new_parent.fd.as_fd(), new_name)?)
    }

    /// Removes a name; with the file's last name go its unsynced bytes.
    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<(), Errno> {
        let parent = self.node(parent)?;
        let stat = fstatat(parent.fd.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)?;
        unlinkat(parent.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir)?;
        if stat.st_nlink <= 1 {
            lock(&self.inodes).unlinked(Identity::of(&stat));
        }
        Ok(())
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<(), Errno> {
        let parent = self.node(parent)?;
        unlinkat(parent.fd.as_fd(), name, UnlinkatFlags::RemoveDir)
    }

    /// Renames; the moved file keeps its unsynced bytes, a file replaced by the rename loses them.
    pub fn rename(&self, from: (u64, &OsStr), to: (u64, &OsStr), flags: u32) -> Result<(), Errno> {
        let (from_dir, to_dir) = (self.node(from.0)?, self.node(to.0)?);
        let flags = RenameFlags::from_bits(flags).ok_or(Errno::EINVAL)?;
        let no_follow = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
        let moved = fstatat(from_dir.fd.as_fd(), from.1, no_follow)?;
        let replaced = fstatat(to_dir.fd.as_fd(), to.1, no_follow).ok();
        renameat2(from_dir.fd.as_fd(), from.1, to_dir.fd.as_fd(), to.1, flags)?;
        let Some(replaced) = replaced else { return Ok(()) };
        let is_other_file = Identity::of(&replaced) != Identity::of(&moved);
        if is_other_file && !flags.contains(RenameFlags::RENAME_EXCHANGE) && replaced.st_nlink <= 1 {
            lock(&self.inodes).unlinked(Identity::of(&replaced));
        }
        Ok(())
    }

    /// Opens a regular file; returns the handle.
    pub fn open(&self, ino: u64, flags: i32) -> Result<u64, Errno> {
        let node = self.node(ino)?;
        let (access, writable) = access_flags(flags);
        let file = backing::reopen(node.fd.as_fd(), access)?;
        Ok(self.add_handle(Open::File(Arc::new(OpenFile { file, writable, writes_sync: writes_sync(flags), node }))))
    }

    /// Creates (or, without `O_EXCL`, opens) a regular file; returns its attributes and the handle.
    pub fn create(&self, parent: u64, name: &OsStr, mode: u32, flags: i32) -> Result<(FileAttr, u64), Errno> {
        let parent = self.node(parent)?;
        let (access, writable) = access_flags(flags);
        let how = access | OFlag::O_CREAT | (OFlag::from_bits_truncate(flags) & (OFlag::O_EXCL | OFlag::O_TRUNC));
        let file = File::from(nix::fcntl::openat(
            parent.fd.as_fd(),
            name,
            how | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )?);
        // The `O_PATH` descriptor comes from the opened file, so it is the same inode even if a rename raced.
        let path_fd = backing::reopen(file.as_fd(), OFlag::O_PATH)?;
        let attr = self.remember(OwnedFd::from(path_fd))?;
        let node = self.node(attr.ino.0)?;
        if how.contains(OFlag::O_TRUNC) {
            lock(&node.dirty).truncate(0);
        }
        let handle = OpenFile { file, writable, writes_sync: writes_sync(flags), node };
        Ok((attr, self.add_handle(Open::File(Arc::new(handle)))))
    }

    /// Reads through the mount: the backing bytes with the unsynced ones over them.
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let handle = self.file_handle(fh)?;
        let dirty = lock(&handle.node.dirty);
        let mut buf = vec![0; size as usize];
        let n_backing = backing::read_full_at(&handle.file, &mut buf, offset)?;
        // Between the backing file's end and the last unsynced byte the file reads as zeros (a hole).
        let n_dirty = dirty.end().map_or(0, |end| end.saturating_sub(offset).min(u64::from(size)) as usize);
        buf.truncate(n_backing.max(n_dirty));
        dirty.overlay(offset, &mut buf);
        Ok(buf)
    }

    /// Keeps written bytes in memory until the file is synced (at once for an `O_SYNC`/`O_DSYNC` handle).
    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let handle = self.file_handle(fh)?;
        let written = u32::try_from(data.len()).map_err(|_| Errno::EINVAL)?;
        offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        let mut dirty = lock(&handle.node.dirty);
        dirty.write(offset, data);
        if handle.writes_sync {
            sync(&handle, &mut dirty)?;
        }
        Ok(written)
    }

    /// `fsync`/`fdatasync`: makes the file's unsynced bytes durable (writes them to the backing file).
    pub fn fsync(&self, fh: u64) -> Result<(), Errno> {
        let handle = self.file_handle(fh)?;
        let mut dirty = lock(&handle.node.dirty);
        sync(&handle, &mut dirty)
    }

    /// Forgets a file or directory handle (closing is not syncing: unsynced bytes stay unsynced).
    pub fn release(&self, fh: u64) {
        lock(&self.handles).remove(&fh);
    }

    /// Opens a directory; returns the handle.
    pub fn opendir(&self, ino: u64) -> Result<u64, Errno> {
        let node = self.node(ino)?;
        if node.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.add_handle(Open::Dir(Arc::new(OpenDir { node, listing: Mutex::new(Arc::new(Vec::new())) }))))
    }

    /// The directory's entries from index `offset` on; offset 0 lists the directory afresh.
    pub fn readdir(&self, fh: u64, offset: u64) -> Result<Arc<Vec<DirEntry>>, Errno> {
        let Some(Open::Dir(dir)) = lock(&self.handles).get(&fh).cloned() else {
            return Err(Errno::EBADF);
        };
        let mut listing = lock(&dir.listing);
        if offset == 0 {
            *listing = Arc::new(backing::list_dir(dir.node.fd.as_fd())?);
        }
        Ok(listing.clone())
    }

    /// Space and inode counts of the backing file system.
    pub fn statfs(&self) -> Result<Statvfs, Errno> {
        statvfs(&self.backing_root)
    }

    fn node(&self, ino: u64) -> Result<Arc<Node>, Errno> {
        lock(&self.inodes).get(ino).ok_or(Errno::ENOENT)
    }

    fn file_handle(&self, fh: u64) -> Result<Arc<OpenFile>, Errno> {
        match lock(&self.handles).get(&fh) {
            Some(Open::File(file)) => Ok(file.clone()),
            _ => Err(Errno::EBADF),
        }
    }

    fn add_handle(&self, open: Open) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(fh, open);
        fh
    }

    /// Counts a lookup of the inode behind `fd` (an `O_PATH` descriptor) and returns its attributes.
    fn remember(&self, fd: OwnedFd) -> Result<FileAttr, Errno> {
        let stat = backing::stat(fd.as_fd())?;
        let (ino, node) = lock(&self.inodes).remember(fd, &stat);
        Ok(backing::attr(ino, &stat, size_of(&node, &stat)))
    }

    /// Truncation is metadata: durable at once, and it cuts the unsynced bytes beyond the new size.
    fn truncate(&self, node: &Node, fh: Option<u64>, size: u64) -> Result<(), Errno> {
        let handle = fh.and_then(|fh| self.file_handle(fh).ok()).filter(|handle| handle.writable);
        let reopened;
        let file = match &handle {
            Some(handle) => &handle.file,
            None => {
                reopened = backing::reopen(node.fd.as_fd(), OFlag::O_WRONLY)?;
                &reopened
            }
        };
        let mut dirty = lock(&node.dirty);
        file.set_len(size).map_err(|error| backing::errno_of(&error))?;
        dirty.truncate(size);
        Ok(())
    }
}

/// Writes the unsynced bytes to the backing file and forgets them. The backing file is not `fsync`ed itself: the
/// crash this file system simulates is its own, and the backing page cache survives it.
fn sync(handle: &OpenFile, dirty: &mut DirtyFile) -> Result<(), Errno> {
    if dirty.is_empty() {
        return Ok(());
    }
    let reopened;
    let file = if handle.writable {
        &handle.file
    } else {
        reopened = backing::reopen(handle.node.fd.as_fd(), OFlag::O_WRONLY)?;
        &reopened
    };
    for (offset, data) in dirty.extents() {
        backing::write_all_at(file, data, offset)?;
    }
    dirty.clear();
    Ok(())
}

/// The attributes of a known inode.
fn attr_of(ino: u64, node: &Node) -> Result<FileAttr, Errno> {
    let stat = backing::stat(node.fd.as_fd())?;
    Ok(backing::attr(ino, &stat, size_of(node, &stat)))
}

/// The size as seen through the mount: unsynced bytes may extend the backing file.
fn size_of(node: &Node, stat: &nix::sys::stat::FileStat) -> u64 {
    let backing_size = stat.st_size.max(0) as u64;
    if node.kind != FileType::RegularFile {
        return backing_size;
    }
    lock(&node.dirty).end().map_or(backing_size, |end| end.max(backing_size))
}

/// The backing access mode for open flags, and whether it allows writing. `O_APPEND` is not passed on: the kernel
/// already chose each write's offset, and bytes reach the backing file only at sync, by offset.
fn access_flags(flags: i32) -> (OFlag, bool) {
    match flags & libc::O_ACCMODE {
        libc::O_WRONLY => (OFlag::O_WRONLY, true),
        libc::O_RDWR => (OFlag::O_RDWR, true),
        _ => (OFlag::O_RDONLY, false),
    }
}

/// Whether a handle's writes must be durable at once (`O_SYNC` includes the `O_DSYNC` bit on Linux).
fn writes_sync(flags: i32) -> bool {
    flags & libc::O_DSYNC != 0
}

/// A `setattr` time for `utimensat` (absent: leave it as it is).
fn timespec(time: Option<TimeOrNow>) -> TimeSpec {
    match time {
        None => TimeSpec::UTIME_OMIT,
        Some(TimeOrNow::Now) => TimeSpec::UTIME_NOW,
        Some(TimeOrNow::SpecificTime(time)) => match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => TimeSpec::new(since.as_secs() as i64, i64::from(since.subsec_nanos())),
            Err(before) => TimeSpec::new(-(before.duration().as_secs() as i64), 0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::inodes::ROOT_INO;
    use super::*;

    #[test]
    fn access_modes() {
        assert_eq!(access_flags(libc::O_RDONLY), (OFlag::O_RDONLY, false));
        assert_eq!(access_flags(libc::O_WRONLY | libc::O_APPEND), (OFlag::O_WRONLY, true));
        assert_eq!(access_flags(libc::O_RDWR | libc::O_CREAT), (OFlag::O_RDWR, true));
        assert!(writes_sync(libc::O_SYNC) && writes_sync(libc::O_DSYNC) && !writes_sync(libc::O_RDWR));
    }

    const CREATE: i32 = libc::O_RDWR | libc::O_CREAT;

    fn create(fs: &LazyFs, name: &str) -> (u64, u64) {
        let (attr, fh) = fs.create(ROOT_INO, OsStr::new(name), 0o644, CREATE).unwrap();
        (attr.ino.0, fh)
    }

    #[test]
    fn unsynced_bytes_are_read_back_and_lost_at_a_crash_unless_synced() {
        let dir = tempfile::tempdir().unwrap();
        let fs = LazyFs::new(dir.path()).unwrap();
        let (ino, fh) = create(&fs, "a");
        fs.write(fh, 0, b"hello").unwrap();
        assert_eq!(fs.read(fh, 0, 100).unwrap(), b"hello");
        assert_eq!(fs.getattr(ino).unwrap().size, 5);
        fs.fsync(fh).unwrap();
        fs.write(fh, 5, b" world").unwrap();
        let loss = fs.crash();
        assert_eq!((loss.n_files, loss.bytes, loss.inos), (1, 6, vec![ino]));
        assert_eq!(fs.read(fh, 0, 100).unwrap(), b"hello");
        assert_eq!(fs.getattr(ino).unwrap().size, 5);
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"hello");
    }

    #[test]
    fn bytes_follow_the_inode_through_rename_and_forget_and_go_with_its_last_name() {
        let dir = tempfile::tempdir().unwrap();
        let fs = LazyFs::new(dir.path()).unwrap();
        let (_, renamed) = create(&fs, "a");
        fs.write(renamed, 0, b"abc").unwrap();
        fs.rename((ROOT_INO, OsStr::new("a")), (ROOT_INO, OsStr::new("b")), 0).unwrap();
        assert_eq!(fs.read(renamed, 0, 10).unwrap(), b"abc");
        let (forgotten_ino, forgotten) = create(&fs, "c");
        fs.write(forgotten, 0, b"de").unwrap();
        fs.release(forgotten);
        fs.forget(forgotten_ino, 1);
        let (_, unlinked) = create(&fs, "d");
        fs.write(unlinked, 0, b"fghi").unwrap();
        fs.unlink(ROOT_INO, OsStr::new("d")).unwrap();
        let loss = fs.crash();
        assert_eq!((loss.n_files, loss.bytes), (2, 5), "b and the forgotten c, not the unlinked d");
    }

    #[test]
    fn root_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let fs = LazyFs::new(dir.path()).unwrap();
        assert_eq!(fs.getattr(ROOT_INO).unwrap().kind, FileType::Directory);
        assert_eq!(fs.lookup(ROOT_INO, OsStr::new("missing")).unwrap_err(), Errno::ENOENT);
    }
}
