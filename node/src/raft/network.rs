//! Outgoing Raft RPCs: a gRPC channel per peer node and connection class, shared by every group on this node.
//!
//! Each group gets a `PeerNetwork` per target that wraps the shared channel and stamps every message
//! with the group's partition id.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use dancu_proto::v1::raft_client::RaftClient;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, TransferLeaderResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetworkFactory, RaftNetworkV2};
use tokio::io::AsyncReadExt;
use tonic::transport::{Channel, Endpoint};

use crate::identity::peer_health::PeerState;
use crate::identity::{Identity, RandomId};
use crate::limits::{APPEND_ENTRIES_BYTES_MAX, GRPC_MESSAGE_BYTES_MAX, SNAPSHOT_CHUNK_BYTES_MAX};
use crate::raft::codec;
use crate::raft::rtt::RttEstimate;
use crate::raft::types::{NodeId, Snapshot, TypeConfig, Vote};
use crate::storage::entry_cache::EntryCache;
use crate::storage::SnapshotFile;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What a connection to a peer carries. Each class has its own TCP connection (and HTTP/2 flow-control windows and
/// stream limits), so heartbeats and votes never queue behind megabytes of log entries or snapshot chunks, and a
/// connection torn down under bulk traffic takes no heartbeat with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionClass {
    /// Votes, heartbeats (appends without entries), leadership transfers, ReadIndex and identity calls: small,
    /// latency-bound messages that keep leases and leaders alive.
    Control,
    /// Appends that carry entries.
    Replication,
    /// Snapshot streams.
    Snapshot,
    /// Client requests forwarded to another node (scatter-gather reads).
    Forward,
}

/// The node's channels to its peers: created once per peer address and class, then cloned (cheaply).
#[derive(Default)]
pub struct Peers {
    /// Mutual TLS to every peer when the cluster requires it (`tls.mode = "mutual"`); each new connection uses the
    /// certificate current at that moment.
    tls: Option<Arc<dancu_tls::ReloadingTls>>,
    /// By peer address, then class: looked up by `&str` on every RPC, without building a key.
    channels: Mutex<HashMap<String, HashMap<ConnectionClass, Channel>>>,
    /// Round trips of appends with entries, per peer address: their timeout follows them.
    append_rtt: Mutex<HashMap<String, RttEstimate>>,
}

impl Peers {
    pub fn new(tls: Option<Arc<dancu_tls::ReloadingTls>>) -> Peers {
        Peers { tls, ..Peers::default() }
    }

    pub fn channel(&self, addr: &str, class: ConnectionClass) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(channel) = channels.get(addr).and_then(|classes| classes.get(&class)) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = match &self.tls {
            Some(tls) => endpoint.connect_with_connector_lazy(dancu_tls::connector::connector(tls.clone())),
            None => endpoint.connect_lazy(),
        };
        channels.entry(addr.to_string()).or_default().insert(class, channel.clone());
        Ok(channel)
    }

    /// The timeout of the next append with entries to `addr`: sized from its measured round trips, never shorter than
    /// openraft's time to live (`floor`).
    fn append_timeout(&self, addr: &str, floor: Duration) -> Duration {
        let rtt = self.append_rtt.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        rtt.get(addr).copied().unwrap_or_default().append_timeout(floor)
    }

    /// An append with entries to `addr` was answered after `round_trip`, or timed out (`None`).
    fn observe_append(&self, addr: &str, round_trip: Option<Duration>) {
        let mut rtt = self.append_rtt.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let estimate = rtt.entry(addr.to_string()).or_default();
        match round_trip {
            Some(elapsed) => estimate.observe(elapsed),
            None => estimate.observe_timeout(),
        }
    }

    pub fn raft_client(
        &self,
        addr: &str,
        class: ConnectionClass,
    ) -> Result<RaftClient<Channel>, tonic::transport::Error> {
        Ok(RaftClient::new(self.channel(addr, class)?)
            .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
            .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX))
    }
}

pub struct NetworkFactory {
    pub pid: PartitionId,
    pub peers: Arc<Peers>,
    pub identity: Arc<Identity>,
    /// The partition's recent entries with their stored bytes (shared with its log store).
    pub cache: Arc<EntryCache>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerNetwork;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerNetwork {
        PeerNetwork {
            pid: self.pid,
            target,
            addr: node.addr.clone(),
            peers: self.peers.clone(),
            identity: self.identity.clone(),
            cache: self.cache.clone(),
        }
    }
}

pub struct PeerNetwork {
    pid: PartitionId,
    target: NodeId,
    addr: String,
    peers: Arc<Peers>,
    identity: Arc<Identity>,
    cache: Arc<EntryCache>,
}

