//! dancu over mutual TLS in a compare run: a second fresh local 3-node cluster with the plaintext one's layout and
//! Raft timing but `tls.mode = "mutual"`, two roles of the benchmark's own, and certificates issued for it as
//! `dancuctl certs` issues them (`dancu_client::certificates::issue_for_config`). It is loaded with the same
//! population and driven by the same loop as the plaintext cluster, after that one stopped and before etcd starts.
//!
//! Before anything is measured the phase proves what it claims: each client is the caller `WhoAmI` names, and the
//! masked caller gets a record without its hidden fields where the full caller gets them. Then it waits for the
//! nodes to be about as idle as before the load (its flushes and compactions done, as they are long done when the
//! plaintext cluster's headline runs come, after the rest of its sweep).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_client::bench::KeySet;
use dancu_client::proto::{Citizen, Consistency};
use dancu_client::{Client, ClientOptions, TlsIdentity};
use dancu_cluster_config::{CallerConfig, RoleConfig};
use dancu_jepsen::{ClusterSpec, CpuCap, MutualTls};
use dancu_synthetic::Population;

use crate::compare::{progress, shape, slow_box};
use crate::connections::{self, ConnectionRun, Dial};
use crate::dancu_side::{bench_options, run_workload_as, DancuSystem, DancuWorkload};
use crate::plan::ComparePlan;
use crate::results::{BatchFigures, Figures, TlsResults, TlsRun, HEADLINE_BATCH, HEADLINE_CONCURRENCY};
use crate::CompareError;

/// Sees every field; also loads the records.
pub const FULL_CALLER: &str = "bench-full";
/// Sees every field but [`HIDDEN_FIELDS`].
pub const MASKED_CALLER: &str = "bench-masked";
/// What the masked role hides: the health ministry's mask in `cluster-config/examples/local-3-secure.toml`.
pub const HIDDEN_FIELDS: [&str; 2] = ["ethnicity", "religion"];
/// The caller of the plaintext connection run, which has no identity.
pub const PLAINTEXT_CALLER: &str = "insecure-plaintext";
/// Both roles allow only this purpose, which every benchmark client names.
const PURPOSE: &str = "benchmark";
/// The nodes count as idle again after the load when they use at most this many times the cores they used before
/// it (Raft heartbeats alone), plus [`IDLE_CORES_SLACK`]: their flushes and compactions of the load are done.
const IDLE_VS_BASELINE_MAX: f64 = 1.5;
const IDLE_CORES_SLACK: f64 = 0.1;
/// The window the nodes' CPU use is measured over.
const IDLE_WINDOW: Duration = Duration::from_millis(500);
/// The longest the runs wait for idle nodes.
const IDLE_WAIT_MAX: Duration = Duration::from_secs(20);

/// The benchmark's access rules: the two roles, a caller named as each, the full one also the harness's identity.
pub fn access() -> MutualTls {
    MutualTls {
        roles: vec![
            role(FULL_CALLER, &["get", "batch-get", "import"], &[]),
            role(MASKED_CALLER, &["get", "batch-get"], &HIDDEN_FIELDS),
        ],
        callers: [FULL_CALLER, MASKED_CALLER]
            .map(|name| CallerConfig { name: name.to_string(), role: name.to_string() })
            .to_vec(),
        harness_caller: FULL_CALLER.to_string(),
    }
}

fn role(name: &str, operations: &[&str], hidden_fields: &[&str]) -> RoleConfig {
    RoleConfig {
        name: name.to_string(),
        operations: operations.iter().map(|operation| operation.to_string()).collect(),
        hidden_fields: hidden_fields.iter().map(|field| field.to_string()).collect(),
        provinces: Vec::new(),
        purposes: vec![PURPOSE.to_string()],
        requests_per_s: None,
        burst: None,
    }
}

