//! Runs a node: opens storage, starts the Raft groups, serves every gRPC service on one tonic
//! server (public Registry, internal Raft, health, reflection), and stops cleanly on a signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use dancu_cluster_config::{ClusterConfig, NodeId};
use dancu_proto::v1::admin_server::AdminServer;
use dancu_proto::v1::audit_server::AuditServer;
use dancu_proto::v1::raft_server::RaftServer;
use dancu_proto::v1::registry_server::RegistryServer;
use dancu_tls::{PeerIdentity, ReloadingTls, TlsDir};
use tonic::transport::server::TcpIncoming;

use crate::audit::Auditor;
use crate::gate::Gate;
use crate::identity::guard::ClusterCheck;
use crate::identity::join::{establish, JoinMode};
use crate::identity::IdentityError;
use crate::limits::GRPC_MESSAGE_BYTES_MAX;
use crate::raft::groups::{GroupOptions, Groups};
use crate::raft::network::Peers;
use crate::raft::service::RaftService;
use crate::service::access::AccessPolicy;
use crate::service::admin::AdminService;
use crate::service::admission::Admission;
use crate::service::audit_queries::AuditService;
use crate::service::caller::AccessCheck;
use crate::service::encoded_reads::RegistryRoutes;
use crate::service::linearizer::ReadMode;
use crate::service::registry::RegistryService;
use crate::storage::{AuditLog, Durability, Store};

