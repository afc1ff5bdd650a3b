//! `dancu-lazyfs` against the real kernel: each test mounts the binary on a fresh temporary directory, writes through
//! the mount with ordinary file calls, crashes it, and checks what survived against the crash report.
//!
//! Every test runs only as root with a usable `/dev/fuse`; elsewhere it prints why and passes (`DANCU_REQUIRE_FUSE=1`
//! turns the skip into a failure, for machines where FUSE must work). Every mount is torn down by a guard even when
//! the test fails: its process is stopped by pid and the mountpoint detached.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dancu_jepsen::lazyfs::{read_records, CrashRecord, READY_LINE};

const LAZYFS_BIN: &str = env!("CARGO_BIN_EXE_dancu-lazyfs");

/// Mounting is a few milliseconds; this is for a loaded 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Time for a signalled `dancu-lazyfs` to unmount and exit, and for a crash to be recorded.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two checks of a condition.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Set to `1` where FUSE must work (a root CI machine): a test then fails instead of skipping.
const REQUIRE_FUSE_ENV: &str = "DANCU_REQUIRE_FUSE";

/// Whether FUSE can be mounted here; if not, says why on stderr (the test then passes without checking anything,
/// unless `DANCU_REQUIRE_FUSE=1`).
fn available(test: &str) -> bool {
    let why_not = if unsafe { libc::geteuid() } != 0 {
        Some("not running as root".to_string())
    } else {
        OpenOptions::new().read(true).write(true).open("/dev/fuse").err().map(|error| format!("/dev/fuse: {error}"))
    };
    match why_not {
        None => true,
        Some(why) if std::env::var(REQUIRE_FUSE_ENV).is_ok_and(|value| value == "1") => {
            panic!("{test}: {REQUIRE_FUSE_ENV}=1 but FUSE is not available: {why}")
        }
        Some(why) => {
            eprintln!("{test}: skipped, FUSE is not available ({why})");
            false
        }
    }
}

/// Checks `condition` every [`POLL_INTERVAL`] until it holds; panics with `what` at the deadline.
fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Whether `path` is a mountpoint now (per `/proc/self/mountinfo`).
fn is_mounted(path: &Path) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("reading /proc/self/mountinfo");
    let path = path.to_string_lossy();
    mountinfo.lines().any(|line| line.split(' ').nth(4) == Some(&*path))
}

/// A running `dancu-lazyfs` on a temporary directory. Dropping it stops the process (SIGTERM, then SIGKILL, by pid)
/// and detaches the mountpoint, also when a test panics.
struct Mount {
    child: Child,
    root: tempfile::TempDir,
    mountpoint: PathBuf,
    backing: PathBuf,
    control: PathBuf,
    report: PathBuf,
}

impl Mount {
    fn start() -> Mount {
        let root = tempfile::tempdir().expect("temporary directory");
        let (mountpoint, backing) = (root.path().join("mnt"), root.path().join("backing"));
        let (control, report) = (root.path().join("control.json"), root.path().join("mnt.lazyfs.jsonl"));
        let (child, stdout) = spawn_lazyfs(&backing, &mountpoint, &control, &root.path().join("lazyfs.log"));
        let mount = Mount { child, root, mountpoint, backing, control, report };
        mount.wait_ready(stdout);
        mount
    }

    /// Starts a new `dancu-lazyfs` on the same directories once the previous one is gone, as a node host restarts.
    fn restart(&mut self) {
        assert!(self.child.try_wait().unwrap().is_some(), "the previous dancu-lazyfs still runs");
        let log = self.root.path().join("lazyfs.log");
        let (child, stdout) = spawn_lazyfs(&self.backing, &self.mountpoint, &self.control, &log);
        self.child = child;
        self.wait_ready(stdout);
    }

