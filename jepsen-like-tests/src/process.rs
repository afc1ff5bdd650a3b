//! One supervised `dancu-node` process: spawned with its data directory and log file, signalled by pid, always
//! reaped.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::HarnessError;

/// How often `stop` checks whether the process has exited after SIGTERM.
const EXIT_CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// Bytes read from the end of a log file to find its last lines.
const LOG_TAIL_BYTES_MAX: u64 = 1 << 20;

/// How every node of a cluster is launched.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) node_bin: PathBuf,
    pub(crate) config_path: PathBuf,
    pub(crate) extra_args: Vec<String>,
    /// Per node id, the command the node binary runs under (e.g. `ip netns exec <ns>`); absent: run directly.
    pub(crate) command_prefix: BTreeMap<u64, Vec<String>>,
    /// Joined by every node right after it is spawned.
    pub(crate) cpu_cap: Option<std::sync::Arc<crate::CpuCap>>,
}

/// What the harness knows about a node process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeState {
    /// Started and not paused (it may have exited since; see [`NodeProcess::exit_status`]).
    Running,
    /// Stopped with SIGSTOP.
    Paused,
    /// Not started, killed, stopped, or exited and reaped.
    Down,
}

impl NodeState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            NodeState::Running => "running",
            NodeState::Paused => "paused",
            NodeState::Down => "down",
        }
    }
}

/// One node: its identity, its files and, while it runs, its process.
#[derive(Debug)]
pub(crate) struct NodeProcess {
    pub(crate) id: u64,
    pub(crate) addr: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) log_path: PathBuf,
    /// Behind a mutex so `&self` methods can reap an exited process (`try_wait` needs `&mut Child`).
    child: Mutex<Option<Child>>,
    paused: bool,
}

impl NodeProcess {
    pub(crate) fn new(id: u64, addr: String, data_dir: PathBuf, log_path: PathBuf) -> NodeProcess {
        NodeProcess { id, addr, data_dir, log_path, child: Mutex::new(None), paused: false }
    }

    pub(crate) fn state(&self) -> NodeState {
        match (self.lock().is_some(), self.paused) {
            (false, _) => NodeState::Down,
            (true, true) => NodeState::Paused,
            (true, false) => NodeState::Running,
        }
    }

