//! Faults on a seeded random schedule: network partitions (namespaces only), SIGKILL + restart,
//! SIGSTOP/SIGCONT, leader-targeted faults, membership changes, admin actions and failpoints. Every
//! fault window is logged with its start and end.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use dancu_client::proto::admin_client::AdminClient;
use dancu_client::proto::{ChangeVotersRequest, SetFailpointRequest, TransferLeaderRequest, TriggerSnapshotRequest};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use crate::history::FaultWindow;
use crate::netns::NetTopology;
use crate::LocalCluster;

/// Longest an admin call to a node may take.
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NemesisKind {
    Partition,
    Kill,
    Pause,
    Leader,
    Membership,
    Admin,
    Failpoint,
}

impl NemesisKind {
    pub const ALL: [NemesisKind; 7] = [
        NemesisKind::Partition,
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::Leader,
        NemesisKind::Membership,
        NemesisKind::Admin,
        NemesisKind::Failpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Partition => "partition",
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::Leader => "leader",
            NemesisKind::Membership => "membership",
            NemesisKind::Admin => "admin",
            NemesisKind::Failpoint => "failpoint",
        }
    }

    /// `all`, or a comma-separated list of names.
    pub fn parse_list(text: &str) -> Result<Vec<NemesisKind>, String> {
        if text.trim() == "all" {
            return Ok(NemesisKind::ALL.to_vec());
        }
        let mut kinds = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind = NemesisKind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
                format!("unknown nemesis {name:?}; expected all or a list of partition,kill,pause,leader,membership,admin,failpoint")
            })?;
            kinds.insert(kind);
        }
        Ok(kinds.into_iter().collect())
    }
}

impl fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What must be undone to end a fault.
enum Active {
    Nothing,
    Net,
    Killed(Vec<u64>),
    Paused(Vec<u64>),
    VoterRemoved { partition: u32 },
    Failpoint { node: u64, name: &'static str },
}

pub struct NemesisConfig {
    pub kinds: Vec<NemesisKind>,
    pub seed: u64,
    /// Partitions the workload writes to: leader-targeted and admin faults pick among them.
    pub partitions: Vec<u32>,
    /// Quiet time between faults and how long a fault is held, in milliseconds (inclusive ranges).
    pub quiet_ms: (u64, u64),
    pub hold_ms: (u64, u64),
}

pub struct Nemesis<'a> {
    pub cluster: &'a mut LocalCluster,
    pub net: Option<&'a mut NetTopology>,
    config: NemesisConfig,
    rng: StdRng,
    started: Instant,
    pub faults: Vec<FaultWindow>,
    failpoints_supported: Option<bool>,
}

impl<'a> Nemesis<'a> {
    pub fn new(
        cluster: &'a mut LocalCluster,
        net: Option<&'a mut NetTopology>,
        config: NemesisConfig,
        started: Instant,
    ) -> Nemesis<'a> {
        let rng = StdRng::seed_from_u64(config.seed ^ 0x006e_656d_6573_6973);
        Nemesis { cluster, net, config, rng, started, faults: Vec::new(), failpoints_supported: None }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Injects and heals faults until `until`; everything is healed when it returns.
    pub async fn run_until(&mut self, until: Instant) {
        if self.config.kinds.is_empty() {
            tokio::time::sleep_until(until.into()).await;
            return;
        }
        while Instant::now() < until {
            let quiet = Duration::from_millis(self.rng.random_range(self.config.quiet_ms.0..=self.config.quiet_ms.1));
            tokio::time::sleep(quiet.min(until.saturating_duration_since(Instant::now()))).await;
            if Instant::now() >= until {
                break;
            }
            let kind = *self.config.kinds.choose(&mut self.rng).unwrap_or(&NemesisKind::Kill);
            let start_us = self.now_us();
            let (description, active) = match self.inject(kind).await {
                Ok(injected) => injected,
                Err(error) => {
                    tracing::warn!(nemesis = %kind, %error, "fault not injected");
                    continue;
                }
            };
            tracing::info!(nemesis = %kind, %description, "fault start");
            let hold = Duration::from_millis(self.rng.random_range(self.config.hold_ms.0..=self.config.hold_ms.1));
            if !matches!(active, Active::Nothing) {
                tokio::time::sleep(hold.min(until.saturating_duration_since(Instant::now()))).await;
            }
            self.heal(active).await;
            let end_us = self.now_us();
            tracing::info!(nemesis = %kind, "fault end");
            self.faults.push(FaultWindow { nemesis: kind.name().into(), description, start_us, end_us: Some(end_us) });
        }
    }

