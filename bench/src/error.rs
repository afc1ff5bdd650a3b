//! Why a compare run could not complete. Failed requests inside a measured run are counted, not errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("etcd not found ({searched}): install Debian's etcd-server (`apt-get install -y etcd-server`, done by `make deps`)")]
    EtcdMissing { searched: String },
    #[error("etcd: {context}: {message}")]
    Etcd { context: String, message: String },
    #[error("dancu cluster: {0}")]
    Harness(#[from] dancu_jepsen::HarnessError),
    #[error("dancu client: {0}")]
    Client(#[from] dancu_client::ClientError),
    #[error("load generator: {0}")]
    Bench(#[from] dancu_client::bench::BenchError),
    #[error("certificates: {0}")]
    Tls(#[from] dancu_tls::TlsError),
    /// The mutual-TLS phase could not be set up, or a check that it measured what it says failed (a masked field
    /// seen, another identity answered).
    #[error("mutual TLS phase: {0}")]
    TlsPhase(String),
    #[error("import: {0}")]
    Import(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("rocksdb at {}: {source}", path.display())]
    Rocksdb { path: PathBuf, source: rocksdb::Error },
    #[error("echo server: {0}")]
    Echo(String),
    #[error("{what} did not happen within {seconds:.1} s")]
    Timeout { what: String, seconds: f64 },
    #[error("plot {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
    #[error("writing {}: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
}

impl CompareError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> CompareError {
        CompareError::Io { context: context.into(), source }
    }

    pub fn etcd(context: impl Into<String>, error: impl std::fmt::Display) -> CompareError {
        CompareError::Etcd { context: context.into(), message: error.to_string() }
    }
}
