//! The RPC ceiling: a tonic unary `Echo` server in its own process answering every call with the same
//! preallocated payload, driven by the same closed loop as dancu and etcd. Its throughput is what tonic, HTTP/2
//! and loopback TCP allow on this machine with nothing behind them.
//!
//! The server runs in a child process ([`EchoServer`], the hidden `dancu-bench echo-server` subcommand) so it has
//! its own runtime and threads, as a dancu node has, instead of sharing the load generator's.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use dancu_client::bench::{BenchResult, LoopShape, Operation};
use prost::bytes::Bytes;
use rand::rngs::StdRng;
use rand::Rng;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::CompareError;

#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod pb {
    tonic::include_proto!("dancu.bench.v1");
}

use pb::echo_client::EchoClient;
use pb::echo_server::{Echo, EchoServer as EchoService};
use pb::{EchoReply, EchoRequest};

/// The line the server prints once it accepts connections, followed by its address.
const LISTENING_PREFIX: &str = "listening on ";
/// How long the child may take to print its address (a cold start of a release binary takes milliseconds).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Separate HTTP/2 connections the loops share at most, as dancu's bench client opens a few.
const CONNECTIONS_MAX: usize = 4;
/// A personal ID has 12 digits; the request carries as many characters.
const ID_SPACE: u64 = 1_000_000_000_000;
/// Replies and requests larger than this are refused (tonic's default is 4 MiB).
const MESSAGE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// As dancu's client: keep-alive pings notice a dead connection.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Answers every call with `payload`, sharing its buffer.
struct EchoReplier {
    payload: Bytes,
}

#[tonic::async_trait]
impl Echo for EchoReplier {
    async fn echo(&self, _request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply { payload: self.payload.clone() }))
    }
}

/// Serves `Echo` on `listen` until the process is killed, replying `reply_bytes` bytes. Prints
/// `listening on ADDR` (the bound address, so port 0 works) on stdout once it accepts connections.
pub async fn serve(listen: SocketAddr, reply_bytes: usize) -> Result<(), CompareError> {
    if reply_bytes > MESSAGE_BYTES_MAX {
        return Err(CompareError::Echo(format!("--reply-bytes {reply_bytes} exceeds {MESSAGE_BYTES_MAX}")));
    }
    // The node's server settings: tonic's defaults, with TCP_NODELAY on every accepted connection.
    let incoming = TcpIncoming::bind(listen)
        .map_err(|source| CompareError::io(format!("binding {listen}"), source))?
        .with_nodelay(Some(true));
    let addr = incoming.local_addr().map_err(|source| CompareError::io("reading the bound address", source))?;
    let service = EchoService::new(EchoReplier { payload: Bytes::from(vec![b'x'; reply_bytes]) })
        .max_decoding_message_size(MESSAGE_BYTES_MAX)
        .max_encoding_message_size(MESSAGE_BYTES_MAX);
    let server = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{LISTENING_PREFIX}{addr}")
        .and_then(|()| stdout.flush())
        .map_err(|source| CompareError::io("printing the address", source))?;
    drop(stdout);
    server.await.map_err(|error| CompareError::Echo(format!("serving on {addr}: {error}")))
}

/// An echo server child process; killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct EchoServer {
    child: Child,
    addr: SocketAddr,
    reply_bytes: usize,
}