/// A running mutual-TLS cluster and a client for each benchmark caller.
pub struct SecureDancu {
    /// Its client is [`FULL_CALLER`]'s.
    system: DancuSystem,
    masked: Client,
}

impl SecureDancu {
    /// Starts the nodes with their data and certificates (`certs/`, issued by the harness as `dancuctl certs`
    /// issues them) in `base_dir` and waits until every partition has a leader; the harness's Status calls present
    /// [`FULL_CALLER`]'s certificate.
    pub async fn start(
        node_bin: &Path,
        base_dir: &Path,
        cpu_cap: Option<Arc<CpuCap>>,
    ) -> Result<SecureDancu, CompareError> {
        let spec = ClusterSpec {
            base_dir: Some(base_dir.to_path_buf()),
            cpu_cap,
            mutual_tls: Some(access()),
            ..ClusterSpec::new(node_bin)
        };
        let system = DancuSystem::start_spec(spec, Some(FULL_CALLER)).await?;
        let masked = Client::connect(&system.endpoints(), options(system.identity(MASKED_CALLER)?)).await?;
        Ok(SecureDancu { system, masked })
    }

    pub fn system(&self) -> &DancuSystem {
        &self.system
    }

    /// `caller`'s certificate.
    pub fn identity(&self, caller: &str) -> Result<TlsIdentity, CompareError> {
        self.system.identity(caller)
    }

    fn client(&self, caller: &str) -> &Client {
        if caller == MASKED_CALLER {
            &self.masked
        } else {
            self.system.client()
        }
    }

    /// Each client is the caller it presents, and the masked caller does not see [`HIDDEN_FIELDS`] of a record
    /// whose full view has them. Needs the population loaded.
    pub async fn check_callers(&self, population: &Population) -> Result<(), CompareError> {
        for caller in [FULL_CALLER, MASKED_CALLER] {
            let who = self.client(caller).who_am_i().await?;
            if who.identity != format!("caller {caller}") || who.role != caller {
                let message = format!("{caller}'s client was taken for {:?} with role {:?}", who.identity, who.role);
                return Err(CompareError::TlsPhase(message));
            }
        }
        let sample = population
            .citizens()
            .find(|citizen| !citizen.ethnicity.is_empty() && !citizen.religion.is_empty())
            .ok_or_else(|| CompareError::TlsPhase("no record with an ethnicity and a religion".to_string()))?;
        let full = self.read(FULL_CALLER, &sample.id).await?;
        let masked = self.read(MASKED_CALLER, &sample.id).await?;
        let expected = Citizen { ethnicity: String::new(), religion: String::new(), ..full.clone() };
        if full.ethnicity.is_empty() || full.religion.is_empty() || masked != expected {
            let message = format!("{MASKED_CALLER} does not see exactly {FULL_CALLER}'s record less {HIDDEN_FIELDS:?}");
            return Err(CompareError::TlsPhase(message));
        }
        Ok(())
    }

    async fn read(&self, caller: &str, id: &str) -> Result<Citizen, CompareError> {
        let answer = self.client(caller).get(id, Consistency::Linearizable).await?;
        answer
            .and_then(|answer| answer.citizen)
            .ok_or_else(|| CompareError::TlsPhase(format!("{caller} did not find a loaded record")))
    }
}

