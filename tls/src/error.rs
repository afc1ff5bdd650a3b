use std::path::PathBuf;

/// What can go wrong making, loading or using TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("{path}: certificate expired on {not_after} (renew it with `dancuctl certs`)")]
    Expired { path: PathBuf, not_after: String },
    #[error("{path}: certificate not valid before {not_before}")]
    NotYetValid { path: PathBuf, not_before: String },
    #[error("certificate names no dancu identity (a `urn:dancu:node:N` or `urn:dancu:caller:NAME` URI)")]
    NoIdentity,
    #[error("bad identity {0:?}: names are 1–64 of a–z, 0–9 and '-', starting with a letter or digit")]
    BadIdentity(String),
    #[error("issuing a certificate: {0}")]
    Issue(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS client verifier: {0}")]
    Verifier(String),
}

impl TlsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> TlsError {
        TlsError::Io { path: path.into(), source }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, message: impl Into<String>) -> TlsError {
        TlsError::BadFile { path: path.into(), message: message.into() }
    }
}
