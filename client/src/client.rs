//! The client: routes each call to the right node, follows leader hints, retries within a deadline.
//!
//! This file holds the core (connection, routing, the retry loops) and the original calls; the newer calls live
//! in submodules by kind: `writes` (batch puts, life events, marriage, ID correction), `reads` (verification,
//! scatter-gather queries) and `scan` (partition scans).

mod admin;
mod audit;
mod encoded_reads;
mod reads;
mod scan;
mod writes;

pub use reads::{LegacyLookup, SearchQuery};
pub use scan::{PartitionScan, ScanOptions, ScanPage};
pub use writes::{IdCorrectionOutcome, MarriageOutcome, PUT_CITIZENS_MAX};

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::channels::NodeChannel;
use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::v1::{
    BatchGetResult, BatchGetResultEncoded, CallerContext, Citizen, Consistency, GetCitizenRequest, GetCitizenResponse,
    PutCitizenRequest, PutCitizenResponse, StatusRequest, StatusResponse, VerifyResult,
};
use tonic::{Code, Request, Response, Status};

pub(crate) use self::encoded_reads::EncodedRegistry;
use crate::channels::Channels;
use crate::coalescer::Coalescer;
use crate::error::{classify, Disposition};
use crate::retry::{Backoff, ATTEMPT_DURATION_MIN};
use crate::routing::{pick_node, RoutingTable, Target};
use crate::{ClientError, ClientOptions};

/// Most IDs in one `batch_get` (the server enforces the same limit).
pub const BATCH_IDS_MAX: usize = 1000;
/// Leader hints followed at once, one after another, before the client backs off (hints can chase each other
/// during an election).
const REDIRECTS_IMMEDIATE_MAX: u32 = 3;
/// tonic enforces the per-attempt timeout itself; this outer bound only catches an attempt stuck before tonic's
/// timer starts (e.g. while connecting).
const ATTEMPT_SLACK: Duration = Duration::from_millis(100);
/// Refreshes triggered by failing calls are skipped when the map was refreshed this recently, so many calls
/// failing together cause one `Status` round, not one each.
const REFRESH_INTERVAL_MIN: Duration = Duration::from_millis(100);

/// A dancu client. Cheap to clone; clones share channels and the partition map cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Per handle, so [`Client::with_options`] can change deadlines without a second connection.
    options: Arc<ClientOptions>,
}

struct Inner {
    /// The endpoints the caller gave, in order; the first one serves FOLLOWER and STALE reads when it can.
    endpoints: Vec<String>,
    table: RwLock<RoutingTable>,
    channels: Channels,
    /// Concurrent gets to one node, sent together.
    coalescer: Coalescer,
    round_robin: AtomicUsize,
    /// When the map was last refreshed because calls failed; held while such a refresh runs.
    refreshed_at: tokio::sync::Mutex<Option<Instant>>,
    /// Attempts a node refused as overloaded (RESOURCE_EXHAUSTED with a retry hint): the importer's congestion
    /// signal.
    overload_refusals: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("endpoints", &self.inner.endpoints).finish_non_exhaustive()
    }
}

/// A random 128-bit request id in hex.
fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn target_for(consistency: Consistency) -> Target {
    match consistency {
        Consistency::Follower | Consistency::Stale => Target::Replica,
        Consistency::Unspecified | Consistency::Linearizable | Consistency::ReadIndex => Target::Leader,
    }
}

/// The status's message followed by its error sources (tonic puts the OS error, e.g. "Connection refused", there).
fn describe(status: &Status) -> String {
    let mut text = status.message().to_string();
    if let Some(source) = std::error::Error::source(status) {
        let causes = crate::error::error_chain(source);
        if !text.contains(&causes) {
            text.push_str(": ");
            text.push_str(&causes);
        }
    }
    text
}

/// Whether a failed attempt looks like the server closed the connection before speaking HTTP/2, which is what a
/// TLS-only server does to a plaintext client.
fn closed_at_once(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["broken pipe", "connection reset", "connection closed", "unexpected eof", "frame with invalid size"]
        .iter()
        .any(|sign| message.contains(sign))
}

/// What one attempt of a call talks to, built over the chosen node's channel: the generated `RegistryClient`,
/// or a hand-made one for replies decoded in another form (`encoded_reads`).
pub(crate) trait Stub {
    fn over(channel: NodeChannel) -> Self;
}

impl Stub for RegistryClient<NodeChannel> {
    fn over(channel: NodeChannel) -> RegistryClient<NodeChannel> {
        RegistryClient::new(channel)
    }
}

/// Runs one attempt with a hard upper bound on its duration.
async fn bounded<T>(timeout: Duration, attempt: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    match tokio::time::timeout(timeout + ATTEMPT_SLACK, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Status::cancelled("attempt timed out")),
    }
}

/// One answer of a batch call, naming the ID it answers.
pub(crate) trait BatchAnswer {
    fn answered_id(&self) -> &str;
}

impl BatchAnswer for BatchGetResultEncoded {
    fn answered_id(&self) -> &str {
        &self.id
    }
}

impl BatchAnswer for VerifyResult {
    fn answered_id(&self) -> &str {
        &self.id
    }
}