    async fn inject(&mut self, kind: NemesisKind) -> Result<(String, Active), String> {
        match kind {
            NemesisKind::Partition => self.partition().await,
            NemesisKind::Kill => {
                let victims = self.some_nodes();
                self.kill(victims)
            }
            NemesisKind::Pause => {
                let victims = self.some_nodes();
                self.pause(victims)
            }
            NemesisKind::Leader => self.leader_fault().await,
            NemesisKind::Membership => self.remove_voter().await,
            NemesisKind::Admin => self.admin().await,
            NemesisKind::Failpoint => self.failpoint().await,
        }
    }

    fn nodes(&self) -> Vec<u64> {
        self.cluster.node_ids()
    }

    /// One node, or (a third of the time) a majority.
    fn some_nodes(&mut self) -> Vec<u64> {
        let mut nodes = self.nodes();
        nodes.shuffle(&mut self.rng);
        let n = if self.rng.random_bool(1.0 / 3.0) { nodes.len() / 2 + 1 } else { 1 };
        nodes.truncate(n);
        nodes
    }

    async fn random_leader(&mut self) -> Result<(u32, u64), String> {
        let partition = *self.config.partitions.choose(&mut self.rng).ok_or("no workload partitions")?;
        let leader = self.cluster.leader_of(partition).await.ok_or(format!("partition {partition} has no leader"))?;
        Ok((partition, leader))
    }

    fn kill(&mut self, victims: Vec<u64>) -> Result<(String, Active), String> {
        for node in &victims {
            self.cluster.kill(*node).map_err(|e| e.to_string())?;
        }
        Ok((format!("SIGKILL nodes {victims:?}"), Active::Killed(victims)))
    }

    fn pause(&mut self, victims: Vec<u64>) -> Result<(String, Active), String> {
        for node in &victims {
            self.cluster.pause(*node).map_err(|e| e.to_string())?;
        }
        Ok((format!("SIGSTOP nodes {victims:?}"), Active::Paused(victims)))
    }

    async fn partition(&mut self) -> Result<(String, Active), String> {
        let mut nodes = self.nodes();
        nodes.shuffle(&mut self.rng);
        let leader = self.random_leader().await.ok();
        let shape = self.rng.random_range(0..5);
        let Some(net) = self.net.as_deref_mut() else {
            return Err("network partitions need namespaces (run as root)".into());
        };
        let description = match shape {
            0 => net.isolate(nodes[0]),
            1 => {
                let half = nodes.len() / 2;
                net.split(&nodes[..half], &nodes[half..])
            }
            2 if leader.is_some() => {
                let (partition, leader) = leader.unwrap_or_default();
                net.isolate(leader).map(|d| format!("{d} (leader of partition {partition})"))
            }
            3 if nodes.len() >= 5 => net.majorities_ring(&nodes),
            4 if nodes.len() >= 5 => net.bridge(&nodes),
            _ => net.isolate(nodes[0]),
        }
        .map_err(|e| e.to_string())?;
        Ok((description, Active::Net))
    }

    async fn leader_fault(&mut self) -> Result<(String, Active), String> {
        let (partition, leader) = self.random_leader().await?;
        let choice = self.rng.random_range(0..3);
        let (description, active) = match choice {
            0 => self.kill(vec![leader])?,
            1 => self.pause(vec![leader])?,
            _ => match self.net.as_deref_mut() {
                Some(net) => (net.isolate(leader).map_err(|e| e.to_string())?, Active::Net),
                None => self.kill(vec![leader])?,
            },
        };
        Ok((format!("{description} (leader of partition {partition})"), active))
    }

    async fn admin_client(&self, node: u64) -> Result<AdminClient<tonic::transport::Channel>, String> {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", self.cluster.addr(node)))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(ADMIN_CALL_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|e| format!("node {node}: {e}"))?;
        Ok(AdminClient::new(channel))
    }

    async fn remove_voter(&mut self) -> Result<(String, Active), String> {
        let (partition, leader) = self.random_leader().await?;
        let replicas = self.replicas(partition)?;
        let victim = *replicas
            .iter()
            .filter(|id| **id != leader)
            .collect::<Vec<_>>()
            .choose(&mut self.rng)
            .ok_or("no follower")?;
        let voters: Vec<u64> = replicas.iter().copied().filter(|id| id != victim).collect();
        let mut admin = self.admin_client(leader).await?;
        admin
            .change_voters(ChangeVotersRequest { partition_id: partition, voters })
            .await
            .map_err(|s| s.message().to_string())?;
        Ok((format!("removed voter {victim} from partition {partition}"), Active::VoterRemoved { partition }))
    }

    fn replicas(&self, partition: u32) -> Result<Vec<u64>, String> {
        let map = self.cluster.config().partition_map().map_err(|e| e.to_string())?;
        let spec = map.get(dancu_cluster_config::PartitionId(partition)).ok_or("unknown partition")?;
        Ok(spec.replicas.clone())
    }

