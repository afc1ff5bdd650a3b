//! `dancuctl node …`: actions on one node of the cluster.

use clap::Subcommand;
use serde::Serialize;

use super::{to_json, Failure, GlobalArgs, OutputFormat};

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCommand {
    /// Re-add a node that came back with an empty data dir (`status` shows it `awaiting_readd`).
    ///
    /// Until this runs, the node neither votes nor campaigns nor founds a group, since its empty log could elect
    /// a candidate that lacks acknowledged writes. In every partition it replicates, the leader removes it and adds
    /// it back as a learner, waits until it has caught up and promotes it; then every node accepts its new data dir.
    /// Idempotent: re-run it after a failure. JSON: `{"node_id", "partitions": [...]}` (the partitions changed).
    ReAdd {
        /// The node's id in the configuration.
        node_id: u64,
    },
}

#[derive(Debug, Serialize)]
struct ReaddJson {
    node_id: u64,
    partitions: Vec<u32>,
}

pub(crate) async fn run(global: &GlobalArgs, command: NodeCommand) -> Result<String, Failure> {
    match command {
        NodeCommand::ReAdd { node_id } => {
            let client = global.connect().await?;
            let reply = client.readd_node(node_id).await?;
            let json = ReaddJson { node_id, partitions: reply.partitions };
            match global.output {
                OutputFormat::Json => to_json(&json),
                OutputFormat::Table => Ok(format!(
                    "node {} re-added: {} partitions changed membership, every node accepts its new data dir\n",
                    json.node_id,
                    json.partitions.len()
                )),
            }
        }
    }
}