    /// Starts the process; its stdout and stderr are appended to the node's log after a marker line.
    pub(crate) fn spawn(&mut self, launch: &Launch) -> Result<(), HarnessError> {
        if self.state() != NodeState::Down {
            return Err(self.wrong_state("start"));
        }
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|source| HarnessError::io(format!("creating {}", self.data_dir.display()), source))?;
        let log = self.open_log()?;
        let log_for_stderr =
            log.try_clone().map_err(|source| HarnessError::io("duplicating the log file handle", source))?;
        let prefix = launch.command_prefix.get(&self.id).map_or(&[][..], Vec::as_slice);
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&launch.node_bin);
                command
            }
            None => Command::new(&launch.node_bin),
        };
        command
            .arg("--config")
            .arg(&launch.config_path)
            .arg("--node-id")
            .arg(self.id.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&launch.extra_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr);
        if std::env::var_os("RUST_BACKTRACE").is_none() {
            command.env("RUST_BACKTRACE", "1");
        }
        // Logs are files: no terminal colour codes in them (tracing-subscriber honours NO_COLOR).
        if std::env::var_os("NO_COLOR").is_none() {
            command.env("NO_COLOR", "1");
        }
        let child = command.spawn().map_err(|source| {
            let program = prefix.iter().map(|word| format!("{word} ")).collect::<String>();
            HarnessError::io(format!("spawning {program}{} for node {}", launch.node_bin.display(), self.id), source)
        })?;
        if let Some(cap) = &launch.cpu_cap {
            cap.add(child.id())?;
        }
        *self.lock() = Some(child);
        self.paused = false;
        Ok(())
    }

    fn open_log(&self) -> Result<File, HarnessError> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|source| HarnessError::io(format!("opening {}", self.log_path.display()), source))?;
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis());
        writeln!(log, "=== dancu-jepsen harness: starting node {} at unix_ms {unix_ms} ===", self.id)
            .map_err(|source| HarnessError::io(format!("writing {}", self.log_path.display()), source))?;
        Ok(log)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.lock().as_ref().map(Child::id)
    }

    /// The exit status if the process has exited (it is then reaped and the node is down).
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self.lock();
        let status = child.as_mut().and_then(|running| running.try_wait().ok().flatten())?;
        *child = None;
        Some(status)
    }

    /// SIGKILL and reap. Works on a paused process too.
    pub(crate) fn kill(&mut self) -> Result<(), HarnessError> {
        let Some(mut child) = self.lock().take() else {
            return Err(self.wrong_state("kill"));
        };
        self.paused = false;
        let context = format!("killing node {} (pid {})", self.id, child.id());
        // `kill` fails only if the process was already reaped, which `take` above rules out.
        child.kill().map_err(|source| HarnessError::io(context.clone(), source))?;
        child.wait().map_err(|source| HarnessError::io(context, source))?;
        Ok(())
    }

    /// SIGTERM (and SIGCONT if paused, so it can act on it), wait up to `grace`, then SIGKILL.
    pub(crate) fn stop(&mut self, grace: Duration) -> Result<(), HarnessError> {
        if self.state() == NodeState::Down {
            return Err(self.wrong_state("stop"));
        }
        self.signal(libc::SIGTERM, "SIGTERM")?;
        if self.paused {
            self.signal(libc::SIGCONT, "SIGCONT")?;
            self.paused = false;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                return Ok(());
            }
            std::thread::sleep(EXIT_CHECK_INTERVAL);
        }
        tracing::warn!(node = self.id, ?grace, "node did not exit after SIGTERM; sending SIGKILL");
        self.kill()
    }

    pub(crate) fn pause(&mut self) -> Result<(), HarnessError> {
        if self.state() != NodeState::Running {
            return Err(self.wrong_state("pause"));
        }
        self.signal(libc::SIGSTOP, "SIGSTOP")?;
        self.paused = true;
        Ok(())
    }

    pub(crate) fn resume(&mut self) -> Result<(), HarnessError> {
        if self.state() != NodeState::Paused {
            return Err(self.wrong_state("resume"));
        }
        self.signal(libc::SIGCONT, "SIGCONT")?;
        self.paused = false;
        Ok(())
    }

    fn signal(&self, signal: libc::c_int, name: &'static str) -> Result<(), HarnessError> {
        let Some(pid) = self.pid() else {
            return Err(self.wrong_state("signal"));
        };
        let raw_pid = libc::pid_t::try_from(pid).expect("process ids fit in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is our own unreaped child (we hold its
        // `Child` and reap only through it), so it cannot have been reused by another process.
        let rc = unsafe { libc::kill(raw_pid, signal) };
        if rc != 0 {
            let source = std::io::Error::last_os_error();
            return Err(HarnessError::Signal { node: self.id, pid, signal: name, source });
        }
        Ok(())
    }

    fn wrong_state(&self, action: &'static str) -> HarnessError {
        HarnessError::WrongState { node: self.id, state: self.state().name(), action }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        // A panic while holding this lock leaves the Option itself intact, so poisoning carries no meaning here.
        self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if self.state() != NodeState::Down {
            if let Err(error) = self.kill() {
                eprintln!("dancu-jepsen: could not kill node {}: {error}", self.id);
            }
        }
    }
}

/// The last `n_lines` lines of the file at `path` (read from at most its last MiB), or a note saying why not.
pub fn tail_lines(path: &Path, n_lines: usize) -> String {
    match read_tail(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n_lines)..].join("\n")
        }
        Err(error) => format!("<cannot read {}: {error}>", path.display()),
    }
}

