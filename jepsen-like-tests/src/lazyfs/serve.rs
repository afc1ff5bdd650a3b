//! Mounting, serving until told to stop, crashing on SIGUSR1, and unmounting.
//!
//! Signals are taken synchronously: they are blocked in every thread (FUSE workers inherit the mask) and the main
//! thread waits for them with `sigwait`, so a crash runs in ordinary code, not in a signal handler.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fuser::{INodeNo, MountOption, Notifier, Session, SessionACL};
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::statfs::{statfs, FUSE_SUPER_MAGIC};
use nix::unistd::Pid;

use super::control::{append_record, read_records, unix_ms_now, ControlFile, CrashRecord};
use super::fs::LazyFs;
use super::fuse_ops::FuseOps;
use super::LazyFsError;

/// What is printed on stdout (one line) once the mount serves requests.
pub const READY_LINE: &str = "mounted";

/// How long an exit waits for the FUSE threads after unmounting (open files keep a lazily detached mount alive).
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Pause between two checks of the FUSE session while waiting for it to end.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How one `dancu-lazyfs` serves.
#[derive(Clone, Debug)]
pub struct MountConfig {
    /// Directory holding the durable state; created if missing.
    pub backing: PathBuf,
    /// Where the file system is mounted; created if missing.
    pub mountpoint: PathBuf,
    /// Where to write the [`ControlFile`] once mounted, if anywhere.
    pub control: Option<PathBuf>,
    /// File each crash appends its [`CrashRecord`] to.
    pub report: PathBuf,
    /// FUSE worker threads.
    pub n_threads: usize,
}

/// Mounts, prints [`READY_LINE`], crashes on every SIGUSR1, and on SIGTERM, SIGINT or SIGHUP (or when the mount
/// is removed from outside) unmounts and returns. Unsynced bytes are not written anywhere on exit: they are lost, as
/// at a crash.
pub fn serve(config: &MountConfig) -> Result<(), LazyFsError> {
    let signals = block_signals()?;
    raise_open_files_limit();
    detach_dead_mount(&config.mountpoint)?;
    for dir in [&config.backing, &config.mountpoint] {
        std::fs::create_dir_all(dir).map_err(LazyFsError::io(format!("creating {}", dir.display())))?;
    }
    let fs = Arc::new(
        LazyFs::new(&config.backing)
            .map_err(|errno| LazyFsError::sys(format!("opening {}", config.backing.display()), errno))?,
    );
    let mut session = Session::new(FuseOps(fs.clone()), &config.mountpoint, &session_config(config.n_threads))
        .map_err(LazyFsError::io(format!("mounting on {}", config.mountpoint.display())))?;
    let unmounter = session.unmount_callable();
    let notifier = session.notifier();
    let runner = spawn_session(session)?;
    // Unmount on every way out, failures included: a mount left behind would fail every access with ENOTCONN.
    let outcome = announce(config).and_then(|()| run_until_stopped(&signals, &fs, &notifier, &config.report));
    unmount(unmounter, &config.mountpoint);
    wait_for_session(runner);
    outcome
}

/// Checks that the mount serves, writes the control file, then prints [`READY_LINE`].
fn announce(config: &MountConfig) -> Result<(), LazyFsError> {
    check_serving(&config.mountpoint)?;
    if let Some(control) = &config.control {
        control_file(config)?.write(control)?;
    }
    let mut stdout = std::io::stdout();
    // A harness that stopped reading stdout must not make this fail: readiness is also in the control file.
    let _ = writeln!(stdout, "{READY_LINE}").and_then(|()| stdout.flush());
    Ok(())
}

/// Detaches the mount at `mountpoint` (`umount2(MNT_DETACH)`), for leftovers of a killed `dancu-lazyfs`.
/// Returns whether something was mounted there.
pub fn unmount_detached(mountpoint: &Path) -> Result<bool, LazyFsError> {
    match umount2(mountpoint, MntFlags::MNT_DETACH) {
        Ok(()) => Ok(true),
        Err(Errno::EINVAL) => Ok(false),
        Err(errno) => Err(LazyFsError::sys(format!("unmounting {}", mountpoint.display()), errno)),
    }
}

/// A `dancu-lazyfs` killed with SIGKILL leaves a mount whose every access fails with ENOTCONN; a restart on the
/// same mountpoint detaches it first instead of failing.
fn detach_dead_mount(mountpoint: &Path) -> Result<(), LazyFsError> {
    match std::fs::metadata(mountpoint) {
        Err(error) if error.raw_os_error() == Some(libc::ENOTCONN) => unmount_detached(mountpoint).map(|_| ()),
        _ => Ok(()),
    }
}