/// The mutual-TLS phase: start the cluster, load the population as [`FULL_CALLER`], prove the callers, wait for idle
/// nodes, then linearizable get and batch get at the headline concurrency as each caller, then new connections per
/// second. `plaintext` is the plaintext cluster's connection run, reported beside the handshakes.
pub async fn measure(
    plan: &ComparePlan,
    node_bin: &Path,
    node_cpus: Option<f64>,
    dir: &Path,
    population: &Population,
    keys: &Arc<KeySet>,
    plaintext: ConnectionRun,
) -> Result<TlsResults, CompareError> {
    eprintln!("dancu over mutual TLS: starting 3 nodes");
    let cap = slow_box("dancu-tls", node_cpus)?;
    let secure = SecureDancu::start(node_bin, dir, cap.clone()).await?;
    let system = secure.system();
    let mut tls = TlsResults {
        settings: format!(
            "{}; mutual TLS (rustls, aws-lc-rs); callers {FULL_CALLER} (every field) and {MASKED_CALLER} ({} \
             hidden)",
            system.settings(),
            HIDDEN_FIELDS.join(", ")
        ),
        full_caller: FULL_CALLER.to_string(),
        masked_caller: MASKED_CALLER.to_string(),
        hidden_fields: HIDDEN_FIELDS.map(String::from).to_vec(),
        ..TlsResults::default()
    };
    tls.baseline_node_cores = node_cores(system).await?;
    tls.load = system.load(population).await?;
    eprintln!(
        "dancu over mutual TLS: loaded {} records in {:.1} s ({:.0} records/s)",
        tls.load.records, tls.load.seconds, tls.load.records_per_s
    );
    secure.check_callers(population).await?;
    let (waited, idle_cores) = wait_idle(system, tls.baseline_node_cores).await?;
    tls.idle_wait_s = waited.as_secs_f64();
    tls.idle_node_cores = idle_cores;
    tls.runs.push(TlsRun { caller: PLAINTEXT_CALLER.to_string(), result: plaintext.result });
    for caller in [FULL_CALLER, MASKED_CALLER] {
        for workload in [DancuWorkload::GetLinearizable, DancuWorkload::BatchGet(HEADLINE_BATCH)] {
            let shape = shape(plan, HEADLINE_CONCURRENCY);
            let result = run_workload_as(secure.client(caller), workload, keys.clone(), shape).await?;
            progress(&format!("dancu-tls {caller}"), &result);
            tls.runs.push(TlsRun { caller: caller.to_string(), result });
        }
    }
    let dial = Dial::mutual_tls(&secure.identity(FULL_CALLER)?)?;
    let handshakes = connections::run(&system.endpoints(), dial, shape(plan, HEADLINE_CONCURRENCY)).await?;
    progress("dancu-tls", &handshakes.result);
    tls.handshakes_full = handshakes.handshakes_full;
    tls.handshakes_resumed = handshakes.handshakes_resumed;
    tls.runs.push(TlsRun { caller: FULL_CALLER.to_string(), result: handshakes.result });
    summarize(&mut tls);
    if let Some(cap) = cap.as_deref() {
        tls.cpu_cap_cores = Some(cap.cores());
        tls.cpu_throttled_periods = cap.throttled_periods()?;
        tls.settings.push_str(&format!("; server processes capped to {} cores together", cap.cores()));
    }
    Ok(tls)
}

/// Cores the nodes used together over the next [`IDLE_WINDOW`] (a measurement over a window, not a wait for an
/// event).
async fn node_cores(system: &DancuSystem) -> Result<f64, CompareError> {
    let started = Instant::now();
    let before = system.cpu_s()?;
    tokio::time::sleep(IDLE_WINDOW).await;
    let after = system.cpu_s()?;
    Ok((after - before).max(0.0) / started.elapsed().as_secs_f64())
}

/// Measures the nodes' cores window after window until they are about as idle as `baseline` (the load's flushes
/// and compactions done), at most [`IDLE_WAIT_MAX`]; how long that took and the last window's cores. Not being idle
/// by then is no error: the figures say how busy the nodes still were.
async fn wait_idle(system: &DancuSystem, baseline: f64) -> Result<(Duration, f64), CompareError> {
    let started = Instant::now();
    let idle_max = baseline * IDLE_VS_BASELINE_MAX + IDLE_CORES_SLACK;
    loop {
        let cores = node_cores(system).await?;
        if cores <= idle_max || started.elapsed() >= IDLE_WAIT_MAX {
            return Ok((started.elapsed(), cores));
        }
    }
}

