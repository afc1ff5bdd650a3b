//! A "slow box": a cgroup that caps the CPU time of the processes put in it, together, to a number of cores.
//!
//! cgroup v2 (`cpu.max`) where the unified hierarchy has the cpu controller, else cgroup v1's cpu controller
//! (`cpu.cfs_quota_us`). Processes join by pid right after they are spawned (a restarted node joins again), so the
//! load generator outside stays uncapped. [`CpuCap::throttled_periods`] proves the cap took effect: the kernel
//! counts every period in which the group used up its quota. Needs root; the cgroup is removed on drop.

use std::path::{Path, PathBuf};

use crate::error::HarnessError;

/// The CFS period the quota is a share of. Short, so the cap slows the group down evenly instead of stopping it for
/// the rest of a period whenever it used its quota early: with the kernel's default 100 ms, a 1-core cap on 2 cores
/// froze the nodes for up to 50 ms at a time, which every latency measured behind it carried (a slow box does not
/// pause; it is slow).
const PERIOD_US: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    V1,
    V2,
}

#[derive(Debug)]
pub struct CpuCap {
    dir: PathBuf,
    hierarchy: Hierarchy,
    cores: f64,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> HarnessError {
    move |source| HarnessError::io(context, source)
}

/// Where a new cgroup with a CPU quota can be made: the v2 root when it offers the cpu controller, else the v1 cpu
/// hierarchy.
fn find_hierarchy() -> Option<(PathBuf, Hierarchy)> {
    let v2 = Path::new("/sys/fs/cgroup");
    let controllers = std::fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
    if controllers.split_whitespace().any(|controller| controller == "cpu") {
        return Some((v2.to_path_buf(), Hierarchy::V2));
    }
    let v1 = v2.join("cpu");
    v1.join("cpu.cfs_quota_us").exists().then_some((v1, Hierarchy::V1))
}

impl CpuCap {
    /// A new cgroup named `name` (unique per run: tag it with the pid) whose members share `cores` CPUs.
    pub fn new(name: &str, cores: f64) -> Result<CpuCap, HarnessError> {
        if !(cores.is_finite() && cores >= 0.01) {
            return Err(HarnessError::Config(format!("a CPU cap of {cores} cores: at least 0.01 needed")));
        }
        let Some((root, hierarchy)) = find_hierarchy() else {
            return Err(HarnessError::Config(
                "no cgroup cpu controller found (neither cgroup v2 with `cpu` in cgroup.subtree_control nor \
                 /sys/fs/cgroup/cpu): cannot cap CPU"
                    .into(),
            ));
        };
        let dir = root.join(name);
        std::fs::create_dir(&dir).map_err(io(format!("creating cgroup {}", dir.display())))?;
        let cap = CpuCap { dir, hierarchy, cores };
        let quota_us = (cores * PERIOD_US as f64).round() as u64;
        match hierarchy {
            Hierarchy::V2 => cap.write("cpu.max", &format!("{quota_us} {PERIOD_US}"))?,
            Hierarchy::V1 => {
                cap.write("cpu.cfs_period_us", &PERIOD_US.to_string())?;
                cap.write("cpu.cfs_quota_us", &quota_us.to_string())?;
            }
        }
        Ok(cap)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), HarnessError> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).map_err(io(format!("writing {value:?} to {}", path.display())))
    }

    /// The cores the group shares.
    pub fn cores(&self) -> f64 {
        self.cores
    }

    /// Moves process `pid` (all its threads) into the group.
    pub fn add(&self, pid: u32) -> Result<(), HarnessError> {
        self.write("cgroup.procs", &pid.to_string())
    }

    /// The pids in the group now.
    pub fn pids(&self) -> Result<Vec<u32>, HarnessError> {
        let path = self.dir.join("cgroup.procs");
        let text = std::fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?;
        Ok(text.lines().filter_map(|line| line.trim().parse().ok()).collect())
    }

    /// CFS periods in which the group used up its quota and was held back, since it was made.
    pub fn throttled_periods(&self) -> Result<u64, HarnessError> {
        let path = self.dir.join("cpu.stat");
        let text = std::fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?;
        text.lines()
            .find_map(|line| line.strip_prefix("nr_throttled ")?.trim().parse().ok())
            .ok_or_else(|| HarnessError::Config(format!("{}: no nr_throttled line", path.display())))
    }
}

impl Drop for CpuCap {
    /// Processes still inside go back to the root group first: a cgroup with members cannot be removed.
    fn drop(&mut self) {
        let root_procs = match self.hierarchy {
            Hierarchy::V2 => PathBuf::from("/sys/fs/cgroup/cgroup.procs"),
            Hierarchy::V1 => PathBuf::from("/sys/fs/cgroup/cpu/cgroup.procs"),
        };
        for pid in self.pids().unwrap_or_default() {
            let _ = std::fs::write(&root_procs, pid.to_string());
        }
        if let Err(error) = std::fs::remove_dir(&self.dir) {
            eprintln!("dancu: cannot remove cgroup {}: {error}", self.dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy loop capped at a tenth of a core is throttled, and the group is gone afterwards.
    #[test]
    fn a_capped_busy_loop_is_throttled() {
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        if find_hierarchy().is_none() || !root {
            eprintln!("skipped: needs root and a cgroup cpu controller");
            return;
        }
        let name = format!("dancu-cpu-cap-test-{}", std::process::id());
        let cap = CpuCap::new(&name, 0.1).expect("cgroup");
        let mut child =
            std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("busy loop");
        cap.add(child.id()).expect("join");
        assert_eq!(cap.pids().unwrap(), vec![child.id()]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cap.throttled_periods().unwrap() < 3 {
            assert!(std::time::Instant::now() < deadline, "never throttled");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let dir = cap.dir.clone();
        drop(cap);
        assert!(!dir.exists());
        assert!(CpuCap::new("dancu-cpu-cap-bad", 0.0).is_err());
    }
}