fn session_config(n_threads: usize) -> fuser::Config {
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName("dancu-lazyfs".to_string()),
        MountOption::Subtype("dancu-lazyfs".to_string()),
        // The kernel checks permissions from the attributes, as on a local file system.
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
    ];
    // Any user may use it (a node need not run as the user who mounted).
    config.acl = SessionACL::All;
    config.n_threads = Some(n_threads.max(1));
    config.clone_fd = true;
    config
}

fn block_signals() -> Result<SigSet, LazyFsError> {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGUSR1, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(signal);
    }
    signals.thread_block().map_err(|errno| LazyFsError::sys("blocking signals".to_string(), errno))?;
    Ok(signals)
}

/// Every inode the kernel knows holds a descriptor, so a big RocksDB directory needs more than the usual 1024.
fn raise_open_files_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn spawn_session(session: Session<FuseOps>) -> Result<JoinHandle<()>, LazyFsError> {
    std::thread::Builder::new()
        .name("lazyfs-session".to_string())
        .spawn(move || {
            if let Err(error) = session.run() {
                let _ = writeln!(std::io::stderr(), "dancu-lazyfs: FUSE session ended: {error}");
            }
            // Wake the main thread: the mount is gone (unmounted from outside, or the session failed).
            let _ = kill(Pid::this(), Signal::SIGTERM);
        })
        .map_err(LazyFsError::io("starting the FUSE session thread".to_string()))
}

/// The first request through the mount proves the session answers (a failed session makes it fail, not hang:
/// the kernel aborts the connection when the session's descriptor closes).
fn check_serving(mountpoint: &Path) -> Result<(), LazyFsError> {
    let stat =
        statfs(mountpoint).map_err(|errno| LazyFsError::sys(format!("statfs of {}", mountpoint.display()), errno))?;
    if stat.filesystem_type() != FUSE_SUPER_MAGIC {
        return Err(LazyFsError::Control(format!("{} is not a FUSE mount after mounting", mountpoint.display())));
    }
    Ok(())
}

fn control_file(config: &MountConfig) -> Result<ControlFile, LazyFsError> {
    let absolute =
        |path: &Path| std::path::absolute(path).map_err(LazyFsError::io(format!("resolving {}", path.display())));
    Ok(ControlFile {
        pid: std::process::id(),
        mountpoint: absolute(&config.mountpoint)?,
        backing: absolute(&config.backing)?,
        report: absolute(&config.report)?,
    })
}

fn run_until_stopped(signals: &SigSet, fs: &LazyFs, notifier: &Notifier, report: &Path) -> Result<(), LazyFsError> {
    let mut n_crashes = read_records(report)?.len() as u64;
    loop {
        let signal = signals.wait().map_err(|errno| LazyFsError::sys("waiting for signals".to_string(), errno))?;
        if signal != Signal::SIGUSR1 {
            return Ok(());
        }
        n_crashes += 1;
        let record = crash(fs, notifier, n_crashes);
        let line = serde_json::to_string(&record).unwrap_or_default();
        // A report that cannot be written is loud but not fatal: the crash did happen, and the waiting side times
        // out on the missing evidence.
        let outcome =
            append_record(report, &record).map_or_else(|error| format!(" (NOT RECORDED: {error})"), |()| "".into());
        let _ = writeln!(std::io::stderr(), "dancu-lazyfs: crash {line}{outcome}");
    }
}

/// Drops every unsynced byte and tells the kernel to forget what it cached about the files that shrank.
fn crash(fs: &LazyFs, notifier: &Notifier, n_crash: u64) -> CrashRecord {
    let loss = fs.crash();
    for ino in &loss.inos {
        // Offset 0, length 0: the whole file. An inode the kernel already evicted answers ENOENT, which is fine.
        let _ = notifier.inval_inode(INodeNo(*ino), 0, 0);
    }
    CrashRecord { crash: n_crash, files_with_lost_data: loss.n_files, bytes_lost: loss.bytes, unix_ms: unix_ms_now() }
}

/// A plain unmount first; if a file is still open (EBUSY), detach instead.
fn unmount(mut unmounter: fuser::SessionUnmounter, mountpoint: &Path) {
    if unmounter.unmount().is_ok() {
        return;
    }
    if let Err(error) = unmount_detached(mountpoint) {
        let _ = writeln!(std::io::stderr(), "dancu-lazyfs: {error}");
    }
}

fn wait_for_session(runner: JoinHandle<()>) {
    let deadline = Instant::now() + EXIT_WAIT;
    while !runner.is_finished() && Instant::now() < deadline {
        std::thread::sleep(EXIT_POLL_INTERVAL);
    }
    if runner.is_finished() {
        let _ = runner.join();
    }
}
