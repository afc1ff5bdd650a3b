//! Dialing out over mutual TLS, for tonic channels (`Endpoint::connect_with_connector_lazy`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::ReloadingTls;

/// A TCP connect plus handshake that takes longer than this is a failed connect.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connector for tonic: every new connection is handshaken with the configuration current at that moment, and
/// the server must prove a certificate from the cluster's authority for the host dialed.
pub fn connector(
    tls: Arc<ReloadingTls>,
) -> impl tower::Service<
    Uri,
    Response = TokioIo<TlsStream<TcpStream>>,
    Error = io::Error,
    Future = impl std::future::Future<Output = io::Result<TokioIo<TlsStream<TcpStream>>>> + Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(move |uri: Uri| {
        let config = tls.client_config();
        async move {
            let host = uri.host().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address without host"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            let port = uri.port_u16().unwrap_or(443);
            let server_name = ServerName::try_from(host.clone())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, format!("{host:?}: {error}")))?;
            let connect = async {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                // A lease read answers in microseconds; Nagle would hold its request back for a delayed ACK.
                tcp.set_nodelay(true)?;
                TlsConnector::from(config).connect(server_name, tcp).await
            };
            let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connect)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS connect timed out"))??;
            Ok(TokioIo::new(stream))
        }
    })
}
