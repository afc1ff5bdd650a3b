//! System calls on the backing directory. Every inode the kernel knows is held as an `O_PATH` descriptor and every
//! operation is relative to one (`*at` calls, `/proc/self/fd/N` reopens), never a path string: renaming a directory
//! leaves nothing stale behind, and an unlinked file that is still open stays reachable.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType, INodeNo};
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

/// Which backing inode a descriptor refers to; stable across renames, unique while a descriptor holds the inode.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Identity {
    /// `st_dev` of the backing file system.
    pub dev: u64,
    /// `st_ino` on it.
    pub ino: u64,
}

impl Identity {
    /// The identity in `stat`.
    pub fn of(stat: &FileStat) -> Identity {
        Identity { dev: stat.st_dev, ino: stat.st_ino }
    }
}

/// One entry of a directory listing, as `readdir` hands it to the kernel.
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// The backing inode number (the kernel only shows it, it never looks it up).
    pub ino: u64,
    /// File type.
    pub kind: FileType,
    /// Name inside the directory.
    pub name: OsString,
}

/// Opens the backing root directory as an `O_PATH` descriptor.
pub fn open_root(path: &Path) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
}

/// Opens `name` inside `dir` as an `O_PATH` descriptor, not following a final symlink.
pub fn open_child(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    openat(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
}

/// `fstat` of a descriptor (`O_PATH` ones included).
pub fn stat(fd: BorrowedFd<'_>) -> Result<FileStat, Errno> {
    fstat(fd)
}

/// `/proc/self/fd/N` for a descriptor: opening it reopens the very inode, whatever its name is now.
pub fn proc_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Opens the inode behind an `O_PATH` descriptor for I/O with `flags`.
pub fn reopen(fd: BorrowedFd<'_>, flags: OFlag) -> Result<File, Errno> {
    let opened = openat(AT_FDCWD, proc_path(fd).as_str(), flags | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(File::from(opened))
}

/// Reads the backing file from `offset` into `buf` until `buf` is full or the file ends; returns the bytes read.
pub fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(errno_of(&error)),
        }
    }
    Ok(filled)
}

/// Writes all of `data` to the backing file at `offset`.
pub fn write_all_at(file: &File, data: &[u8], offset: u64) -> Result<(), Errno> {
    file.write_all_at(data, offset).map_err(|error| errno_of(&error))
}

/// Lists a directory (including `.` and `..`) through its `O_PATH` descriptor.
pub fn list_dir(fd: BorrowedFd<'_>) -> Result<Vec<DirEntry>, Errno> {
    let mut dir =
        nix::dir::Dir::openat(fd, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut entries = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let kind = match entry.file_type() {
            Some(nix::dir::Type::Directory) => FileType::Directory,
            Some(nix::dir::Type::Symlink) => FileType::Symlink,
            Some(nix::dir::Type::Fifo) => FileType::NamedPipe,
            Some(nix::dir::Type::Socket) => FileType::Socket,
            Some(nix::dir::Type::CharacterDevice) => FileType::CharDevice,
            Some(nix::dir::Type::BlockDevice) => FileType::BlockDevice,
            Some(nix::dir::Type::File) | None => FileType::RegularFile,
        };
        let name = OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string();
        entries.push(DirEntry { ino: entry.ino(), kind, name });
    }
    Ok(entries)
}

/// The FUSE file type of a `st_mode`.
pub fn file_type(mode: u32) -> FileType {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => FileType::Directory,
        SFlag::S_IFLNK => FileType::Symlink,
        SFlag::S_IFIFO => FileType::NamedPipe,
        SFlag::S_IFSOCK => FileType::Socket,
        SFlag::S_IFCHR => FileType::CharDevice,
        SFlag::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

/// The attributes the kernel sees for inode `ino`: the backing `stat`, with the size as seen through the mount.
pub fn attr(ino: u64, stat: &FileStat, size: u64) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: stat.st_blocks as u64,
        atime: time(stat.st_atime, stat.st_atime_nsec),
        mtime: time(stat.st_mtime, stat.st_mtime_nsec),
        ctime: time(stat.st_ctime, stat.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind: file_type(stat.st_mode),
        perm: (stat.st_mode & 0o7777) as u16,
        nlink: stat.st_nlink as u32,
        uid: stat.st_uid,
        gid: stat.st_gid,
        rdev: stat.st_rdev as u32,
        blksize: stat.st_blksize as u32,
        flags: 0,
    }
}

/// A `stat` timestamp as a `SystemTime` (times before 1970 included).
fn time(secs: i64, nanos: i64) -> SystemTime {
    let nanos = Duration::from_nanos(nanos.clamp(0, 999_999_999) as u64);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos
    }
}

/// The errno inside an I/O error (`EIO` when it carries none).
pub fn errno_of(error: &std::io::Error) -> Errno {
    error.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}
