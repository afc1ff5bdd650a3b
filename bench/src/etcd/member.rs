//! One etcd member process: spawned with its log file, SIGKILLed by pid, always reaped.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use super::flags::{self, ClusterState, MemberSpec};
use crate::CompareError;

/// Lines of a member's log quoted when it fails.
pub const LOG_LINES_QUOTED: usize = 20;

#[derive(Debug)]
pub struct Member {
    pub spec: MemberSpec,
    child: Option<Child>,
}

impl Member {
    pub fn new(spec: MemberSpec) -> Member {
        Member { spec, child: None }
    }

    /// Starts the member; its stdout and stderr are appended to its log file (a restart keeps the earlier log).
    pub fn spawn(
        &mut self,
        bin: &Path,
        initial_cluster: &str,
        token: &str,
        state: ClusterState,
    ) -> Result<(), CompareError> {
        assert!(self.child.is_none(), "member {} started twice", self.spec.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log_path)
            .map_err(|source| CompareError::io(format!("opening {}", self.spec.log_path.display()), source))?;
        let log_for_stderr =
            log.try_clone().map_err(|source| CompareError::io("duplicating a log file handle", source))?;
        let child = Command::new(bin)
            .args(flags::member_args(&self.spec, initial_cluster, token, state))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr)
            .spawn()
            .map_err(|source| CompareError::io(format!("starting {} ({})", bin.display(), self.spec.name), source))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs the process (if it runs) and reaps it.
    pub fn kill(&mut self) -> Result<(), CompareError> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let pid = child.id();
        let context = || format!("killing etcd member {} (pid {pid})", self.spec.name);
        // `Child::kill` sends SIGKILL; it fails only when the process was already reaped, which `take` rules out.
        child.kill().map_err(|source| CompareError::io(context(), source))?;
        child.wait().map_err(|source| CompareError::io(context(), source))?;
        Ok(())
    }

    /// The exit status if the process has exited on its own (it is then reaped and the member is down).
    pub fn exited(&mut self) -> Result<Option<ExitStatus>, CompareError> {
        let Some(child) = self.child.as_mut() else { return Ok(None) };
        let status = child
            .try_wait()
            .map_err(|source| CompareError::io(format!("checking etcd member {}", self.spec.name), source))?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// An error saying the member exited, with the end of its log.
    pub fn exited_error(&self, status: ExitStatus) -> CompareError {
        CompareError::etcd(
            format!("member {} exited ({status}); log {}", self.spec.name, self.spec.log_path.display()),
            format!("last lines:\n{}", self.log_tail(LOG_LINES_QUOTED)),
        )
    }

    /// The last `n_lines` lines of the member's log, or a note saying why not.
    pub fn log_tail(&self, n_lines: usize) -> String {
        dancu_jepsen::tail_lines(&self.spec.log_path, n_lines)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Err(error) = self.kill() {
            eprintln!("dancu-bench: {error}");
        }
    }
}
