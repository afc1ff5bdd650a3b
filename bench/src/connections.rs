//! New connections per second: each request of the loop dials a node afresh (TCP; over mutual TLS a full handshake;
//! HTTP/2), waits for one answered `WhoAmI` and closes the connection — a fleet of freshly started service
//! processes reconnecting after a deploy. The same closed loop as every other figure; the plaintext cluster is
//! measured with [`Dial::Plaintext`], the mutual-TLS one with [`Dial::mutual_tls`].
//!
//! A process that just started has no TLS session to resume, so the TLS dialer has session resumption off; every
//! handshake's kind is read back from rustls and counted, and a resumed one fails its request.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dancu_client::bench::{BenchResult, LoopShape, Operation};
use dancu_client::proto::registry_client::RegistryClient;
use dancu_client::proto::WhoAmIRequest;
use dancu_client::TlsIdentity;
use dancu_tls::{PeerIdentity, ReloadingTls, TlsDir};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, HandshakeKind};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

use crate::CompareError;

/// The workload name of a plaintext connection run.
pub const PLAINTEXT_WORKLOAD: &str = "connect";
/// The workload name of a mutual-TLS connection run.
pub const TLS_WORKLOAD: &str = "tls-handshake";
/// A TCP connect (plus handshake) that takes longer than this fails its request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `WhoAmI` after it.
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// How a new connection is made.
#[derive(Clone)]
pub enum Dial {
    Plaintext,
    /// Mutual TLS as a caller, with resumption off: every handshake is a full one.
    MutualTls(Arc<ClientConfig>),
}

impl Dial {
    /// Mutual TLS with `identity`'s certificate, every handshake full.
    pub fn mutual_tls(identity: &TlsIdentity) -> Result<Dial, CompareError> {
        let caller = PeerIdentity::caller(&identity.name)?;
        let tls = ReloadingTls::load(TlsDir::new(&identity.dir, caller))?;
        let mut config = ClientConfig::clone(&tls.client_config());
        config.resumption = Resumption::disabled();
        Ok(Dial::MutualTls(Arc::new(config)))
    }

    fn workload(&self) -> &'static str {
        match self {
            Dial::Plaintext => PLAINTEXT_WORKLOAD,
            Dial::MutualTls(_) => TLS_WORKLOAD,
        }
    }
}

/// TLS handshakes by kind, counted by the dialer (warm-up included).
#[derive(Debug, Default)]
struct HandshakeTally {
    full: AtomicU64,
    resumed: AtomicU64,
}

/// What a connection run measured.
#[derive(Debug, Clone)]
pub struct ConnectionRun {
    pub result: BenchResult,
    /// Full TLS handshakes completed (0 for plaintext), warm-up included.
    pub handshakes_full: u64,
    /// Resumed TLS handshakes (each failed its request).
    pub handshakes_resumed: u64,
}

/// One new connection per request, to the nodes in turn.
struct Reconnects {
    endpoints: Vec<String>,
    dial: Dial,
    tally: Arc<HandshakeTally>,
}

impl Operation for Reconnects {
    async fn execute(&self, _rng: &mut StdRng, loop_idx: usize, op_idx: u64) -> Result<(), String> {
        let node_idx = (loop_idx as u64).wrapping_add(op_idx) % self.endpoints.len() as u64;
        let addr = &self.endpoints[node_idx as usize];
        let channel = self.connect(addr).await.map_err(|error| format!("connecting to {addr}: {error}"))?;
        let who = RegistryClient::new(channel).who_am_i(WhoAmIRequest {}).await.map_err(|status| status.to_string())?;
        if who.get_ref().identity.is_empty() {
            return Err(format!("{addr} answered WhoAmI without an identity"));
        }
        // Dropping the channel closes the connection: the next request dials again.
        Ok(())
    }
}

impl Reconnects {
    async fn connect(&self, addr: &str) -> Result<Channel, String> {
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|error| error.to_string())?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(RPC_TIMEOUT)
            .tcp_nodelay(true);
        let connected = match &self.dial {
            Dial::Plaintext => endpoint.connect().await,
            Dial::MutualTls(config) => {
                let (config, tally) = (config.clone(), self.tally.clone());
                let connector = tower::service_fn(move |uri| dial_tls(uri, config.clone(), tally.clone()));
                endpoint.connect_with_connector(connector).await
            }
        };
        connected.map_err(|error| dancu_client::error_chain(&error))
    }
}

/// TCP connect and a full TLS handshake to `uri`'s host, which the node's certificate must name.
async fn dial_tls(
    uri: http::Uri,
    config: Arc<ClientConfig>,
    tally: Arc<HandshakeTally>,
) -> io::Result<TokioIo<TlsStream<TcpStream>>> {
    let host = uri.host().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address without host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address without port"))?;
    let server_name = ServerName::try_from(host.clone())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, format!("{host:?}: {error}")))?;
    let handshake = async {
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        TlsConnector::from(config).connect(server_name, tcp).await
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS connect timed out"))??;
    match stream.get_ref().1.handshake_kind() {
        Some(HandshakeKind::Full | HandshakeKind::FullWithHelloRetryRequest) => {
            tally.full.fetch_add(1, Ordering::Relaxed);
            Ok(TokioIo::new(stream))
        }
        kind => {
            tally.resumed.fetch_add(1, Ordering::Relaxed);
            Err(io::Error::other(format!("expected a full handshake, got {kind:?}")))
        }
    }
}

/// Runs the closed loop of new connections against `endpoints` (`host:port`), each loop's requests spread over
/// the nodes in turn.
pub async fn run(endpoints: &[String], dial: Dial, shape: LoopShape) -> Result<ConnectionRun, CompareError> {
    if endpoints.is_empty() {
        return Err(CompareError::TlsPhase("no endpoint to connect to".to_string()));
    }
    let workload = dial.workload();
    let tally = Arc::new(HandshakeTally::default());
    let reconnects = Arc::new(Reconnects { endpoints: endpoints.to_vec(), dial, tally: tally.clone() });
    let measured = dancu_client::bench::measure(reconnects, shape).await?;
    // Every request has its own connection.
    let result =
        BenchResult::from_measured(workload, None, "round-robin", 1, shape.concurrency, shape.concurrency, &measured);
    Ok(ConnectionRun {
        result,
        handshakes_full: tally.full.load(Ordering::Relaxed),
        handshakes_resumed: tally.resumed.load(Ordering::Relaxed),
    })
}