    /// Waits for the ready line on stdout (read by a thread, so the wait has a deadline).
    fn wait_ready(&self, stdout: ChildStdout) {
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        match lines_rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => assert_eq!(line, READY_LINE, "first line of dancu-lazyfs; log: {}", self.log()),
            Err(error) => panic!("dancu-lazyfs not ready within {READY_TIMEOUT:?} ({error}); log: {}", self.log()),
        }
        assert!(is_mounted(&self.mountpoint), "ready but not mounted");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("lazyfs.log")).unwrap_or_default()
    }

    /// A path through the mount.
    fn path(&self, name: &str) -> PathBuf {
        self.mountpoint.join(name)
    }

    /// The same path in the backing directory (the durable state).
    fn backing_path(&self, name: &str) -> PathBuf {
        self.backing.join(name)
    }

    /// Crashes through the CLI (`dancu-lazyfs crash --control`), which waits for the record.
    fn crash(&self) -> CrashRecord {
        let output = Command::new(LAZYFS_BIN).arg("crash").arg("--control").arg(&self.control).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "crash failed: {}; log: {}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        let record: CrashRecord = serde_json::from_str(stdout.trim()).expect("crash prints its record");
        assert_eq!(read_records(&self.report).unwrap().last(), Some(&record), "the record is in the report");
        record
    }

    /// Crashes with a bare SIGUSR1 and polls the report for the new record.
    fn crash_by_signal(&self) -> CrashRecord {
        let n_before = read_records(&self.report).unwrap().len();
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGUSR1) }, 0, "kill -USR1");
        wait_for(EXIT_TIMEOUT, "the crash record", || read_records(&self.report).unwrap().len() > n_before);
        read_records(&self.report).unwrap().remove(n_before)
    }

    /// Stops the process with SIGTERM and waits for it to exit, unmounted.
    fn stop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        wait_for(EXIT_TIMEOUT, "dancu-lazyfs to exit", || self.child.try_wait().unwrap().is_some());
    }
}

/// Starts `dancu-lazyfs` with its stderr appended to `log`; returns it and its stdout.
fn spawn_lazyfs(backing: &Path, mountpoint: &Path, control: &Path, log: &Path) -> (Child, ChildStdout) {
    let log = OpenOptions::new().create(true).append(true).open(log).expect("log file");
    let mut child = Command::new(LAZYFS_BIN)
        .arg("--backing")
        .arg(backing)
        .arg("--mountpoint")
        .arg(mountpoint)
        .arg("--control")
        .arg(control)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawning dancu-lazyfs");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, stdout)
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + EXIT_TIMEOUT;
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(POLL_INTERVAL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if is_mounted(&self.mountpoint) {
            let _ = Command::new(LAZYFS_BIN).arg("unmount").arg("--mountpoint").arg(&self.mountpoint).output();
        }
    }
}

