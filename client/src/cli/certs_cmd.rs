//! `dancuctl certs`: the cluster's certificate authority and a certificate for every node and caller it configures.
//!
//! Run again on the same directory, it keeps the authority (`ca.crt`, `ca.key`) and issues fresh node and caller
//! certificates: nodes and clients pick renewed files up without a restart.

use std::path::PathBuf;

use clap::Args;
use dancu_tls::authority::{Authority, Validity};
use dancu_tls::PeerIdentity;
use serde::Serialize;

use super::{load_config, to_json, Failure, GlobalArgs, OutputFormat};

#[derive(Debug, Args)]
pub(crate) struct CertsArgs {
    /// Where to write `ca.crt`, `ca.key` and `NAME.crt` + `NAME.key` per node (`node-N`) and per caller.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How long node and caller certificates are valid, in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// How long a new authority is valid, in days (an existing one in DIR is kept as it is).
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=10_950))]
    ca_days: u32,
}

#[derive(Debug, Serialize)]
struct CertsJson {
    dir: String,
    /// "created" or "kept".
    authority: &'static str,
    identities: Vec<String>,
}

pub(crate) fn run(global: &GlobalArgs, args: CertsArgs) -> Result<String, Failure> {
    let Some(config_path) = &global.config_file else {
        return Err(Failure::usage("certs needs the cluster configuration: pass --config FILE"));
    };
    let config = load_config(config_path)?;
    let tls_error = |error: dancu_tls::TlsError| Failure::usage(error.to_string());
    std::fs::create_dir_all(&args.out)
        .map_err(|error| Failure::usage(format!("cannot create {}: {error}", args.out.display())))?;
    let (authority, kept) = if args.out.join("ca.crt").exists() && args.out.join("ca.key").exists() {
        (Authority::load(&args.out).map_err(tls_error)?, true)
    } else {
        let authority =
            Authority::create(&config.cluster_name, Validity::days_from_now(args.ca_days)).map_err(tls_error)?;
        authority.write(&args.out).map_err(tls_error)?;
        (authority, false)
    };
    let validity = Validity::days_from_now(args.days);
    let mut identities = Vec::new();
    for node in &config.nodes {
        let identity = PeerIdentity::Node(node.id);
        let hosts = vec![host_of(&node.addr)];
        let issued = authority.issue(&identity, &hosts, validity, &config.cluster_name).map_err(tls_error)?;
        issued.write(&args.out, &identity.file_stem()).map_err(tls_error)?;
        identities.push(identity.file_stem());
    }
    for caller in &config.callers {
        let identity = PeerIdentity::caller(&caller.name).map_err(tls_error)?;
        let issued = authority.issue(&identity, &[], validity, &config.cluster_name).map_err(tls_error)?;
        issued.write(&args.out, &identity.file_stem()).map_err(tls_error)?;
        identities.push(identity.file_stem());
    }
    let result =
        CertsJson { dir: args.out.display().to_string(), authority: if kept { "kept" } else { "created" }, identities };
    match global.output {
        OutputFormat::Json => to_json(&result),
        OutputFormat::Table => Ok(format!(
            "{}: authority {} (ca.crt; keep ca.key offline), {} certificates valid {} days: {}\n",
            result.dir,
            result.authority,
            result.identities.len(),
            args.days,
            result.identities.join(", ")
        )),
    }
}

/// The host part of `host:port` (an IPv6 address without its brackets), which the certificate must name.
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