/// Puts per-partition batch answers back in request order. `parts` holds, per partition, the request indices
/// of its IDs and the server's results for them (in the same order).
pub(crate) fn reassemble<R: BatchAnswer>(
    ids: &[String],
    parts: Vec<(Vec<usize>, Vec<R>)>,
) -> Result<Vec<R>, ClientError> {
    let mut slots: Vec<Option<R>> = (0..ids.len()).map(|_| None).collect();
    for (idxs, results) in parts {
        if idxs.len() != results.len() {
            let message = format!("a batch of {} IDs got {} results", idxs.len(), results.len());
            return Err(ClientError::Server { code: Code::Internal, message });
        }
        for (idx, result) in idxs.into_iter().zip(results) {
            if result.answered_id() != ids[idx] || slots[idx].is_some() {
                let message = format!("result {idx} of a batch does not answer the ID asked for");
                return Err(ClientError::Server { code: Code::Internal, message });
            }
            slots[idx] = Some(result);
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(idx, slot)| {
            slot.ok_or_else(|| ClientError::Server {
                code: Code::Internal,
                message: format!("no result for ID {idx} of the batch"),
            })
        })
        .collect()
}

/// Where the attempts of one call go.
#[derive(Debug, Clone, Copy)]
enum Route<'a> {
    /// The node serving the partition that holds `id` (`field` names the ID in errors).
    Id { id: &'a str, field: &'a str, target: Target },
    /// Any node: a scatter-gather call, which the node asked fans out itself. Replica reads prefer the first
    /// endpoint; everything else goes round-robin.
    AnyNode { target: Target },
}

/// A server names a bad item by its index in the request it got; a per-partition group's index becomes the
/// caller's: `queries[1].sex` from a group holding the caller's items 4 and 9 is `queries[9].sex`.
fn remap_index(error: ClientError, idxs: &[usize]) -> ClientError {
    let ClientError::InvalidArgument { field, message } = error else { return error };
    let remapped = (|| {
        let open = field.find('[')?;
        let close = open + field[open..].find(']')?;
        let group_idx: usize = field[open + 1..close].parse().ok()?;
        let idx = idxs.get(group_idx)?;
        Some(format!("{}[{idx}]{}", &field[..open], &field[close + 1..]))
    })();
    ClientError::InvalidArgument { field: remapped.unwrap_or(field), message }
}

/// What one failed attempt left behind, for the error given when the loop stops.
struct LastFailure {
    message: String,
    timed_out: bool,
}

impl Client {
    /// Connects to a cluster. `endpoints` are `host:port` addresses of nodes; the first one that answers
    /// describes the cluster (nodes, partitions, leaders). Channels are opened lazily, one per node.
    pub async fn connect(endpoints: &[String], options: ClientOptions) -> Result<Client, ClientError> {
        if endpoints.is_empty() {
            return Err(ClientError::Config("no endpoints given".to_string()));
        }
        if let Some(empty_idx) = endpoints.iter().position(|endpoint| endpoint.trim().is_empty()) {
            return Err(ClientError::Config(format!("endpoint {empty_idx} is empty")));
        }
        let deadline = Instant::now() + options.deadline;
        let tls = match &options.tls {
            None => None,
            Some(identity) => {
                let caller = dancu_tls::PeerIdentity::caller(&identity.name)
                    .map_err(|error| ClientError::Config(error.to_string()))?;
                let tls = dancu_tls::ReloadingTls::load(dancu_tls::TlsDir::new(&identity.dir, caller))
                    .map_err(|error| ClientError::Config(format!("TLS: {error}")))?;
                tls.watch();
                Some(tls)
            }
        };
        let inner = Inner {
            channels: Channels::new(options.connect_timeout, tls),
            coalescer: Coalescer::new(options.get_batches_in_flight),
            endpoints: endpoints.iter().map(|endpoint| endpoint.trim().to_string()).collect(),
            table: RwLock::new(RoutingTable::default()),
            round_robin: AtomicUsize::new(0),
            refreshed_at: tokio::sync::Mutex::new(None),
            overload_refusals: AtomicU64::new(0),
        };
        if let Some(cluster_id) = &options.cluster_id {
            if !inner.channels.pin.pin(cluster_id) {
                return Err(ClientError::Config(format!("cluster id {cluster_id:?} is not 32 hex digits")));
            }
        }
        let client = Client { inner: Arc::new(inner), options: Arc::new(options) };
        client.refresh_until(deadline).await?;
        Ok(client)
    }

    /// Connects to the cluster a configuration describes; every node's address is an endpoint, in file order.
    pub async fn from_config(
        config: &dancu_cluster_config::ClusterConfig,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let endpoints: Vec<String> = config.nodes.iter().map(|node| node.addr.clone()).collect();
        Client::connect(&endpoints, options).await
    }

    /// The cluster this client is pinned to (32 hex digits): every request carries it.
    pub fn cluster_id(&self) -> Option<String> {
        self.inner.channels.pin.pinned()
    }

    /// The options this handle uses.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Attempts that nodes refused as overloaded (`RESOURCE_EXHAUSTED` with a retry hint) since the client
    /// connected, over every handle sharing its connections. Each was retried after the hint; a rising count tells
    /// a bulk writer to send less at once.
    pub fn overload_refusals(&self) -> u64 {
        self.inner.overload_refusals.load(Ordering::Relaxed)
    }