fn write_file(path: &Path, data: &[u8], sync: bool) {
    let mut file = File::create(path).unwrap();
    file.write_all(data).unwrap();
    if sync {
        file.sync_all().unwrap();
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

#[test]
fn synced_data_survives_a_crash() {
    if !available("synced_data_survives_a_crash") {
        return;
    }
    let mount = Mount::start();
    write_file(&mount.path("synced"), b"durable bytes", true);
    let record = mount.crash();
    assert_eq!((record.crash, record.files_with_lost_data, record.bytes_lost), (1, 0, 0), "{record:?}");
    assert_eq!(read(&mount.path("synced")), b"durable bytes");
    assert_eq!(read(&mount.backing_path("synced")), b"durable bytes");
}

#[test]
fn unsynced_data_is_lost_and_counted() {
    if !available("unsynced_data_is_lost_and_counted") {
        return;
    }
    let mount = Mount::start();
    write_file(&mount.path("a"), &[7; 1000], false);
    write_file(&mount.path("b"), &[8; 24], false);
    assert_eq!(std::fs::metadata(mount.backing_path("a")).unwrap().len(), 0, "closing is not syncing");
    let record = mount.crash();
    assert_eq!((record.files_with_lost_data, record.bytes_lost), (2, 1024), "{record:?}");
    assert_eq!(std::fs::metadata(mount.path("a")).unwrap().len(), 0, "size after the crash");
    assert!(read(&mount.path("a")).is_empty() && read(&mount.path("b")).is_empty());
    let second = mount.crash_by_signal();
    assert_eq!((second.crash, second.files_with_lost_data, second.bytes_lost), (2, 0, 0), "{second:?}");
}

#[test]
fn reads_see_unsynced_writes() {
    if !available("reads_see_unsynced_writes") {
        return;
    }
    let mount = Mount::start();
    write_file(&mount.path("f"), b"0123456789", true);
    let file = OpenOptions::new().read(true).write(true).open(mount.path("f")).unwrap();
    file.write_all_at(b"AB", 4).unwrap();
    file.write_all_at(b"tail", 14).unwrap();
    let expected = b"0123AB6789\0\0\0\0tail";
    assert_eq!(read(&mount.path("f")), expected, "read through another descriptor");
    assert_eq!(std::fs::metadata(mount.path("f")).unwrap().len(), 18, "size includes the unsynced extension");
    let mut window = [0; 6];
    file.read_exact_at(&mut window, 8).unwrap();
    assert_eq!(&window, b"89\0\0\0\0");
    assert_eq!(read(&mount.backing_path("f")), b"0123456789", "the backing file is untouched");
    let record = mount.crash();
    assert_eq!(record.bytes_lost, 6, "{record:?}");
    assert_eq!(read(&mount.path("f")), b"0123456789");
}

#[test]
fn rename_keeps_unsynced_data_attached() {
    if !available("rename_keeps_unsynced_data_attached") {
        return;
    }
    let mount = Mount::start();
    std::fs::create_dir(mount.path("dir")).unwrap();
    write_file(&mount.path("dir/CURRENT.tmp"), b"MANIFEST-000007\n", false);
    std::fs::rename(mount.path("dir/CURRENT.tmp"), mount.path("CURRENT")).unwrap();
    assert_eq!(read(&mount.path("CURRENT")), b"MANIFEST-000007\n");
    File::open(mount.path("CURRENT")).unwrap().sync_all().unwrap();
    write_file(&mount.path("lost.tmp"), b"never synced", false);
    std::fs::rename(mount.path("lost.tmp"), mount.path("lost")).unwrap();
    let record = mount.crash();
    assert_eq!((record.files_with_lost_data, record.bytes_lost), (1, 12), "{record:?}");
    assert_eq!(read(&mount.path("CURRENT")), b"MANIFEST-000007\n", "synced after the rename");
    assert!(read(&mount.path("lost")).is_empty(), "renamed but never synced");
    assert!(!mount.path("dir/CURRENT.tmp").exists() && !mount.path("lost.tmp").exists(), "renames are durable");
}

#[test]
fn unlink_and_rename_over_drop_unsynced_data() {
    if !available("unlink_and_rename_over_drop_unsynced_data") {
        return;
    }
    let mount = Mount::start();
    write_file(&mount.path("deleted"), &[1; 100], false);
    std::fs::remove_file(mount.path("deleted")).unwrap();
    write_file(&mount.path("replaced"), &[2; 50], false);
    write_file(&mount.path("new"), &[3; 10], false);
    std::fs::rename(mount.path("new"), mount.path("replaced")).unwrap();
    let record = mount.crash();
    assert_eq!((record.files_with_lost_data, record.bytes_lost), (1, 10), "only the survivor's bytes: {record:?}");
}

#[test]
fn rocksdb_like_append_keeps_only_the_synced_prefix() {
    if !available("rocksdb_like_append_keeps_only_the_synced_prefix") {
        return;
    }
    let mount = Mount::start();
    let synced: Vec<u8> = (0..4096u32).map(|idx| (idx % 251) as u8).collect();
    let mut wal = OpenOptions::new().create(true).append(true).open(mount.path("000012.log")).unwrap();
    wal.write_all(&synced).unwrap();
    wal.sync_data().unwrap();
    wal.write_all(&[0xAB; 300]).unwrap();
    wal.write_all(&[0xCD; 200]).unwrap();
    assert_eq!(std::fs::metadata(mount.path("000012.log")).unwrap().len(), 4596);
    // RocksDB holds its LOCK with fcntl(F_SETLK); the kernel handles it locally and it must just work.
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(mount.path("LOCK")).unwrap();
    assert_eq!(set_write_lock(&lock), 0, "fcntl lock: {}", std::io::Error::last_os_error());
    drop(wal);
    let record = mount.crash();
    assert_eq!((record.files_with_lost_data, record.bytes_lost), (1, 500), "{record:?}");
    assert_eq!(read(&mount.path("000012.log")), synced);
    let mut listing: Vec<String> = std::fs::read_dir(&mount.mountpoint)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    listing.sort();
    assert_eq!(listing, ["000012.log", "LOCK"]);
}

#[test]
fn truncate_is_durable_and_cuts_unsynced_data() {
    if !available("truncate_is_durable_and_cuts_unsynced_data") {
        return;
    }
    let mount = Mount::start();
    write_file(&mount.path("t"), b"0123456789", true);
    let file = OpenOptions::new().write(true).open(mount.path("t")).unwrap();
    file.write_all_at(b"abcdefgh", 6).unwrap();
    file.set_len(8).unwrap();
    assert_eq!(read(&mount.path("t")), b"012345ab");
    assert_eq!(read(&mount.backing_path("t")), b"01234567", "the truncate reached the backing file");
    let record = mount.crash();
    assert_eq!(record.bytes_lost, 2, "{record:?}");
    assert_eq!(read(&mount.path("t")), b"01234567");
}

#[test]
fn sigterm_unmounts_and_the_unmount_command_detaches_leftovers() {
    if !available("sigterm_unmounts_and_the_unmount_command_detaches_leftovers") {
        return;
    }
    let mut mount = Mount::start();
    write_file(&mount.path("x"), b"unsynced", false);
    mount.stop();
    assert!(!is_mounted(&mount.mountpoint), "SIGTERM unmounts");
    assert!(read(&mount.backing_path("x")).is_empty(), "a clean exit does not sync");

    let mut killed = Mount::start();
    unsafe { libc::kill(killed.child.id() as i32, libc::SIGKILL) };
    wait_for(EXIT_TIMEOUT, "the killed dancu-lazyfs to exit", || killed.child.try_wait().unwrap().is_some());
    assert!(is_mounted(&killed.mountpoint), "a killed dancu-lazyfs leaves its mount behind");
    let output = Command::new(LAZYFS_BIN).arg("unmount").arg("--mountpoint").arg(&killed.mountpoint).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!is_mounted(&killed.mountpoint), "unmount detaches it");
}

#[test]
fn a_restart_after_sigkill_replaces_the_dead_mount() {
    if !available("a_restart_after_sigkill_replaces_the_dead_mount") {
        return;
    }
    let mut mount = Mount::start();
    write_file(&mount.path("kept"), b"synced", true);
    write_file(&mount.path("gone"), b"unsynced", false);
    unsafe { libc::kill(mount.child.id() as i32, libc::SIGKILL) };
    wait_for(EXIT_TIMEOUT, "the killed dancu-lazyfs to exit", || mount.child.try_wait().unwrap().is_some());
    assert!(std::fs::metadata(mount.path("kept")).is_err(), "the dead mount fails every access");
    mount.restart();
    assert_eq!(read(&mount.path("kept")), b"synced");
    assert!(read(&mount.path("gone")).is_empty(), "killing dancu-lazyfs loses unsynced bytes too");
    let record = mount.crash();
    assert_eq!((record.crash, record.bytes_lost), (1, 0), "{record:?}");
}

/// `fcntl(F_SETLK)` of a whole-file write lock, as RocksDB's `LockFile` does; returns fcntl's result.
fn set_write_lock(file: &File) -> i32 {
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as i16;
    lock.l_whence = libc::SEEK_SET as i16;
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) }
}

/// Many small appends with a sync every few, as a WAL does, must stay fast (the dirty extents merge).
#[test]
fn many_small_appends_stay_fast() {
    if !available("many_small_appends_stay_fast") {
        return;
    }
    let mount = Mount::start();
    let mut wal = OpenOptions::new().create(true).append(true).open(mount.path("wal")).unwrap();
    let started = Instant::now();
    let record_bytes = [0x5A; 200];
    for idx in 0..5000 {
        wal.write_all(&record_bytes).unwrap();
        if idx % 10 == 9 {
            wal.sync_data().unwrap();
        }
    }
    let elapsed = started.elapsed();
    println!("5000 appends of 200 bytes with 500 syncs: {elapsed:?}");
    assert_eq!(std::fs::metadata(mount.path("wal")).unwrap().len(), 1_000_000);
    let mut all = Vec::new();
    File::open(mount.path("wal")).unwrap().read_to_end(&mut all).unwrap();
    assert!(all.iter().all(|byte| *byte == 0x5A));
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}
