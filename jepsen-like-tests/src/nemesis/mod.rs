//! Faults on a seeded schedule: network partitions (namespaces only), SIGKILL + restart, SIGSTOP/SIGCONT,
//! leader-targeted faults, membership changes, admin actions, failpoints, restarts inside a lease, clock-rate
//! changes (libfaketime), power loss (unsynced writes dropped by `dancu-lazyfs`) and a wiped disk followed by the
//! operator's re-add. Every fault window is logged with its start and end, and every fault must prove it took
//! effect (a killed process is gone, a paused one is stopped, a cut is in the kernel's rules, a failpoint counted
//! a pass, a clock ran at the rate set, a crash dropped the file system's unsynced bytes, a wiped node came back
//! empty and waiting): a fault that cannot prove it is reported unconfirmed, and that fails the run.
//!
//! Kinds are scheduled round-robin in a seeded order, so every kind fires in every run long enough for one round.

mod clock_faults;
mod process_faults;
mod proof;
mod raft_faults;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::clock::ClockControl;
use crate::history::FaultWindow;
use crate::netns::NetTopology;
use crate::LocalCluster;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NemesisKind {
    Partition,
    Kill,
    Pause,
    Leader,
    Membership,
    Admin,
    Failpoint,
    Restart,
    Clock,
    PowerLoss,
    DiskWipe,
}

impl NemesisKind {
    pub const ALL: [NemesisKind; 11] = [
        NemesisKind::Partition,
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::Leader,
        NemesisKind::Membership,
        NemesisKind::Admin,
        NemesisKind::Failpoint,
        NemesisKind::Restart,
        NemesisKind::Clock,
        NemesisKind::PowerLoss,
        NemesisKind::DiskWipe,
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
            NemesisKind::Restart => "restart",
            NemesisKind::Clock => "clock",
            NemesisKind::PowerLoss => "power-loss",
            NemesisKind::DiskWipe => "disk-wipe",
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
                let names: Vec<&str> = NemesisKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown nemesis {name:?}; expected all or a comma list of {}", names.join(","))
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
    VoterRemoved {
        partition: u32,
    },
    Failpoint {
        node: u64,
        name: &'static str,
    },
    /// A clock set off its normal rate (and, when `isolated`, the network cut that makes it bite).
    Clock {
        node: u64,
        isolated: bool,
        rate: f64,
        sample: clock_faults::ClockSample,
    },
    /// A node back with an empty data dir, waiting for the operator's re-add.
    Wiped {
        node: u64,
    },
}

/// A fault as injected: its log line, what ends it, and its proof (or why it has none).
struct Injected {
    description: String,
    active: Active,
    proof: Result<String, String>,
}

/// How the clock fault sets a node's clock rate.
#[derive(Debug, Clone, Copy)]
pub struct ClockPlan {
    /// The rate's largest distance from 1 (e.g. 0.02 within a 2 % drift bound; 0.9 for a rate of 0.1).
    pub max_deviation: f64,
    /// Always slow the clock by the whole deviation (the self-test), instead of a random rate in the bound.
    pub extreme: bool,
}

pub struct NemesisConfig {
    pub kinds: Vec<NemesisKind>,
    pub seed: u64,
    /// Partitions the workload writes to: leader-targeted and admin faults pick among them.
    pub partitions: Vec<u32>,
    /// Quiet time between faults and how long a fault is held, in milliseconds (inclusive ranges).
    pub quiet_ms: (u64, u64),
    pub hold_ms: (u64, u64),
    pub clock: ClockPlan,
    /// `restart` always cuts a leader off first (the self-test), instead of half the time.
    pub restart_with_cut_off_leader: bool,
}

/// Per kind: faults injected, and faults that proved they took effect; the unproven ones, described.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NemesisTally {
    pub injected: BTreeMap<String, u64>,
    pub confirmed: BTreeMap<String, u64>,
    pub unconfirmed: Vec<String>,
}

