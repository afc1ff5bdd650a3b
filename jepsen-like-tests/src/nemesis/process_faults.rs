//! Faults on node processes and their disks: SIGKILL, SIGSTOP, a restart at once (inside a lease), a power loss,
//! a wiped disk and the operator's re-add.

use std::time::Duration;

use dancu_client::proto::admin_client::AdminClient;
use dancu_client::proto::ReaddNodeRequest;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

use super::proof::{process_gone, process_stops};
use super::{Active, Injected, Nemesis};
use crate::poll::poll_until;

/// How long a wiped node may take to come back waiting for its re-add, and the re-add to finish.
const WIPE_STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest an admin re-add call may take.
const READD_CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Nemesis<'_> {
    pub(super) fn kill(&mut self, victims: Vec<u64>) -> Result<Injected, String> {
        let pids: Vec<Option<u32>> = victims.iter().map(|node| self.cluster.pid(*node)).collect();
        for node in &victims {
            self.cluster.kill(*node).map_err(|e| e.to_string())?;
        }
        let proof = pids
            .iter()
            .zip(&victims)
            .map(|(pid, node)| match pid {
                Some(pid) if process_gone(*pid) => Ok(format!("node {node} pid {pid} gone")),
                Some(pid) => Err(format!("node {node} pid {pid} still exists after SIGKILL")),
                None => Err(format!("node {node} had no process to kill")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join(", "));
        Ok(Injected { description: format!("SIGKILL nodes {victims:?}"), active: Active::Killed(victims), proof })
    }

    pub(super) fn pause(&mut self, victims: Vec<u64>) -> Result<Injected, String> {
        for node in &victims {
            self.cluster.pause(*node).map_err(|e| e.to_string())?;
        }
        let proof = victims
            .iter()
            .map(|node| match self.cluster.pid(*node) {
                Some(pid) if process_stops(pid) => Ok(format!("node {node} pid {pid} stopped")),
                Some(pid) => Err(format!("node {node} pid {pid} is not in state T after SIGSTOP")),
                None => Err(format!("node {node} has no process")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join(", "));
        Ok(Injected { description: format!("SIGSTOP nodes {victims:?}"), active: Active::Paused(victims), proof })
    }

    pub(super) fn restart_nodes(&mut self, nodes: &[u64]) -> Result<(), String> {
        nodes.iter().try_for_each(|n| self.cluster.restart(*n).map_err(|e| e.to_string()))
    }

    /// Kills and at once restarts nodes, so they come back inside the lease they may have promised. Half the time
    /// (with namespaces) the leader of a workload partition is first cut off from every other node, and all the
    /// other replicas of that partition restart: with immediate votes after a start they could elect a new leader
    /// while the cut-off one still serves lease reads.
    pub(super) async fn restart(&mut self) -> Result<Injected, String> {
        let combined = self.net.is_some() && (self.config.restart_with_cut_off_leader || self.rng.random_bool(0.5));
        let (victims, cut, isolated) = if combined {
            let (partition, leader) = self.random_leader().await?;
            let victims: Vec<u64> = self.replicas(partition)?.into_iter().filter(|id| *id != leader).collect();
            let net = self.net.as_deref_mut().ok_or("no namespaces")?;
            let cut = net.isolate(leader).map_err(|e| e.to_string())?;
            (victims, format!("{cut} (leader of partition {partition}), then "), true)
        } else {
            let mut nodes = self.nodes();
            nodes.shuffle(&mut self.rng);
            nodes.truncate(1);
            (nodes, String::new(), false)
        };
        let old_pids: Vec<Option<u32>> = victims.iter().map(|node| self.cluster.pid(*node)).collect();
        for node in &victims {
            self.cluster.kill(*node).map_err(|e| e.to_string())?;
        }
        self.restart_nodes(&victims)?;
        let mut proof: Result<Vec<String>, String> = victims
            .iter()
            .zip(&old_pids)
            .map(|(node, old)| match (old, self.cluster.pid(*node)) {
                (Some(old), Some(new)) if old != &new && process_gone(*old) => {
                    Ok(format!("node {node} pid {old} → {new}"))
                }
                (old, new) => Err(format!("node {node} was not restarted (pid {old:?} → {new:?})")),
            })
            .collect();
        if isolated {
            if let (Ok(lines), Ok(cuts)) = (&mut proof, self.cuts_proof()) {
                lines.push(cuts);
            }
        }
        let description = format!("{cut}SIGKILL + immediate restart of nodes {victims:?}");
        let active = if isolated { Active::Net } else { Active::Nothing };
        Ok(Injected { description, active, proof: proof.map(|lines| lines.join(", ")) })
    }

    /// A power loss of every node at once (a data center's): each node's unsynced writes are dropped by its
    /// `dancu-lazyfs`, then the nodes start again.
    pub(super) async fn power_loss(&mut self) -> Result<Injected, String> {
        let victims = self.nodes();
        let records = self.cluster.power_loss(&victims).map_err(|e| e.to_string())?;
        let proof: Vec<String> = records
            .iter()
            .map(|(node, record)| {
                format!(
                    "node {node}: {} unsynced bytes of {} files dropped",
                    record.bytes_lost, record.files_with_lost_data
                )
            })
            .collect();
        let proof = if records.len() == victims.len() {
            Ok(proof.join(", "))
        } else {
            Err(format!("{} of {} file systems recorded the crash", records.len(), victims.len()))
        };
        let description = format!("power loss of nodes {victims:?} (unsynced writes dropped)");
        Ok(Injected { description, active: Active::Killed(victims), proof })
    }

    /// A voter loses its disk: killed, its data dir erased, started again. It must come back waiting for the
    /// operator's re-add (never voting before it); healing re-adds it as an operator would.
    pub(super) async fn disk_wipe(&mut self) -> Result<Injected, String> {
        let node = *self.nodes().choose(&mut self.rng).ok_or("no nodes")?;
        self.cluster.kill(node).map_err(|e| e.to_string())?;
        self.cluster.wipe(node).map_err(|e| e.to_string())?;
        // The founder (lowest id) with an empty disk would found a new cluster: it joins the existing one.
        let founder = self.nodes().into_iter().min() == Some(node);
        let args = if founder { vec!["--join".to_string()] } else { Vec::new() };
        self.cluster.restart_with_args(node, &args).map_err(|e| e.to_string())?;
        let cluster = &*self.cluster;
        let proof = poll_until(WIPE_STEP_TIMEOUT, "the wiped node to wait for its re-add", || async move {
            match cluster.status(node).await {
                Ok(status) if status.awaiting_readd => Ok(format!("node {node} back empty, awaiting re-add")),
                Ok(_) => Err(format!("node {node} is not awaiting a re-add")),
                Err(error) => Err(error.to_string()),
            }
        })
        .await
        .map_err(|e| e.to_string());
        let description = format!("disk of node {node} wiped, restarted{}", if founder { " with --join" } else { "" });
        Ok(Injected { description, active: Active::Wiped { node }, proof })
    }

    /// The operator's step after a wiped disk (`dancuctl node re-add`): sent to another node. Proves the node voted
    /// for nobody while it waited, and waits no more.
    pub(super) async fn readd(&mut self, node: u64) -> Result<String, String> {
        let votes_before = self.cluster.status(node).await.map_err(|e| e.to_string())?.votes_granted;
        if votes_before != 0 {
            return Err(format!("node {node} granted {votes_before} votes while awaiting its re-add"));
        }
        let via = self.nodes().into_iter().find(|id| *id != node).ok_or("no other node")?;
        let cluster = &*self.cluster;
        poll_until(WIPE_STEP_TIMEOUT, "the re-add", || async move {
            let channel = cluster.channel(via, READD_CALL_TIMEOUT).await.map_err(|e| e.to_string())?;
            AdminClient::new(channel)
                .readd_node(ReaddNodeRequest { node_id: node, partition_ids: Vec::new() })
                .await
                .map_err(|status| status.message().to_string())
        })
        .await
        .map_err(|e| e.to_string())?;
        let status = self.cluster.status(node).await.map_err(|e| e.to_string())?;
        if status.awaiting_readd {
            return Err(format!("node {node} still awaits its re-add after it"));
        }
        Ok(format!("node {node} voted 0 times while waiting, then re-added via node {via}"))
    }
}