    /// A handle on the same connections and partition map with other options, e.g. a longer deadline for bulk
    /// writes. `connect_timeout` keeps the value the client was connected with (channels are shared).
    pub fn with_options(&self, options: ClientOptions) -> Client {
        Client { inner: self.inner.clone(), options: Arc::new(options) }
    }

    /// The partition holding `id`, from the cached map; an error for a malformed ID or one no partition holds.
    pub fn partition_of(&self, id: &str) -> Result<u32, ClientError> {
        Ok(self.read_table().lookup(id, "id")?.id)
    }

    /// One citizen by personal ID; `Ok(None)` when there is no such record.
    /// A cancelled ID fails with [`ClientError::IdReplaced`], naming its replacement.
    ///
    /// Concurrent gets bound for the same node are sent together ([`ClientOptions::get_batches_in_flight`]); a
    /// get whose batch fails takes the routed path alone, with retries and leader hints.
    pub async fn get(&self, id: &str, consistency: Consistency) -> Result<Option<GetCitizenResponse>, ClientError> {
        if self.options.get_batches_in_flight == 0 {
            return self.get_routed(id, consistency).await;
        }
        let started = Instant::now();
        if let Some(answer) = self.get_coalesced(id, consistency).await {
            return answer;
        }
        // What the coalesced attempt used comes out of the call's deadline.
        let remaining = self.options.deadline.saturating_sub(started.elapsed());
        let options = ClientOptions { deadline: remaining, ..(*self.options).clone() };
        self.with_options(options).get_routed(id, consistency).await
    }

    /// `ids` (at most [`BATCH_IDS_MAX`]) read at the node at `addr` as one unit of the next request the coalescer
    /// sends there, within one RPC timeout; one result per ID, in order, records as stored. Not retried: the
    /// callers fall back to their routed paths.
    async fn read_coalesced(
        &self,
        addr: &str,
        consistency: Consistency,
        ids: Vec<String>,
    ) -> Result<Vec<BatchGetResultEncoded>, ClientError> {
        let channel = self.inner.channels.get(addr)?;
        let timeout = self.options.rpc_timeout.min(self.options.deadline);
        let purpose = &self.options.purpose;
        self.inner
            .coalescer
            .get_many(|| channel, addr, consistency, purpose, ids, timeout)
            .await
            .map_err(|failed| ClientError::Unavailable { message: failed.to_string() })
    }

    /// A get as part of the next batch to the node serving `id`; `None` when that did not answer it (no usable
    /// node known, a malformed ID, or the batch failed), so the caller takes the routed path.
    async fn get_coalesced(
        &self,
        id: &str,
        consistency: Consistency,
    ) -> Option<Result<Option<GetCitizenResponse>, ClientError>> {
        let (_, _, addr) = self.choose(id, "id", target_for(consistency), &[], Instant::now()).ok()??;
        let coalesced = self.read_coalesced(&addr, consistency, vec![id.to_string()]).await;
        let result = match coalesced.map(|mut results| results.pop()) {
            Ok(Some(result)) => result,
            failed => {
                tracing::debug!(failed = ?failed.err(), "coalesced get failed; routed path now");
                return None;
            }
        };
        let result = match encoded_reads::decoded(result) {
            Ok(result) => result,
            Err(error) => return Some(Err(error)),
        };
        if !result.replaced_by.is_empty() {
            return Some(Err(ClientError::IdReplaced { id: id.to_string(), replaced_by: result.replaced_by }));
        }
        Some(match result.citizen {
            Some(citizen) if !citizen.replaced_by.is_empty() => {
                Err(ClientError::IdReplaced { id: id.to_string(), replaced_by: citizen.replaced_by })
            }
            Some(citizen) => Ok(Some(GetCitizenResponse {
                revision: citizen.revision,
                log_index: result.meta.map_or(0, |meta| meta.applied_index),
                meta: result.meta,
                citizen: Some(citizen),
            })),
            None => Ok(None),
        })
    }

    /// A get on its own, routed to the partition's node with retries.
    async fn get_routed(&self, id: &str, consistency: Consistency) -> Result<Option<GetCitizenResponse>, ClientError> {
        let request_id = new_request_id();
        let result = self
            .execute(id, "id", target_for(consistency), &request_id, |mut registry, context, timeout| {
                let message =
                    GetCitizenRequest { id: id.to_string(), consistency: consistency.into(), context: Some(context) };
                let mut request = Request::new(message);
                request.set_timeout(timeout);
                async move { registry.get_citizen(request).await.map(Response::into_inner) }
            })
            .await;
        match result {
            Ok(response) => Ok(Some(response)),
            Err(ClientError::NotFound) => Ok(None),
            Err(error) => Err(error.with_replaced_id(id)),
        }
    }

    /// Up to [`BATCH_IDS_MAX`] citizens; one result per ID, in request order (duplicates allowed). IDs are grouped
    /// by the node that serves their partition and each node gets one request, concurrently, shared with other
    /// batch gets and gets to that node asked meanwhile ([`ClientOptions::get_batches_in_flight`]); a node that
    /// cannot answer for all of its part is retried per partition. The whole is not a cross-partition snapshot.
    pub async fn batch_get(
        &self,
        ids: &[String],
        consistency: Consistency,
    ) -> Result<Vec<BatchGetResult>, ClientError> {
        self.batch_get_encoded(ids, consistency).await?.into_iter().map(encoded_reads::decoded).collect()
    }

