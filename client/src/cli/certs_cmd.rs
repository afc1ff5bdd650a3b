//! `dancuctl certs`: the cluster's certificate authority and a certificate for every node and caller it configures.
//!
//! Run again on the same directory, it keeps the authority (`ca.crt`, `ca.key`) and issues fresh node and caller
//! certificates: nodes and clients pick renewed files up without a restart.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::certificates::issue_for_config;

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
    let issued = issue_for_config(&config, &args.out, args.days, args.ca_days)
        .map_err(|error| Failure::usage(error.to_string()))?;
    let result = CertsJson {
        dir: args.out.display().to_string(),
        authority: if issued.kept_authority { "kept" } else { "created" },
        identities: issued.identities,
    };
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
