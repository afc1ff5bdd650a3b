//! Resident set size of a process, from `/proc` (Linux).

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
    fn own_rss_is_positive() {
        assert!(rss_mib(std::process::id()).unwrap() > 0.0);
    }
}