impl EchoServer {
    /// Starts `exe echo-server --listen 127.0.0.1:0 --reply-bytes N` (`exe` is `dancu-bench`, usually
    /// `std::env::current_exe()`) and waits until it listens.
    pub async fn spawn(exe: &Path, reply_bytes: usize) -> Result<EchoServer, CompareError> {
        let mut child = Command::new(exe)
            .args(["echo-server", "--listen", "127.0.0.1:0", "--reply-bytes", &reply_bytes.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| CompareError::io(format!("starting {} echo-server", exe.display()), source))?;
        let Some(stdout) = child.stdout.take() else {
            kill_and_reap(&mut child);
            return Err(CompareError::Echo("the child's stdout is not piped".to_string()));
        };
        match listening_addr(stdout).await {
            Ok(addr) => Ok(EchoServer { child, addr, reply_bytes }),
            Err(error) => {
                kill_and_reap(&mut child);
                Err(error)
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn reply_bytes(&self) -> usize {
        self.reply_bytes
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

fn kill_and_reap(child: &mut Child) {
    // Killing a child that already exited fails harmlessly; waiting reaps it either way.
    let _ = child.kill();
    let _ = child.wait();
}

/// The address in the child's first line, read on a thread of its own so the wait has a deadline. The thread then
/// drains stdout until the child exits, so a stray print never blocks the server on a full pipe.
async fn listening_addr(stdout: ChildStdout) -> Result<SocketAddr, CompareError> {
    let (line_tx, line_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line).map(|_| line);
        let _ = line_tx.send(read);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = match tokio::time::timeout(START_TIMEOUT, line_rx).await {
        Err(_elapsed) => {
            return Err(CompareError::Timeout {
                what: "the echo server listening".to_string(),
                seconds: START_TIMEOUT.as_secs_f64(),
            })
        }
        Ok(Err(_closed)) => return Err(CompareError::Echo("the stdout reader stopped".to_string())),
        Ok(Ok(read)) => read.map_err(|source| CompareError::io("reading the echo server's stdout", source))?,
    };
    line.trim_end()
        .strip_prefix(LISTENING_PREFIX)
        .and_then(|addr| addr.parse().ok())
        .ok_or_else(|| CompareError::Echo(format!("expected `{LISTENING_PREFIX}ADDR`, got {line:?}")))
}

/// One `Echo` call over the loop's connection, checking the reply's length.
struct EchoCalls {
    clients: Vec<EchoClient<Channel>>,
    reply_bytes: usize,
}

impl Operation for EchoCalls {
    async fn execute(&self, rng: &mut StdRng, loop_idx: usize, _op_idx: u64) -> Result<(), String> {
        let mut client = self.clients[loop_idx % self.clients.len()].clone();
        let id = format!("{:012}", rng.random_range(0..ID_SPACE));
        let reply = client.echo(EchoRequest { id }).await.map_err(|status| status.to_string())?;
        let n_bytes = reply.get_ref().payload.len();
        if n_bytes != self.reply_bytes {
            return Err(format!("a reply of {n_bytes} bytes, expected {}", self.reply_bytes));
        }
        Ok(())
    }
}

/// Runs the closed loop of `Echo` calls against `server` over min(concurrency, 4) connections (loop `i` uses
/// connection `i % n`). The result's workload is `echo`.
pub async fn run(server: &EchoServer, shape: LoopShape) -> Result<BenchResult, CompareError> {
    let n_connections = shape.concurrency.clamp(1, CONNECTIONS_MAX);
    let mut clients = Vec::with_capacity(n_connections);
    for _ in 0..n_connections {
        clients.push(connect(server.addr(), shape.request_deadline).await?);
    }
    let calls = Arc::new(EchoCalls { clients, reply_bytes: server.reply_bytes() });
    let measured = dancu_client::bench::measure(calls, shape).await?;
    Ok(BenchResult::from_measured("echo", None, "uniform", 1, n_connections, shape.concurrency, &measured))
}

/// A connection of its own (each `Channel` from `connect` is one HTTP/2 connection), set up as dancu's client sets
/// up its channels.
async fn connect(addr: SocketAddr, request_deadline: Duration) -> Result<EchoClient<Channel>, CompareError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|error| CompareError::Echo(format!("address {addr}: {error}")))?
        .connect_timeout(START_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_while_idle(true);
    let endpoint = if request_deadline.is_zero() { endpoint } else { endpoint.timeout(request_deadline) };
    let channel =
        endpoint.connect().await.map_err(|error| CompareError::Echo(format!("connecting to {addr}: {error}")))?;
    Ok(EchoClient::new(channel)
        .max_decoding_message_size(MESSAGE_BYTES_MAX)
        .max_encoding_message_size(MESSAGE_BYTES_MAX))
}
