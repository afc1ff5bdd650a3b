//! Accepting mutual-TLS connections for tonic (`Server::serve_with_incoming`).
//!
//! Handshakes run one task per connection, off the accept loop, so a slow or hostile client cannot hold up
//! anyone else's. A connection is handed to the server only with a verified certificate that names a dancu
//! identity; that identity rides in every request's extensions as [`PeerInfo`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

use crate::{PeerIdentity, ReloadingTls};

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const ACCEPTED_QUEUE: usize = 256;

/// Who is on the other end of a request's connection.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    pub identity: PeerIdentity,
}

/// A handshaken connection.
pub struct TlsConnection {
    stream: TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for TlsConnection {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Handshakes every connection of `tcp` with the server configuration current when it arrives.
pub fn incoming<S>(tcp: S, tls: Arc<ReloadingTls>) -> impl Stream<Item = io::Result<TlsConnection>> + Send + 'static
where
    S: Stream<Item = io::Result<TcpStream>> + Send + 'static,
{
    let (accepted_tx, accepted_rx) = tokio::sync::mpsc::channel(ACCEPTED_QUEUE);
    tokio::spawn(async move {
        let mut tcp = std::pin::pin!(tcp);
        while let Some(connection) = tcp.next().await {
            let stream = match connection {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    continue;
                }
            };
            let Some(config) = tls.server_config() else {
                tracing::error!("this party has no server certificate; refusing connections");
                return;
            };
            let accepted_tx = accepted_tx.clone();
            tokio::spawn(async move {
                if let Some(connection) = handshake(stream, TlsAcceptor::from(config)).await {
                    let _ = accepted_tx.send(Ok(connection)).await;
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(accepted_rx)
}

async fn handshake(tcp: TcpStream, acceptor: TlsAcceptor) -> Option<TlsConnection> {
    let remote_addr = tcp.peer_addr().ok();
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            // Certificate problems (wrong authority, expired, no certificate, plaintext) are an operator's business;
            // the client is told the same by a TLS alert.
            tracing::warn!(remote = ?remote_addr, %error, "TLS handshake refused");
            return None;
        }
        Err(_) => {
            tracing::warn!(remote = ?remote_addr, "TLS handshake timed out");
            return None;
        }
    };
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|certificate| PeerIdentity::from_certificate(certificate));
    match identity {
        Some(Ok(identity)) => Some(TlsConnection { stream, info: PeerInfo { remote_addr, identity } }),
        Some(Err(error)) => {
            tracing::warn!(remote = ?remote_addr, %error, "TLS client certificate refused");
            None
        }
        None => {
            tracing::warn!(remote = ?remote_addr, "TLS client sent no certificate");
            None
        }
    }
}
