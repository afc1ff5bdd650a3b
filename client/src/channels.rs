//! One gRPC channel per node address, created once and shared by every call; plus which nodes recently failed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};

use crate::ClientError;

/// How long a node that failed at the transport level is avoided by later calls (it is still used when no other
/// replica is left).
pub(crate) const SUSPECT_DURATION: Duration = Duration::from_secs(2);
/// HTTP/2 keep-alive pings detect a dead connection without waiting for a request to time out.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// The channel cache. Channels connect lazily and reconnect by themselves; they are never replaced.
#[derive(Debug)]
pub(crate) struct Channels {
    connect_timeout: Duration,
    /// Keyed by `host:port`; bounded by the number of addresses the cluster and the caller name.
    by_addr: Mutex<HashMap<String, Channel>>,
    /// `host:port` → until when it is suspect.
    suspect_until: Mutex<HashMap<String, Instant>>,
}

impl Channels {
    pub(crate) fn new(connect_timeout: Duration) -> Channels {
        Channels { connect_timeout, by_addr: Mutex::new(HashMap::new()), suspect_until: Mutex::new(HashMap::new()) }
    }

    /// The channel to `addr` (`host:port`, or a full `http://` URI), created on first use.
    pub(crate) fn get(&self, addr: &str) -> Result<Channel, ClientError> {
        let mut by_addr = self.by_addr.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(channel) = by_addr.get(addr) {
            return Ok(channel.clone());
        }
        let channel = self.endpoint(addr)?.connect_lazy();
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