/// Fills the figures from the runs.
pub fn summarize(tls: &mut TlsResults) {
    let find = |caller: &str, workload: &str| {
        tls.runs.iter().find(|run| run.caller == caller && run.result.workload == workload).map(|run| &run.result)
    };
    tls.get_linearizable = find(FULL_CALLER, "get").map(Figures::of).unwrap_or_default();
    tls.batch_get = find(FULL_CALLER, "batch-get").map(BatchFigures::of).unwrap_or_default();
    tls.masked_get_linearizable = find(MASKED_CALLER, "get").map(Figures::of).unwrap_or_default();
    tls.masked_batch_get = find(MASKED_CALLER, "batch-get").map(BatchFigures::of).unwrap_or_default();
    tls.handshakes = find(FULL_CALLER, connections::TLS_WORKLOAD).map(Figures::of).unwrap_or_default();
    tls.plaintext_connections =
        find(PLAINTEXT_CALLER, connections::PLAINTEXT_WORKLOAD).map(Figures::of).unwrap_or_default();
    tls.batch_get_keys_per_s = tls.batch_get.keys_per_s;
    tls.masked_batch_get_keys_per_s = tls.masked_batch_get.keys_per_s;
    tls.handshakes_per_s = tls.handshakes.ops_per_s;
    tls.plaintext_connections_per_s = tls.plaintext_connections.ops_per_s;
}

/// A benchmark client's options as the caller `identity` names.
pub(crate) fn options(identity: TlsIdentity) -> ClientOptions {
    ClientOptions { tls: Some(identity), ..bench_options() }
}

#[cfg(test)]
mod tests {
    use dancu_cluster_config::{ClusterConfig, RaftConfig, TlsMode};
    use dancu_jepsen::loopback_config;

    use super::*;

    /// A three-node loopback configuration with the benchmark's access rules, as the harness writes it.
    fn secure_config() -> ClusterConfig {
        let mut config = loopback_config(&[7201, 7202, 7203], 3, RaftConfig::default());
        access().apply(&mut config);
        config.validate().expect("valid");
        config
    }

    #[test]
    fn the_configuration_is_mutual_with_a_full_and_a_masked_caller() {
        let config = secure_config();
        assert_eq!(config.tls.mode, TlsMode::Mutual);
        let roles: Vec<(&str, Vec<String>, &[String])> = config
            .roles
            .iter()
            .map(|role| (role.name.as_str(), role.operations.clone(), role.hidden_fields.as_slice()))
            .collect();
        let ops = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        let hidden = HIDDEN_FIELDS.map(String::from);
        assert_eq!(
            roles,
            [
                (FULL_CALLER, ops(&["get", "batch-get", "import"]), &[][..]),
                (MASKED_CALLER, ops(&["get", "batch-get"]), &hidden[..]),
            ]
        );
        assert!(config.roles.iter().all(|role| role.purposes == [PURPOSE] && role.requests_per_s.is_none()));
        let callers: Vec<(&str, &str)> =
            config.callers.iter().map(|caller| (caller.name.as_str(), caller.role.as_str())).collect();
        assert_eq!(callers, [(FULL_CALLER, FULL_CALLER), (MASKED_CALLER, MASKED_CALLER)]);
    }

    #[test]
    fn every_caller_gets_a_certificate_the_dialer_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        dancu_client::certificates::issue_for_config(&secure_config(), dir.path(), 1, 1).expect("issued");
        for caller in [FULL_CALLER, MASKED_CALLER] {
            let identity = TlsIdentity { dir: dir.path().to_path_buf(), name: caller.to_string() };
            let Dial::MutualTls(client) = Dial::mutual_tls(&identity).expect("loads") else {
                panic!("{caller}: not a TLS dialer");
            };
            // A fresh process has no session to resume: nor does the dialer.
            let disabled = rustls::client::Resumption::disabled();
            assert_eq!(format!("{:?}", client.resumption), format!("{disabled:?}"), "{caller}");
        }
    }
}
