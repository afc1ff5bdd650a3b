//! A fresh local 3-member etcd cluster: started, watched until it serves, taken apart for failover, and
//! removed (processes and data) when dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dancu_jepsen::CpuCap;
use etcd_client::{Client, ConnectOptions};

use super::flags::{self, ClusterState, MemberSpec};
use super::member::{Member, LOG_LINES_QUOTED};
use super::{binary, status};
use crate::failover::FailoverTarget;
use crate::CompareError;

pub const MEMBERS: usize = 3;
/// Longest a fresh cluster may take to elect a leader and answer.
const START_MAX: Duration = Duration::from_secs(30);
/// Fresh ports are picked again this many times when a member finds its port taken.
const START_ATTEMPTS: usize = 3;
const POLL: Duration = Duration::from_millis(20);
/// Connecting to a live member on loopback takes well under a millisecond.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub struct EtcdCluster {
    bin: PathBuf,
    version: String,
    /// Unique per cluster, so members never talk to a leftover of another cluster.
    token: String,
    initial_cluster: String,
    members: Vec<Member>,
    /// `member_clients[i]` is connected to member `i` only: status, readiness, leader.
    member_clients: Vec<Client>,
    /// Joined by every member when it (re)starts (`--node-cpus`).
    cpu_cap: Option<Arc<CpuCap>>,
}

impl EtcdCluster {
    /// Finds the binary (`etcd_bin`, else `$ETCD_BIN`, else `etcd` on PATH), starts 3 members as a fresh
    /// cluster with data and logs under `base_dir`, and returns once every member answers and they agree on a
    /// leader.
    pub async fn start(
        etcd_bin: Option<&Path>,
        base_dir: &Path,
        cpu_cap: Option<Arc<CpuCap>>,
    ) -> Result<EtcdCluster, CompareError> {
        let bin = binary::find(etcd_bin)?;
        let version = binary::version(&bin)?;
        std::fs::create_dir_all(base_dir)
            .map_err(|source| CompareError::io(format!("creating {}", base_dir.display()), source))?;
        let mut attempt = 1;
        loop {
            let mut cluster = EtcdCluster::spawn(bin.clone(), version.clone(), base_dir, cpu_cap.clone()).await?;
            match cluster.wait_ready(START_MAX, "a fresh etcd cluster electing a leader and answering").await {
                Ok(()) => return Ok(cluster),
                Err(error) if attempt < START_ATTEMPTS && cluster.port_was_taken() => {
                    tracing::warn!("etcd: a port was taken ({error}); starting again on other ports");
                }
                Err(error) => return Err(error),
            }
            attempt += 1;
        }
    }

    /// Starts every member on fresh ports, after removing what an earlier cluster left in `base_dir`.
    async fn spawn(
        bin: PathBuf,
        version: String,
        base_dir: &Path,
        cpu_cap: Option<Arc<CpuCap>>,
    ) -> Result<EtcdCluster, CompareError> {
        let ports = dancu_jepsen::free_loopback_ports(2 * MEMBERS)?;
        let specs: Vec<MemberSpec> = (0..MEMBERS)
            .map(|idx| MemberSpec {
                name: format!("m{}", idx + 1),
                client_url: format!("http://127.0.0.1:{}", ports[2 * idx]),
                peer_url: format!("http://127.0.0.1:{}", ports[2 * idx + 1]),
                data_dir: base_dir.join(format!("etcd-m{}", idx + 1)),
                log_path: base_dir.join(format!("etcd-m{}.log", idx + 1)),
            })
            .collect();
        for spec in &specs {
            remove_if_present(&spec.data_dir, true)?;
            remove_if_present(&spec.log_path, false)?;
        }
        let mut member_clients = Vec::with_capacity(MEMBERS);
        for spec in &specs {
            member_clients.push(connect(std::slice::from_ref(&spec.client_url)).await?);
        }
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
        let mut cluster = EtcdCluster {
            bin,
            version,
            token: format!("dancu-bench-{}-{nanos}", std::process::id()),
            initial_cluster: flags::initial_cluster(&specs),
            members: specs.into_iter().map(Member::new).collect(),
            member_clients,
            cpu_cap,
        };
        for member_idx in 0..MEMBERS {
            cluster.spawn_member(member_idx, ClusterState::New)?;
        }
        Ok(cluster)
    }