/// The cluster id a refusal names, when the peer refused us for belonging to another cluster.
fn foreign_cluster_of(status: &tonic::Status) -> Option<RandomId> {
    let detail = <pb::ErrorDetail as prost::Message>::decode(status.details()).ok()?;
    if detail.reason != pb::ErrorReason::ClusterMismatch as i32 {
        return None;
    }
    RandomId::parse_hex(&detail.cluster_id)
}

/// A peer that cannot be reached makes openraft back off; any other failure is a network error. A node of another
/// cluster at the peer's address is as good as unreachable: back off instead of retrying at once.
fn rpc_error(status: tonic::Status) -> RPCError<TypeConfig> {
    if foreign_cluster_of(&status).is_some() {
        return RPCError::Unreachable(Unreachable::new(&status));
    }
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::new(&status))
        }
        _ => RPCError::Network(NetworkError::new(&status)),
    }
}

/// tonic reports its own per-call timeout as CANCELLED ("Timeout expired"); a server as DEADLINE_EXCEEDED.
fn is_timeout(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::DeadlineExceeded
        || (status.code() == tonic::Code::Cancelled && status.message().contains("Timeout expired"))
}

fn decode_error(error: std::io::Error) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(&error))
}

impl PeerNetwork {
    fn client(&self, class: ConnectionClass) -> Result<RaftClient<Channel>, RPCError<TypeConfig>> {
        self.peers.raft_client(&self.addr, class).map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))
    }

    /// A request stamped with this cluster's and this node's identity, for the target node.
    fn request<T>(&self, message: T, option: &RPCOption) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(option.hard_ttl());
        self.identity.stamp(request.metadata_mut(), Some(self.target));
        request
    }

    /// Notes what a call's outcome says about the peer (for `Status`): answering, unreachable or foreign.
    fn observe<T>(&self, result: &Result<T, tonic::Status>) {
        let state = match result {
            Ok(_) => PeerState::Ok,
            Err(status) => match foreign_cluster_of(status) {
                Some(foreign) => {
                    if self.identity.peer_health.record_foreign(self.target, foreign) {
                        tracing::warn!(
                            peer = self.target,
                            addr = %self.addr,
                            foreign_cluster = %foreign,
                            "a node of another cluster answers at this peer's address"
                        );
                    }
                    return;
                }
                None if matches!(status.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded) => {
                    PeerState::Unreachable
                }
                None => PeerState::Ok,
            },
        };
        self.identity.peer_health.record(self.target, state);
    }

    /// `dancu.v1.Raft/AppendEntries` with pre-encoded entries (same path and wire format as the generated
    /// client's call, whose request type would force a decode-and-re-encode of every entry).
    async fn send_encoded_append(
        &self,
        request: tonic::Request<pb::AppendEntriesRequestEncoded>,
        class: ConnectionClass,
    ) -> Result<tonic::Response<pb::AppendEntriesResponse>, tonic::Status> {
        let channel = self.peers.channel(&self.addr, class).map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut grpc = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
            .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX);
        grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let codec = tonic_prost::ProstCodec::<pb::AppendEntriesRequestEncoded, pb::AppendEntriesResponse>::default();
        let path = http::uri::PathAndQuery::from_static("/dancu.v1.Raft/AppendEntries");
        grpc.unary(request, path, codec).await
    }

    async fn send_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
        pre_vote: bool,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        if self.identity.awaiting_readd() {
            // An empty log must not lead: its election could lose acknowledged writes.
            let refused = std::io::Error::other("this node awaits its re-add: it does not campaign");
            return Err(RPCError::Unreachable(Unreachable::new(&refused)));
        }
        let message = codec::vote_request_to_pb(self.pid.0, &rpc, pre_vote);
        let reply = self.client(ConnectionClass::Control)?.vote(self.request(message, &option)).await;
        self.observe(&reply);
        let reply = reply.map_err(rpc_error)?;
        codec::vote_response_from_pb(reply.get_ref()).map_err(decode_error)
    }

    async fn stream_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let SnapshotFile { path } = snapshot.snapshot;
        let mut file =
            tokio::fs::File::open(&path).await.map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let first = pb::SnapshotChunk {
            partition_id: self.pid.0,
            vote: Some(codec::vote_to_pb(&vote)),
            meta: Some(codec::snapshot_meta_to_pb(&snapshot.meta)),
            data: Vec::new(),
        };
        // Chunks are read lazily, so memory stays bounded by the channel depth times the chunk size.
        let (tx, rx) = tokio::sync::mpsc::channel::<pb::SnapshotChunk>(4);
        let reader = tokio::spawn(async move {
            if tx.send(first).await.is_err() {
                return Ok(());
            }
            loop {
                let mut data = vec![0u8; SNAPSHOT_CHUNK_BYTES_MAX];
                let n = file.read(&mut data).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                data.truncate(n);
                if tx.send(pb::SnapshotChunk { data, ..Default::default() }).await.is_err() {
                    return Ok(());
                }
            }
        });
        let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        request.set_timeout(option.hard_ttl().max(Duration::from_secs(60)));
        self.identity.stamp(request.metadata_mut(), Some(self.target));
        let reply = self
            .client(ConnectionClass::Snapshot)
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?
            .install_snapshot(request)
            .await;
        let read_result = reader.await;
        let reply = reply.map_err(|status| match rpc_error(status) {
            RPCError::Unreachable(e) => StreamingError::Unreachable(e),
            other => StreamingError::Network(NetworkError::new(&other)),
        })?;
        if let Ok(Err(e)) = read_result {
            return Err(StreamingError::Network(NetworkError::new(&e)));
        }
        let vote = codec::vote_from_pb(reply.get_ref().vote.as_ref())
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        Ok(SnapshotResponse::new(vote))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerNetwork {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // Entries go out as their stored bytes (from the cache when there), never re-encoded per follower.
        // Batched writes make big entries: send a prefix that fits one message and report how far it
        // got (PartialSuccess); openraft sends the rest next.
        let mut entries = Vec::with_capacity(rpc.entries.len());
        let mut n_bytes = 0;
        let mut last_sent = None;
        for entry in &rpc.entries {
            let encoded =
                self.cache.encoded(&entry.log_id).unwrap_or_else(|| bytes::Bytes::from(codec::encode_entry(entry)));
            if !entries.is_empty() && n_bytes + encoded.len() > APPEND_ENTRIES_BYTES_MAX {
                break;
            }
            n_bytes += encoded.len();
            entries.push(encoded);
            last_sent = Some(entry.log_id);
        }
        let truncated = entries.len() < rpc.entries.len();
        let message = pb::AppendEntriesRequestEncoded {
            partition_id: self.pid.0,
            vote: Some(codec::vote_to_pb(&rpc.vote)),
            prev_log_id: codec::opt_log_id_to_pb(rpc.prev_log_id.as_ref()),
            entries,
            leader_commit: codec::opt_log_id_to_pb(rpc.leader_commit.as_ref()),
        };
        // A heartbeat is an append without entries: it travels with the votes, apart from the bulk, under openraft's
        // time to live; an append with entries gets a timeout from its peer's measured round trips.
        let has_entries = !message.entries.is_empty();
        let class = if has_entries { ConnectionClass::Replication } else { ConnectionClass::Control };
        let mut request = self.request(message, &option);
        if has_entries {
            request.set_timeout(self.peers.append_timeout(&self.addr, option.hard_ttl()));
        }
        let sent_at = std::time::Instant::now();
        let reply = self.send_encoded_append(request, class).await;
        if has_entries {
            match &reply {
                Ok(_) => self.peers.observe_append(&self.addr, Some(sent_at.elapsed())),
                Err(status) if is_timeout(status) => self.peers.observe_append(&self.addr, None),
                Err(_) => {}
            }
        }
        self.observe(&reply);
        let reply = reply.map_err(rpc_error)?;
        let response = codec::append_response_from_pb(reply.into_inner()).map_err(decode_error)?;
        Ok(match response {
            AppendEntriesResponse::Success if truncated => AppendEntriesResponse::PartialSuccess(last_sent),
            other => other,
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.send_vote(rpc, option, false).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.send_vote(rpc, option, true).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let target = self.target;
        tokio::select! {
            closed = cancel => {
                tracing::debug!(partition = self.pid.0, target, "snapshot stream cancelled");
                Err(StreamingError::Closed(closed))
            }
            result = self.stream_snapshot(vote, snapshot, option) => result,
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let message = pb::TransferLeaderMessage {
            partition_id: self.pid.0,
            from_leader: Some(codec::vote_to_pb(req.from_leader())),
            to_node_id: *req.to_node_id(),
            last_log_id: codec::opt_log_id_to_pb(req.last_log_id()),
        };
        let reply = self.client(ConnectionClass::Control)?.transfer_leader(self.request(message, &option)).await;
        self.observe(&reply);
        let reply = reply.map_err(rpc_error)?;
        let rejected = reply.into_inner().rejected;
        if rejected.is_empty() {
            return Ok(Ok(()));
        }
        Err(RPCError::Network(NetworkError::new(&std::io::Error::other(format!("transfer refused: {rejected}")))))
    }
}
