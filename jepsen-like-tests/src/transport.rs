//! How a consistency run's connections are secured, and the evidence the report shows for it.
//!
//! A run is mutual TLS unless `--insecure-plaintext` says otherwise. A mutual-TLS run proves it: after the
//! cluster is healthy, every node is asked for its Status over plaintext and must refuse, so a default that
//! silently fell back to plaintext fails the run instead of passing it.

use std::time::Duration;

use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::v1::StatusRequest;
use tonic::transport::Endpoint;

use crate::LocalCluster;

/// Connect timeout and deadline of one plaintext probe (a node on this machine refuses in milliseconds).
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PROBE_RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// How the nodes, and the suite's clients, connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportSecurity {
    /// `tls.mode = "mutual"`: every connection is mutual TLS with certificates made for the run (the default).
    MutualTls,
    /// `tls.mode = "insecure-plaintext"` (`--insecure-plaintext`): no encryption, no identities.
    InsecurePlaintext,
}

impl TransportSecurity {
    /// As the report writes it (`results.json` `transport`).
    pub fn name(self) -> &'static str {
        match self {
            TransportSecurity::MutualTls => "mutual TLS",
            TransportSecurity::InsecurePlaintext => "insecure plaintext",
        }
    }
}

impl std::fmt::Display for TransportSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The run's transport security and what showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    pub security: TransportSecurity,
    /// For mutual TLS, the nodes' refusals of plaintext; for plaintext, why it was used.
    pub evidence: String,
}

/// Checks that the running cluster uses `security`: a mutual-TLS cluster must refuse a plaintext Status call on
/// every running node (an error names the node that answered it); a plaintext one is taken as configured.
pub async fn confirm(cluster: &LocalCluster, security: TransportSecurity) -> Result<Transport, String> {
    if security == TransportSecurity::InsecurePlaintext {
        let evidence = "plaintext as asked (--insecure-plaintext): no encryption, no caller identities".to_string();
        return Ok(Transport { security, evidence });
    }
    if !cluster.config().requires_tls() || cluster.tls_dir().is_none() {
        return Err("the run asked for mutual TLS but the cluster is not configured for it".to_string());
    }
    let mut refusals = Vec::new();
    for node in cluster.running_nodes() {
        match plaintext_status(&cluster.addr(node)).await {
            Ok(()) => {
                return Err(format!("node {node} answered a plaintext Status call although the run is mutual TLS"));
            }
            Err(why) => refusals.push(format!("node {node}: {why}")),
        }
    }
    if refusals.is_empty() {
        return Err("no running node to ask for plaintext".to_string());
    }
    let evidence = format!("a plaintext Status call was refused by every node ({})", refusals.join("; "));
    Ok(Transport { security, evidence })
}

/// A Status call over plaintext HTTP/2; `Err` says how it failed.
async fn plaintext_status(addr: &str) -> Result<(), String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|error| error.to_string())?
        .connect_timeout(PROBE_CONNECT_TIMEOUT)
        .timeout(PROBE_RPC_TIMEOUT);
    let channel = endpoint.connect().await.map_err(|error| format!("connect: {error}"))?;
    RegistryClient::new(channel)
        .status(StatusRequest {})
        .await
        .map(|_| ())
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}
