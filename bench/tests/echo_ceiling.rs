//! The echo ceiling end to end: `dancu-bench echo-server` in its own process, measured by the closed loop, killed
//! when its handle is dropped.

use std::path::Path;
use std::time::Duration;

use dancu_bench::ceiling::echo::{self, EchoServer};
use dancu_bench::CompareError;
use dancu_client::bench::LoopShape;

const BENCH_EXE: &str = env!("CARGO_BIN_EXE_dancu-bench");

fn shape(concurrency: usize) -> LoopShape {
    LoopShape {
        concurrency,
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(500),
        seed: 7,
        request_deadline: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_calls_are_measured_and_the_server_dies_with_its_handle() {
    let server = EchoServer::spawn(Path::new(BENCH_EXE), 600).await.expect("echo server starts");
    assert!(server.addr().ip().is_loopback() && server.addr().port() != 0, "{}", server.addr());
    let pid = server.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    let result = echo::run(&server, shape(8)).await.expect("measured");
    assert_eq!((result.workload.as_str(), result.consistency.as_deref()), ("echo", None));
    assert_eq!((result.concurrency, result.connections, result.batch_size), (8, 4, 1));
    assert_eq!(result.errors, 0, "first error: {:?}", result.first_error);
    assert!(result.ops > 0 && result.ops_per_s > 0.0, "{}", result.table_line());

    drop(server);
    // Dropping kills and reaps the child, so its pid is gone at once.
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "echo server {pid} outlived its handle");
}

#[tokio::test]
async fn a_missing_executable_is_an_error() {
    match EchoServer::spawn(Path::new("/nonexistent/dancu-bench"), 600).await {
        Err(CompareError::Io { context, .. }) => assert!(context.contains("/nonexistent/dancu-bench"), "{context}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_executable_that_never_listens_is_an_error() {
    // `true` exits at once without printing the line.
    match EchoServer::spawn(Path::new("/bin/true"), 600).await {
        Err(CompareError::Echo(message)) => assert!(message.contains("listening on"), "{message}"),
        other => panic!("expected an echo error, got {other:?}"),
    }
}
