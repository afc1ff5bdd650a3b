//! Resident set size and CPU time of a process, from `/proc` (Linux).

use crate::CompareError;

/// The resident set of process `pid` in MiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_mib(pid: u32) -> Result<f64, CompareError> {
    let path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&path).map_err(|source| CompareError::io(format!("reading {path}"), source))?;
    parse_vm_rss_kib(&status)
        .map(|kib| kib as f64 / 1024.0)
        .ok_or_else(|| CompareError::io(format!("reading {path}"), std::io::Error::other("no VmRSS line")))
}

/// CPU time process `pid` has used so far, user and system, in seconds (`/proc/PID/stat`).
pub fn cpu_s(pid: u32) -> Result<f64, CompareError> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|source| CompareError::io(format!("reading {path}"), source))?;
    // SAFETY: sysconf only reads a constant of the system.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| CompareError::io(format!("reading {path}"), std::io::Error::other("no utime and stime")))?;
    Ok(ticks as f64 / ticks_per_s.max(1) as f64)
}

/// utime + stime, fields 14 and 15 of `/proc/PID/stat`, counted after the command name (which may hold spaces and
/// parentheses, so after its last `)`).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // The fields after the name start with the state, field 3.
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_in_kib() {
        assert_eq!(parse_vm_rss_kib("Name:\tx\nVmRSS:\t  409600 kB\nThreads: 3\n"), Some(409_600));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn reads_utime_plus_stime_after_the_name() {
        let stat = "4242 (dancu node (2)) S 1 4242 4242 0 -1 4194560 1375 0 0 0 250 31 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(281));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn own_cpu_time_is_read() {
        assert!(cpu_s(std::process::id()).unwrap() >= 0.0);
    }

    #[test]
    fn own_rss_is_positive() {
        assert!(rss_mib(std::process::id()).unwrap() > 0.0);
    }
}
