//! A TLS directory (what `dancuctl certs` writes) loaded into rustls configurations.
//!
//! Layout: `ca.crt` (the authority every party trusts), `ca.key` (keep it offline: only `dancuctl certs` needs
//! it), and per identity `STEM.crt` + `STEM.key` — `node-1.crt`, `bank.key`, … (see [`PeerIdentity::file_stem`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{PeerIdentity, TlsError};

pub(crate) const CA_CERT_FILE: &str = "ca.crt";
pub(crate) const CA_KEY_FILE: &str = "ca.key";
/// gRPC is HTTP/2 only.
const ALPN_H2: &[u8] = b"h2";

/// Where one party's TLS files are, and who that party is.
#[derive(Debug, Clone)]
pub struct TlsDir {
    pub dir: PathBuf,
    pub identity: PeerIdentity,
}

/// The configurations built from one reading of the files.
pub(crate) struct Material {
    pub(crate) server: Option<Arc<ServerConfig>>,
    pub(crate) client: Arc<ClientConfig>,
}

impl TlsDir {
    pub fn new(dir: impl Into<PathBuf>, identity: PeerIdentity) -> TlsDir {
        TlsDir { dir: dir.into(), identity }
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(format!("{}.crt", self.identity.file_stem()))
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(format!("{}.key", self.identity.file_stem()))
    }

    /// The files' modification times and sizes: a change means a reload.
    pub(crate) fn fingerprint(&self) -> Vec<Option<(SystemTime, u64)>> {
        [self.ca_path(), self.cert_path(), self.key_path()]
            .iter()
            .map(|path| std::fs::metadata(path).ok().and_then(|meta| Some((meta.modified().ok()?, meta.len()))))
            .collect()
    }

    /// Reads and checks the files: the certificate must prove this party's identity, be in its validity period
    /// and match the key; nodes get a server configuration that demands a client certificate from the authority.
    pub(crate) fn load(&self) -> Result<Material, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = self.roots()?;
        let chain = read_certificates(&self.cert_path())?;
        check_own_certificate(&self.cert_path(), &chain[0], &self.identity)?;
        let key = PrivateKeyDer::from_pem_file(self.key_path())
            .map_err(|error| TlsError::bad_file(self.key_path(), format!("no private key: {error}")))?;

        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots.clone())
            .with_client_auth_cert(chain.clone(), key.clone_key())?;
        client.alpn_protocols = vec![ALPN_H2.to_vec()];

        let server = match self.identity {
            PeerIdentity::Node(_) => Some(Arc::new(server_config(provider, roots, chain, key)?)),
            PeerIdentity::Caller(_) => None,
        };
        Ok(Material { server, client: Arc::new(client) })
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        for certificate in read_certificates(&self.ca_path())? {
            roots.add(certificate).map_err(|error| TlsError::bad_file(self.ca_path(), error.to_string()))?;
        }
        Ok(Arc::new(roots))
    }
}

fn server_config(
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|error| TlsError::Verifier(error.to_string()))?;
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    server.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(server)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::io(path, source))?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::bad_file(path, format!("not a PEM certificate: {error}")))?;
    if certificates.is_empty() {
        return Err(TlsError::bad_file(path, "holds no certificate"));
    }
    Ok(certificates)
}

/// A party refuses to start with a certificate that would be refused anyway, and says why.
fn check_own_certificate(path: &Path, der: &CertificateDer<'_>, identity: &PeerIdentity) -> Result<(), TlsError> {
    let (_, certificate) =
        X509Certificate::from_der(der).map_err(|error| TlsError::bad_file(path, format!("not X.509: {error}")))?;
    let validity = certificate.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(TlsError::Expired { path: path.to_path_buf(), not_after: validity.not_after.to_string() });
    }
    if now < validity.not_before {
        return Err(TlsError::NotYetValid { path: path.to_path_buf(), not_before: validity.not_before.to_string() });
    }
    match PeerIdentity::from_certificate(der) {
        Ok(found) if &found == identity => Ok(()),
        Ok(found) => Err(TlsError::bad_file(path, format!("proves {found}, not {identity}"))),
        Err(error) => Err(TlsError::bad_file(path, error.to_string())),
    }
}

pub(crate) fn write_public(path: &Path, contents: &str) -> Result<(), TlsError> {
    write_atomically(path, contents, 0o644)
}

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    write_atomically(path, contents, 0o600)
}

/// Written beside and renamed over, so a watcher never loads half a file.
fn write_atomically(path: &Path, contents: &str, mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(|source| TlsError::io(&temporary, source))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| TlsError::io(&temporary, source))?;
    std::fs::rename(&temporary, path).map_err(|source| TlsError::io(path, source))
}