/// How a node is started (from the command line).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub config: ClusterConfig,
    pub node_id: NodeId,
    pub data_dir: PathBuf,
    pub read_mode: ReadMode,
    /// What an empty data dir does: found/join a new cluster, or join an existing one (`--join`).
    pub join: JoinMode,
    pub group_options: GroupOptions,
    pub durability: Durability,
    /// The directory `dancuctl certs` wrote (`ca.crt`, `node-N.crt`, `node-N.key`): required when the configuration
    /// says `tls.mode = "mutual"`, refused otherwise.
    pub tls_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {0} is not in the cluster configuration")]
    UnknownNode(NodeId),
    #[error("invalid configuration:\n{0}")]
    Config(#[from] dancu_cluster_config::ValidationErrors),
    #[error("node address {addr:?} is not a socket address: {message}")]
    Addr { addr: String, message: String },
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Start(#[from] crate::raft::groups::StartError),
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("TLS: {0}")]
    Tls(#[from] dancu_tls::TlsError),
    #[error("the configuration says tls.mode = \"mutual\": start the node with --tls-dir DIR (see `dancuctl certs`)")]
    TlsDirMissing,
    #[error("--tls-dir given, but the configuration's tls.mode is \"insecure-plaintext\"; set tls.mode = \"mutual\"")]
    TlsNotConfigured,
    #[error("access rules: {0}")]
    Access(#[from] crate::service::field_mask::FieldMaskError),
}

/// The node's TLS material when the configuration requires mutual TLS, watched for renewals.
fn load_tls(options: &NodeOptions) -> Result<Option<Arc<ReloadingTls>>, NodeError> {
    match (options.config.requires_tls(), &options.tls_dir) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err(NodeError::TlsNotConfigured),
        (true, None) => Err(NodeError::TlsDirMissing),
        (true, Some(dir)) => {
            let tls = ReloadingTls::load(TlsDir::new(dir, PeerIdentity::Node(options.node_id)))?;
            Ok(Some(tls))
        }
    }
}

fn listen_addr(addr: &str) -> Result<SocketAddr, NodeError> {
    use std::net::ToSocketAddrs;
    let to_error = |message: String| NodeError::Addr { addr: addr.to_string(), message };
    addr.to_socket_addrs()
        .map_err(|e| to_error(e.to_string()))?
        .next()
        .ok_or_else(|| to_error("resolves to nothing".into()))
}

/// How many streams a peer may open and reset before this server accepts them, per connection, before HTTP/2 closes
/// the connection (h2's guard against "rapid reset" floods; its default is 20). A peer's control connection carries a
/// heartbeat per group it leads here every interval; when this node stalls for one interval, the sender times every
/// one of them out and resets it. A limit below one round of heartbeats would let a single stall close the connection
/// that keeps every group's lease alive, and the elections that follow would stall the node again. Four rounds of
/// heartbeats, still bounded, so a flood is still cut off.
fn pending_accept_resets_max(n_groups: usize) -> usize {
    (4 * n_groups).max(H2_PENDING_ACCEPT_RESETS_DEFAULT)
}

/// h2's own default for [`pending_accept_resets_max`].
const H2_PENDING_ACCEPT_RESETS_DEFAULT: usize = 20;

/// Runs the node until `shutdown` resolves.
pub async fn run(options: NodeOptions, shutdown: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
    let partition_map = options.config.partition_map()?;
    let node = options.config.node(options.node_id).ok_or(NodeError::UnknownNode(options.node_id))?;
    let addr = listen_addr(&node.addr)?;
    // Probe the address before opening storage: a second process on the same address fails before touching data.
    drop(std::net::TcpListener::bind(addr).map_err(|source| NodeError::Bind { addr, source })?);
    let tls = load_tls(&options)?;
    let access = Arc::new(AccessPolicy::from_config(&options.config)?);
    let store = Store::open_with(&options.data_dir, options.durability)?;
    if let Some(tls) = &tls {
        tls.watch();
    }
    let peers = Arc::new(Peers::new(tls.clone()));
    tokio::pin!(shutdown);
    let identity = tokio::select! {
        identity = establish(&store, &options.config, options.node_id, options.join, &peers) => Arc::new(identity?),
        () = &mut shutdown => return Ok(()),
    };
    tracing::info!(
        node = options.node_id,
        cluster_id = %identity.cluster_id,
        incarnation = %identity.incarnation,
        awaiting_readd = identity.awaiting_readd(),
        "identity established"
    );
    let groups =
        Groups::start(options.config.clone(), partition_map, store, identity.clone(), peers, options.group_options);
    let groups = Arc::new(groups.await?);
    let audit_log = match options.config.audit.enabled {
        true => Some(Arc::new(AuditLog::open(groups.store.clone(), options.node_id)?)),
        false => None,
    };
    let auditor = Auditor::new(audit_log);
    // Listen only now, with every group ready: peers' requests sent to a port that nobody serves yet would queue,
    // time out and be reset by their senders, and a burst of resets trips HTTP/2's rapid-reset guard, which closes
    // the one connection all groups share. TCP_NODELAY on every accepted connection: a lease read answers in
    // microseconds, and Nagle would hold its reply back for a delayed ACK (tens of milliseconds).
    let incoming = TcpIncoming::bind(addr).map_err(|source| NodeError::Bind { addr, source })?.with_nodelay(Some(true));
    let n_groups = groups.iter().count();
    tracing::info!(node = options.node_id, n_groups, %addr, "raft groups started");

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Both reflection versions: grpcurl speaks v1, while Python's grpcio-reflection, Postman, Evans and older
    // grpcurl still speak v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dancu_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let admission = Arc::new(Admission::new(groups.iter().map(|group| group.spec.id)));
    admission.watch_storage(groups.store.clone());
    admission.watch_scheduling();
    let registry = RegistryRoutes::new(RegistryService {
        groups: groups.clone(),
        read_mode: options.read_mode,
        admission,
        access: access.clone(),
        auditor: auditor.clone(),
    });
    let audit = AuditServer::new(AuditService { registry: registry.service() })
        .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
        .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX);
    let raft = RaftServer::new(RaftService { groups: groups.clone(), auditor: auditor.clone() })
        .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
        .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX);

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let admin = AdminServer::new(AdminService { groups: groups.clone() });
    // Who may use which service (the peer's certificate), then whether the request is for this cluster and node.
    let access_check = AccessCheck(access.clone());
    let both_checks = (access_check.clone(), ClusterCheck(identity.clone()));
    let router = tonic::transport::Server::builder()
        .http2_max_pending_accept_reset_streams(Some(pending_accept_resets_max(n_groups)))
        .add_service(Gate::new(health_service, access_check.clone()))
        .add_service(Gate::new(reflection_v1, access_check.clone()))
        .add_service(Gate::new(reflection_v1alpha, access_check.clone()))
        .add_service(Gate::new(registry, both_checks.clone()))
        .add_service(Gate::new(audit, both_checks.clone()))
        .add_service(Gate::new(raft, both_checks.clone()))
        .add_service(Gate::new(admin, both_checks));
    let stopped = async {
        let _ = stop_rx.await;
    };
    let server = match tls {
        Some(tls) => {
            tokio::spawn(router.serve_with_incoming_shutdown(dancu_tls::incoming::incoming(incoming, tls), stopped))
        }
        None => tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped)),
    };

    groups.bootstrap().await;
    groups.watch_recovery();
    groups.watch_leaders();
    let retention = options.config.audit.retention().unwrap_or(std::time::Duration::from_secs(10 * 365 * 86_400));
    crate::audit::shipper::spawn(auditor.clone(), groups.clone(), retention);
    crate::raft::late_heartbeats::summarize_in_log();
    health_reporter.set_serving::<RegistryServer<RegistryService>>().await;
    tracing::info!(node = options.node_id, "serving");

    shutdown.await;
    tracing::info!(node = options.node_id, "stopping");
    health_reporter.set_not_serving::<RegistryServer<RegistryService>>().await;
    let _ = stop_tx.send(());
    groups.shutdown().await;
    match server.await {
        Ok(result) => result?,
        Err(join_error) => tracing::error!(%join_error, "server task failed"),
    }
    Ok(())
}
