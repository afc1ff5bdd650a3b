//! Certificates for a whole cluster configuration: what `dancuctl certs` and the demo write.

use std::path::Path;

use dancu_cluster_config::ClusterConfig;
use dancu_tls::authority::{Authority, Validity};
use dancu_tls::{PeerIdentity, TlsError};

/// What [`issue_for_config`] did.
#[derive(Debug, Clone)]
pub struct IssuedCertificates {
    /// An authority already in the directory was kept (so this run renewed the certificates).
    pub kept_authority: bool,
    /// The identities written, as their file stems (`node-1`, `bank`).
    pub identities: Vec<String>,
}

/// Writes into `dir` the cluster's authority (`ca.crt`, `ca.key`; an existing pair is kept) and a certificate + key
/// for every node (valid for the host of its `addr`) and every `[[callers]]` name, valid `days` days.
pub fn issue_for_config(
    config: &ClusterConfig,
    dir: &Path,
    days: u32,
    ca_days: u32,
) -> Result<IssuedCertificates, TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io { path: dir.to_path_buf(), source })?;
    let kept_authority = dir.join("ca.crt").exists() && dir.join("ca.key").exists();
    let authority = if kept_authority {
        Authority::load(dir)?
    } else {
        let authority = Authority::create(&config.cluster_name, Validity::days_from_now(ca_days))?;
        authority.write(dir)?;
        authority
    };
    let validity = Validity::days_from_now(days);
    let mut identities = Vec::new();
    let nodes = config.nodes.iter().map(|node| (PeerIdentity::Node(node.id), vec![host_of(&node.addr)]));
    let callers = config.callers.iter().map(|caller| (PeerIdentity::Caller(caller.name.clone()), Vec::new()));
    for (identity, hosts) in nodes.chain(callers) {
        let issued = authority.issue(&identity, &hosts, validity, &config.cluster_name)?;
        issued.write(dir, &identity.file_stem())?;
        identities.push(identity.file_stem());
    }
    Ok(IssuedCertificates { kept_authority, identities })
}

/// The host part of `host:port` (an IPv6 address without its brackets), which a node's certificate must name.
fn host_of(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']').to_string()
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("127.0.0.1:7201"), "127.0.0.1");
        assert_eq!(host_of("[::1]:7201"), "::1");
        assert_eq!(host_of("node-1.hanoi.example:7201"), "node-1.hanoi.example");
    }
}