    /// [`Client::batch_get`] with each record as the node stored it: `citizen` holds an encoded [`Citizen`]
    /// (`Citizen::decode(bytes)`), a slice of the received reply. For callers that forward records or read few of
    /// them: decoding is most of a batch get's cost on the client.
    pub async fn batch_get_encoded(
        &self,
        ids: &[String],
        consistency: Consistency,
    ) -> Result<Vec<BatchGetResultEncoded>, ClientError> {
        if ids.len() > BATCH_IDS_MAX {
            return Err(ClientError::invalid("ids", format!("{} IDs, at most {BATCH_IDS_MAX} per batch", ids.len())));
        }
        let request_id = new_request_id();
        let send_to = |addr: String, group_ids: Vec<String>| {
            let request_id = &request_id;
            async move {
                if self.options.get_batches_in_flight > 0 {
                    // Concurrent batch gets to this node travel together (one linearizer round per partition and
                    // one request for all of them); a failure falls back per partition, with retries.
                    return self.read_coalesced(&addr, consistency, group_ids).await;
                }
                self.attempt_at(&addr, request_id, |registry: EncodedRegistry, context, timeout| {
                    registry.batch_get(group_ids, consistency, context, timeout)
                })
                .await
            }
        };
        self.per_node(
            ids,
            ids,
            |idx| format!("ids[{idx}]"),
            target_for(consistency),
            send_to,
            |group_ids| self.batch_get_group(group_ids, consistency, &request_id),
        )
        .await
    }

    /// Creates or replaces a record. A random request id makes retries exactly-once; `expected_revision` makes the
    /// write conditional (`Some(0)`: the record must not exist yet).
    pub async fn put(
        &self,
        citizen: Citizen,
        expected_revision: Option<u64>,
    ) -> Result<PutCitizenResponse, ClientError> {
        self.put_with_request_id(citizen, new_request_id(), expected_revision).await
    }

    /// [`Client::put`] with the caller's request id: a repeat with the same id returns the first result
    /// (`deduplicated: true`) instead of writing again.
    pub async fn put_with_request_id(
        &self,
        citizen: Citizen,
        request_id: String,
        expected_revision: Option<u64>,
    ) -> Result<PutCitizenResponse, ClientError> {
        if request_id.is_empty() {
            return Err(ClientError::invalid("request_id", "must not be empty"));
        }
        let id = citizen.id.clone();
        self.execute(&id, "citizen.id", Target::Leader, &request_id, |mut registry, context, timeout| {
            let message = PutCitizenRequest {
                citizen: Some(citizen.clone()),
                request_id: request_id.clone(),
                expected_revision,
                context: Some(context),
            };
            let mut request = Request::new(message);
            request.set_timeout(timeout);
            async move { registry.put_citizen(request).await.map(Response::into_inner) }
        })
        .await
    }