fn read_tail(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES_MAX)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Held by every test that writes a stand-in node script and runs it: a script written while another test
    /// forks may still be open for writing in the child when exec'd, and exec then fails with ETXTBSY.
    pub(crate) static FAKE_NODE_LOCK: Mutex<()> = Mutex::new(());

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.log");
        std::fs::write(&path, "one\ntwo\nthree\nfour\n").unwrap();
        assert_eq!(tail_lines(&path, 2), "three\nfour");
        assert_eq!(tail_lines(&path, 10), "one\ntwo\nthree\nfour");
        assert_eq!(tail_lines(&path, 0), "");
    }

    #[test]
    fn tail_of_a_missing_file_says_so() {
        let tail = tail_lines(Path::new("/nonexistent/node-9.log"), 5);
        assert!(tail.starts_with("<cannot read /nonexistent/node-9.log"), "{tail}");
    }

    #[test]
    fn a_process_is_paused_resumed_and_stopped_by_signals() {
        let _serial = FAKE_NODE_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        // A stand-in node that ignores its arguments and sleeps until signalled.
        let fake_node = dir.path().join("fake-node");
        std::fs::write(&fake_node, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&fake_node, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let launch = Launch {
            node_bin: fake_node,
            config_path: PathBuf::from("/dev/null"),
            extra_args: Vec::new(),
            command_prefix: BTreeMap::new(),
            cpu_cap: None,
        };
        let mut node =
            NodeProcess::new(1, "127.0.0.1:1".into(), dir.path().join("node-1"), dir.path().join("node-1.log"));
        node.spawn(&launch).unwrap();
        assert_eq!(node.state(), NodeState::Running);
        assert!(node.spawn(&launch).is_err(), "a running node cannot be started twice");
        node.pause().unwrap();
        assert_eq!(node.state(), NodeState::Paused);
        node.resume().unwrap();
        node.pause().unwrap();
        // Stopping a paused process continues it so SIGTERM takes effect (sleep dies of SIGTERM at once).
        node.stop(Duration::from_secs(10)).unwrap();
        assert_eq!(node.state(), NodeState::Down);
        assert!(tail_lines(&node.log_path, 1).contains("starting node 1"));
        node.spawn(&launch).unwrap();
        node.kill().unwrap();
        assert_eq!(node.state(), NodeState::Down);
        assert!(node.kill().is_err(), "a down node cannot be killed");
    }

    #[test]
    fn a_command_prefix_runs_the_node_binary_with_its_arguments() {
        let _serial = FAKE_NODE_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let fake_node = dir.path().join("fake-node");
        std::fs::write(&fake_node, "#!/bin/sh\necho \"prefixed=$DANCU_PREFIX_PROBE args=$*\"\nexec sleep 30\n")
            .unwrap();
        std::fs::set_permissions(&fake_node, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        // `env` execs the program, as `ip netns exec` does.
        let prefix = ["env", "DANCU_PREFIX_PROBE=yes"].map(str::to_string).to_vec();
        let launch = Launch {
            node_bin: fake_node,
            config_path: PathBuf::from("/dev/null"),
            extra_args: Vec::new(),
            command_prefix: BTreeMap::from([(2, prefix)]),
            cpu_cap: None,
        };
        let mut node =
            NodeProcess::new(2, "127.0.0.1:1".into(), dir.path().join("node-2"), dir.path().join("node-2.log"));
        node.spawn(&launch).unwrap();
        let started = Instant::now();
        while !tail_lines(&node.log_path, 1).starts_with("prefixed=") && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(EXIT_CHECK_INTERVAL);
        }
        let line = tail_lines(&node.log_path, 1);
        assert!(line.starts_with("prefixed=yes args=--config /dev/null --node-id 2 --data-dir"), "{line}");
        node.stop(Duration::from_secs(10)).unwrap();
        assert_eq!(node.state(), NodeState::Down);
    }
}
