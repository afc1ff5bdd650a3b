//! The cluster's own certificate authority: makes itself, and issues node and caller certificates (rcgen).
//!
//! Keys are ECDSA P-256: small certificates and cheap handshakes, which matters when a thousand service instances
//! reconnect after a deploy.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use crate::material::{write_private, write_public, CA_CERT_FILE, CA_KEY_FILE};
use crate::{PeerIdentity, TlsError};

/// When a certificate may be used.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From a minute ago (clocks differ a little between machines) for `days` days.
    pub fn days_from_now(days: u32) -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(86_400 * u64::from(days)),
        }
    }

    fn apply(self, params: &mut CertificateParams) {
        params.not_before = self.not_before;
        params.not_after = self.not_after;
    }
}

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

impl IssuedCertificate {
    /// Writes `STEM.crt` and `STEM.key` (owner-only) into `dir`, each replaced atomically.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), TlsError> {
        write_public(&dir.join(format!("{stem}.crt")), &self.cert_pem)?;
        write_private(&dir.join(format!("{stem}.key")), &self.key_pem)
    }
}

/// The certificate authority of one cluster.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    certificate: IssuedCertificate,
}

impl Authority {
    /// A new authority for `cluster_name`.
    pub fn create(cluster_name: &str, validity: Validity) -> Result<Authority, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(cluster_name, &format!("{cluster_name} certificate authority"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity.apply(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let certificate = IssuedCertificate { cert_pem: cert.pem(), key_pem: key.serialize_pem() };
        Ok(Authority { issuer: Issuer::new(params, key), certificate })
    }

    /// The authority written earlier into `dir` (`ca.crt`, `ca.key`).
    pub fn load(dir: &Path) -> Result<Authority, TlsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| TlsError::io(path, source))
        };
        let (cert_pem, key_pem) = (read(CA_CERT_FILE)?, read(CA_KEY_FILE)?);
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|error| TlsError::bad_file(dir.join(CA_KEY_FILE), error.to_string()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .map_err(|error| TlsError::bad_file(dir.join(CA_CERT_FILE), error.to_string()))?;
        Ok(Authority { issuer, certificate: IssuedCertificate { cert_pem, key_pem } })
    }

    /// The authority's own certificate (what every node and caller trusts).
    pub fn cert_pem(&self) -> &str {
        &self.certificate.cert_pem
    }

    /// Writes `ca.crt` and `ca.key` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), TlsError> {
        write_public(&dir.join(CA_CERT_FILE), &self.certificate.cert_pem)?;
        write_private(&dir.join(CA_KEY_FILE), &self.certificate.key_pem)
    }

    /// A certificate proving `identity`. A node's also serves TLS for `hosts` (IP addresses or DNS names its peers
    /// and clients dial); a caller's only authenticates a client.
    pub fn issue(
        &self,
        identity: &PeerIdentity,
        hosts: &[String],
        validity: Validity,
        cluster_name: &str,
    ) -> Result<IssuedCertificate, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(cluster_name, &identity.file_stem());
        params.subject_alt_names = vec![SanType::URI(identity.uri().try_into()?)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        if matches!(identity, PeerIdentity::Node(_)) {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
            for host in hosts {
                params.subject_alt_names.push(match host.parse::<IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(host.clone().try_into()?),
                });
            }
        }
        validity.apply(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

fn distinguished_name(cluster_name: &str, common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, cluster_name);
    name.push(DnType::CommonName, common_name);
    name
}