    /// The cluster as the first reachable endpoint (in the order given) sees it.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        let mut last_error = None;
        for endpoint in &self.inner.endpoints {
            match self.status_of(endpoint).await {
                Ok(status) => return Ok(status),
                Err(error @ ClientError::Connect { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::Config("no endpoints given".to_string())))
    }

    /// The cluster as the node at `endpoint` sees it; one attempt, no retry, so a dead node shows as an error.
    pub async fn status_of(&self, endpoint: &str) -> Result<StatusResponse, ClientError> {
        let timeout = self.options.rpc_timeout.min(self.options.deadline);
        self.status_attempt(endpoint, timeout).await.map_err(|status| match classify(&status) {
            Disposition::Unreachable { .. } => {
                ClientError::Connect { endpoint: endpoint.to_string(), message: describe(&status) }
            }
            Disposition::Fail(error) => error,
            Disposition::Redirect { message, .. } | Disposition::Backoff { message, .. } => {
                ClientError::Unavailable { message }
            }
        })
    }

    /// Who the cluster takes this client for (its certificate's identity), its role and what the role allows; from
    /// the first endpoint that answers.
    pub async fn who_am_i(&self) -> Result<dancu_proto::v1::WhoAmIResponse, ClientError> {
        let timeout = self.options.rpc_timeout.min(self.options.deadline);
        let mut last_error = None;
        for endpoint in &self.inner.endpoints {
            let channel = self.inner.channels.get(endpoint)?;
            let mut request = Request::new(dancu_proto::v1::WhoAmIRequest {});
            request.set_timeout(timeout);
            let mut registry = RegistryClient::new(channel);
            let answer =
                bounded(timeout, async move { registry.who_am_i(request).await.map(Response::into_inner) }).await;
            match answer {
                Ok(who) => return Ok(who),
                Err(status) => match classify(&status) {
                    Disposition::Fail(error) => return Err(error),
                    _ => {
                        last_error =
                            Some(ClientError::Connect { endpoint: endpoint.clone(), message: describe(&status) })
                    }
                },
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::Config("no endpoints given".to_string())))
    }

    /// Re-reads the partition map and leaders from the first endpoint that answers.
    pub async fn refresh(&self) -> Result<(), ClientError> {
        self.refresh_until(Instant::now() + self.options.deadline).await
    }

    async fn status_attempt(&self, addr: &str, timeout: Duration) -> Result<StatusResponse, Status> {
        let channel = self.inner.channels.get(addr).map_err(|error| Status::invalid_argument(error.to_string()))?;
        let mut registry = RegistryClient::new(channel);
        let mut request = Request::new(StatusRequest {});
        request.set_timeout(timeout);
        bounded(timeout, async move { registry.status(request).await.map(Response::into_inner) }).await
    }

    /// Tries the caller's endpoints, then every node address the table knows, until one describes the cluster.
    async fn refresh_until(&self, deadline: Instant) -> Result<(), ClientError> {
        let mut candidates = self.inner.endpoints.clone();
        for addr in self.read_table().node_addrs() {
            if !candidates.iter().any(|candidate| candidate == addr) {
                candidates.push(addr.to_string());
            }
        }
        let mut last_message = String::new();
        for addr in &candidates {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining <= ATTEMPT_DURATION_MIN {
                last_message = "deadline exceeded".to_string();
                break;
            }
            let status = match self.status_attempt(addr, self.options.rpc_timeout.min(remaining)).await {
                Ok(status) => status,
                Err(status) => {
                    self.inner.channels.mark_suspect(addr, Instant::now());
                    last_message = describe(&status);
                    continue;
                }
            };
            match self.install_table(&status, addr) {
                Ok(()) => return Ok(()),
                Err(error) => last_message = error.to_string(),
            }
        }
        if self.options.tls.is_none() && closed_at_once(&last_message) {
            last_message.push_str(
                " (a node that requires mutual TLS drops plaintext connections like this: \
                 give the client a TLS identity, dancuctl --tls-dir DIR --identity NAME)",
            );
        }
        Err(ClientError::Connect { endpoint: candidates.join(","), message: last_message })
    }

    fn install_table(&self, status: &StatusResponse, answered_via: &str) -> Result<(), ClientError> {
        // A node that predates cluster ids answers none; every other answer must be the pinned cluster's.
        if !status.cluster_id.is_empty() && !self.inner.channels.pin.pin(&status.cluster_id) {
            self.inner.channels.mark_suspect(answered_via, Instant::now());
            return Err(ClientError::Connect {
                endpoint: answered_via.to_string(),
                message: format!(
                    "node {} belongs to cluster {}, not to this client's cluster {}",
                    status.node_id,
                    status.cluster_id,
                    self.cluster_id().unwrap_or_default()
                ),
            });
        }
        let mut table = RoutingTable::from_status(status, answered_via)?;
        let first_endpoint = &self.inner.endpoints[0];
        table.first_node =
            if answered_via == first_endpoint { Some(status.node_id) } else { table.node_with_addr(first_endpoint) };
        tracing::debug!(
            node = status.node_id,
            n_partitions = status.partitions.len(),
            n_nodes = status.nodes.len(),
            "partition map refreshed"
        );
        *self.write_table() = table;
        Ok(())
    }

    fn read_table(&self) -> RwLockReadGuard<'_, RoutingTable> {
        self.inner.table.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_table(&self) -> RwLockWriteGuard<'_, RoutingTable> {
        self.inner.table.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Splits request indices by the partition of `ids[idx]`, in partition order. Every ID is checked here;
    /// `field_of(idx)` names the ID in errors (`ids[3]`, `queries[3].id`).
    fn group_by_partition(
        &self,
        ids: &[String],
        field_of: &impl Fn(usize) -> String,
    ) -> Result<Vec<Vec<usize>>, ClientError> {
        let table = self.read_table();
        let mut groups: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for (idx, id) in ids.iter().enumerate() {
            let partition = table.lookup(id, &field_of(idx))?;
            groups.entry(partition.id).or_default().push(idx);
        }
        Ok(groups.into_values().collect())
    }

    /// The batch machinery of `batch_get` and `batch_verify`: splits `items` (whose IDs are `ids`, same order)
    /// by partition, then sends the partitions that go to the same node as one request (`send_to`, one attempt:
    /// the node answers for every partition it serves). A node request that fails falls back to one request per
    /// partition through `send`, with its own routing and retries. Answers are put back in request order. The
    /// whole is not a cross-partition snapshot.
    ///
    /// Per node, not per partition: 100 random IDs touch ~50 of 63 partitions but only 3 nodes, so this sends
    /// 3 requests where per-partition routing sent 50.
    async fn per_node<Q, R, G, GFut, F, Fut>(
        &self,
        items: &[Q],
        ids: &[String],
        field_of: impl Fn(usize) -> String,
        target: Target,
        send_to: G,
        send: F,
    ) -> Result<Vec<R>, ClientError>
    where
        Q: Clone,
        R: BatchAnswer,
        G: Fn(String, Vec<Q>) -> GFut,
        GFut: Future<Output = Result<Vec<R>, ClientError>>,
        F: Fn(Vec<Q>) -> Fut,
        Fut: Future<Output = Result<Vec<R>, ClientError>>,
    {
        assert_eq!(items.len(), ids.len(), "one ID per batch item");
        let now = Instant::now();
        let mut by_node: std::collections::BTreeMap<Option<String>, Vec<Vec<usize>>> = Default::default();
        for idxs in self.group_by_partition(ids, &field_of)? {
            let chosen = self.choose(&ids[idxs[0]], &field_of(idxs[0]), target, &[], now)?;
            // A partition with no usable node yet goes alone, through the retry loop.
            let addr = chosen.map(|(_, _, addr)| addr);
            by_node.entry(addr).or_default().push(idxs);
        }
        let per_partition = |idxs: Vec<usize>| {
            let group: Vec<Q> = idxs.iter().map(|idx| items[*idx].clone()).collect();
            let call = send(group);
            async move {
                let results = call.await.map_err(|error| remap_index(error, &idxs))?;
                Ok::<_, ClientError>((idxs, results))
            }
        };
        let calls = by_node.into_iter().map(|(addr, partition_groups)| {
            let send_to = &send_to;
            let per_partition = &per_partition;
            async move {
                if let (Some(addr), true) = (addr, partition_groups.len() > 1) {
                    let idxs: Vec<usize> = partition_groups.iter().flatten().copied().collect();
                    let group: Vec<Q> = idxs.iter().map(|idx| items[*idx].clone()).collect();
                    match send_to(addr, group).await {
                        Ok(results) if results.len() == idxs.len() => return Ok(vec![(idxs, results)]),
                        Ok(_) => tracing::debug!("a node answered a batch with the wrong count; per partition now"),
                        Err(error) => tracing::debug!(%error, "a node refused part of a batch; per partition now"),
                    }
                }
                futures::future::try_join_all(partition_groups.into_iter().map(per_partition)).await
            }
        });
        let parts: Vec<(Vec<usize>, Vec<R>)> =
            futures::future::try_join_all(calls).await?.into_iter().flatten().collect();
        reassemble(ids, parts)
    }

    /// One attempt of `call` at the node at `addr`, no retry (the batch machinery falls back per partition).
    async fn attempt_at<S, T, F, Fut>(&self, addr: &str, request_id: &str, call: F) -> Result<T, ClientError>
    where
        S: Stub,
        F: FnOnce(S, CallerContext, Duration) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let timeout = self.options.rpc_timeout.min(self.options.deadline);
        let registry = S::over(self.inner.channels.get(addr)?);
        bounded(timeout, call(registry, self.context(request_id), timeout))
            .await
            .map_err(|status| ClientError::Unavailable { message: status.message().to_string() })
    }