    async fn admin(&mut self) -> Result<(String, Active), String> {
        let (partition, leader) = self.random_leader().await?;
        if self.rng.random_bool(0.5) {
            let node = *self.nodes().choose(&mut self.rng).ok_or("no nodes")?;
            let mut admin = self.admin_client(node).await?;
            let reply = admin
                .trigger_snapshot(TriggerSnapshotRequest { partition_id: partition })
                .await
                .map_err(|s| s.message().to_string())?
                .into_inner();
            return Ok((
                format!("snapshot + purge of partition {partition} on node {node} (purged to {})", reply.purged_index),
                Active::Nothing,
            ));
        }
        let replicas = self.replicas(partition)?;
        let to = *replicas
            .iter()
            .filter(|id| **id != leader)
            .collect::<Vec<_>>()
            .choose(&mut self.rng)
            .ok_or("no follower")?;
        let mut admin = self.admin_client(leader).await?;
        admin
            .transfer_leader(TransferLeaderRequest { partition_id: partition, to_node: *to })
            .await
            .map_err(|s| s.message().to_string())?;
        Ok((format!("leader transfer of partition {partition} from {leader} to {to}"), Active::Nothing))
    }

    async fn set_failpoint(&self, node: u64, name: &str, actions: &str) -> Result<(), String> {
        let mut admin = self.admin_client(node).await?;
        admin
            .set_failpoint(SetFailpointRequest { name: name.into(), actions: actions.into() })
            .await
            .map(|_| ())
            .map_err(|s| s.message().to_string())
    }

    async fn failpoint(&mut self) -> Result<(String, Active), String> {
        let node = *self.nodes().choose(&mut self.rng).ok_or("no nodes")?;
        if self.failpoints_supported.is_none() {
            self.failpoints_supported = Some(self.set_failpoint(node, "apply_before_write", "off").await.is_ok());
        }
        if self.failpoints_supported != Some(true) {
            return Err("the node binary was built without the failpoints feature".into());
        }
        let (name, actions, what) = match self.rng.random_range(0..3) {
            0 => ("apply_before_write", "1*return", "crash between append and apply"),
            1 => ("wal_sync", "1*return", "fsync error"),
            _ => ("apply_before_write", "sleep(300)", "slow apply"),
        };
        self.set_failpoint(node, name, actions).await?;
        Ok((format!("{what} on node {node} ({name}={actions})"), Active::Failpoint { node, name }))
    }

    async fn heal(&mut self, active: Active) {
        let result = match active {
            Active::Nothing => Ok(()),
            Active::Net => self.net.as_deref_mut().map_or(Ok(()), |net| net.heal().map_err(|e| e.to_string())),
            Active::Killed(nodes) => nodes.iter().try_for_each(|n| self.cluster.restart(*n).map_err(|e| e.to_string())),
            Active::Paused(nodes) => nodes.iter().try_for_each(|n| self.cluster.resume(*n).map_err(|e| e.to_string())),
            Active::VoterRemoved { partition } => self.restore_voters(partition).await,
            Active::Failpoint { node, name } => self.clear_failpoint(node, name).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "heal failed; healing everything");
            self.heal_all().await;
        }
    }

    async fn restore_voters(&mut self, partition: u32) -> Result<(), String> {
        let replicas = self.replicas(partition)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let attempt = match self.cluster.leader_of(partition).await {
                Some(leader) => match self.admin_client(leader).await {
                    Ok(mut admin) => admin
                        .change_voters(ChangeVotersRequest { partition_id: partition, voters: replicas.clone() })
                        .await
                        .map(|_| ())
                        .map_err(|s| s.message().to_string()),
                    Err(e) => Err(e),
                },
                None => Err(format!("partition {partition} has no leader")),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(error) if Instant::now() > deadline => return Err(error),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    async fn clear_failpoint(&mut self, node: u64, name: &str) -> Result<(), String> {
        if self.cluster.is_running(node) {
            // The failpoint may have broken the node's storage without killing it: restart it clean.
            let _ = self.set_failpoint(node, name, "off").await;
            self.cluster.kill(node).map_err(|e| e.to_string())?;
        }
        self.cluster.restart(node).map_err(|e| e.to_string())
    }

    /// Ends every fault: heals the network, resumes paused nodes, restarts dead ones, restores voters.
    pub async fn heal_all(&mut self) {
        if let Some(net) = self.net.as_deref_mut() {
            if let Err(error) = net.heal() {
                tracing::error!(%error, "network heal failed");
            }
        }
        for node in self.nodes() {
            let _ = self.cluster.resume(node);
            if !self.cluster.is_running(node) {
                if let Err(error) = self.cluster.restart(node) {
                    tracing::error!(node, %error, "restart failed");
                }
            }
        }
        for partition in self.config.partitions.clone() {
            if let Err(error) = self.restore_voters(partition).await {
                tracing::warn!(partition, %error, "voters not restored");
            }
        }
    }
}
