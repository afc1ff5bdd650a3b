//! One gRPC channel per node address, created once and shared by every call; plus which nodes recently failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use crate::ClientError;

/// How long a node that failed at the transport level is avoided by later calls (it is still used when no other
/// replica is left).
pub(crate) const SUSPECT_DURATION: Duration = Duration::from_secs(2);
/// HTTP/2 keep-alive pings detect a dead connection without waiting for a request to time out.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// The metadata naming the cluster a request is meant for; a node of another cluster refuses it.
const CLUSTER_ID_HEADER: &str = "dancu-cluster-id";

/// Stamps every request with the cluster id the client pinned (from its first `Status`, or
/// `ClientOptions::cluster_id`), so a node of another cluster at a configured address refuses the request instead
/// of answering with its own data.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterPin {
    cluster_id: Arc<OnceLock<MetadataValue<Ascii>>>,
}

impl ClusterPin {
    /// Pins `cluster_id` unless one is pinned; true when `cluster_id` is (now) the pinned one.
    pub(crate) fn pin(&self, cluster_id: &str) -> bool {
        let is_id = cluster_id.len() == 32 && cluster_id.bytes().all(|byte| byte.is_ascii_hexdigit());
        let Ok(value) = MetadataValue::try_from(cluster_id.to_ascii_lowercase()) else {
            return false;
        };
        if !is_id {
            return false;
        }
        let pinned = self.cluster_id.get_or_init(|| value.clone());
        *pinned == value
    }

    pub(crate) fn pinned(&self) -> Option<String> {
        self.cluster_id.get().and_then(|value| value.to_str().ok()).map(str::to_string)
    }
}

impl Interceptor for ClusterPin {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(cluster_id) = self.cluster_id.get() {
            request.metadata_mut().insert(CLUSTER_ID_HEADER, cluster_id.clone());
        }
        Ok(request)
    }
}

/// A node's channel, every request on it stamped with the pinned cluster id.
pub(crate) type NodeChannel = InterceptedService<Channel, ClusterPin>;

/// The channel cache. Channels connect lazily and reconnect by themselves; they are never replaced.
#[derive(Debug)]
pub(crate) struct Channels {
    connect_timeout: Duration,
    /// Mutual TLS for every connection when the caller has a certificate.
    tls: Option<Arc<dancu_tls::ReloadingTls>>,
    pub(crate) pin: ClusterPin,
    /// Keyed by `host:port`; bounded by the number of addresses the cluster and the caller name.
    by_addr: Mutex<HashMap<String, NodeChannel>>,
    /// `host:port` → until when it is suspect.
    suspect_until: Mutex<HashMap<String, Instant>>,
}

impl Channels {
    pub(crate) fn new(connect_timeout: Duration, tls: Option<Arc<dancu_tls::ReloadingTls>>) -> Channels {
        Channels {
            connect_timeout,
            tls,
            pin: ClusterPin::default(),
            by_addr: Mutex::new(HashMap::new()),
            suspect_until: Mutex::new(HashMap::new()),
        }
    }

    /// The channel to `addr` (`host:port`, or a full `http://` URI), created on first use.
    pub(crate) fn get(&self, addr: &str) -> Result<NodeChannel, ClientError> {
        let mut by_addr = self.by_addr.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(channel) = by_addr.get(addr) {
            return Ok(channel.clone());
        }
        let endpoint = self.endpoint(addr)?;
        let channel = match &self.tls {
            Some(tls) => endpoint.connect_with_connector_lazy(dancu_tls::connector::connector(tls.clone())),
            None => endpoint.connect_lazy(),
        };
        let channel = InterceptedService::new(channel, self.pin.clone());
        by_addr.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    fn endpoint(&self, addr: &str) -> Result<Endpoint, ClientError> {
        let uri = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|error| ClientError::Config(format!("bad endpoint address {addr:?}: {error}")))?;
        Ok(endpoint
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_while_idle(true))
    }

    pub(crate) fn mark_suspect(&self, addr: &str, now: Instant) {
        let mut suspect_until = self.suspect_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        suspect_until.insert(addr.to_string(), now + SUSPECT_DURATION);
    }

    pub(crate) fn clear_suspect(&self, addr: &str) {
        let mut suspect_until = self.suspect_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        suspect_until.remove(addr);
    }

    pub(crate) fn is_suspect(&self, addr: &str, now: Instant) -> bool {
        let suspect_until = self.suspect_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        suspect_until.get(addr).is_some_and(|until| now < *until)
    }
}
