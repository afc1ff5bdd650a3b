//! The identity a certificate proves: a node of the cluster, or a named caller.

use std::fmt;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::TlsError;

const NODE_URI_PREFIX: &str = "urn:dancu:node:";
const CALLER_URI_PREFIX: &str = "urn:dancu:caller:";
const NAME_BYTES_MAX: usize = 64;

/// Who is on the other end of a verified connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerIdentity {
    /// A node of the cluster, by Raft node id.
    Node(u64),
    /// A caller named in the cluster configuration's `[[callers]]`.
    Caller(String),
}

impl PeerIdentity {
    /// A caller identity, if `name` is a valid one.
    pub fn caller(name: &str) -> Result<PeerIdentity, TlsError> {
        if is_valid_name(name) {
            Ok(PeerIdentity::Caller(name.to_string()))
        } else {
            Err(TlsError::BadIdentity(name.to_string()))
        }
    }

    /// The subject-alternative-name URI that carries this identity.
    pub fn uri(&self) -> String {
        match self {
            PeerIdentity::Node(id) => format!("{NODE_URI_PREFIX}{id}"),
            PeerIdentity::Caller(name) => format!("{CALLER_URI_PREFIX}{name}"),
        }
    }

    /// The base name of this identity's files in a TLS directory (`node-3`, `bank`).
    pub fn file_stem(&self) -> String {
        match self {
            PeerIdentity::Node(id) => format!("node-{id}"),
            PeerIdentity::Caller(name) => name.clone(),
        }
    }

    /// Parses a URI made by [`PeerIdentity::uri`].
    pub fn from_uri(uri: &str) -> Option<PeerIdentity> {
        if let Some(id) = uri.strip_prefix(NODE_URI_PREFIX) {
            return id.parse().ok().filter(|id| *id != 0).map(PeerIdentity::Node);
        }
        uri.strip_prefix(CALLER_URI_PREFIX)
            .filter(|name| is_valid_name(name))
            .map(|name| PeerIdentity::Caller(name.to_string()))
    }

    /// The identity in a DER certificate (the first dancu URI among its subject alternative names).
    pub fn from_certificate(der: &[u8]) -> Result<PeerIdentity, TlsError> {
        let (_, certificate) = X509Certificate::from_der(der).map_err(|_| TlsError::NoIdentity)?;
        let Ok(Some(names)) = certificate.subject_alternative_name() else {
            return Err(TlsError::NoIdentity);
        };
        names
            .value
            .general_names
            .iter()
            .find_map(|name| match name {
                GeneralName::URI(uri) => PeerIdentity::from_uri(uri),
                _ => None,
            })
            .ok_or(TlsError::NoIdentity)
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerIdentity::Node(id) => write!(f, "node {id}"),
            PeerIdentity::Caller(name) => write!(f, "caller {name}"),
        }
    }
}

/// Caller names are file names and URI parts: keep them plain.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_foreign_ones_are_not_identities() {
        for identity in [PeerIdentity::Node(3), PeerIdentity::caller("health-ministry").unwrap()] {
            assert_eq!(PeerIdentity::from_uri(&identity.uri()), Some(identity));
        }
        for foreign in
            ["urn:dancu:node:0", "urn:dancu:node:x", "urn:dancu:caller:", "urn:dancu:caller:Bank", "https://bank"]
        {
            assert_eq!(PeerIdentity::from_uri(foreign), None, "{foreign}");
        }
        assert!(PeerIdentity::caller("../etc").is_err());
    }
}