pub struct Nemesis<'a> {
    pub cluster: &'a mut LocalCluster,
    pub net: Option<&'a mut NetTopology>,
    /// Per node, its clock control (present when the nodes run under libfaketime).
    pub clocks: BTreeMap<u64, ClockControl>,
    config: NemesisConfig,
    rng: StdRng,
    started: Instant,
    pub faults: Vec<FaultWindow>,
    pub tally: NemesisTally,
    failpoints_supported: Option<bool>,
    /// Kinds still to fire in the current round.
    round: Vec<NemesisKind>,
}

impl<'a> Nemesis<'a> {
    pub fn new(
        cluster: &'a mut LocalCluster,
        net: Option<&'a mut NetTopology>,
        clocks: BTreeMap<u64, ClockControl>,
        config: NemesisConfig,
        started: Instant,
    ) -> Nemesis<'a> {
        let rng = StdRng::seed_from_u64(config.seed ^ 0x006e_656d_6573_6973);
        Nemesis {
            cluster,
            net,
            clocks,
            config,
            rng,
            started,
            faults: Vec::new(),
            tally: NemesisTally::default(),
            failpoints_supported: None,
            round: Vec::new(),
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// The next kind: every kind once per round, in a seeded order.
    fn next_kind(&mut self) -> Option<NemesisKind> {
        if self.round.is_empty() {
            self.round = self.config.kinds.clone();
            self.round.shuffle(&mut self.rng);
        }
        self.round.pop()
    }

    /// Injects and heals faults until `until`; everything is healed when it returns.
    pub async fn run_until(&mut self, until: Instant) {
        while Instant::now() < until {
            let quiet = Duration::from_millis(self.rng.random_range(self.config.quiet_ms.0..=self.config.quiet_ms.1));
            tokio::time::sleep(quiet.min(until.saturating_duration_since(Instant::now()))).await;
            let Some(kind) = self.next_kind() else {
                tokio::time::sleep_until(until.into()).await;
                return;
            };
            if Instant::now() >= until {
                break;
            }
            self.one_fault(kind, until).await;
        }
    }

    async fn one_fault(&mut self, kind: NemesisKind, until: Instant) {
        let start_us = self.now_us();
        let injected = match self.inject(kind).await {
            Ok(injected) => injected,
            Err(error) => {
                tracing::warn!(nemesis = %kind, %error, "fault not injected");
                // Not injected at all: try this kind again in the next round.
                return;
            }
        };
        tracing::info!(nemesis = %kind, description = %injected.description, "fault start");
        *self.tally.injected.entry(kind.name().to_string()).or_default() += 1;
        let hold = Duration::from_millis(self.rng.random_range(self.config.hold_ms.0..=self.config.hold_ms.1));
        if !matches!(injected.active, Active::Nothing) {
            tokio::time::sleep(hold.min(until.saturating_duration_since(Instant::now()))).await;
        }
        let during = match (injected.proof, &injected.active) {
            (Ok(proof), Active::Failpoint { node, name }) => {
                self.failpoint_fired(*node, name).await.map(|fired| format!("{proof}; {fired}"))
            }
            (Ok(proof), Active::Clock { node, rate, sample, .. }) => {
                self.clock_rate_proof(*node, *rate, *sample).await.map(|measured| format!("{proof}; {measured}"))
            }
            (proof, _) => proof,
        };
        let after = self.heal(injected.active).await;
        let end_us = self.now_us();
        let proof = during
            .and_then(|during| after.map(|after| if after.is_empty() { during } else { format!("{during}; {after}") }));
        let description = match &proof {
            Ok(proof) => {
                *self.tally.confirmed.entry(kind.name().to_string()).or_default() += 1;
                format!("{} [confirmed: {proof}]", injected.description)
            }
            Err(why) => {
                tracing::error!(nemesis = %kind, %why, "fault NOT confirmed");
                self.tally.unconfirmed.push(format!("{kind}: {} ({why})", injected.description));
                format!("{} [NOT CONFIRMED: {why}]", injected.description)
            }
        };
        tracing::info!(nemesis = %kind, "fault end");
        self.faults.push(FaultWindow { nemesis: kind.name().into(), description, start_us, end_us: Some(end_us) });
    }

    async fn inject(&mut self, kind: NemesisKind) -> Result<Injected, String> {
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
            NemesisKind::Restart => self.restart().await,
            NemesisKind::Clock => self.clock().await,
            NemesisKind::PowerLoss => self.power_loss().await,
            NemesisKind::DiskWipe => self.disk_wipe().await,
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
        let partition = *self.config.partitions.as_slice().choose(&mut self.rng).ok_or("no workload partitions")?;
        let leader = self.cluster.leader_of(partition).await.ok_or(format!("partition {partition} has no leader"))?;
        Ok((partition, leader))
    }

    fn replicas(&self, partition: u32) -> Result<Vec<u64>, String> {
        let map = self.cluster.config().partition_map().map_err(|e| e.to_string())?;
        let spec = map.get(dancu_cluster_config::PartitionId(partition)).ok_or("unknown partition")?;
        Ok(spec.replicas.clone())
    }

    async fn partition(&mut self) -> Result<Injected, String> {
        let mut nodes = self.nodes();
        nodes.shuffle(&mut self.rng);
        let leader = self.random_leader().await.ok();
        let shape = self.rng.random_range(0..5);
        let Some(net) = self.net.as_deref_mut() else {
            return Err("network partitions need namespaces (run as root)".into());
        };
        let description = match (shape, leader) {
            (0, _) => net.isolate(nodes[0]),
            (1, _) => {
                let half = nodes.len() / 2;
                net.split(&nodes[..half], &nodes[half..])
            }
            (2, Some((partition, leader))) => {
                net.isolate(leader).map(|d| format!("{d} (leader of partition {partition})"))
            }
            (3, _) if nodes.len() >= 5 => net.majorities_ring(&nodes),
            (4, _) if nodes.len() >= 5 => net.bridge(&nodes),
            _ => net.isolate(nodes[0]),
        }
        .map_err(|e| e.to_string())?;
        let proof = self.cuts_proof();
        Ok(Injected { description, active: Active::Net, proof })
    }

    /// Ends a fault; its proof of what healing showed (empty when healing proves nothing more).
    async fn heal(&mut self, active: Active) -> Result<String, String> {
        let result = match active {
            Active::Nothing => Ok(String::new()),
            Active::Net => self.heal_net().map(|()| String::new()),
            Active::Killed(nodes) => self.restart_nodes(&nodes).map(|()| String::new()),
            Active::Paused(nodes) => nodes
                .iter()
                .try_for_each(|n| self.cluster.resume(*n).map_err(|e| e.to_string()))
                .map(|()| String::new()),
            Active::VoterRemoved { partition } => self.restore_voters(partition).await.map(|()| String::new()),
            Active::Failpoint { node, name } => self.clear_failpoint(node, name).await.map(|()| String::new()),
            Active::Clock { node, isolated, .. } => self.heal_clock(node, isolated).map(|()| String::new()),
            Active::Wiped { node } => self.readd(node).await,
        };
        if let Err(error) = &result {
            tracing::warn!(%error, "heal failed; healing everything");
            self.heal_all().await;
        }
        result
    }

    fn heal_net(&mut self) -> Result<(), String> {
        self.net.as_deref_mut().map_or(Ok(()), |net| net.heal().map_err(|e| e.to_string()))
    }

    /// Ends every fault: heals the network, resets clocks, resumes paused nodes, restarts dead ones, re-adds
    /// wiped ones, restores voters.
    pub async fn heal_all(&mut self) {
        if let Err(error) = self.heal_net() {
            tracing::error!(%error, "network heal failed");
        }
        for (node, clock) in &mut self.clocks {
            if let Err(error) = tokio::task::block_in_place(|| clock.reset()) {
                tracing::error!(node, %error, "clock reset failed");
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
        for node in self.nodes() {
            if matches!(self.cluster.status(node).await, Ok(status) if status.awaiting_readd) {
                if let Err(error) = self.readd(node).await {
                    tracing::error!(node, %error, "re-add failed");
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
