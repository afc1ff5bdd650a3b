//! Node data directories on `dancu-lazyfs` mounts, for the power-loss fault: each node's data dir is the mountpoint
//! of its own `dancu-lazyfs` over `node-N.backing/`, so a crash of that file system drops what the node wrote but
//! never fsync'd — as a power loss would.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lazyfs::{request_crash, unmount_detached, CrashRecord};
use crate::HarnessError;

/// Environment variable naming the `dancu-lazyfs` executable explicitly.
pub const LAZYFS_BIN_ENV: &str = "DANCU_LAZYFS_BIN";
/// How long a mount may take to serve.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a crash may take to be recorded.
const CRASH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unmount on SIGTERM may take before SIGKILL and a detach.
const STOP_GRACE: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// `dancu-lazyfs`: `$DANCU_LAZYFS_BIN`, else beside the node binary (both are built into one target directory).
pub fn lazyfs_binary(node_bin: &Path) -> Result<PathBuf, HarnessError> {
    let path = match std::env::var_os(LAZYFS_BIN_ENV) {
        Some(path) => PathBuf::from(path),
        None => node_bin.with_file_name("dancu-lazyfs"),
    };
    if !path.is_file() {
        return Err(HarnessError::Config(format!(
            "{} not found: build it with `cargo build --release -p dancu-jepsen --bins` or set {LAZYFS_BIN_ENV}",
            path.display()
        )));
    }
    Ok(path)
}

struct Mount {
    process: Child,
    mountpoint: PathBuf,
    control: PathBuf,
}

/// The running file systems, one per node; dropping unmounts them (after the nodes are gone).
pub(crate) struct LazyMounts {
    bin: PathBuf,
    mounts: BTreeMap<u64, Mount>,
}

impl LazyMounts {
    pub(crate) fn new(bin: PathBuf) -> LazyMounts {
        LazyMounts { bin, mounts: BTreeMap::new() }
    }

    /// Mounts `data_dir` for `node` (its backing dir is `data_dir` + `.backing`), unless mounted already.
    pub(crate) fn mount(&mut self, node: u64, data_dir: &Path) -> Result<(), HarnessError> {
        if self.mounts.contains_key(&node) {
            return Ok(());
        }
        let sibling = |suffix: &str| {
            let mut name = data_dir.file_name().map(|name| name.to_os_string()).unwrap_or_default();
            name.push(suffix);
            data_dir.with_file_name(name)
        };
        let (backing, control, log) = (sibling(".backing"), sibling(".lazyfs-control"), sibling(".lazyfs.log"));
        let _ = std::fs::remove_file(&control);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|source| HarnessError::io(format!("opening {}", log.display()), source))?;
        let process = Command::new(&self.bin)
            .arg("--backing")
            .arg(&backing)
            .arg("--mountpoint")
            .arg(data_dir)
            .arg("--control")
            .arg(&control)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| HarnessError::io(format!("spawning {}", self.bin.display()), source))?;
        let mut mount = Mount { process, mountpoint: data_dir.to_path_buf(), control };
        wait_serving(&mut mount, node)?;
        self.mounts.insert(node, mount);
        Ok(())
    }

    /// Drops every byte `node` wrote but did not fsync; the node must be dead and reaped. The record is the
    /// evidence that the fault took effect.
    pub(crate) fn crash(&self, node: u64) -> Result<CrashRecord, HarnessError> {
        let mount =
            self.mounts.get(&node).ok_or_else(|| HarnessError::Config(format!("node {node} is not mounted")))?;
        request_crash(&mount.control, CRASH_TIMEOUT)
            .map_err(|error| HarnessError::Config(format!("crashing node {node}'s file system: {error}")))
    }
}

/// Waits until the file system serves (its control file is written once a `statfs` went through the mount).
fn wait_serving(mount: &mut Mount, node: u64) -> Result<(), HarnessError> {
    let deadline = Instant::now() + MOUNT_TIMEOUT;
    while !mount.control.is_file() {
        if let Ok(Some(status)) = mount.process.try_wait() {
            return Err(HarnessError::Config(format!("dancu-lazyfs for node {node} exited at start ({status})")));
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Config(format!(
                "dancu-lazyfs for node {node} did not serve in {MOUNT_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

impl Drop for LazyMounts {
    fn drop(&mut self) {
        for (node, mut mount) in std::mem::take(&mut self.mounts) {
            // SIGTERM unmounts cleanly; a file system that does not go gets SIGKILL and a lazy detach.
            let pid = nix::unistd::Pid::from_raw(mount.process.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while !matches!(mount.process.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
                std::thread::sleep(POLL_INTERVAL);
            }
            if !matches!(mount.process.try_wait(), Ok(Some(_))) {
                let _ = mount.process.kill();
                let _ = mount.process.wait();
            }
            if let Err(error) = unmount_detached(&mount.mountpoint) {
                eprintln!("dancu-jepsen: detaching node {node}'s mount {}: {error}", mount.mountpoint.display());
            }
        }
    }
}