    async fn batch_get_group(
        &self,
        ids: Vec<String>,
        consistency: Consistency,
        request_id: &str,
    ) -> Result<Vec<BatchGetResultEncoded>, ClientError> {
        assert!(!ids.is_empty(), "a batch group holds at least one ID");
        let route = Route::Id { id: &ids[0], field: "ids", target: target_for(consistency) };
        self.execute_routed(route, request_id, |registry: EncodedRegistry, context, timeout| {
            registry.batch_get(ids.clone(), consistency, context, timeout)
        })
        .await
    }

    /// Chooses the node for the next attempt at `routing_id`'s partition: (partition id, node id, address).
    /// Nodes in `excluded` are skipped; suspect nodes are skipped unless nothing else is left.
    fn choose(
        &self,
        routing_id: &str,
        field: &str,
        target: Target,
        excluded: &[u64],
        now: Instant,
    ) -> Result<Option<(u32, u64, String)>, ClientError> {
        let table = self.read_table();
        let route = table.lookup(routing_id, field)?;
        let round_robin = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
        let usable = |node: u64, avoid_suspects: bool| match table.node_addr(node) {
            None => false,
            Some(_) if excluded.contains(&node) => false,
            Some(addr) => !(avoid_suspects && self.inner.channels.is_suspect(addr, now)),
        };
        let node = pick_node(route, target, table.first_node, round_robin, |node| !usable(node, true))
            .or_else(|| pick_node(route, target, table.first_node, round_robin, |node| !usable(node, false)));
        Ok(node.and_then(|node| Some((route.id, node, table.node_addr(node)?.to_string()))))
    }

    /// Sleeps one backoff step; false when the deadline leaves no room for another attempt.
    async fn pause(&self, backoff: &mut Backoff) -> bool {
        self.pause_at_least(backoff, Duration::ZERO).await
    }

