//! Faults through Raft and the Admin API: leader-targeted faults, voter removal, snapshot + purge, leader
//! transfer, failpoints — each with its proof.

use std::time::{Duration, Instant};

use dancu_client::proto::admin_client::AdminClient;
use dancu_client::proto::{
    ChangeVotersRequest, FailpointCountsRequest, SetFailpointRequest, TransferLeaderRequest, TriggerSnapshotRequest,
};
use rand::seq::IndexedRandom;
use rand::Rng;

use super::{Active, Injected, Nemesis};
use crate::poll::poll_until;

/// Longest an admin call to a node may take.
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a membership change or a leader transfer may take to show in Status.
const EFFECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Nemesis<'_> {
    pub(super) async fn leader_fault(&mut self) -> Result<Injected, String> {
        let (partition, leader) = self.random_leader().await?;
        let mut injected = match self.rng.random_range(0..3) {
            0 => self.kill(vec![leader])?,
            1 => self.pause(vec![leader])?,
            _ => match self.net.as_deref_mut() {
                Some(net) => {
                    let description = net.isolate(leader).map_err(|e| e.to_string())?;
                    Injected { description, active: Active::Net, proof: self.cuts_proof() }
                }
                None => self.kill(vec![leader])?,
            },
        };
        injected.description = format!("{} (leader of partition {partition})", injected.description);
        Ok(injected)
    }

    /// The Admin service of a node, as the harness (over mutual TLS as the suite's operator when the cluster runs it).
    pub(super) async fn admin_client(&self, node: u64) -> Result<AdminClient<tonic::transport::Channel>, String> {
        let channel = self.cluster.channel(node, ADMIN_CALL_TIMEOUT).await.map_err(|e| e.to_string())?;
        Ok(AdminClient::new(channel))
    }

    pub(super) async fn remove_voter(&mut self) -> Result<Injected, String> {
        let (partition, leader) = self.random_leader().await?;
        let replicas = self.replicas(partition)?;
        let followers: Vec<u64> = replicas.iter().copied().filter(|id| *id != leader).collect();
        let victim = *followers.choose(&mut self.rng).ok_or("no follower")?;
        let voters: Vec<u64> = replicas.iter().copied().filter(|id| *id != victim).collect();
        let mut admin = self.admin_client(leader).await?;
        admin
            .change_voters(ChangeVotersRequest { partition_id: partition, voters })
            .await
            .map_err(|s| s.message().to_string())?;
        let proof = self.voters_exclude(partition, leader, victim).await;
        let description = format!("removed voter {victim} from partition {partition}");
        Ok(Injected { description, active: Active::VoterRemoved { partition }, proof })
    }

    /// The leader's Status shows `victim` out of the partition's voters.
    async fn voters_exclude(&self, partition: u32, leader: u64, victim: u64) -> Result<String, String> {
        let cluster = &*self.cluster;
        poll_until(EFFECT_TIMEOUT, "the voter removal to show", || async move {
            let status = cluster.status(leader).await.map_err(|e| e.to_string())?;
            let voters = status.partitions.iter().find(|p| p.id == partition).map(|p| p.voters.clone());
            match voters {
                Some(voters) if !voters.contains(&victim) => Ok(format!("voters of {partition} now {voters:?}")),
                other => Err(format!("voters {other:?}")),
            }
        })
        .await
        .map_err(|e| e.to_string())
    }

    pub(super) async fn restore_voters(&mut self, partition: u32) -> Result<(), String> {
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

    pub(super) async fn admin(&mut self) -> Result<Injected, String> {
        let (partition, leader) = self.random_leader().await?;
        if self.rng.random_bool(0.5) {
            let node = *self.nodes().choose(&mut self.rng).ok_or("no nodes")?;
            let mut admin = self.admin_client(node).await?;
            let reply = admin
                .trigger_snapshot(TriggerSnapshotRequest { partition_id: partition })
                .await
                .map_err(|s| s.message().to_string())?
                .into_inner();
            let proof = if reply.snapshot_index > 0 {
                Ok(format!("snapshot at {}, log purged to {}", reply.snapshot_index, reply.purged_index))
            } else {
                Err("no snapshot was built".to_string())
            };
            let description = format!("snapshot + purge of partition {partition} on node {node}");
            return Ok(Injected { description, active: Active::Nothing, proof });
        }
        let followers: Vec<u64> = self.replicas(partition)?.into_iter().filter(|id| *id != leader).collect();
        let to = *followers.choose(&mut self.rng).ok_or("no follower")?;
        let mut admin = self.admin_client(leader).await?;
        admin
            .transfer_leader(TransferLeaderRequest { partition_id: partition, to_node: to })
            .await
            .map_err(|s| s.message().to_string())?;
        let cluster = &*self.cluster;
        let proof = poll_until(EFFECT_TIMEOUT, "leadership to move", || async move {
            match cluster.leader_of(partition).await {
                Some(now) if now != leader => Ok(format!("leader of {partition} now node {now}")),
                now => Err(format!("leader {now:?}")),
            }
        })
        .await
        .map_err(|e| e.to_string());
        let description = format!("leader transfer of partition {partition} from {leader} to {to}");
        Ok(Injected { description, active: Active::Nothing, proof })
    }

    async fn set_failpoint(&self, node: u64, name: &str, actions: &str) -> Result<(), String> {
        let mut admin = self.admin_client(node).await?;
        admin
            .set_failpoint(SetFailpointRequest { name: name.into(), actions: actions.into() })
            .await
            .map(|_| ())
            .map_err(|s| s.message().to_string())
    }

    /// Whether the node binary has failpoints: a node built without them refuses to configure one as a failed
    /// precondition. Any other refusal (an unreachable node, a caller the Admin service does not admit) is an
    /// error, not an answer, so it is never mistaken for a build without failpoints.
    async fn failpoints_compiled_in(&self, node: u64) -> Result<bool, String> {
        let mut admin = self.admin_client(node).await?;
        let request = SetFailpointRequest { name: "apply_before_write".into(), actions: "off".into() };
        match admin.set_failpoint(request).await {
            Ok(_) => Ok(true),
            Err(status) if status.code() == tonic::Code::FailedPrecondition => Ok(false),
            Err(status) => Err(format!("node {node}: {:?}: {}", status.code(), status.message())),
        }
    }

    pub(super) async fn failpoint(&mut self) -> Result<Injected, String> {
        let node = *self.nodes().choose(&mut self.rng).ok_or("no nodes")?;
        if self.failpoints_supported.is_none() {
            self.failpoints_supported = Some(self.failpoints_compiled_in(node).await?);
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
        let description = format!("{what} on node {node} ({name}={actions})");
        Ok(Injected { description, active: Active::Failpoint { node, name }, proof: Ok(format!("{name} armed")) })
    }

    /// After the hold: the node counted a pass through the armed point, or (a crash failpoint) its process is gone.
    pub(super) async fn failpoint_fired(&mut self, node: u64, name: &str) -> Result<String, String> {
        if !self.cluster.is_running(node) {
            return Ok(format!("node {node} exited at the failpoint"));
        }
        let mut admin = self.admin_client(node).await?;
        let counts =
            admin.failpoint_counts(FailpointCountsRequest {}).await.map_err(|s| s.message().to_string())?.into_inner();
        match counts.fired.get(name).copied().unwrap_or(0) {
            0 => Err(format!("{name} was never reached on node {node}")),
            n => Ok(format!("{name} reached {n} times on node {node}")),
        }
    }

    pub(super) async fn clear_failpoint(&mut self, node: u64, name: &str) -> Result<(), String> {
        if self.cluster.is_running(node) {
            // The failpoint may have broken the node's storage without killing it: restart it clean.
            let _ = self.set_failpoint(node, name, "off").await;
            self.cluster.kill(node).map_err(|e| e.to_string())?;
        }
        self.cluster.restart(node).map_err(|e| e.to_string())
    }
}
