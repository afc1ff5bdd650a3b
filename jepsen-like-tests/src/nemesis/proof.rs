//! Evidence that a fault took effect, read from the operating system and the nodes.

use super::Nemesis;

/// Whether no process with this pid exists any more (it was killed and reaped).
pub(super) fn process_gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// How long a signalled process may take to show its new state (delivery is asynchronous).
const SIGNAL_EFFECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether the process shows stopped within [`SIGNAL_EFFECT_TIMEOUT`] (after SIGSTOP).
pub(super) fn process_stops(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + SIGNAL_EFFECT_TIMEOUT;
    loop {
        if process_stopped(pid) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether the process is stopped (`T` in `/proc/PID/stat`, after SIGSTOP).
fn process_stopped(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may itself contain spaces.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) == Some("T")
}

impl Nemesis<'_> {
    /// The router's rules, read back from the kernel, cut exactly the links the topology meant to cut.
    pub(super) fn cuts_proof(&self) -> Result<String, String> {
        let net = self.net.as_deref().ok_or("no namespaces")?;
        let in_kernel = net.cuts_in_kernel().map_err(|e| e.to_string())?;
        let meant = net.active_cuts();
        if in_kernel.is_empty() || in_kernel != meant {
            return Err(format!("the router's rules cut {in_kernel:?}, meant {meant:?}"));
        }
        Ok(format!("{} links cut in the kernel", in_kernel.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_process_is_seen_stopped_and_a_reaped_one_gone() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(!process_gone(pid) && !process_stopped(pid));
        let raw = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(raw, nix::sys::signal::Signal::SIGSTOP).unwrap();
        assert!(process_stops(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(process_gone(pid));
    }
}