    /// [`Client::pause`] for at least `floor` (an overloaded node's retry hint).
    async fn pause_at_least(&self, backoff: &mut Backoff, floor: Duration) -> bool {
        match backoff.next_delay(Instant::now(), rand::random::<f64>(), floor) {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }

    /// Refreshes the map within what is left of a call's deadline; a failure keeps the old map.
    async fn refresh_within(&self, backoff: &Backoff) {
        // Calls that fail together wait here for one refresh instead of each sending their own.
        let mut refreshed_at = self.inner.refreshed_at.lock().await;
        let now = Instant::now();
        if refreshed_at.is_some_and(|at| now.duration_since(at) < REFRESH_INTERVAL_MIN) {
            return;
        }
        if let Err(error) = self.refresh_until(now + backoff.remaining(now)).await {
            tracing::debug!(%error, "partition map refresh failed; keeping the old map");
        }
        *refreshed_at = Some(Instant::now());
    }

    fn give_up(&self, last: Option<LastFailure>, n_attempts: u32, started: Instant) -> ClientError {
        match last {
            None => ClientError::DeadlineExceeded,
            Some(LastFailure { timed_out: true, .. }) => ClientError::DeadlineExceeded,
            Some(LastFailure { message, timed_out: false }) => ClientError::Unavailable {
                message: format!("{message} (gave up after {n_attempts} attempts in {:.1?})", started.elapsed()),
            },
        }
    }

    /// The caller context of one attempt.
    fn context(&self, request_id: &str) -> CallerContext {
        CallerContext { purpose: self.options.purpose.clone(), request_id: request_id.to_string() }
    }

    /// [`Client::execute_routed`] for a call about one personal ID (or one partition, by its `range_start`).
    async fn execute<T, F, Fut>(
        &self,
        routing_id: &str,
        field: &str,
        target: Target,
        request_id: &str,
        call: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut(RegistryClient<NodeChannel>, CallerContext, Duration) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.execute_routed(Route::Id { id: routing_id, field, target }, request_id, call).await
    }

    /// Chooses the node for the next attempt of a call to any node: the first endpoint for replica reads when
    /// it is known and usable, else round-robin over the known nodes, suspects last. (node id, address).
    fn choose_any(&self, target: Target, excluded: &[u64], now: Instant) -> Option<(u64, String)> {
        let table = self.read_table();
        let usable = |node: u64, avoid_suspects: bool| match table.node_addr(node) {
            None => false,
            Some(_) if excluded.contains(&node) => false,
            Some(addr) => !(avoid_suspects && self.inner.channels.is_suspect(addr, now)),
        };
        let first = table.first_node.filter(|first| target == Target::Replica && usable(*first, true));
        let round_robin = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
        let node = first.or_else(|| {
            [true, false].into_iter().find_map(|avoid_suspects| {
                let candidates: Vec<u64> = table.node_ids().filter(|node| usable(*node, avoid_suspects)).collect();
                (!candidates.is_empty()).then(|| candidates[round_robin % candidates.len()])
            })
        })?;
        Some((node, table.node_addr(node)?.to_string()))
    }

    /// The retry loop every call runs: pick a node for the route, attempt, and act on the error contract (follow
    /// leader hints, back off on transient errors, avoid unreachable nodes) until success, a final error, or the
    /// deadline. `call` builds and sends one attempt; it gets the caller context and the attempt's timeout.
    async fn execute_routed<S, T, F, Fut>(
        &self,
        route: Route<'_>,
        request_id: &str,
        mut call: F,
    ) -> Result<T, ClientError>
    where
        S: Stub,
        F: FnMut(S, CallerContext, Duration) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let started = Instant::now();
        let mut backoff = Backoff::new(started + self.options.deadline);
        // Nodes that failed this call; bounded by the number of nodes, cleared when nothing else is left.
        let mut excluded: Vec<u64> = Vec::new();
        let mut redirects_in_a_row = 0u32;
        let mut n_attempts = 0u32;
        let mut last: Option<LastFailure> = None;
        loop {
            let now = Instant::now();
            let remaining = backoff.remaining(now);
            if remaining <= ATTEMPT_DURATION_MIN {
                return Err(self.give_up(last, n_attempts, started));
            }
            let chosen = match route {
                Route::Id { id, field, target } => self
                    .choose(id, field, target, &excluded, now)?
                    .map(|(partition_id, node_id, addr)| (Some(partition_id), node_id, addr)),
                Route::AnyNode { target } => {
                    self.choose_any(target, &excluded, now).map(|(node_id, addr)| (None, node_id, addr))
                }
            };
            let Some((partition_id, node_id, addr)) = chosen else {
                // Every candidate failed this call: start over from a fresh map after a pause.
                excluded.clear();
                if !self.pause(&mut backoff).await {
                    return Err(self.give_up(last, n_attempts, started));
                }
                self.refresh_within(&backoff).await;
                continue;
            };
            let timeout = self.options.rpc_timeout.min(remaining);
            let context = self.context(request_id);
            let registry = S::over(self.inner.channels.get(&addr)?);
            n_attempts += 1;
            let status = match bounded(timeout, call(registry, context, timeout)).await {
                Ok(value) => {
                    // Only after failures can this node have been a suspect picked for want of another.
                    if last.is_some() {
                        self.inner.channels.clear_suspect(&addr);
                    }
                    return Ok(value);
                }
                Err(status) => status,
            };
            let disposition = classify(&status);
            tracing::debug!(
                partition = partition_id,
                node = node_id,
                request_id,
                code = ?status.code(),
                attempt = n_attempts,
                "attempt failed"
            );
            let scope = match partition_id {
                Some(partition_id) => format!("partition {partition_id}"),
                None => format!("node {node_id}"),
            };
            match disposition {
                Disposition::Fail(error) => return Err(error),
                Disposition::Redirect { partition_id: hinted_partition_id, leader_id, leader_addr, message } => {
                    last = Some(LastFailure { message: format!("{scope}: {message}"), timed_out: false });
                    let about_route =
                        |partition_id: &u32| hinted_partition_id == 0 || hinted_partition_id == *partition_id;
                    let Some(partition_id) = partition_id.filter(about_route) else {
                        // A node fanning out a query passed on a peer's NOT_LEADER: a leader moved while it
                        // planned. The hint concerns one of its parts, not this route: remember it, and ask again
                        // after a pause.
                        if hinted_partition_id != 0 {
                            self.write_table().set_leader(hinted_partition_id, leader_id, &leader_addr);
                        }
                        if !self.pause(&mut backoff).await {
                            return Err(self.give_up(last, n_attempts, started));
                        }
                        continue;
                    };
                    let leader_id = leader_id.filter(|leader| *leader != node_id);
                    self.write_table().set_leader(partition_id, leader_id, &leader_addr);
                    if !excluded.contains(&node_id) {
                        excluded.push(node_id);
                    }
                    redirects_in_a_row += 1;
                    let hint_usable = leader_id.is_some_and(|leader| !excluded.contains(&leader));
                    if hint_usable && redirects_in_a_row <= REDIRECTS_IMMEDIATE_MAX {
                        continue;
                    }
                    redirects_in_a_row = 0;
                    if !self.pause(&mut backoff).await {
                        return Err(self.give_up(last, n_attempts, started));
                    }
                    if leader_id.is_none() {
                        self.refresh_within(&backoff).await;
                    }
                }
                Disposition::Backoff { message, retry_after } => {
                    last = Some(LastFailure { message: format!("{scope}: {message}"), timed_out: false });
                    redirects_in_a_row = 0;
                    if let Some(retry_after) = retry_after {
                        self.inner.overload_refusals.fetch_add(1, Ordering::Relaxed);
                        if !self.options.retry_overloaded {
                            return Err(ClientError::Overloaded { message, retry_after });
                        }
                    }
                    if !self.pause_at_least(&mut backoff, retry_after.unwrap_or_default()).await {
                        return Err(self.give_up(last, n_attempts, started));
                    }
                }
                Disposition::Unreachable { message, timed_out } => {
                    let message =
                        format!("node {node_id} ({addr}): {}", if timed_out { message } else { describe(&status) });
                    last = Some(LastFailure { message, timed_out });
                    self.inner.channels.mark_suspect(&addr, Instant::now());
                    if !excluded.contains(&node_id) {
                        excluded.push(node_id);
                    }
                    if let Some(partition_id) = partition_id {
                        self.forget_leader(partition_id, node_id);
                    }
                    // Another node is tried at once; when none is left, the loop pauses and refreshes.
                }
            }
        }
    }

