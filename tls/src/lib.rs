//! Mutual TLS for dancu: who is on the other end of a connection, proven by a certificate.
//!
//! Every node and every caller holds a certificate signed by the cluster's own certificate authority; both ends of
//! every connection present one (node ↔ node and client ↔ node). The identity a certificate proves is a URI in its
//! subject alternative names (`urn:dancu:node:3`, `urn:dancu:caller:bank`), never a field a request fills in.
//!
//! - [`authority`] makes the authority and issues certificates (rcgen); `dancuctl certs` and the tests use it.
//! - [`identity`] reads the identity out of a verified certificate.
//! - [`material`] loads a TLS directory into rustls configurations; [`reload`] keeps them current when the files
//!   change on disk (a renewed certificate is used by the next connection, without a restart).
//! - [`incoming`] turns accepted TCP connections into handshaken TLS connections that carry the peer's identity
//!   into every request's extensions; [`connector`] dials out over TLS for tonic channels.
//!
//! Architecture Invariant: only rustls (with ring) speaks TLS here; there is no OpenSSL anywhere. An identity is
//! only ever read from a certificate rustls has verified against the cluster's authority.

pub mod authority;
pub mod connector;
mod error;
pub mod identity;
pub mod incoming;
pub mod material;
pub mod reload;

pub use error::TlsError;
pub use identity::PeerIdentity;
pub use incoming::PeerInfo;
pub use material::TlsDir;
pub use reload::ReloadingTls;