    fn spawn_member(&mut self, member_idx: usize, state: ClusterState) -> Result<(), CompareError> {
        let member = &mut self.members[member_idx];
        member.spawn(&self.bin, &self.initial_cluster, &self.token, state)?;
        if let (Some(cap), Some(pid)) = (&self.cpu_cap, member.pid()) {
            cap.add(pid)?;
        }
        Ok(())
    }

    /// Polls until every member answers a status and a linearizable read and all name the same leader; fails
    /// at once if a member exits.
    async fn wait_ready(&mut self, time_max: Duration, what: &str) -> Result<(), CompareError> {
        let deadline = Instant::now() + time_max;
        loop {
            for member in &mut self.members {
                if let Some(exit) = member.exited()? {
                    return Err(member.exited_error(exit));
                }
            }
            let view = status::view(&self.member_clients).await;
            let last_seen = match status::agreed_leader(&view) {
                Some(_) => match status::every_member_reads(&self.member_clients).await {
                    Ok(()) => return Ok(()),
                    Err(error) => format!("a probe read failed: {error}"),
                },
                None => status::describe(&view),
            };
            if Instant::now() >= deadline {
                let what = format!("{what} (last seen: {last_seen}; logs: {})", self.log_paths());
                return Err(CompareError::Timeout { what, seconds: time_max.as_secs_f64() });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether a member's log says it could not bind its port (another process took it after it was picked).
    fn port_was_taken(&self) -> bool {
        self.members.iter().any(|member| member.log_tail(LOG_LINES_QUOTED).contains("address already in use"))
    }

    fn log_paths(&self) -> String {
        let paths = self.members.iter().map(|member| member.spec.log_path.display().to_string());
        paths.collect::<Vec<_>>().join(", ")
    }

    /// `etcd 3.4.23`.
    pub fn version(&self) -> String {
        self.version.clone()
    }

    /// The flags that matter, in one line.
    pub fn settings(&self) -> String {
        flags::settings()
    }

    /// Every member's client URL, `http://127.0.0.1:PORT`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|member| member.spec.client_url.clone()).collect()
    }

    /// The process ids of the members that run.
    pub fn pids(&self) -> Vec<u32> {
        self.members.iter().filter_map(Member::pid).collect()
    }

    /// Every member's resident set, MiB (every member must be running).
    pub fn rss_mib_per_member(&self) -> Result<Vec<f64>, CompareError> {
        let rss = self.members.iter().map(|member| {
            let pid = member.pid().ok_or_else(|| {
                CompareError::etcd("measuring memory", format!("member {} is down", member.spec.name))
            })?;
            crate::process_stats::rss_mib(pid)
        });
        rss.collect()
    }

    /// A client connected to every member (requests are spread over them).
    pub async fn client(&self) -> Result<Client, CompareError> {
        connect(&self.endpoints()).await
    }
}

/// A client of `endpoints`. No connection is made until the first request.
pub async fn connect(endpoints: &[String]) -> Result<Client, CompareError> {
    let options = ConnectOptions::new().with_connect_timeout(CONNECT_TIMEOUT);
    Client::connect(endpoints, Some(options))
        .await
        .map_err(|error| CompareError::etcd(format!("connecting to {}", endpoints.join(",")), error))
}

fn remove_if_present(path: &Path, is_dir: bool) -> Result<(), CompareError> {
    let removed = if is_dir { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match removed {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(CompareError::io(format!("removing {}", path.display()), error))
        }
        _ => Ok(()),
    }
}

impl FailoverTarget for EtcdCluster {
    async fn leader(&mut self) -> Result<usize, CompareError> {
        let view = status::view(&self.member_clients).await;
        status::leader_idx(&view).ok_or_else(|| CompareError::etcd("finding the leader", status::describe(&view)))
    }

    fn kill(&mut self, member: usize) -> Result<(), CompareError> {
        self.members[member].kill()
    }

    fn restart(&mut self, member: usize) -> Result<(), CompareError> {
        self.spawn_member(member, ClusterState::Existing)
    }

    async fn wait_settled(&mut self, time_max: Duration) -> Result<(), CompareError> {
        self.wait_ready(time_max, "every etcd member answering and agreeing on a leader").await
    }
}

impl Drop for EtcdCluster {
    /// Kills and reaps every member, then removes the data (the logs stay, for a failed run's post-mortem).
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Err(error) = member.kill() {
                eprintln!("dancu-bench: {error}");
            }
        }
        for member in &self.members {
            if let Err(error) = remove_if_present(&member.spec.data_dir, true) {
                eprintln!("dancu-bench: {error}");
            }
        }
    }
}