    /// Drops `node` as the cached leader of `partition_id` (it did not answer), so the next attempt asks another
    /// replica, which will name the current leader.
    fn forget_leader(&self, partition_id: u32, node: u64) {
        let mut table = self.write_table();
        if table.partition(partition_id).is_some_and(|route| route.leader == Some(node)) {
            table.set_leader(partition_id, None, "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, found: bool) -> BatchGetResultEncoded {
        BatchGetResultEncoded { id: id.to_string(), found, citizen: None, meta: None, replaced_by: String::new() }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn reassembles_in_request_order() {
        let ids = ids(&["079000000001", "001000000001", "079000000002", "001000000001", "002000000001"]);
        let parts = vec![
            (vec![1, 3], vec![result("001000000001", true), result("001000000001", true)]),
            (vec![4], vec![result("002000000001", false)]),
            (vec![0, 2], vec![result("079000000001", true), result("079000000002", false)]),
        ];
        let got = reassemble(&ids, parts).expect("complete answers");
        let got_ids: Vec<&str> = got.iter().map(|result| result.id.as_str()).collect();
        assert_eq!(got_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
        let found: Vec<bool> = got.iter().map(|result| result.found).collect();
        assert_eq!(found, vec![true, true, false, true, false]);
    }

    #[test]
    fn reassembly_refuses_wrong_answers() {
        let ids = ids(&["001000000001", "001000000002"]);
        let short = vec![(vec![0, 1], vec![result("001000000001", true)])];
        assert!(reassemble(&ids, short).is_err());
        let swapped = vec![(vec![0, 1], vec![result("001000000002", true), result("001000000001", true)])];
        assert!(reassemble(&ids, swapped).is_err());
        let missing = vec![(vec![0], vec![result("001000000001", true)])];
        assert!(reassemble(&ids, missing).is_err());
        assert_eq!(reassemble::<BatchGetResultEncoded>(&[], vec![]), Ok(vec![]));
    }

    #[test]
    fn group_indices_become_request_indices() {
        let remapped = remap_index(ClientError::invalid("queries[1].sex", "unknown sex"), &[4, 9]);
        assert_eq!(remapped, ClientError::invalid("queries[9].sex", "unknown sex"));
        assert_eq!(remap_index(ClientError::invalid("ids[0]", "bad"), &[7]), ClientError::invalid("ids[7]", "bad"));
        // Fields without an index, or with one the group does not have, stay as they are.
        assert_eq!(remap_index(ClientError::invalid("queries", "x"), &[1]), ClientError::invalid("queries", "x"));
        assert_eq!(remap_index(ClientError::invalid("ids[5]", "x"), &[1]), ClientError::invalid("ids[5]", "x"));
        assert_eq!(remap_index(ClientError::NotFound, &[1]), ClientError::NotFound);
    }

    #[test]
    fn request_ids_are_128_bit_hex() {
        let first = new_request_id();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, new_request_id());
    }
}
